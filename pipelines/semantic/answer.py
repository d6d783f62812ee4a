"""Answering from memories: a question answered from retrieved memories, and an LM judge of the answer.

The two modules wrap the signatures ``AnswerFromMemories`` and ``JudgeAnswer``
(:mod:`memspy.signatures.qa`); the evaluation harness uses them for LoCoMo-style QA, and an agent can use
:class:`MemoryAnswerer` on what :func:`~memspy.pipelines.records.search_memories` returns.
"""

from __future__ import annotations

from typing import Any

import dspy

from memspy.pipelines.runtime.steps import predictor
from memspy.signatures.qa import NOT_MENTIONED, AnswerFromMemories, JudgeAnswer

__all__ = ["NOT_MENTIONED", "AnswerJudge", "MemoryAnswerer"]


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
