"""A truncated, repaired or absurdly deep LM answer is retried, then fails with the step's error; never stored."""

from __future__ import annotations

import json
from typing import Any

import dspy
import pytest
from scripted_engine import scripted

from memspy.pipelines import Memory, MemoryExtractionError, create_memory_manager
from memspy.pipelines.runtime.strict_json import StrictJSONAdapter, answer_depth, cut_off, finish_reasons, strict

CUT = '{"operations": [{"action": "insert", "id": null, "kind": "Memory", "content": {"content": "The user is not all'
GOOD = json.dumps(
    {
        "operations": [
            {
                "action": "insert",
                "id": None,
                "kind": "Memory",
                "content": {"content": "The user is not allergic to nuts"},
                "importance": 0.6,
            }
        ]
    }
)


def _extract(lm: dspy.LM, max_retries: int = 1) -> list[Any]:
    manager = create_memory_manager(design="single", max_retries=max_retries)
    with dspy.context(lm=lm):
        return manager.invoke({"messages": [{"role": "user", "content": "I am not allergic to nuts."}]})


def test_an_answer_cut_at_max_tokens_is_retried_then_fails() -> None:
    lm, engine = scripted((CUT, "length"))
    with pytest.raises(MemoryExtractionError, match="cut off") as raised:
        _extract(lm, max_retries=1)
    assert engine.calls == 2  # tried again, then gave up; nothing returned to store
    assert cut_off(raised.value.errors) and not cut_off(["the answer is not one complete JSON object"])


def test_a_cut_answer_that_json_repair_would_accept_is_rejected_even_without_a_finish_reason() -> None:
    lm, engine = scripted((CUT, "stop"), (GOOD, "stop"))
    memories = _extract(lm, max_retries=1)
    assert engine.calls == 2
    assert [m.content for m in memories] == [Memory(content="The user is not allergic to nuts")]


def test_a_complete_json_answer_that_hit_max_tokens_is_still_rejected() -> None:
    lm, engine = scripted((GOOD, "length"), (GOOD, "stop"))
    assert len(_extract(lm, max_retries=1)) == 1
    assert engine.calls == 2


def test_an_answer_nested_5000_levels_is_a_typed_error() -> None:
    deep = '{"operations": ' + "[" * 5000 + "]" * 5000 + "}"
    lm, _ = scripted((deep, "stop"))
    with pytest.raises(MemoryExtractionError, match="nests deeper"):
        _extract(lm, max_retries=0)


def test_fenced_json_still_parses_and_depth_ignores_brackets_in_strings() -> None:
    lm, _ = scripted(("```json\n" + GOOD + "\n```", "stop"))
    assert len(_extract(lm, max_retries=0)) == 1
    assert answer_depth('{"a": "[[[[{{{{", "b": [1, [2]]}') == 3
    assert answer_depth(r'{"a": "quote \" [[[["}') == 1


def test_finish_reasons_of_every_response_shape_and_the_adapter_choice() -> None:
    assert finish_reasons(None) == []
    assert finish_reasons({"choices": [{"finish_reason": "length"}, {"finish_reason": "stop"}]}) == ["length", "stop"]
    plain, chat = dspy.JSONAdapter(), dspy.ChatAdapter()
    assert isinstance(strict(None), StrictJSONAdapter) and isinstance(strict(plain), StrictJSONAdapter)
    assert strict(chat) is chat  # another adapter the user chose is kept
