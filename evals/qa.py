"""Question answering from retrieved memories, the LM judge, and their per-question LM cost.

Each question runs ``AnswerFromMemories`` on the rendered memories, then (optionally) ``JudgeAnswer``
against the gold answer (for category 5 the gold answer is "Not mentioned in the conversation").
Questions run in parallel with ``dspy.Parallel``; each worker thread counts its own LM calls and tokens
with DSPy's usage tracker, so per-question costs stay exact under parallelism.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dspy

from memspy.evals.locomo import Conversation, Question
from memspy.evals.metrics import locomo_f1, qa_score
from memspy.evals.pipelines import Hit
from memspy.pipelines.runtime import Usage, measure
from memspy.pipelines.semantic.answer import NOT_MENTIONED, AnswerJudge, MemoryAnswerer

__all__ = ["QAItem", "QAOutcome", "QARunner", "gold_answer", "render_context"]


def render_context(hits: Sequence[Hit], conversation: Conversation) -> str:
    """One line per hit: its text, or else its source turns rendered ``"[date] speaker: text"``."""
    lines = []
    for h in hits:
        text = h.text or " ".join(
            conversation.turn_by_id[i].render() for i in h.dia_ids if i in conversation.turn_by_id
        )
        if text:
            lines.append(text)
    return "\n".join(lines) or "(no memories)"


def gold_answer(q: Question) -> str:
    """The reference answer the judge sees (category 5: the information is not in the conversation)."""
    return NOT_MENTIONED if q.category == 5 else q.answer


@dataclass(frozen=True)
class QAItem:
    """One question to answer from a rendered context."""

    question: Question
    context: str


@dataclass
class QAOutcome:
    """The answer, its scores and its cost. ``score`` is LoCoMo's (F1, or the category-5 rule)."""

    answer: str | None
    score: float | None
    f1: float | None
    judge: float | None
    usage: Usage
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "score": self.score,
            "f1": self.f1,
            "judge": self.judge,
            "qa_usage": self.usage.as_dict(),
            "qa_error": self.error,
        }


class QARunner:
    """Answer (and judge) questions, ``workers`` at a time.

    Args:
        judge: Also grade each answer with the LM judge.
        workers: Parallel threads (``dspy.Parallel``).
    """

    def __init__(self, *, judge: bool = True, workers: int = 1) -> None:
        self.answerer = MemoryAnswerer()
        self.judge = AnswerJudge() if judge else None
        self.workers = max(1, workers)

    def one(self, item: QAItem) -> QAOutcome:
        """Answer one question; LM failures are recorded in ``error``, never raised."""
        q, usage = item.question, Usage()
        try:
            with measure(usage, "answer"):
                answer = self.answerer(memories=item.context, question=q.question).answer
        except Exception as e:
            return QAOutcome(None, None, None, None, usage, f"answer: {type(e).__name__}: {e}"[:500])
        f1 = None if q.category == 5 else locomo_f1(answer, q.answer, q.category)
        verdict, error = None, None
        if self.judge is not None:
            try:
                with measure(usage, "judge"):
                    out = self.judge(question=q.question, gold_answer=gold_answer(q), answer=answer)
                verdict = 1.0 if out.correct else 0.0
            except Exception as e:
                error = f"judge: {type(e).__name__}: {e}"[:500]
        return QAOutcome(answer, qa_score(answer, q.answer, q.category), f1, verdict, usage, error)

    def run(self, items: Sequence[QAItem]) -> list[QAOutcome]:
        """Answer ``items`` in parallel; results come back in the order of ``items``."""
        if not items:
            return []
        if self.workers == 1:
            return [self.one(i) for i in items]
        parallel = dspy.Parallel(num_threads=self.workers, timeout=0, disable_progress_bar=True, max_errors=len(items))
        return list(parallel([(self.one, {"item": i}) for i in items]))
