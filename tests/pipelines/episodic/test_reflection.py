"""Reflection generation: add/update, ids that must have been shown, the 300-word split, confidence clamping."""

from __future__ import annotations

from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM

from memspy.pipelines import EpisodicStepError
from memspy.pipelines.episodic.reflection import MAX_REFLECTION_WORDS, Reflector, clamp_confidence, validate_reflections

EXISTING = [
    (
        "r1",
        {"title": "Date formats in booking tools", "use_cases": "changing dates", "hints": "use YYYY-MM-DD"},
    )
]


def lm(*answers: dict[str, Any]) -> DummyLM:
    return DummyLM(list(answers), adapter=dspy.JSONAdapter())


def op(operator: str = "add", id: str | None = None, words: int = 10, confidence: float = 0.8, **kw: Any) -> dict:
    return {
        "operator": operator,
        "id": id,
        "title": kw.get("title", "Date formats in booking tools"),
        "use_cases": kw.get("use_cases", "when a booking tool rejects a date"),
        "hints": " ".join(["word"] * words),
        "confidence": confidence,
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(0.73, 0.7), (0.75, 0.8), (1.7, 1.0), (0.0, 0.1), (-3, 0.1), (0.04, 0.1), ("0.3", 0.3), (None, 0.5), ("x", 0.5)],
)
def test_confidence_is_clamped_to_the_grid(raw: Any, expected: float) -> None:
    assert clamp_confidence(raw) == expected


def test_update_must_name_a_shown_id() -> None:
    changes, errors = validate_reflections([op("update", "r9")], ["r1"])
    assert changes == [] and "'r9' is not one of the existing reflection ids ['r1']" in errors[0]


def test_update_within_the_limit_keeps_its_id() -> None:
    changes, errors = validate_reflections([op("update", "r1", confidence=0.94)], ["r1"])
    assert not errors
    assert [(c.operator, c.id, c.confidence, c.split_from) for c in changes] == [("update", "r1", 0.9, None)]


def test_long_update_becomes_a_narrower_add() -> None:
    words = MAX_REFLECTION_WORDS - 5  # plus the use cases' words: over the limit
    changes, errors = validate_reflections([op("update", "r1", words=words, title="Date formats: weekdays")], ["r1"])
    assert not errors and len(changes) == 1
    change = changes[0]
    assert change.operator == "add" and change.id != "r1" and change.split_from == "r1"
    assert change.title == "Date formats: weekdays"


def test_exactly_at_the_limit_is_still_an_update() -> None:
    use_cases_words = len("when a booking tool rejects a date".split())
    changes, _ = validate_reflections([op("update", "r1", words=MAX_REFLECTION_WORDS - use_cases_words)], ["r1"])
    assert changes[0].operator == "update"


def test_repeats_are_dropped_and_adds_get_fresh_ids() -> None:
    raw = [op("update", "r1"), op("update", "r1", title="again"), op(title="A"), op(title="a"), op(title="B")]
    changes, errors = validate_reflections(raw, ["r1"])
    assert not errors
    assert [(c.operator, c.title) for c in changes] == [
        ("update", "Date formats in booking tools"),
        ("add", "A"),
        ("add", "B"),
    ]
    assert len({c.id for c in changes}) == 3


def test_empty_hints_are_rejected() -> None:
    _, errors = validate_reflections([op(words=0)], [])
    assert errors == ["reflection 0 (add): title and hints must not be empty"]


def test_reflector_updates_a_shown_reflection() -> None:
    dummy = lm({"reflections": [op("update", "r1", confidence=1.4), op(title="Ask for the booking reference")]})
    with dspy.context(lm=dummy):
        pred = Reflector()(
            "Goal: move a flight",
            relevant_episodes=["Goal: cancel a flight"],
            existing=EXISTING,
            system_prompt="Be kind",
        )
    assert [(c.operator, c.id, c.confidence) for c in pred.changes][0] == ("update", "r1", 1.0)
    assert pred.changes[1].operator == "add"
    prompt = dummy.history[0]["messages"][-1]["content"]
    assert '"id": "r1"' in prompt and "Goal: cancel a flight" in prompt and "Be kind" in prompt
    assert pred.usage.by_step["reflect"]["calls"] == 1


def test_reflector_retries_an_unknown_id_then_fails() -> None:
    bad = {"reflections": [op("update", "r9")]}
    with dspy.context(lm=lm(bad, bad, bad)), pytest.raises(EpisodicStepError) as info:
        Reflector()("Goal: move a flight", existing=EXISTING)
    assert info.value.attempts == 3 and info.value.step == "reflect"


def test_without_existing_reflections_only_adds_are_accepted() -> None:
    dummy = lm({"reflections": [op("update", "r1")]}, {"reflections": [op()]})
    with dspy.context(lm=dummy):
        pred = Reflector()("Goal: move a flight")
    assert [c.operator for c in pred.changes] == ["add"] and pred.usage.calls == 2
    assert "(none)" in dummy.history[0]["messages"][-1]["content"]


def test_an_empty_answer_is_allowed() -> None:
    with dspy.context(lm=lm({"reflections": []})):
        pred = Reflector()("Goal: move a flight", existing=EXISTING)
    assert pred.changes == []
