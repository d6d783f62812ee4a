"""The episodic pipeline over a real EdgeStore: boundaries, restarts, reflections with history, PII, recall."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM

from memspy.pipelines import EpisodicStepError
from memspy.pipelines.episodic.memory import EpisodicMemory
from memspy.pipelines.episodic.records import new_reflection_record
from memspy.pipelines.episodic.reflection import ReflectionChange
from memspy.pipelines.semantic.schemas import Episode
from memspy.pipelines.semantic.store_manager import create_memory_store_manager
from memspy.stores import BaseStore, EdgeStore, MiniLMEmbedder

CFG = {"configurable": {"actor_id": "agent-1"}}
EPISODES, REFLECTIONS, OPEN = ("episodes", "agent-1"), ("reflections", "agent-1"), ("episodes", "agent-1", "_open")


def lm(*answers: Any) -> DummyLM:
    return DummyLM(list(answers), adapter=dspy.JSONAdapter())


def turn(tid: str, ended: bool = False, text: str = "") -> dict[str, str]:
    return {
        "turn_id": tid,
        "situation": f"the user wants to move a flight {text}".strip(),
        "intent": f"change the booking date (turn {tid})",
        "action": "change_booking(booking_ref, new_date)",
        "thought": "the user gave a date",
        "assessment_assistant": "Yes - the call succeeded",
        "assessment_user": "Yes — the user is done" if ended else "No - still in progress",
    }


def episode(text: str = "") -> dict[str, str]:
    return {
        "situation": f"a flight had to move {text}".strip(),
        "intent": "move a flight to another date",
        "assessment": "Yes — confirmed",
        "justification": "the second call returned confirmed",
        "reflection": "pass dates as YYYY-MM-DD to change_booking",
    }


def reflection(operator: str = "add", id: str | None = None, hints: str = "use YYYY-MM-DD", **kw: Any) -> dict:
    return {
        "operator": operator,
        "id": id,
        "title": kw.get("title", "Date formats in booking tools"),
        "use_cases": kw.get("use_cases", "a booking tool rejects a date"),
        "hints": hints,
        "confidence": kw.get("confidence", 0.6),
    }


def chat(*users: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for u in users:
        out += [{"role": "user", "content": u}, {"role": "assistant", "content": "ok"}]
    return out


@pytest.fixture
def store(tmp_path: Path, embedder: MiniLMEmbedder) -> Any:
    s = EdgeStore(tmp_path / "s", embedder=embedder)
    yield s
    s.close()


def memory(store: BaseStore, **kw: Any) -> EpisodicMemory:
    kw.setdefault("redact_with_lm", False)
    return EpisodicMemory(store, **kw)


def test_an_ended_turn_closes_the_episode_and_later_turns_stay_open(store: EdgeStore) -> None:
    mem = memory(store)
    answers = [{"turns": [turn("0"), turn("1", ended=True), turn("2")]}, episode(), {"reflections": [reflection()]}]
    with dspy.context(lm=lm(*answers)):
        pred = mem.process(chat("move my flight", "ABC123 to friday", "also a hotel?"), session_id="s1", config=CFG)
    assert [t["turn_id"] for t in pred.turns] == ["0", "1", "2"] and pred.open_turn_ids == ["2"]
    [ep] = pred.episodes
    assert ep["key"] == "s1:0-1"
    stored = store.get(EPISODES, "s1:0-1").value  # type: ignore[union-attr]
    assert stored["kind"] == "Episode" and stored["goal_achieved"] is True
    assert stored["provenance"] == {"source": "episodic", "session_id": "s1", "turn_ids": ["0", "1"]}
    assert [t["turn_id"] for t in stored["turns"]] == ["0", "1"] and stored["created_at"]
    [event] = pred.reflections
    assert event["event"] == "insert" and stored["reflection_keys"] == [event["key"]]
    ref = store.get(REFLECTIONS, event["key"]).value  # type: ignore[union-attr]
    assert ref["provenance"] == {"episode_keys": ["s1:0-1"], "session_ids": ["s1"]} and ref["history"] == []
    state = store.get(OPEN, "s1").value  # type: ignore[union-attr]
    assert [t["turn_id"] for t in state["open_turns"]] == ["2"] and state["next_turn_id"] == 3
    assert pred.usage.calls == 3 and set(pred.usage.by_step) == {"extract_turns", "consolidate", "reflect"}

    # Turn ids continue across calls; the open turn joins the next episode.
    answers = [{"turns": [turn("3", ended=True)]}, episode(), {"reflections": []}]
    dummy = lm(*answers)
    with dspy.context(lm=dummy):
        pred = mem.process(chat("thanks, that's all"), session_id="s1", config=CFG)
    assert pred.episodes[0]["key"] == "s1:2-3" and pred.open_turn_ids == []
    assert "<turn_3>" in dummy.history[0]["messages"][-1]["content"]
    assert "<turn_2>" in dummy.history[0]["messages"][-1]["content"]  # the previous turn's summary as context


def test_close_session_after_a_restart_consolidates_the_open_turns(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    path = tmp_path / "s"
    with EdgeStore(path, embedder=embedder) as s1, dspy.context(lm=lm({"turns": [turn("0"), turn("1")]})):
        pred = memory(s1).process(chat("move my flight", "to friday"), session_id="s9", config=CFG)
    assert pred.episodes == [] and pred.open_turn_ids == ["0", "1"]
    with EdgeStore(path, embedder=embedder) as s2:
        mem = memory(s2)
        assert mem.open_sessions(CFG) == ["s9"]
        with dspy.context(lm=lm(episode(), {"reflections": [reflection()]})):
            closed = mem.close_session("s9", config=CFG)
        assert [e["key"] for e in closed.episodes] == ["s9:0-1"] and len(closed.reflections) == 1
        assert mem.open_sessions(CFG) == []
        assert s2.get(OPEN, "s9").value["next_turn_id"] == 2  # type: ignore[union-attr]
        with dspy.context(lm=lm()):
            assert mem.close_session("s9", config=CFG).episodes == []  # nothing left: no LM call


def test_a_failed_step_stores_nothing_and_keeps_the_turns_open(store: EdgeStore) -> None:
    mem = memory(store, max_retries=0)
    bad_reflection = {"reflections": [reflection("update", "nope")]}
    with dspy.context(lm=lm({"turns": [turn("0", ended=True)]}, episode(), bad_reflection)):
        with pytest.raises(EpisodicStepError):
            mem.process(chat("move my flight"), session_id="s1", config=CFG)
    assert store.search(EPISODES, filter={"kind": "Episode"}) == [] and store.search(REFLECTIONS) == []
    assert [t["turn_id"] for t in store.get(OPEN, "s1").value["open_turns"]] == ["0"]  # type: ignore[union-attr]
    # The next call retries the pending episode without summarizing the turn again.
    with dspy.context(lm=lm(episode(), {"reflections": [reflection()]})):
        pred = mem.process([], session_id="s1", config=CFG)
    assert [e["key"] for e in pred.episodes] == ["s1:0-0"]


def test_a_reflection_update_keeps_history_and_a_long_one_is_split(store: EdgeStore) -> None:
    mem = memory(store)
    with dspy.context(lm=lm({"turns": [turn("0", ended=True)]}, episode(), {"reflections": [reflection()]})):
        first = mem.process(chat("move my flight"), session_id="a", config=CFG)
    rid = first.reflections[0]["key"]
    update = reflection("update", rid, hints="use YYYY-MM-DD; read the tool's error", confidence=0.87)
    dummy = lm({"turns": [turn("0", ended=True)]}, episode(), {"reflections": [update]})
    with dspy.context(lm=dummy):
        second = mem.process(chat("change my flight date"), session_id="b", config=CFG)
    assert f'"id": "{rid}"' in dummy.history[-1]["messages"][-1]["content"]  # retrieved and shown with its id
    assert "a flight had to move" in dummy.history[-1]["messages"][-1]["content"]  # the past episode too
    assert second.reflections[0]["event"] == "update" and second.reflections[0]["key"] == rid
    ref = store.get(REFLECTIONS, rid).value  # type: ignore[union-attr]
    assert ref["hints"] == "use YYYY-MM-DD; read the tool's error" and ref["confidence"] == 0.9
    assert [h["hints"] for h in ref["history"]] == ["use YYYY-MM-DD"]
    assert ref["provenance"] == {"episode_keys": ["a:0-0", "b:0-0"], "session_ids": ["a", "b"]}

    long = reflection("update", rid, hints=" ".join(["detail"] * 320), title="Date formats: weekday names")
    with dspy.context(lm=lm({"turns": [turn("0", ended=True)]}, episode(), {"reflections": [long]})):
        third = mem.process(chat("rebook again"), session_id="c", config=CFG)
    [event] = third.reflections
    assert event["event"] == "insert" and event["key"] != rid and event["value"]["split_from"] == rid
    assert store.get(REFLECTIONS, rid).value["hints"] == "use YYYY-MM-DD; read the tool's error"  # type: ignore


def test_no_personal_data_reaches_the_store(store: EdgeStore) -> None:
    mem = EpisodicMemory(store)  # LM redaction on
    leaky = "for Jane Doe at 12 Rose Street, jane@example.com, +49 170 1234567, card 4111 1111 1111 1111"
    answers = [
        {"turns": [turn("0", ended=True, text=leaky)]},
        {"spans": [{"text": "Jane Doe", "kind": "NAME"}, {"text": "12 Rose Street", "kind": "ADDRESS"}]},
        episode(leaky),
        {"spans": [{"text": "Jane Doe", "kind": "NAME"}, {"text": "12 Rose Street", "kind": "ADDRESS"}]},
        {"reflections": [reflection(hints=f"confirm by email {leaky}")]},
        {"spans": [{"text": "Jane Doe", "kind": "NAME"}, {"text": "12 Rose Street", "kind": "ADDRESS"}]},
    ]
    with dspy.context(lm=lm(*answers)):
        pred = mem.process(chat(f"move my flight, I am {leaky}"), session_id="s1", config=CFG)
    assert pred.usage.by_step["find_pii"]["calls"] == 3
    dump = json.dumps([i.value for i in store.search(("episodes",), limit=50) + store.search(("reflections",))])
    for secret in ("Jane Doe", "Rose Street", "jane@example.com", "1234567", "4111"):
        assert secret not in dump
    for placeholder in ("[NAME]", "[ADDRESS]", "[EMAIL]", "[PHONE]", "[CARD]"):
        assert placeholder in dump


def test_relevant_reflections_and_episodes_by_task(store: EdgeStore) -> None:
    mem = memory(store)
    lessons = [
        ("Date formats in booking tools", "moving a flight or hotel booking to a new date", "send YYYY-MM-DD"),
        ("Refund requests", "a customer asks for money back", "check the fare rules before promising a refund"),
        ("Password resets", "a user is locked out of the account", "send a reset link, never a password"),
    ]
    for i, (title, use_cases, hints) in enumerate(lessons):
        change = ReflectionChange("add", f"r{i}", title, use_cases, hints, 0.6)
        store.put(REFLECTIONS, f"r{i}", new_reflection_record(change, {"episode_keys": []}), index=["text"])
    assert mem.relevant_reflection_items("reschedule my flight to next week", 1, config=CFG)[0].key == "r0"
    block = mem.relevant_reflections("I want my money back for a cancelled trip", 1, config=CFG)
    assert block.startswith("Lessons from past episodes:") and "Refund requests (confidence 0.6)" in block
    assert "Password" not in block
    assert store.get(REFLECTIONS, "r1").value["access_count"] == 1  # type: ignore[union-attr]
    assert mem.relevant_episodes("anything", 3, config=CFG) == ""  # no episodes yet

    with dspy.context(lm=lm({"turns": [turn("0", ended=True)]}, episode(), {"reflections": []})):
        mem.process(chat("move my flight"), session_id="s1", config=CFG)
    text = mem.relevant_episodes("change a flight date", 3, config=CFG)
    assert "Goal: move a flight to another date" in text and "Outcome: achieved" in text


def test_long_episodes_are_cut_and_the_agent_prompt_reaches_reflection(store: EdgeStore) -> None:
    mem = memory(store, max_episode_turns=2)
    messages = [{"role": "system", "content": "You are AirBot; dates are YYYY-MM-DD."}, *chat("a", "b", "c")]
    dummy = lm({"turns": [turn("0"), turn("1"), turn("2")]}, episode(), {"reflections": [reflection()]})
    with dspy.context(lm=dummy):
        pred = mem.process(messages, session_id="s1", config=CFG)
    assert [e["key"] for e in pred.episodes] == ["s1:0-1"] and pred.open_turn_ids == ["2"]
    assert "You are AirBot" in dummy.history[-1]["messages"][-1]["content"]
    assert mem.usage.total.calls == 3


def test_async_process_and_close(store: EdgeStore) -> None:
    mem = memory(store, generate_reflections=False)
    with dspy.context(lm=lm({"turns": [turn("0")]}, episode())):
        pred = asyncio.run(mem.aforward(chat("hi"), "s1", CFG))
        closed = asyncio.run(mem.aclose_session("s1", CFG))
    assert pred.open_turn_ids == ["0"] and [e["key"] for e in closed.episodes] == ["s1:0-0"]


def test_session_id_from_config_and_invoke(store: EdgeStore) -> None:
    mem = memory(store, generate_reflections=False)
    with dspy.context(lm=lm({"turns": [turn("0", ended=True)]}, episode())):
        pred = mem.invoke({"messages": chat("hi")}, config={"configurable": {"actor_id": "agent-1", "thread_id": "t"}})
    assert [e["key"] for e in pred.episodes] == ["t:0-0"] and pred.reflections == []
    with pytest.raises(ValueError, match="session"):
        mem.process(chat("hi"), config=CFG)


def test_deepcopy_keeps_the_store_and_predictor_names_are_stable(store: EdgeStore) -> None:
    mem = memory(store)
    copy = mem.deepcopy()
    assert copy.store is mem.store
    assert {name for name, _ in mem.named_predictors()} == {
        "turn_extractor.extract_turns",
        "consolidator.consolidate",
        "reflector.reflect",
        "redactor.find_pii",
    }


def test_langmem_episode_schema_path_stores_an_episode(store: EdgeStore) -> None:
    manager = create_memory_store_manager(schemas=[Episode], store=store, namespace=("memories", "{user_id}", "ep"))
    content = {"observation": "a date was rejected", "thoughts": "format?", "action": "retried", "result": "worked"}
    with dspy.context(lm=lm({"facts": [content]})):  # one kind with fields: each fact is an Episode
        events = manager.invoke({"messages": chat("move my flight")}, config={"configurable": {"user_id": "u1"}})
    stored = store.get(("memories", "u1", "ep"), events[0]["key"]).value  # type: ignore[union-attr]
    assert stored["kind"] == "Episode" and stored["content"] == content
