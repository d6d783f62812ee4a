"""The LM judge of the extraction metric: which stored memories state a gold fact.

Used by :mod:`memspy.evals.extraction` (``--judge``) as a second, semantic opinion next to the MiniLM cosine.

Example:
    >>> judge = dspy.Predict(JudgeFactMatch)                                           # doctest: +SKIP
    >>> judge(fact="Maya adopted a cat named Pixel in May 2023.",
    ...       memories="[1] The user got a kitten called Pixel.\\n[2] Maya likes hiking.").matching
    [1]
"""

from __future__ import annotations

import dspy

__all__ = ["JudgeFactMatch"]


class JudgeFactMatch(dspy.Signature):
    """Decide which of the numbered memories state the given fact from a conversation. A memory states the fact
    when it says the same thing, even in other words, more briefly, or with extra detail. It does not when it
    only shares the topic, contradicts the fact, gives a different name, date, place or number, or is about
    another person. "The user", "I" and the person's name can all refer to the same person. Answer with the
    numbers of the memories that state the fact, or an empty list when none does."""

    fact: str = dspy.InputField(desc="the fact that should have been remembered")
    memories: str = dspy.InputField(desc="the stored memories, one per line as '[number] text'")
    matching: list[int] = dspy.OutputField(desc="the numbers of the memories that state the fact; [] when none")
