"""Question answering over retrieved memories, and the LM judge that grades an answer against the gold one.

Used by the evaluation harness (:mod:`memspy.evals.qa`): ``AnswerFromMemories`` answers a LoCoMo-style
question from the memories a pipeline retrieved, ``JudgeAnswer`` grades the answer against the gold answer
(LoCoMo's adversarial questions, category 5, have "Not mentioned in the conversation" as their gold answer).
Token F1 is computed without an LM (:mod:`memspy.evals.metrics`); the judge is the second, semantic opinion.

Example:
    >>> answer = dspy.Predict(AnswerFromMemories)                                      # doctest: +SKIP
    >>> answer(memories="[8 May, 2023] Caroline: I went to a support group yesterday.",
    ...        question="When did Caroline go to the support group?").answer
    '7 May 2023'
    >>> dspy.Predict(JudgeAnswer)(question="...", gold_answer="7 May 2023", answer="May 7, 2023").verdict
    'CORRECT'
"""

from __future__ import annotations

from typing import Literal

import dspy

__all__ = ["NOT_MENTIONED", "AnswerFromMemories", "JudgeAnswer"]

# What the answerer is told to say when the memories do not hold the answer (LoCoMo's category-5 option).
NOT_MENTIONED = "Not mentioned in the conversation"


class AnswerFromMemories(dspy.Signature):
    """Answer the question about a long conversation using only the memories given, which were retrieved
    from that conversation. Each memory may start with the date of the session it comes from, in square
    brackets: use those dates to answer questions about when something happened, and turn relative dates
    such as "yesterday" or "last week" into calendar dates. Answer briefly, with a short phrase rather than
    a sentence, and list several items separated by commas. If the memories do not contain the answer,
    answer exactly "Not mentioned in the conversation"."""

    memories: str = dspy.InputField(desc="the retrieved memories, one per line, most relevant first")
    question: str = dspy.InputField(desc="the question about the conversation")
    answer: str = dspy.OutputField(desc="a short answer, or 'Not mentioned in the conversation'")


class JudgeAnswer(dspy.Signature):
    """Grade an answer to a question about a conversation against the gold answer. Be generous: the answer
    is CORRECT when it refers to the same thing as the gold answer, even if it is worded differently, longer,
    or gives a date in another format; it is WRONG when it contradicts the gold answer, misses its key point,
    or says the information is not available while the gold answer gives it. When the gold answer says the
    information is not mentioned, the answer is CORRECT only if it also says the information is not
    available."""

    question: str = dspy.InputField(desc="the question")
    gold_answer: str = dspy.InputField(desc="the reference answer")
    answer: str = dspy.InputField(desc="the answer to grade")
    verdict: Literal["CORRECT", "WRONG"] = dspy.OutputField(desc="CORRECT or WRONG")
