"""A JSONAdapter that refuses answers it would otherwise have to guess: cut off, repaired, or nested too deep.

DSPy's ``JSONAdapter`` parses with ``json_repair``, which turns an answer cut off mid-string
(``{"content": "The user is not allerg``) into a well-formed object holding the fragment, so a truncated
answer reads as a valid one. ``StrictJSONAdapter`` raises ``AdapterParseError`` instead, which the shared
retry loop (:func:`memspy.pipelines.runtime.steps.run_step`) retries and then reports as the step's error:

- the LM stopped because it reached ``max_tokens`` (``finish_reason == "length"`` on the engine's response,
  read from the LM's history entry for this very call);
- the answer is not one strict JSON object (``json.loads``), apart from a Markdown code fence around it;
- the answer nests deeper than ``MAX_ANSWER_DEPTH`` (a 5,000-level answer would raise ``RecursionError``).
"""

from __future__ import annotations

import json
from typing import Any

import dspy
from dspy.utils.exceptions import AdapterParseError

from memspy.stores.errors import MemspyError

__all__ = [
    "CUT_OFF",
    "MAX_ANSWER_DEPTH",
    "CutOffAnswer",
    "StrictJSONAdapter",
    "answer_depth",
    "complete_items",
    "finish_reasons",
    "strict",
]

MAX_ANSWER_DEPTH = 64


def answer_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in JSON text, not counting brackets inside strings."""
    depth = deepest = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


def _unfenced(text: str) -> str:
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        if body.rstrip().endswith("```"):
            body = body.rstrip()[:-3]
    return body.strip()


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def finish_reasons(response: Any) -> list[str]:
    """The finish reasons of a raw LM response: an lm15 ``Response``, a LiteLLM/OpenAI one, or a tuple of them."""
    if isinstance(response, tuple | list):
        return [r for part in response for r in finish_reasons(part)]
    reason = _field(response, "finish_reason")
    if reason is not None:
        return [str(reason)]
    return [str(r) for c in _field(response, "choices") or [] if (r := _field(c, "finish_reason")) is not None]


def _call_response(lm: Any, outputs: Any) -> Any:
    """The raw response of the call that returned ``outputs`` (matched by identity, so threads cannot mix)."""
    for entry in reversed(getattr(lm, "history", None) or []):
        if entry.get("outputs") is outputs:
            return entry.get("response")
    return None


# The start of the parse error of an answer cut off at max_tokens (or ended early as a loop).
CUT_OFF = "the answer was cut off at max_tokens"


class CutOffAnswer(AdapterParseError, MemspyError):
    """An answer cut off at ``max_tokens`` (or ended early as a loop); ``answer`` holds its whole text. The shared
    step loop reads it (:func:`memspy.pipelines.runtime.steps.run_step`); callers see the step's own error."""

    def __init__(self, adapter_name: str, signature: Any, answer: str) -> None:
        AdapterParseError.__init__(
            self,
            adapter_name=adapter_name,
            signature=signature,
            lm_response=answer[:300],
            message=f"{CUT_OFF}: give a shorter, complete answer",
        )
        self.answer = answer


def complete_items(answer: str, field: str) -> list[Any]:
    """The items of the JSON list ``field`` that a cut-off ``answer`` finished: each one followed by ``,`` or
    ``]``, so the item the cut fell in is never among them (unlike a repaired parse, which keeps its fragment).

    ``{"facts": ["A.", "B.", "C is no`` gives ``["A.", "B."]``; no list under ``field`` gives ``[]``.
    """
    body = _unfenced(answer)
    key = body.find(json.dumps(field))
    if key < 0:
        return []
    after_key = key + len(json.dumps(field))
    start = body.find("[", after_key)
    if start < 0 or body[after_key:start].strip(" \t\r\n:"):
        return []
    items: list[Any] = []
    decoder, pos = json.JSONDecoder(), start + 1
    while True:
        while pos < len(body) and body[pos] in " \t\r\n,":
            pos += 1
        try:
            item, end = decoder.raw_decode(body, pos)
        except ValueError:
            return items
        rest = body[end:].lstrip()
        if not rest or rest[0] not in ",]":
            return items
        items.append(item)
        if rest[0] == "]":
            return items
        pos = end


class StrictJSONAdapter(dspy.JSONAdapter):
    """``dspy.JSONAdapter`` that raises ``AdapterParseError`` on a truncated, repaired or over-deep answer."""

    def _call_postprocess(
        self,
        processed_signature: Any,
        original_signature: Any,
        outputs: list[dict[str, Any] | str],
        lm: Any,
        lm_kwargs: dict[str, Any],
    ) -> list[dict[str, Any]]:
        if "length" in finish_reasons(_call_response(lm, outputs)):
            first = outputs[0] if outputs else ""
            text = first if isinstance(first, str) else str(first.get("text", first))
            raise CutOffAnswer(type(self).__name__, original_signature, text)
        return super()._call_postprocess(processed_signature, original_signature, outputs, lm, lm_kwargs)

    def parse(self, signature: Any, completion: str) -> dict[str, Any]:
        body = _unfenced(completion)
        if answer_depth(body) > MAX_ANSWER_DEPTH:
            raise AdapterParseError(
                adapter_name=type(self).__name__,
                signature=signature,
                lm_response=completion[:300],
                message=f"the answer nests deeper than {MAX_ANSWER_DEPTH} levels",
            )
        try:
            json.loads(body)
        except ValueError as e:
            raise AdapterParseError(
                adapter_name=type(self).__name__,
                signature=signature,
                lm_response=completion[:300],
                message=f"the answer is not one complete JSON object ({e}); it may have been cut off",
            ) from None
        return super().parse(signature, body)


def strict(adapter: Any) -> Any:
    """The adapter a memspy step runs with: the configured one, but a plain ``JSONAdapter`` (or none) made strict."""
    if adapter is None or type(adapter) is dspy.JSONAdapter:
        return StrictJSONAdapter()
    return adapter
