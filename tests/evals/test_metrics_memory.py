"""Memory metrics on hand-made cases: matching, operation F1, feedback text, the three calling conventions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM

from memspy.evals.metrics_memory import (
    EpisodeMetric,
    ExtractionMetric,
    ReflectionMetric,
    TextMatcher,
    f1_score,
    float_metric,
)
from memspy.pipelines import Episode, ExtractedMemory, Memory, RemoveDoc, create_memory_manager
from memspy.pipelines.semantic.manager import AppliedOperation
from memspy.stores import MiniLMEmbedder


@pytest.fixture(scope="module")
def matcher(embedder: MiniLMEmbedder) -> TextMatcher:
    return TextMatcher(embedder)


def ins(text: str) -> dict[str, Any]:
    return {"action": "insert", "id": None, "kind": "Memory", "content": text}


def applied(action: str, mid: str, text: str | None) -> AppliedOperation:
    return AppliedOperation(action, mid, "Memory", Memory(content=text) if text else None, 0.5)  # type: ignore[arg-type]


def run(metric: Any, example: Any, pred: Any) -> Any:
    """The metric's GEPA/Evaluate result (a Prediction with score and feedback)."""
    return metric(example, pred)


def gold(expected: list[Any]) -> dspy.Example:
    return dspy.Example(messages=[], existing=[], expected=expected).with_inputs("messages", "existing")


def test_matcher_accepts_paraphrases_but_not_changed_key_facts(matcher: TextMatcher) -> None:
    assert matcher.agrees("maya has a peanut allergy", "Maya is allergic to peanuts.")[0]
    assert matcher.agrees("The user is vegetarian", "the user is VEGETARIAN!") == (True, 1.0)
    ok, sim = matcher.agrees("Sam lives in Paris.", "Sam lives in Lyon.")
    assert sim > matcher.threshold and not ok  # MiniLM alone would call these the same
    assert not matcher.agrees("The user likes jazz.", "Maya is allergic to peanuts.")[0]


def test_match_is_one_to_one_and_respects_allowed_pairs(matcher: TextMatcher) -> None:
    produced = ["User likes tea", "User likes tea a lot"]
    assert len(matcher.match(produced, ["The user likes tea."])) == 1
    assert matcher.match(produced, ["The user likes tea."], allowed=lambda i, j: False) == []


def test_f1_edge_cases() -> None:
    assert f1_score(0, 0, 0) == (1.0, 1.0, 1.0)
    assert f1_score(0, 2, 0)[2] == 0.0 and f1_score(0, 0, 2)[2] == 0.0
    assert f1_score(1, 2, 1) == pytest.approx((0.5, 1.0, 2 / 3))


def test_operation_f1_with_feedback_naming_missed_and_extra(matcher: TextMatcher) -> None:
    metric = ExtractionMetric(matcher)
    expected = [ins("The user is vegetarian."), ins("The user hates mushrooms.")]
    pred = dspy.Prediction(
        operations=[applied("insert", "x1", "User is a vegetarian"), applied("insert", "x2", "User said hi")]
    )
    result = run(metric, gold(expected), pred)
    assert result.score == pytest.approx(0.5)
    assert "Missed: insert 'The user hates mushrooms.'" in result.feedback
    assert "Not expected: insert 'User said hi'" in result.feedback and "closest produced" in result.feedback


def test_updates_and_deletes_must_target_the_right_id(matcher: TextMatcher) -> None:
    metric = ExtractionMetric(matcher)
    expected = [
        {"action": "update", "id": "m1", "kind": "Memory", "content": "The user lives in Lyon."},
        {"action": "delete", "id": "m2", "kind": "Memory", "content": None},
    ]
    right = dspy.Prediction(
        operations=[applied("update", "m1", "User lives in Lyon now"), applied("delete", "m2", None)]
    )
    assert run(metric, gold(expected), right).score == 1.0
    wrong = dspy.Prediction(
        operations=[applied("update", "m3", "User lives in Lyon now"), applied("delete", "m1", None)]
    )
    result = run(metric, gold(expected), wrong)
    assert (
        result.score == 0.0 and "Missed: delete m2" in result.feedback and "Not expected: delete m1" in result.feedback
    )
    as_insert = dspy.Prediction(
        operations=[applied("insert", "n", "The user lives in Lyon."), applied("delete", "m2", None)]
    )
    assert run(metric, gold(expected), as_insert).score == pytest.approx(0.5)  # an insert is not the expected update


def test_repeated_changes_to_one_id_count_once(matcher: TextMatcher) -> None:
    expected = [{"action": "update", "id": "m1", "kind": "Memory", "content": "Sam lives in Lyon."}]
    twice = [applied("update", "m1", "Sam lives in Paris."), applied("update", "m1", "Sam lives in Lyon.")]
    assert run(ExtractionMetric(matcher), gold(expected), dspy.Prediction(operations=twice)).score == 1.0
    undone = [*twice, applied("delete", "m1", None)]
    assert run(ExtractionMetric(matcher), gold(expected), dspy.Prediction(operations=undone)).score == 0.0


