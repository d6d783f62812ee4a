"""The one predict-validate-retry loop every LM step shares, and how a step's predictor gets its LM.

A step calls its predictor, checks the answer in code, and on a problem calls again with the problems fed back
through the signature's ``corrections`` input ("Your previous answer was rejected: ..."); after the last retry it
fails loudly. Semantic extraction, the episodic steps and the prompt optimizers all run through :func:`run_step`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import dspy

from memspy.pipelines.errors import StepError
from memspy.pipelines.runtime.lm import build_lm
from memspy.pipelines.runtime.strict_json import CutOffAnswer, strict
from memspy.pipelines.runtime.usage import Usage, measure

__all__ = ["accept", "predictor", "rejected", "resolve_lm", "run_step"]

T = TypeVar("T")


def resolve_lm(lm: Any) -> Any:
    """A model string becomes a ``dspy.LM`` (``"local"`` = the offline default); an LM or None passes through."""
    if isinstance(lm, str):
        return build_lm(lm)
    return lm


def predictor(signature: Any, lm: Any = None) -> dspy.Predict:
    """A ``dspy.Predict`` for ``signature`` whose own LM is ``lm`` (resolved as in :func:`resolve_lm`), if given."""
    pred = dspy.Predict(signature)
    resolved = resolve_lm(lm)
    if resolved is not None:
        pred.set_lm(resolved)
    return pred


def rejected(problems: list[str]) -> str:
    """The ``corrections`` text that sends ``problems`` back to the LM (empty when there are none)."""
    return "Your previous answer was rejected:\n- " + "\n- ".join(problems) if problems else ""


def accept(pred: dspy.Prediction) -> tuple[dspy.Prediction, list[str]]:
    """A validator that accepts any answer that parsed."""
    return pred, []


def run_step(
    predictor: dspy.Predict,
    step: str,
    usage: Usage,
    validate: Callable[[dspy.Prediction], tuple[T, list[str]]],
    max_retries: int,
    *,
    feedback: bool = True,
    parse_retries: int | None = None,
    fallback: Callable[[list[str]], T] | None = None,
    error: Callable[[str, list[str], int], Exception] = StepError,
    cut_short: Callable[[str], T | None] | None = None,
    **inputs: Any,
) -> T:
    """Call ``predictor`` until ``validate`` finds no problem, at most ``max_retries + 1`` times.

    Args:
        predictor: A predictor whose signature has a ``corrections`` input (unless ``feedback=False``).
        step: The name LM usage is counted under (and reported in errors).
        usage: Receives the LM calls and tokens.
        validate: Returns ``(result, problems)``; an empty problem list accepts the result.
        max_retries: Extra attempts after the first.
        feedback: Pass the previous answer's problems as the ``corrections`` input. Without it (a signature
            with no such input) the loop only retries.
        parse_retries: If given, an answer that does not parse is retried up to this many times with the same
            corrections, without using up an attempt, and raises ``error`` once they are spent. By default an
            unparseable answer uses up an attempt and its parse error is fed back like any other problem.
        fallback: Called with the last problems when every attempt was rejected; its value is returned instead
            of raising.
        error: Builds the exception raised on failure from ``(step, problems, attempts)``.
        cut_short: Given the text of an answer cut off at ``max_tokens`` (asked again, a small model writes the same
            long answer): a result to return at once (what the answer finished, say), or None to go on as with any
            unparseable answer. It may raise instead (a caller that will shorten the input).
        **inputs: The signature's other inputs.

    Returns:
        The first accepted result (or the ``fallback``'s).

    Raises:
        StepError: every attempt was unparseable or invalid (or the exception ``error`` builds).
    """
    errors: list[str] = []
    for _attempt in range(max_retries + 1):
        extra = {"corrections": rejected(errors)} if feedback else {}
        pred = None
        for _parse in range((parse_retries or 0) + 1):
            try:
                # A strict JSONAdapter unless the user chose another adapter: small models under ChatAdapter fail to
                # parse, and a truncated answer must be retried, never repaired into a plausible fragment.
                with measure(usage, step), dspy.context(adapter=strict(dspy.settings.adapter)):
                    pred = predictor(**inputs, **extra)
                break
            except (dspy.utils.exceptions.AdapterParseError, ValueError, RecursionError) as e:
                errors = [f"the answer could not be parsed: {str(e)[:300]}"]
                if isinstance(e, CutOffAnswer) and cut_short is not None:
                    salvaged = cut_short(e.answer)
                    if salvaged is not None:
                        return salvaged
        if pred is None:
            if parse_retries is not None:
                raise error(step, errors, parse_retries + 1)
            continue
        result, errors = validate(pred)
        if not errors:
            return result
    if fallback is not None:
        return fallback(errors)
    raise error(step, errors, max_retries + 1)
