"""memspy's store contract over a LangGraph store: ``LangGraphBackedStore`` around LangGraph's ``InMemoryStore``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langgraph.store.memory import InMemoryStore

from memspy.stores import (
    EdgeStore,
    InvalidFilterError,
    InvalidNamespaceError,
    InvalidValueError,
    Item,
    MiniLMEmbedder,
    PutOp,
    SearchItem,
)
from memspy.stores.langgraph import LangGraphBackedStore, LangGraphStore, as_memspy_store

U1 = ("memories", "u1")


@pytest.fixture
def lg_store(embedder: MiniLMEmbedder) -> InMemoryStore:
    return InMemoryStore(index={"dims": 384, "embed": embedder.embed_documents, "fields": ["text"]})


@pytest.fixture
def store(lg_store: InMemoryStore) -> LangGraphBackedStore:
    return LangGraphBackedStore(lg_store)


def test_round_trip_returns_memspy_items(store: LangGraphBackedStore, lg_store: InMemoryStore) -> None:
    store.put(U1, "k", {"text": "likes tea", "n": 1})
    got = store.get(U1, "k")
    assert isinstance(got, Item) and got.value == {"text": "likes tea", "n": 1} and got.namespace == U1
    assert lg_store.get(U1, "k") is not None  # it lives in the LangGraph store
    store.put(U1, "k", {"text": "likes coffee"})
    assert store.get(U1, "k").value == {"text": "likes coffee"}  # type: ignore[union-attr]
    store.delete(U1, "k")
    store.delete(U1, "never-there")
    assert store.get(U1, "k") is None


def test_batch_validates_everything_before_writing(store: LangGraphBackedStore) -> None:
    with pytest.raises(InvalidValueError, match="batch item 1"):
        store.put_many([PutOp(U1, "ok", {"text": "fine"}), PutOp(U1, "bad", {"when": object()})])
    with pytest.raises(InvalidNamespaceError, match="'.'"):
        store.put_many([PutOp(U1, "ok", {"text": "fine"}), PutOp(("memories", "a.b"), "k", {"text": "x"})])
    with pytest.raises(InvalidNamespaceError, match="langgraph"):
        store.put(("langgraph", "x"), "k", {"text": "x"})
    assert store.get(U1, "ok") is None
    store.put(U1, "gone", {"text": "old"})
    store.batch(puts=[PutOp(U1, "a", {"text": "one"}), PutOp(U1, "a", {"text": "two"})], deletes=[(U1, "gone")])
    assert store.get(U1, "a").value == {"text": "two"}  # type: ignore[union-attr]
    assert store.get(U1, "gone") is None


def test_prefix_isolation(store: LangGraphBackedStore) -> None:
    for ns, key in [(("memories", "u1"), "a"), (("memories", "u10"), "b"), (("memories", "u1", "work"), "c")]:
        store.put(ns, key, {"text": "dark mode"})
    assert {i.key for i in store.search(("memories", "u1"))} == {"a", "c"}
    assert {i.key for i in store.search(("memories", "u1"), query="dark mode")} == {"a", "c"}
    assert {i.key for i in store.search(())} == {"a", "b", "c"}


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"kind": "Memory"}, {"a", "b"}),
        ({"tags": "x"}, {"a", "c"}),  # memspy's meaning: a list field matches by element
        ({"kind": {"$in": ["Triple", "Episode"]}}, {"c"}),
        ({"kind": {"$nin": ["Memory"]}}, {"c"}),
        ({"invalid_at": {"$exists": False}}, {"a", "c"}),
        ({"invalid_at": {"$exists": True}}, {"b"}),
        ({"importance": {"$gte": 0.5}}, {"a", "c"}),
        ({"importance": {"$gt": 0.2, "$lt": 0.8}}, {"c"}),
        ({"kind": {"$ne": "Memory"}}, {"c"}),
        ({"profile.city": "Lyon"}, {"a"}),
        ({"active": True}, {"a"}),
    ],
)
def test_memspy_filter_semantics(store: LangGraphBackedStore, flt: dict[str, Any], expected: set[str]) -> None:
    store.put(
        U1,
        "a",
        {
            "text": "a",
            "kind": "Memory",
            "tags": ["x", "y"],
            "importance": 0.9,
            "profile": {"city": "Lyon"},
            "active": True,
        },
    )
    store.put(
        U1,
        "b",
        {"text": "b", "kind": "Memory", "tags": ["y"], "importance": 0.1, "invalid_at": "2024-01-01", "active": 1},
    )
    store.put(U1, "c", {"text": "c", "kind": "Triple", "tags": "x", "importance": 0.5})
    assert {i.key for i in store.search(U1, filter=flt)} == expected


def test_bad_arguments_are_typed_errors(store: LangGraphBackedStore) -> None:
    with pytest.raises(InvalidFilterError):
        store.search(U1, filter={"kind": {"$regex": "M"}})
    with pytest.raises(InvalidValueError):
        store.search(U1, limit=0)
    with pytest.raises(InvalidValueError):
        store.search(U1, query="  ")
    with pytest.raises(InvalidValueError):
        LangGraphBackedStore(object())  # type: ignore[arg-type]


def test_query_search_is_ranked_by_the_langgraph_index(store: LangGraphBackedStore) -> None:
    store.put(U1, "pet", {"text": "The user has a beagle called Biscuit", "kind": "Memory"})
    store.put(U1, "theme", {"text": "The user prefers dark mode", "kind": "Memory"})
    store.put(U1, "other", {"text": "The user has a cat", "kind": "Triple"})
    hits = store.search(U1, query="what dog does the user own?", filter={"kind": "Memory"})
    assert [h.key for h in hits] == ["pet", "theme"]
    assert all(isinstance(h, SearchItem) and h.score is not None and h.score >= 0 for h in hits)
    assert [h.key for h in store.search(U1, query="dog", limit=1, offset=1, filter={"kind": "Memory"})] == ["theme"]


def test_patch_merges_fields_and_skips_missing_keys(store: LangGraphBackedStore) -> None:
    store.put(U1, "a", {"text": "The user has a beagle", "access_count": 0})
    assert store.patch(U1, {"a": {"access_count": 1}, "missing": {"access_count": 1}}) == 1
    assert store.get(U1, "a").value == {"text": "The user has a beagle", "access_count": 1}  # type: ignore[union-attr]
    assert store.search(U1, query="dog")[0].key == "a"  # still indexed on its text


def test_list_namespaces_count_and_async(store: LangGraphBackedStore) -> None:
    for ns in [("memories", "u1"), ("memories", "u2", "work"), ("episodes", "u1")]:
        store.put(ns, "k", {"text": "x"})
    assert store.list_namespaces(prefix=("memories",)) == [("memories", "u1"), ("memories", "u2", "work")]
    assert store.list_namespaces(suffix=("u1",), max_depth=1) == [("episodes",), ("memories",)]
    assert store.count() == 3

    async def run() -> list[SearchItem]:
        await store.aput(U1, "z", {"text": "async"})
        return await store.asearch(U1)

    assert {i.key for i in asyncio.run(run())} == {"k", "z"}


def test_as_memspy_store(tmp_path: Any, embedder: MiniLMEmbedder, lg_store: InMemoryStore) -> None:
    edge = EdgeStore(tmp_path / "s", embedder=embedder)
    try:
        assert as_memspy_store(edge) is edge
        assert as_memspy_store(LangGraphStore(edge)) is edge
        wrapped = as_memspy_store(lg_store)
        assert isinstance(wrapped, LangGraphBackedStore) and wrapped.langgraph_store is lg_store
        with pytest.raises(InvalidValueError, match="dict"):
            as_memspy_store({})
    finally:
        edge.close()