def test_nothing_expected(matcher: TextMatcher) -> None:
    metric = ExtractionMetric(matcher)
    assert run(metric, gold([]), dspy.Prediction(operations=[])).score == 1.0
    result = run(metric, gold([]), dspy.Prediction(operations=[applied("insert", "x", "The user said hello.")]))
    assert result.score == 0.0 and "Nothing here was worth keeping" in result.feedback


def test_calling_conventions_for_bootstrap_gepa_and_evaluate(matcher: TextMatcher) -> None:
    metric = ExtractionMetric(matcher, pass_threshold=1.0)
    half = dspy.Prediction(operations=[applied("insert", "x", "The user is vegetarian.")])
    example = gold([ins("The user is vegetarian."), ins("The user hates mushrooms.")])
    assert metric(example, half, []) is False  # bootstrapping: a bool against pass_threshold
    assert ExtractionMetric(matcher, pass_threshold=0.6)(example, half, []) is True
    gepa: Any = metric(example, half, [], "extract", [])
    assert isinstance(gepa, dspy.Prediction) and gepa.score == pytest.approx(2 / 3) and "mushrooms" in gepa.feedback
    scored = float_metric(metric)
    assert scored(example, half) == pytest.approx(2 / 3) and isinstance(scored(example, half), float)
    assert scored.__name__ == "extraction_f1" and scored(example, half, []) is False


def test_memory_level_score_uses_the_collection_afterwards(matcher: TextMatcher) -> None:
    metric = ExtractionMetric(matcher)
    example = dspy.Example(expected_memories=["The user lives in Lyon.", "The user likes cycling."])
    pred = dspy.Prediction(
        memories=[
            ExtractedMemory("r", RemoveDoc(json_doc_id="m0")),
            ExtractedMemory("m1", Memory(content="User lives in Lyon")),
            ExtractedMemory("m2", Memory(content="User likes cycling.")),
        ]
    )
    assert run(metric, example, pred).score == 1.0


def test_scores_a_real_memory_manager_prediction(matcher: TextMatcher) -> None:
    answer = {"facts": ["User is vegan"]}
    with dspy.context(lm=DummyLM([answer], adapter=dspy.JSONAdapter())):
        pred = create_memory_manager()(messages=[{"role": "user", "content": "I'm vegan"}])
    assert run(ExtractionMetric(matcher), gold([ins("The user is vegan.")]), pred).score == 1.0


def test_episode_field_agreement(matcher: TextMatcher) -> None:
    metric = EpisodeMetric(matcher)
    expected = {"observation": "The user could not follow recursion.", "result": "A treehouse metaphor worked."}
    good = Episode(observation="User struggled to follow recursion", thoughts="t", action="a", result="It failed.")
    result = run(metric, dspy.Example(expected=expected), dspy.Prediction(episode=good))
    assert result.score == 0.5 and "Field 'result' disagrees" in result.feedback
    as_memories = dspy.Prediction(memories=[ExtractedMemory("e", good)])
    assert run(metric, dspy.Example(expected=expected), as_memories).score == 0.5
    assert run(metric, dspy.Example(expected=None), dspy.Prediction(episode=None)).score == 1.0
    assert run(metric, dspy.Example(expected=None), dspy.Prediction(episode=good)).score == 0.0
    assert run(metric, dspy.Example(expected=expected), dspy.Prediction()).score == 0.0


def test_reflection_f1(matcher: TextMatcher) -> None:
    metric = ReflectionMetric(matcher)
    example = dspy.Example(expected=["Show a worked example before explaining theory.", "Ask which language they use."])
    pred = dspy.Prediction(reflections=["Give a worked example before the theory.", "Reply in French."])
    result = run(metric, example, pred)
    assert result.score == pytest.approx(0.5)
    assert (
        "Missed: Ask which language they use." in result.feedback
        and "Not expected: Reply in French." in result.feedback
    )


def test_episode_fields_of_the_episodic_pipeline_shape(matcher: TextMatcher) -> None:
    expected = {"intent": "The user wanted to fix a failing test.", "goal_achieved": True}
    stored = {
        "namespace": ("episodes",),
        "key": "e1",
        "value": {"intent": "User wanted to fix a failing test", "goal_achieved": False},
    }
    result = run(EpisodeMetric(matcher), dspy.Example(expected=expected), dspy.Prediction(episodes=[stored]))
    assert result.score == 0.5 and "Field 'goal_achieved' disagrees" in result.feedback


@dataclass
class Change:
    operator: str
    id: str
    title: str
    use_cases: str
    hints: str
    confidence: float


def test_reflection_changes_are_scored_by_title_use_cases_and_hints(matcher: TextMatcher) -> None:
    lesson = {"title": "Worked example first", "hints": "Show a worked example before explaining the theory."}
    change = Change(
        "add",
        "r1",
        "Worked example first",
        "a user asks how a concept works",
        "Show a worked example before the theory.",
        0.8,
    )
    assert (
        run(ReflectionMetric(matcher), dspy.Example(expected=[lesson]), dspy.Prediction(changes=[change])).score == 1.0
    )
    assert run(ReflectionMetric(matcher), dspy.Example(expected=[]), dspy.Prediction(changes=[])).score == 1.0
