"""Answering from memories: a question answered from retrieved memories, an LM judge of the answer, and an LM
judge of whether stored memories state a gold fact (the extraction benchmark's ``--judge``).

The two modules wrap the signatures ``AnswerFromMemories`` and ``JudgeAnswer``
(:mod:`memspy.signatures.qa`); the evaluation harness uses them for LoCoMo-style QA, and an agent can use
:class:`MemoryAnswerer` on what :func:`~memspy.pipelines.records.search_memories` returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dspy

from memspy.pipelines.runtime.steps import predictor
from memspy.signatures.judging import JudgeFactMatch
from memspy.signatures.qa import NOT_MENTIONED, AnswerFromMemories, JudgeAnswer

__all__ = ["NOT_MENTIONED", "AnswerJudge", "FactJudge", "MemoryAnswerer"]


class MemoryAnswerer(dspy.Module):
    """Answers a question from memories rendered one per line (predictor ``answer``).

    Args:
        lm: A ``dspy.LM``, a model string, or None for the configured LM.

    Example:
        >>> MemoryAnswerer()(memories="[8 May, 2023] Caroline went to a support group.",  # doctest: +SKIP
        ...                  question="When did Caroline go to the support group?").answer
    """

    def __init__(self, lm: Any = None) -> None:
        super().__init__()
        self.answer = predictor(AnswerFromMemories, lm)

    def forward(self, memories: str, question: str) -> dspy.Prediction:
        """Return ``Prediction(answer=str)``, the answer stripped; ``NOT_MENTIONED`` when memories lack it."""
        pred = self.answer(memories=memories, question=question)
        return dspy.Prediction(answer=str(pred.answer).strip())


class AnswerJudge(dspy.Module):
    """Grades an answer against the gold answer (predictor ``judge``).

    Args:
        lm: A ``dspy.LM``, a model string, or None for the configured LM.
    """

    def __init__(self, lm: Any = None) -> None:
        super().__init__()
        self.judge = predictor(JudgeAnswer, lm)

    def forward(self, question: str, gold_answer: str, answer: str) -> dspy.Prediction:
        """Return ``Prediction(verdict="CORRECT" | "WRONG", correct=bool)``."""
        pred = self.judge(question=question, gold_answer=gold_answer, answer=answer)
        verdict = str(pred.verdict).strip().upper()
        return dspy.Prediction(verdict=verdict, correct=verdict == "CORRECT")


class FactJudge(dspy.Module):
    """An LM judge: which of a fact's candidate memories state it (one LM call per fact with candidates).

    Args:
        lm: The judge's LM (default: the configured one).
        k: How many candidates (the most similar memories) the judge sees per fact.
    """

    def __init__(self, lm: Any = None, *, k: int = 5) -> None:
        super().__init__()
        self.judge = predictor(JudgeFactMatch, lm)
        self.k = k

    def forward(self, fact: str, candidates: Sequence[str]) -> dspy.Prediction:
        """``Prediction(matching=[indices into candidates])``; no call when there are no candidates."""
        if not candidates:
            return dspy.Prediction(matching=[])
        shown = "\n".join(f"[{n}] {text}" for n, text in enumerate(candidates, start=1))
        # Like memspy's own modules: JSON output unless the caller configured another adapter.
        with dspy.context(adapter=dspy.settings.adapter or dspy.JSONAdapter()):
            numbers = self.judge(fact=fact, memories=shown).matching or []
        picked = sorted({int(n) - 1 for n in numbers if isinstance(n, int) and 1 <= n <= len(candidates)})
        return dspy.Prediction(matching=picked)
