"""A store's life: typed errors only, closing, dropping without close, engine failures and panics, failed batches."""

from __future__ import annotations

import asyncio
import fcntl
import gc
import os
from pathlib import Path
from typing import Any

import pytest

import memspy.stores
import memspy.stores.errors
from memspy.stores import (
    BaseStore,
    EdgeStore,
    MemspyError,
    PutOp,
    StoreClosedError,
    StoreCorruptedError,
    StoreEngineError,
    StoreError,
    StoreFullError,
)
from memspy.stores._types import namespace_path, namespace_prefixes, point_id
from memspy.stores.protocol import PointData

U1 = ("memories", "u1")


def _toy() -> Any:
    return lambda texts: [[1.0, float(len(t)), 2.0] for t in texts]


def test_every_public_store_error_derives_from_store_error() -> None:
    exported = [getattr(memspy.stores, n) for n in memspy.stores.__all__]
    exported += [getattr(memspy.stores.errors, n) for n in memspy.stores.errors.__all__]
    errors = {e for e in exported if isinstance(e, type) and issubclass(e, BaseException)}
    assert {StoreClosedError, StoreCorruptedError, StoreEngineError, StoreFullError} <= errors
    for err in errors - {MemspyError}:
        assert issubclass(err, StoreError) and issubclass(err, MemspyError), err
    assert issubclass(StoreFullError, StoreEngineError) and issubclass(StoreCorruptedError, StoreEngineError)


def test_use_after_close_raises_store_closed_error(toy_store: BaseStore) -> None:
    toy_store.put(U1, "k", {"content": "x"})
    toy_store.close()
    toy_store.close()  # twice is fine
    calls = [
        lambda: toy_store.put(U1, "k2", {"content": "y"}),
        lambda: toy_store.get(U1, "k"),
        lambda: toy_store.search(U1),
        lambda: toy_store.search(U1, query="x"),
        lambda: toy_store.list_namespaces(),
        lambda: toy_store.delete(U1, "k"),
        lambda: toy_store.put_many([PutOp(U1, "k3", {"content": "z"})]),
        lambda: toy_store.batch([PutOp(U1, "k4", {"content": "z"})], [(U1, "k")]),
        lambda: toy_store.count(),
        lambda: toy_store.patch(U1, {"k": {"n": 1}}),
        lambda: asyncio.run(toy_store.aget(U1, "k")),
    ]
    for call in calls:
        with pytest.raises(StoreClosedError, match="closed"):
            call()


def _lock_is_free(path: Path) -> bool:
    fd = os.open(path / ".lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing the descriptor drops a lock taken here
    return True


def test_a_dropped_store_releases_its_path(tmp_path: Path) -> None:
    path = tmp_path / "s"
    store = EdgeStore(path, embedder=_toy(), dim=3)
    store.put(U1, "k", {"content": "kept without close()"})
    assert not _lock_is_free(path)
    del store
    assert _lock_is_free(path)  # the finalizer closed the shard and released the lock
    again = EdgeStore(path, embedder=_toy(), dim=3)
    item = again.get(U1, "k")
    assert item is not None and item.value == {"content": "kept without close()"}
    again.cycle = again  # type: ignore[attr-defined]  # a store kept alive only by a reference cycle
    del again
    reopened = EdgeStore(path, embedder=_toy(), dim=3)  # collects the cycle instead of StoreLockedError
    assert reopened.count() == 1
    reopened.close()
    gc.collect()


def _deep_point(depth: int) -> PointData:
    value: dict[str, Any] = {"a": "x"}
    for _ in range(depth):
        value = {"a": value}
    payload = {
        "ns": namespace_prefixes(U1),
        "ns_path": namespace_path(U1),
        "ns_depth": 2,
        "key": "deep",
        "value": value,
        "created_at": "2024-01-01T00:00:00+00:00",
        "updated_at": "2024-01-01T00:00:00+00:00",
        "updated_ts": 0.0,
    }
    return PointData(point_id(U1, "deep"), payload, [1.0, 1.0, 1.0])


def test_an_engine_panic_surfaces_as_a_typed_error(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path / "s", embedder=_toy(), dim=3)
    # Validation keeps such a value out; the private primitive is the only way left to reach the engine.
    store._upsert([_deep_point(300)])
    with pytest.raises(StoreEngineError, match="panicked"):  # pyo3's PanicException is a BaseException
        store.search(U1, filter={"a.a": "x"})
    with pytest.raises(StoreEngineError, match="failed while searching"):
        store.search(U1)
    store.close()


def test_a_store_bricked_before_the_depth_limit_opens_with_a_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "s"
    store = EdgeStore(path, embedder=_toy(), dim=3)
    store._upsert([_deep_point(130)])  # what a store accepted before values had a depth limit
    store.close()
    with pytest.raises(StoreCorruptedError, match="cannot be opened"):
        EdgeStore(path, embedder=_toy(), dim=3)
    assert _lock_is_free(path)


def _seed(store: BaseStore) -> dict[str, Any]:
    store.put(U1, "keep", {"content": "original"})
    store.put(U1, "gone", {"content": "to delete"})
    return {i.key: i.value for i in store.search(U1)}


def _state(store: BaseStore) -> dict[str, Any]:
    return {i.key: i.value for i in store.search(U1)}


def _failing_batch(store: BaseStore) -> None:
    with pytest.raises(StoreEngineError, match="I/O error"):
        store.batch(
            puts=[PutOp(U1, "keep", {"content": "changed"}), PutOp(U1, "fresh", {"content": "new"})],
            deletes=[(U1, "gone")],
        )


def test_a_failed_mixed_batch_is_not_applied_on_reopen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s"
    store = EdgeStore(path, embedder=_toy(), dim=3)
    before = _seed(store)

    def broken_flush() -> None:  # every flush fails: the batch's and the rollback's
        raise StoreEngineError("I/O error: read-only segments")

    monkeypatch.setattr(store, "_flush", broken_flush)
    _failing_batch(store)
    monkeypatch.undo()
    assert _state(store) == before
    store.close()
    with EdgeStore(path, embedder=_toy(), dim=3) as again:
        assert _state(again) == before
        assert not (path / "batch.journal").exists() and not (path / "batch.undo").exists()


def test_a_rollback_that_fails_is_retried_before_the_next_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s"
    store = EdgeStore(path, embedder=_toy(), dim=3)
    before = _seed(store)
    real_upsert = store._upsert
    calls: list[int] = []

    def upsert_once(points: list[PointData]) -> None:  # the batch's upsert works, the rollback's fails
        calls.append(len(points))
        if len(calls) > 1:
            raise StoreEngineError("I/O error: device went away")
        real_upsert(points)

    def broken_delete(ids: list[str]) -> None:
        raise StoreEngineError("I/O error: device went away")

    monkeypatch.setattr(store, "_upsert", upsert_once)
    monkeypatch.setattr(store, "_delete_ids", broken_delete)
    _failing_batch(store)
    assert (path / "batch.undo").exists()  # the undo is on disk before the caller hears of the failure
    with pytest.raises(StoreEngineError, match="could not roll back"):
        store.put(U1, "later", {"content": "refused while the store is inconsistent"})
    monkeypatch.undo()
    assert _state(store) == before  # the next call applied the undo first
    store.put(U1, "later", {"content": "acknowledged after the rollback"})
    store.close()
    with EdgeStore(path, embedder=_toy(), dim=3) as again:
        assert _state(again) == {**before, "later": {"content": "acknowledged after the rollback"}}
