"""Turn splitting, Yes/No verdicts, per-turn summaries (count checks, retries, context) and consolidation."""

from __future__ import annotations

import re
from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM

from memspy.pipelines import EpisodicStepError
from memspy.pipelines.episodic.episodes import EpisodeConsolidator, TurnEpisodeExtractor
from memspy.pipelines.episodic.turns import parse_yes_no, split_turns

CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a booking agent."},
    {"role": "user", "content": "Book a table for two tonight, mail me at ana@example.com"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "function": {"name": "book_table", "arguments": '{"people": 2, "time": "tonight"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "c1", "name": "book_table", "content": "error: time must be HH:MM"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c2", "function": {"name": "book_table", "arguments": '{"people": 2, "time": "19:00"}'}}],
    },
    {"role": "tool", "tool_call_id": "c2", "name": "book_table", "content": "confirmed"},
    {"role": "assistant", "content": "Booked for 19:00."},
    {"role": "user", "content": "Great, thanks!"},
    {"role": "assistant", "content": "Enjoy!"},
]


def lm(*answers: dict[str, Any]) -> DummyLM:
    return DummyLM(list(answers), adapter=dspy.JSONAdapter())


def summary(turn_id: str, ended: str = "No - the user still needs help", ok: str = "Yes - done") -> dict[str, str]:
    return {
        "turn_id": turn_id,
        "situation": f"situation {turn_id}",
        "intent": f"intent {turn_id}",
        "action": f"action {turn_id}",
        "thought": f"thought {turn_id}",
        "assessment_assistant": ok,
        "assessment_user": ended,
    }


def test_split_turns_groups_user_messages_and_skips_system() -> None:
    turns = split_turns(CONVERSATION, start=5)
    assert [t.id for t in turns] == ["5", "6"]
    assert [len(t.messages) for t in turns] == [6, 2]
    assert turns[0].messages[0]["content"].startswith("Book a table")
    text = turns[0].render()
    assert text.startswith("<turn_5>") and "book_table({'people': 2, 'time': '19:00'})" in text
    assert "ana@example.com" not in text and "[EMAIL]" in text  # patterns run before the LM sees anything


def test_messages_before_the_first_user_message_form_their_own_turn() -> None:
    turns = split_turns([{"role": "assistant", "content": "still there?"}, {"role": "user", "content": "yes"}])
    assert [[m["role"] for m in t.messages] for t in turns] == [["assistant"], ["user"]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes — the table was booked", (True, "the table was booked")),
        ("yes: it worked", (True, "it worked")),
        ("No, the user still needs a time", (False, "the user still needs a time")),
        ("**No** - nothing booked", (False, "nothing booked")),
        ("Not clear yet", (None, "Not clear yet")),
        ("", (None, "")),
    ],
)
def test_parse_yes_no(text: str, expected: tuple[bool | None, str]) -> None:
    assert parse_yes_no(text) == expected


def test_one_summary_per_turn_with_parsed_verdicts() -> None:
    dummy = lm({"turns": [summary("0"), summary("1", ended="Yes — the user is satisfied", ok="no, nothing to do")]})
    with dspy.context(lm=dummy):
        pred = TurnEpisodeExtractor()(CONVERSATION)
    assert [t["turn_id"] for t in pred.turns] == ["0", "1"]
    first, second = pred.turns
    assert first["episode_ended"] is False and first["assistant_succeeded"] is True
    assert second["episode_ended"] is True and second["episode_end_reason"] == "the user is satisfied"
    assert second["assistant_succeeded"] is False and second["assistant_reason"] == "nothing to do"
    assert pred.usage.calls == 1 and pred.usage.by_step["extract_turns"]["calls"] == 1
    prompt = dummy.history[0]["messages"][-1]["content"]
    assert "<turn_0>" in prompt and "<turn_1>" in prompt and "ana@example.com" not in prompt


def test_wrong_count_is_retried_with_a_correction() -> None:
    dummy = lm({"turns": [summary("0")]}, {"turns": [summary("0"), summary("1")]})
    with dspy.context(lm=dummy):
        pred = TurnEpisodeExtractor()(CONVERSATION)
    assert len(pred.turns) == 2 and pred.usage.calls == 2
    retry = dummy.history[-1]["messages"][-1]["content"]
    assert "you gave 1 turn summaries for 2 turns" in retry


