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
    content = {"subject": s, "predicate": p, "object": o, "context": None}
    return {"action": "insert", "id": None, "kind": "Triple", "content": content, "importance": 0.7}


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


@pytest.fixture
def store(tmp_path: Path, embedder: MiniLMEmbedder) -> Any:
    s = EdgeStore(tmp_path / "store", embedder=embedder)
    yield s
    s.close()


def test_three_conversations_insert_update_delete(store: EdgeStore) -> None:
    manager = create_memory_store_manager(schemas=[Triple], store=store, namespace=("memories", "{user_id}"))
    with dspy.context(
        lm=lm({"operations": [triple("Alice", "manages", "ML_team"), triple("Alice", "mentors", "Bob")]})
    ):
        events = manager.invoke(user("Alice manages the ML team and mentors Bob."), config=U1)
    assert [e["event"] for e in events] == ["insert", "insert"]
    keys = {store.get(("memories", "u1"), e["key"]).value["text"]: e["key"] for e in events}  # type: ignore[union-attr]
    manages = keys["Alice manages ML_team"]
    update = {
        "action": "update",
        "id": manages,
        "kind": "Triple",
        "content": {"subject": "Bob", "predicate": "manages", "object": "ML_team", "context": None},
    }
    dummy = lm({"operations": [update, triple("Bob", "leads", "NLP_project")]})
    with dspy.context(lm=dummy):
        manager.invoke(user("Bob took over the ML team and leads the NLP project."), config=U1)
    assert manages in dummy.history[0]["messages"][-1]["content"]  # existing memories were retrieved and shown
    record = store.get(("memories", "u1"), manages)
    assert record is not None and record.value["text"] == "Bob manages ML_team"
    assert record.value["history"][0]["content"]["subject"] == "Alice"
    delete = {"action": "delete", "id": keys["Alice mentors Bob"], "kind": "Triple", "content": None}
    with dspy.context(lm=lm({"operations": [delete]})):
        events = manager.invoke(user("Alice left the company."), config=U1)
    assert events[0]["event"] == "delete"
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
    with dspy.context(lm=lm({"operations": [{"action": "insert", "kind": "Memory", "content": {"content": "x1"}}]})):
        key = manager.invoke(user("x1"), config=U1)[0]["key"]
    with dspy.context(lm=lm({"operations": [{"action": "delete", "id": key, "kind": "Memory"}]})):
        assert manager.invoke(user("forget x1"), config=U1)[0]["event"] == "hard_delete"
    assert store.get(("memories", "u1"), key) is None


def test_half_invalid_output_writes_nothing(store: EdgeStore) -> None:
    manager = create_memory_store_manager(store=store, max_retries=1)
    half = {
        "operations": [
            {"action": "insert", "kind": "Memory", "content": {"content": "valid fact"}},
            {"action": "update", "id": "invented", "kind": "Memory", "content": {"content": "bad"}},
        ]
    }
    with dspy.context(lm=lm(half, half)), pytest.raises(MemoryExtractionError, match="invented"):
        manager.invoke(user("valid fact"), config=U1)
    assert store.search(()) == []


def test_namespace_templating_and_isolation(store: EdgeStore) -> None:
    manager = create_memory_store_manager(store=store)
    for uid in ("u1", "u10"):
        answer = {"operations": [{"action": "insert", "kind": "Memory", "content": {"content": f"fact of {uid}"}}]}
        with dspy.context(lm=lm(answer)):
            manager.invoke(user("hi"), config={"configurable": {"user_id": uid}})
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
    first = {"action": "update", "id": "userprofile", "kind": "UserProfile", "content": {"name": "Alice"}}
    second = {"action": "update", "id": "userprofile", "kind": "UserProfile", "content": {"language": "Japanese"}}
    with dspy.context(lm=lm({"operations": [first]})):
        manager.invoke(user("I'm Alice"), config=U1)
    dummy = lm({"operations": [second]})
    with dspy.context(lm=dummy):
        manager.invoke(user("I speak Japanese"), config=U1)
    assert '"name": "Alice"' in dummy.history[0]["messages"][-1]["content"]
    items = store.search(("users", "u1", "profile"))
    assert len(items) == 1 and items[0].key == "userprofile"
    assert items[0].value["content"] == {"name": "Alice", "language": "Japanese", "timezone": None}
    assert len(items[0].value["history"]) == 1


def test_one_lm_call_per_batch_and_usage(store: EdgeStore) -> None:
    manager = create_memory_store_manager(store=store)
    dummy = lm({"operations": [{"action": "insert", "kind": "Memory", "content": {"content": "a"}}]})
    with dspy.context(lm=dummy):
        pred = manager(messages=[{"role": "user", "content": "a"}], config=U1, thread_id="t1")
    assert len(dummy.history) == 1 and pred.usage.calls == 1
    record = store.get(("memories", "u1"), pred.events[0]["key"])
    assert record is not None and record.value["provenance"] == {
        "source": "extraction",
        "thread_id": "t1",
        "message_ids": ["0"],
    }


def test_deepcopy_keeps_the_store(store: EdgeStore) -> None:
    manager = create_memory_store_manager(store=store)
    assert manager.deepcopy().store is store
    assert copy.deepcopy(manager).store is store
