"""A truncated, repaired or absurdly deep LM answer is retried, then fails with the step's error; never stored."""

from __future__ import annotations

import json
from typing import Any

import dspy
import pytest
from scripted_engine import scripted

from memspy.pipelines import Memory, MemoryExtractionError, create_memory_manager
from memspy.pipelines.runtime.steps import run_step
from memspy.pipelines.runtime.strict_json import (
    CUT_OFF,
    StrictJSONAdapter,
    answer_depth,
    complete_items,
    finish_reasons,
    strict,
)
from memspy.pipelines.runtime.usage import Usage

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
    assert any(CUT_OFF in e for e in raised.value.errors)  # the error says why, so the user can raise max_tokens


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


def test_the_items_a_cut_off_list_finished_exclude_the_one_the_cut_fell_in() -> None:
    assert complete_items('{"facts": ["A is 1.", "B is 2.", "C is no', "facts") == ["A is 1.", "B is 2."]
    assert complete_items('```json\n{"facts": [{"s": "A"}, {"s": "B", "o": ["x",', "facts") == [{"s": "A"}]
    assert complete_items('{"facts": ["A", "B"]}', "facts") == ["A", "B"]
    assert complete_items('{"facts": ["A', "facts") == []
    assert complete_items('{"facts": {"name": "A"', "facts") == []  # not a list
    assert complete_items('{"other": ["A", "B"', "facts") == []


def test_run_step_hands_a_cut_off_answer_to_cut_short_instead_of_asking_again() -> None:
    class Say(dspy.Signature):
        """Say things."""

        corrections: str = dspy.InputField()
        facts: list[str] = dspy.OutputField()

    lm, engine = scripted(('{"facts": ["one", "two", "thr', "length"), ('{"facts": ["again"]}', "stop"))
    seen: list[str] = []

    def keep_finished(answer: str) -> list[str] | None:
        seen.append(answer)
        return complete_items(answer, "facts") or None

    with dspy.context(lm=lm):
        got = run_step(dspy.Predict(Say), "say", Usage(), accept_facts, 2, cut_short=keep_finished)
    assert got == ["one", "two"] and engine.calls == 1
    assert seen == ['{"facts": ["one", "two", "thr']  # the whole answer, not the error's 300-character excerpt
    lm, engine = scripted(('{"facts": ["on', "length"), ('{"facts": ["again"]}', "stop"))
    with dspy.context(lm=lm):  # nothing finished: cut_short says None, so the step asks again as usual
        assert run_step(dspy.Predict(Say), "say", Usage(), accept_facts, 2, cut_short=keep_finished) == ["again"]
    assert engine.calls == 2


def accept_facts(pred: dspy.Prediction) -> tuple[list[str], list[str]]:
    return list(pred.facts), []
