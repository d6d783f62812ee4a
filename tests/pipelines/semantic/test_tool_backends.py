"""The tools' functions on a real EdgeStore: one record per fact, retired on delete, typed errors for bad arguments."""

from __future__ import annotations

import json

import pytest

from memspy.pipelines import MemoryToolError
from memspy.pipelines.records.namespaces import NamespaceTemplate
from memspy.pipelines.semantic.schemas import normalize_schemas
from memspy.pipelines.semantic.tool_backends import ManageMemory, SearchMemory
from memspy.stores import EdgeStore

__all__: list[str] = []

NS = ("memories", "u1")


def _manage(store: EdgeStore) -> ManageMemory:
    schema = normalize_schemas(None)[0]
    return ManageMemory("manage_memory", NamespaceTemplate(NS), store, schema, True, ("create", "delete"), False)


def test_a_repeated_create_stores_one_record_and_a_delete_retires_it(edge_store: EdgeStore) -> None:
    store = edge_store
    manage = _manage(store)
    key = manage(content="The user prefers dark mode.").split()[-1]
    assert "already holds this" in manage(content="The user prefers dark mode.")
    assert manage(action="delete", id=key) == f"deleted memory {key}"
    kept = store.get(NS, key)
    assert kept is not None and "invalid_at" in kept.value  # soft delete: kept for history
    with pytest.raises(MemoryToolError, match="not permitted"):
        manage(content="x", action="update", id=key)


def test_search_ranks_the_namespace_and_refuses_a_bad_limit(edge_store: EdgeStore) -> None:
    _manage(edge_store)(content="The user prefers dark mode.")
    search = SearchMemory("search_memory", NamespaceTemplate(NS), edge_store, "content", None)
    rows = json.loads(search(query="display mode"))
    assert [r["content"]["content"] for r in rows] == ["The user prefers dark mode."]
    with pytest.raises(MemoryToolError, match="limit must be an integer from 1 to 100"):
        search(query="x", limit=0)
