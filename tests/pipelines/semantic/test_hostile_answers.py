"""What an LM writes cannot crash a tool or corrupt a record, and tenants cannot share a namespace by accident."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM

from memspy.pipelines import (
    MemoryExtractionError,
    NamespaceConfigError,
    create_manage_memory_tool,
    create_memory_store_manager,
    create_search_memory_tool,
)
from memspy.pipelines.records.namespaces import NamespaceTemplate
from memspy.pipelines.semantic.changes import ChangePlan
from memspy.pipelines.semantic.operations import AppliedOperation
from memspy.pipelines.semantic.schemas import Memory
from memspy.pipelines.semantic.scopes import Scopes
from memspy.stores import EdgeStore, MiniLMEmbedder

U1 = {"configurable": {"user_id": "u1"}}
NS = ("memories", "u1")


@pytest.fixture
def store(tmp_path: Path, embedder: MiniLMEmbedder) -> Iterator[EdgeStore]:
    s = EdgeStore(tmp_path / "store", embedder=embedder)
    yield s
    s.close()


@pytest.mark.parametrize(
    "args",
    [
        {"query": "tea", "filter": {"n": 10**30}},
        {"query": "tea", "filter": {"a..b": 1}},
        {"query": "tea", "filter": {"a b": {"$in": [True]}}},
        {"query": "tea", "filter": {'q"r': 1}},
        {"query": "tea\ud800"},
        {"query": "tea", "filter": {"kind": {"$regex": "M.*"}}},
    ],
)
def test_the_search_tool_turns_every_store_error_into_text(store: EdgeStore, args: dict[str, Any]) -> None:
    create_manage_memory_tool(store=store).invoke({"action": "create", "content": "The user likes tea"}, config=U1)
    reply = create_search_memory_tool(store=store).invoke(args, config=U1)
    assert isinstance(reply, str) and reply.startswith("Error: ")


def _seeded(store: EdgeStore) -> str:
    reply = create_manage_memory_tool(store=store).invoke({"action": "create", "content": "The user likes tea"}, U1)
    return str(reply).split()[-1]


def _op(action: str, key: str, text: str | None = None) -> dict[str, Any]:
    content = {"content": text} if text else None
    return {"action": action, "id": key, "kind": "Memory", "content": content, "importance": 0.5}


def test_an_update_and_a_delete_of_one_id_are_rejected(store: EdgeStore) -> None:
    key = _seeded(store)
    contradiction = {"operations": [_op("update", key, "The user likes green tea"), _op("delete", key)]}
    fixed = {"operations": [_op("update", key, "The user likes green tea")]}
    manager = create_memory_store_manager(store=store, design="single", max_retries=1)
    with dspy.context(lm=DummyLM([contradiction, fixed], adapter=dspy.JSONAdapter())):
        events = manager.invoke({"messages": [{"role": "user", "content": "I like green tea now"}]}, config=U1)
    assert [e["event"] for e in events] == ["update"]
    item = store.get(NS, key)
    assert item is not None and "invalid_at" not in item.value
    assert item.value["content"] == {"content": "The user likes green tea"}
    with (
        dspy.context(lm=DummyLM([contradiction, contradiction], adapter=dspy.JSONAdapter())),
        pytest.raises(MemoryExtractionError, match="at most one operation per memory"),
    ):
        manager.invoke({"messages": [{"role": "user", "content": "I like green tea now"}]}, config=U1)


def test_operations_on_one_id_apply_in_order() -> None:
    old = {"kind": "Memory", "content": {"content": "likes tea"}, "text": "likes tea", "history": []}
    ops = [
        (AppliedOperation("update", "k", "Memory", Memory(content="likes green tea"), 0.5), {"source": "x"}),
        (AppliedOperation("delete", "k", "Memory", None, 0.5), None),
    ]
    plan = ChangePlan(ops, {"k"}, {"source": "x"}, Scopes(()), {}, None)
    changes = plan.build({"k": old})
    final = changes[-1].value
    assert final is not None and "invalid_at" in final  # deleted, and the update is what was retired
    assert final["content"] == {"content": "likes green tea"}
    assert plan.build({"k": None}) == []  # deleted meanwhile: nothing to update or delete


def test_two_variables_in_one_namespace_part_are_refused() -> None:
    with pytest.raises(NamespaceConfigError, match="own part"):
        NamespaceTemplate(("memories", "{org}-{user}"))
    with pytest.raises(NamespaceConfigError, match="own part"):
        create_manage_memory_tool(namespace=("memories", "{org}{user}"))
    ok = NamespaceTemplate(("memories", "{org}", "{user}"))
    a = ok.resolve({"configurable": {"org": "a-b", "user": "c"}})
    b = ok.resolve({"configurable": {"org": "a", "user": "b-c"}})
    assert a != b
