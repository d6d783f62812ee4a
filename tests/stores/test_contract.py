"""One contract, every store: EdgeStore and QdrantStore (local mode) must behave the same."""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from memspy.stores import (
    BaseStore,
    InvalidFilterError,
    InvalidNamespaceError,
    InvalidValueError,
    PutOp,
    SearchItem,
)

U1 = ("memories", "u1")


def test_put_get_update_round_trip(store: BaseStore) -> None:
    store.put(U1, "k", {"content": "likes tea", "n": 1})
    first = store.get(U1, "k")
    assert first is not None and first.value == {"content": "likes tea", "n": 1}
    assert first.namespace == U1 and first.key == "k"
    time.sleep(0.01)
    store.put(U1, "k", {"content": "likes coffee"})
    second = store.get(U1, "k")
    assert second is not None and second.value == {"content": "likes coffee"}
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at
    assert store.get(U1, "missing") is None


def test_delete_and_missing_delete(store: BaseStore) -> None:
    store.put(U1, "k", {"content": "x"})
    store.delete(U1, "k")
    assert store.get(U1, "k") is None
    store.delete(U1, "never-there")  # not an error
    assert store.search(U1) == []


def test_prefix_isolation(store: BaseStore) -> None:
    store.put(("memories", "u1"), "a", {"content": "dark mode"})
    store.put(("memories", "u10"), "b", {"content": "dark mode"})
    store.put(("memories", "u1", "work"), "c", {"content": "dark mode"})
    assert {i.key for i in store.search(("memories", "u1"), query="dark mode")} == {"a", "c"}
    assert {i.key for i in store.search(("memories", "u1"))} == {"a", "c"}
    assert {i.key for i in store.search(("memories", "u10"))} == {"b"}
    assert {i.key for i in store.search(("memories",))} == {"a", "b", "c"}
    assert {i.key for i in store.search(())} == {"a", "b", "c"}


def test_filters_on_value_fields(store: BaseStore) -> None:
    store.put(U1, "a", {"content": "alpha", "kind": "Memory", "importance": 0.9, "tags": "x"})
    store.put(U1, "b", {"content": "beta", "kind": "Triple", "importance": 0.2})
    store.put(U1, "c", {"content": "gamma", "kind": "Memory", "importance": 0.5, "invalid_at": "2024-01-01"})

    def keys(flt: dict[str, Any], query: str | None = None) -> set[str]:
        return {i.key for i in store.search(U1, query=query, filter=flt)}

    assert keys({"kind": "Memory"}) == {"a", "c"}
    assert keys({"kind": {"$ne": "Memory"}}) == {"b"}
    assert keys({"kind": {"$in": ["Triple", "Nope"]}}) == {"b"}
    assert keys({"kind": {"$nin": ["Triple"]}}) == {"a", "c"}
    assert keys({"importance": {"$gte": 0.5}}) == {"a", "c"}
    assert keys({"importance": {"$gt": 0.2, "$lt": 0.9}}) == {"c"}
    assert keys({"importance": 0.2}) == {"b"}
    assert keys({"invalid_at": {"$exists": False}}) == {"a", "b"}
    assert keys({"invalid_at": {"$exists": True}}) == {"c"}
    assert keys({"kind": "Memory", "invalid_at": {"$exists": False}}, query="alpha") == {"a"}
    with pytest.raises(InvalidFilterError, match=r"\$like"):
        store.search(U1, filter={"kind": {"$like": "M%"}})
    with pytest.raises(InvalidFilterError, match="importance"):
        store.search(U1, filter={"importance": {"$gt": "high"}})


def test_hybrid_ranks_keyword_and_paraphrase_above_unrelated(store: BaseStore) -> None:
    docs = {
        "kw": "Ticket ZX-4471 was escalated to the billing team",
        "para": "The user wants every application to use a dark color scheme",
        "u1": "Paris is the capital of France",
        "u2": "The recipe needs two cups of flour and an egg",
        "u3": "Marathon training starts with short easy runs",
        "u4": "Photosynthesis converts light into chemical energy",
    }
    store.put_many([PutOp(U1, k, {"content": v}) for k, v in docs.items()])
    top_kw = [i.key for i in store.search(U1, query="ZX-4471", limit=6)]
    assert top_kw[0] == "kw"
    top_para = [i.key for i in store.search(U1, query="user prefers dark mode in apps", limit=6)]
    assert top_para[0] == "para"
    hits = store.search(U1, query="user prefers dark mode in apps", limit=6)
    assert all(isinstance(h, SearchItem) and h.score is not None for h in hits)
    assert hits[0].score is not None and hits[-1].score is not None and hits[0].score > hits[-1].score


def test_pagination_and_order_without_query(store: BaseStore) -> None:
    for i in range(5):
        store.put(U1, f"k{i}", {"content": f"item {i}"})
        time.sleep(0.005)
    newest_first = [i.key for i in store.search(U1, limit=10)]
    assert newest_first == ["k4", "k3", "k2", "k1", "k0"]
    assert [i.key for i in store.search(U1, limit=2, offset=2)] == ["k2", "k1"]
    with pytest.raises(InvalidValueError):
        store.search(U1, limit=0)


def test_unindexed_item_is_stored_but_not_ranked(store: BaseStore) -> None:
    store.put(U1, "raw", {"content": "secret handshake"}, index=False)
    store.put(U1, "idx", {"content": "secret handshake"})
    assert store.get(U1, "raw") is not None
    assert {i.key for i in store.search(U1)} == {"raw", "idx"}
    assert [i.key for i in store.search(U1, query="secret handshake")] == ["idx"]


