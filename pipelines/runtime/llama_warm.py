"""Evaluate the fixed part of every prompt a set of programs sends, once, into the local LM's prefix folder.

The local engine keeps each prompt family's prefix (instructions, field layout, demos) on disk after two calls of
that family have run (see :class:`~memspy.pipelines.runtime.llama_prefix.PrefixStates`), so a signature's first
call in a fresh environment evaluates its whole prompt. :func:`warm_prefixes` writes those files ahead of time
(``memspy warm``, run by ``make local``): for every predictor it formats the prompt the adapter would send, with a
placeholder as the call's inputs, and lets the engine evaluate and save what comes before the inputs.

Example:
    >>> warm_prefixes(build_lm("local"), [create_memory_manager("local")])  # doctest: +SKIP
    2
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import dspy

from memspy.pipelines.runtime.strict_json import strict

__all__ = ["PLACEHOLDER", "prompt_messages", "warm_prefixes"]

PLACEHOLDER = "..."


def prompt_messages(predictor: dspy.Predict, adapter: Any = None) -> list[dict[str, str]]:
    """The chat messages ``predictor`` sends (its demos included), with :data:`PLACEHOLDER` as every input.

    Args:
        predictor: A predictor of a memspy program.
        adapter: The adapter calls run with (default: the configured one, made strict as memspy's steps do).
    """
    chosen = strict(adapter if adapter is not None else dspy.settings.adapter)
    inputs = dict.fromkeys(predictor.signature.input_fields, PLACEHOLDER)
    messages = chosen.format(predictor.signature, list(predictor.demos), inputs)
    return [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]


def warm_prefixes(lm: Any, programs: Iterable[dspy.Module], adapter: Any = None) -> int:
    """Save the prompt prefix of every predictor of ``programs`` to ``lm``'s prefix folder.

    Args:
        lm: A ``dspy.LM`` on the local engine; any other LM has nothing to warm (returns 0).
        programs: The modules whose predictors' prompts are warmed.
        adapter: As in :func:`prompt_messages`.

    Returns:
        How many prefix files were written (families already on disk are skipped).
    """
    warm = getattr(getattr(lm, "engine", None), "warm", None)
    if not callable(warm):
        return 0
    written, seen = 0, set()
    for program in programs:
        for _, predictor in program.named_predictors():
            messages = prompt_messages(predictor, adapter)
            key = tuple((m["role"], m["content"]) for m in messages)
            if key not in seen:
                seen.add(key)
                written += int(warm(messages))
    return written
