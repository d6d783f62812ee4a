"""The store manager over a real EdgeStore: templating, atomic writes, soft deletes, profiles, recall."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM

from memspy.pipelines import (
    MemoryExtractionError,
    NamespaceConfigError,
    Triple,
    UserProfile,
    create_memory_store_manager,
)
from memspy.stores import EdgeStore, MiniLMEmbedder

U1 = {"configurable": {"user_id": "u1"}}


def lm(*answers: dict[str, Any]) -> DummyLM:
    return DummyLM(list(answers), adapter=dspy.JSONAdapter())


def triple(s: str, p: str, o: str) -> dict[str, Any]:
    return {"subject": s, "predicate": p, "object": o, "context": None}


def last_prompt(dummy: DummyLM, call: int = -1) -> str:
    return str(dummy.history[call]["messages"][-1]["content"])


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


@pytest.fixture
def store(tmp_path: Path, embedder: MiniLMEmbedder) -> Any:
    s = EdgeStore(tmp_path / "store", embedder=embedder)
    yield s
    s.close()


def test_three_conversations_insert_update_delete(store: EdgeStore) -> None:
    manager = create_memory_store_manager(schemas=[Triple], store=store, namespace=("memories", "{user_id}"))
    dummy = lm({"facts": [triple("Alice", "manages", "ML_team"), triple("Alice", "mentors", "Bob")]})
    with dspy.context(lm=dummy):
        events = manager.invoke(user("Alice manages the ML team and mentors Bob."), config=U1)
    assert [e["event"] for e in events] == ["insert", "insert"]
    assert len(dummy.history) == 1  # an empty store: nothing to reconcile
    keys = {store.get(("memories", "u1"), e["key"]).value["text"]: e["key"] for e in events}  # type: ignore[union-attr]
    manages = keys["Alice manages ML_team"]
    # Both stored triples are near "Bob manages ML_team" (m1 the nearest); none is near the NLP project.
    decisions = [{"fact": 1, "action": "update", "id": "m1"}, {"fact": 2, "action": "add", "id": None}]
    dummy = lm(
        {"facts": [triple("Bob", "manages", "ML_team"), triple("Bob", "leads", "NLP_project")]},
        {"decisions": decisions},
    )
    with dspy.context(lm=dummy):
        events = manager.invoke(user("Bob took over the ML team and leads the NLP project."), config=U1)
    shown = last_prompt(dummy)
    assert "m1: Alice manages ML_team" in shown and "m2: Alice mentors Bob" in shown  # retrieved and shown
    assert manages not in shown  # the LM sees aliases, code maps them back
    assert sorted(e["event"] for e in events) == ["insert", "update"]
    record = store.get(("memories", "u1"), manages)
    assert record is not None and record.value["text"] == "Bob manages ML_team"
    assert record.value["history"][0]["content"]["subject"] == "Alice"
    dummy = lm(
        {"facts": [triple("Alice", "left", "company")]}, {"decisions": [{"fact": 1, "action": "delete", "id": "m1"}]}
    )
    with dspy.context(lm=dummy):
        events = manager.invoke(user("Alice left the company."), config=U1)
    assert "m1: Alice mentors Bob" in last_prompt(dummy) and "Bob manages" not in last_prompt(dummy)
    assert [e["event"] for e in events] == ["delete"]  # the deciding fact is not added as well
    retired = store.get(("memories", "u1"), keys["Alice mentors Bob"])
    assert retired is not None and "invalid_at" in retired.value  # soft delete keeps history
    texts = sorted(m.value["text"] for m in manager.search("team", config=U1))
    assert texts == ["Bob leads NLP_project", "Bob manages ML_team"]
    assert sorted(str(m.content) for m in manager.get_memories(U1)) == sorted(
        str(Triple(subject=s, predicate=p, object=o))
        for s, p, o in [("Bob", "manages", "ML_team"), ("Bob", "leads", "NLP_project")]
    )


def test_hard_delete_removes_the_record(store: EdgeStore) -> None:
    manager = create_memory_store_manager(store=store, hard_delete=True)
    with dspy.context(lm=lm({"facts": ["The user lives in Paris."]})):
        key = manager.invoke(user("I live in Paris."), config=U1)[0]["key"]
    delete = {"decisions": [{"fact": 1, "action": "delete", "id": "m1"}]}
    with dspy.context(lm=lm({"facts": ["The user no longer lives in Paris."]}, delete)):
        assert [e["event"] for e in manager.invoke(user("I left Paris."), config=U1)] == ["hard_delete"]
    assert store.get(("memories", "u1"), key) is None


def test_half_invalid_output_writes_nothing(store: EdgeStore) -> None:
    manager = create_memory_store_manager(store=store, schemas=[Triple], max_retries=1)
    half = {"facts": [triple("Alice", "likes", "tea"), {"subject": "Alice", "predicate": "drinks"}]}
    with dspy.context(lm=lm(half, half)), pytest.raises(MemoryExtractionError, match="object") as info:
        manager.invoke(user("Alice likes tea and drinks it daily."), config=U1)
    assert info.value.attempts == 2
    assert store.search(()) == []


def test_namespace_templating_and_isolation(store: EdgeStore) -> None:
    manager = create_memory_store_manager(store=store)
    for uid in ("u1", "u10"):
        dummy = lm({"facts": [f"fact of {uid}"]})
        with dspy.context(lm=dummy):
            manager.invoke(user("hi"), config={"configurable": {"user_id": uid}})
        assert len(dummy.history) == 1  # u1's memory is no neighbour of u10's fact
    assert [m.value["text"] for m in manager.search("fact", config=U1)] == ["fact of u1"]
    with pytest.raises(NamespaceConfigError, match="user_id"):
        manager.invoke(user("hi"), config={"configurable": {}})
    for bad in ["", "a/b", "*", "u1\n", "{x}", ".."]:
        with pytest.raises(NamespaceConfigError):
            manager.invoke(user("hi"), config={"configurable": {"user_id": bad}})


def test_profile_is_a_single_record_updated_in_place(store: EdgeStore) -> None:
    manager = create_memory_store_manager(
        store=store, schemas=[UserProfile], enable_inserts=False, namespace=("users", "{user_id}", "profile")
    )
    with dspy.context(lm=lm({"facts": {"name": "Alice"}})):
        manager.invoke(user("I'm Alice"), config=U1)
    dummy = lm({"facts": {"language": "Japanese"}})
    with dspy.context(lm=dummy):
        manager.invoke(user("I speak Japanese"), config=U1)
    assert len(dummy.history) == 1  # the stored profile is merged in code: no reconcile call
    items = store.search(("users", "u1", "profile"))
    assert len(items) == 1 and items[0].key == "userprofile"
    assert items[0].value["content"] == {"name": "Alice", "location": None, "language": "Japanese", "timezone": None}
    assert len(items[0].value["history"]) == 1


def test_one_lm_call_per_batch_and_usage(store: EdgeStore) -> None:
    manager = create_memory_store_manager(store=store)
    dummy = lm({"facts": ["The user lives in Paris."]})
    with dspy.context(lm=dummy):
        pred = manager(messages=[{"role": "user", "content": "I live in Paris"}], config=U1, thread_id="t1")
    assert len(dummy.history) == 1 and pred.usage.calls == 1  # one extract call; an empty store, no reconcile
    record = store.get(("memories", "u1"), pred.events[0]["key"])
    assert record is not None and record.value["provenance"] == {
        "source": "extraction",
        "thread_id": "t1",
        "message_ids": ["0"],
    }
    # A fact near a stored memory: one extract call, then one reconcile call.
    dummy = lm({"facts": ["The user lives in Lyon."]}, {"decisions": [{"fact": 1, "action": "update", "id": "m1"}]})
    with dspy.context(lm=dummy):
        pred = manager(messages=[{"role": "user", "content": "I moved to Lyon"}], config=U1)
    assert len(dummy.history) == 2 and pred.usage.calls == 2
    assert set(pred.usage.as_dict()["by_step"]) == {"extract", "reconcile"}
    assert [e["event"] for e in pred.events] == ["update"]
    # A fact near no stored memory: the extract call only.
    dummy = lm({"facts": ["The user has a dog named Rex."]})
    with dspy.context(lm=dummy):
        pred = manager(messages=[{"role": "user", "content": "My dog is Rex"}], config=U1)
    assert len(dummy.history) == 1 and [e["event"] for e in pred.events] == ["insert"]


def test_deepcopy_keeps_the_store(store: EdgeStore) -> None:
    manager = create_memory_store_manager(store=store)
    assert manager.deepcopy().store is store
    assert copy.deepcopy(manager).store is store