def test_persistence_across_reopen(store_factory: Any, tmp_path: Path) -> None:
    s = store_factory(tmp_path / "p")
    s.put(U1, "k", {"content": "persist me"})
    s.close()
    s2 = store_factory(tmp_path / "p")
    item = s2.get(U1, "k")
    assert item is not None and item.value == {"content": "persist me"}
    assert [i.key for i in s2.search(U1, query="persist")] == ["k"]


def test_list_namespaces(store: BaseStore) -> None:
    for ns in [("memories", "u1"), ("memories", "u2"), ("memories", "u2", "work"), ("episodes", "a")]:
        store.put(ns, "k", {"content": "x"})
    assert store.list_namespaces() == [
        ("episodes", "a"),
        ("memories", "u1"),
        ("memories", "u2"),
        ("memories", "u2", "work"),
    ]
    assert store.list_namespaces(prefix=("memories",), max_depth=2) == [("memories", "u1"), ("memories", "u2")]
    assert store.list_namespaces(max_depth=1) == [("episodes",), ("memories",)]
    assert store.list_namespaces(suffix=("work",)) == [("memories", "u2", "work")]
    assert store.list_namespaces(limit=1, offset=1) == [("memories", "u1")]


def _snapshot(store: BaseStore) -> dict[tuple[tuple[str, ...], str], dict[str, Any]]:
    return {(i.namespace, i.key): i.value for i in store.search((), limit=100)}


def test_batch_with_invalid_item_writes_nothing(store: BaseStore) -> None:
    store.put(U1, "keep", {"content": "original"})
    before = _snapshot(store)
    ops = [PutOp(U1, f"n{i}", {"content": f"new {i}"}) for i in range(5)]
    ops.insert(3, PutOp(U1, "bad", {"content": {1, 2}}))  # a set is not JSON
    ops.append(PutOp(U1, "keep", {"content": "overwritten"}))
    with pytest.raises(InvalidValueError, match="batch item 3"):
        store.put_many(ops)
    assert _snapshot(store) == before


def test_batch_engine_failure_rolls_back(store: BaseStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.put(U1, "keep", {"content": "original"})
    store.put(U1, "gone", {"content": "to delete"})
    before = _snapshot(store)

    real_delete = store._delete_ids
    calls: list[list[str]] = []

    def boom(ids: list[str]) -> None:  # the engine fails once, half-way through the batch
        calls.append(ids)
        if len(calls) == 1:
            raise RuntimeError("disk full")
        real_delete(ids)

    monkeypatch.setattr(store, "_delete_ids", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        store.batch(
            puts=[PutOp(U1, "keep", {"content": "changed"}), PutOp(U1, "fresh", {"content": "new"})],
            deletes=[(U1, "gone")],
        )
    monkeypatch.undo()
    assert _snapshot(store) == before
    assert [i.key for i in store.search(U1, query="original")][0] == "keep"


def test_embedder_failure_writes_nothing(store: BaseStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(texts: list[str]) -> list[list[float]]:
        raise RuntimeError("embedder crashed")

    monkeypatch.setattr(store.embedder, "embed_documents", fail)
    with pytest.raises(RuntimeError, match="embedder crashed"):
        store.put_many([PutOp(U1, "a", {"content": "x"}), PutOp(U1, "b", {"content": "y"})])
    monkeypatch.undo()
    assert store.search(U1) == []


@pytest.mark.parametrize(
    ("namespace", "value", "error", "match"),
    [
        (("memories", ""), {"content": "x"}, InvalidNamespaceError, r"namespace\[1\]"),
        (("memories", "a\x00b"), {"content": "x"}, InvalidNamespaceError, "control character"),
        ("memories", {"content": "x"}, InvalidNamespaceError, "tuple"),
        ((), {"content": "x"}, InvalidNamespaceError, "empty"),
        (U1, {"when": object()}, InvalidValueError, r"value\.when"),
        (U1, {"x": float("nan")}, InvalidValueError, "NaN"),
        (U1, ["not", "a", "dict"], InvalidValueError, "dict"),
        (U1, {"blob": "x" * 1_100_000}, InvalidValueError, "limit"),
    ],
)
def test_bad_input_rejected_and_nothing_written(
    store: BaseStore, namespace: Any, value: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        store.put(namespace, "k", value)
    assert store.search(()) == []


def test_eight_threads_lose_nothing(store: BaseStore) -> None:
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(6):
                store.put(("threads", f"t{t}"), f"k{i}", {"content": f"thread {t} item {i}"})
                store.search(("threads",), query=f"thread {t}", limit=3)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(store.search(("threads",), limit=100)) == 48
    assert len(store.list_namespaces(prefix=("threads",))) == 8


def test_async_twins(store: BaseStore) -> None:
    async def run() -> list[Any]:
        await store.aput(U1, "a", {"content": "async hello"})
        await store.aput_many([PutOp(U1, "b", {"content": "async world"})])
        got = await store.aget(U1, "a")
        found = await store.asearch(U1, query="hello")
        await store.adelete(U1, "b")
        spaces = await store.alist_namespaces()
        return [got, found, spaces]

    got, found, spaces = asyncio.run(run())
    assert got.value == {"content": "async hello"}
    assert found[0].key == "a"
    assert spaces == [U1]
    assert store.get(U1, "b") is None


def test_deepcopy_keeps_the_same_store(store: BaseStore) -> None:
    assert copy.deepcopy(store) is store
    holder = {"store": store}
    assert copy.deepcopy(holder)["store"] is store