def test_persistent_count_mismatch_fails_loudly() -> None:
    one = {"turns": [summary("0")]}
    with dspy.context(lm=lm(one, one)), pytest.raises(EpisodicStepError) as info:
        TurnEpisodeExtractor(max_retries=1)(CONVERSATION)
    assert info.value.attempts == 2 and info.value.step == "extract_turns"


def test_ids_are_constrained_to_the_turns_asked_for() -> None:
    # An id outside the request fails the schema (a Literal of the turn ids) and is retried.
    dummy = lm({"turns": [summary("0"), summary("7")]}, {"turns": [summary("1"), summary("0")]})
    with dspy.context(lm=dummy):
        pred = TurnEpisodeExtractor()(CONVERSATION)
    assert [t["turn_id"] for t in pred.turns] == ["0", "1"]  # reordered by id
    assert pred.turns[0]["situation"] == "situation 0" and pred.usage.calls == 2


def sections(prompt: str) -> dict[str, str]:
    parts = re.split(r"\[\[ ## (\w+) ## \]\]", prompt)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_turns_per_call_chunks_with_previous_and_next_turns_as_context() -> None:
    dummy = lm({"turns": [summary("3")]}, {"turns": [summary("4")]})
    with dspy.context(lm=dummy):
        pred = TurnEpisodeExtractor(turns_per_call=1, previous_turns=1)(
            CONVERSATION, start=3, context="summary of turn 2"
        )
    assert [t["turn_id"] for t in pred.turns] == ["3", "4"]
    first, second = (sections(h["messages"][-1]["content"]) for h in dummy.history)
    assert first["conversation"].startswith("<turn_3>") and "<turn_4>" not in first["conversation"]
    assert first["previous_turns"] == "summary of turn 2" and first["next_user_message"] == "[0] user: Great, thanks!"
    assert first["turn_ids"] == "3" and second["turn_ids"] == "4"
    assert second["conversation"].startswith("<turn_4>") and second["previous_turns"].startswith("<turn_3>")
    assert second["next_user_message"] == "(none yet)"


def test_blank_required_fields_are_rejected() -> None:
    blank = {**summary("0"), "intent": " "}
    with dspy.context(lm=lm({"turns": [blank, summary("1")]}, {"turns": [summary("0"), summary("1")]})):
        pred = TurnEpisodeExtractor()(CONVERSATION)
    assert pred.turns[0]["intent"] == "intent 0" and pred.usage.calls == 2


def episode_answer(assessment: str = "Yes — the table is booked") -> dict[str, str]:
    return {
        "situation": "the user wanted dinner",
        "intent": "book a table",
        "assessment": assessment,
        "justification": "the second call was confirmed",
        "reflection": "use HH:MM times with book_table",
    }


def test_consolidation_parses_the_assessment() -> None:
    dummy = lm(episode_answer())
    turns = [{"turn_id": "0", "situation": "s", "intent": "i", "action": "book_table(time=tonight)"}]
    with dspy.context(lm=dummy):
        pred = EpisodeConsolidator()(turns=turns)
    assert pred.episode["goal_achieved"] is True and pred.episode["intent"] == "book a table"
    assert "book_table(time=tonight)" in dummy.history[0]["messages"][-1]["content"]
    assert pred.usage.by_step["consolidate"]["calls"] == 1


def test_consolidation_retries_an_assessment_without_yes_or_no() -> None:
    dummy = lm(episode_answer("Partly"), episode_answer("No — nothing booked"))
    with dspy.context(lm=dummy):
        pred = EpisodeConsolidator()(turns=[{"turn_id": "0"}])
    assert pred.episode["goal_achieved"] is False and pred.usage.calls == 2
    assert "assessment must start with Yes or No" in dummy.history[-1]["messages"][-1]["content"]


def test_consolidation_needs_turns() -> None:
    with pytest.raises(ValueError, match="at least one turn"):
        EpisodeConsolidator()(turns=[])


def test_the_schema_asks_for_exactly_one_summary_per_turn() -> None:
    sig = TurnEpisodeExtractor()._signature(["3", "4", "5"])
    schema = sig.output_fields["turns"].annotation.model_json_schema()
    assert schema["minItems"] == schema["maxItems"] == 3
    assert schema["$defs"]["TurnSummary"]["properties"]["turn_id"]["enum"] == ["3", "4", "5"]
