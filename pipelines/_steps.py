"""The loop every episodic step shares: predict, check the answer in code, feed the problems back, fail loudly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import dspy

from memspy.pipelines._validate import MemoryExtractionError
from memspy.pipelines.usage import Usage, measure

__all__ = ["EpisodicStepError", "run_step"]

T = TypeVar("T")


class EpisodicStepError(MemoryExtractionError):
    """A step's LM output (episodic steps, memory extraction) stayed invalid after every retry; nothing was stored.

    Attributes:
        step: The predictor that failed (``extract_turns``, ``consolidate``, ``reflect`` or ``find_pii``).
        errors: The problems found in the last answer.
        attempts: How many LM answers were tried.
    """

    def __init__(self, step: str, errors: list[str], attempts: int) -> None:
        self.step = step
        self.errors = errors
        self.attempts = attempts
        RuntimeError.__init__(
            self,
            f"the LM's {step} output was still invalid after {attempts} attempts; nothing was stored. "
            "Last problems: " + "; ".join(errors) + ". Try a stronger model or fewer turns per call.",
        )


def run_step(
    predictor: dspy.Predict,
    step: str,
    usage: Usage,
    validate: Callable[[dspy.Prediction], tuple[T, list[str]]],
    max_retries: int,
    **inputs: Any,
) -> T:
    """Call ``predictor`` until ``validate`` finds no problem, at most ``max_retries + 1`` times.

    Args:
        predictor: A predictor whose signature has a ``corrections`` input.
        step: The name LM usage is counted under (and reported in errors).
        usage: Receives the LM calls and tokens.
        validate: Returns ``(result, problems)``; an empty problem list accepts the result.
        max_retries: Extra attempts after the first.
        **inputs: The signature's other inputs.

    Returns:
        The first accepted result.

    Raises:
        EpisodicStepError: every attempt was unparseable or invalid.
    """
    corrections = ""
    errors: list[str] = []
    for _attempt in range(max_retries + 1):
        try:
            # JSONAdapter unless the user chose one: small models under ChatAdapter fail to parse and retry.
            with measure(usage, step), dspy.context(adapter=dspy.settings.adapter or dspy.JSONAdapter()):
                pred = predictor(**inputs, corrections=corrections)
        except (dspy.utils.exceptions.AdapterParseError, ValueError) as e:
            errors = [f"the answer could not be parsed: {str(e)[:300]}"]
        else:
            result, errors = validate(pred)
            if not errors:
                return result
        corrections = "Your previous answer was rejected:\n- " + "\n- ".join(errors)
    raise EpisodicStepError(step, errors, attempts=max_retries + 1)
