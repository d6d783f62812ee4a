"""``EdgeStore``: the embedded default, Qdrant's engine in-process (``qdrant-edge-py``) in a directory."""

from __future__ import annotations

import fcntl
import gc
import os
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Literal

import qdrant_edge as qe

from memspy.stores._edge_shard import SHARD_DIR, edge_filter, open_shard
from memspy.stores._engine import (
    DEFAULT_MIN_FREE_BYTES,
    check_free_space,
    engine_errors,
    is_memory_backed,
    load_reserve,
)
from memspy.stores._filters import CompiledFilter
from memspy.stores._journal import BatchJournal
from memspy.stores.base import BaseStore, PointData
from memspy.stores.errors import InvalidValueError, StoreCorruptedError, StoreLockedError
from memspy.stores.protocol import Change

__all__ = ["EdgeStore"]

_OPEN_PATHS: set[str] = set()
_OPEN_LOCK = threading.RLock()  # re-entrant: a finalizer run by the garbage collector may take it


class _Handle:
    """What an open store holds outside itself, so that a finalizer can release it without the store."""

    def __init__(self, key: str, lock_fd: int) -> None:
        self.key = key
        self.lock_fd = lock_fd
        self.shard: Any = None


def _release(handle: _Handle) -> None:
    """Flush and close the shard, then free the path: run by ``close()``, or when the store is collected."""
    shard, handle.shard = handle.shard, None
    try:
        if shard is not None:
            try:
                shard.flush()
            finally:
                shard.close()
    finally:
        with _OPEN_LOCK:
            _OPEN_PATHS.discard(handle.key)
            fcntl.flock(handle.lock_fd, fcntl.LOCK_UN)
            os.close(handle.lock_fd)


def _lock_path(path: Path) -> _Handle:
    key = str(path)
    for attempt in range(2):
        with _OPEN_LOCK:
            if key not in _OPEN_PATHS:
                fd = os.open(path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    raise StoreLockedError(
                        f"{path} is in use by another process: close it there, or open a copy of the directory"
                    ) from None
                _OPEN_PATHS.add(key)
                return _Handle(key, fd)
        if attempt == 0:
            gc.collect()  # a store dropped inside a reference cycle frees its path once collected
    raise StoreLockedError(f"{path} is already open in this process: reuse that EdgeStore or close it")


class EdgeStore(BaseStore):
    """Persistent memory store on Qdrant's embedded engine.

    Each item gets a dense (MiniLM by default) and a BM25 sparse vector; a query runs both and
    fuses them with Qdrant's reciprocal rank fusion. Every write is flushed before it returns.
    A store dropped without ``close()`` is flushed and closed when it is garbage-collected.

    Args:
        path: Directory of the store (created if missing).
        embedder: Dense embedder or ``list[str] -> vectors`` callable (default: offline MiniLM).
        dim: Dimension of a callable embedder without a ``dim`` attribute.
        index_fields: Value fields to embed (default: ``content`` if present, else the whole value).
        durability: ``"flush"`` (default) syncs every write to disk before it returns; ``"wal"`` relies on
            the write-ahead log, which survives a process crash, and syncs every ``flush_interval_s``.
        min_free_bytes: Free space kept on the store's disk (default 16 MiB): a write that would leave
            less raises ``StoreFullError`` instead of letting the engine's memory maps hit a full disk.

    Raises:
        StoreLockedError: another process or open store already uses ``path``.
        StoreCorruptedError: the directory holds a store the engine cannot read.
        StoreFullError: the disk is too full to open or create the store safely.

    Example:
        >>> store = EdgeStore(path=tmp / "mem")                          # doctest: +SKIP
        >>> store.put(("memories", "u1"), "k1", {"content": "prefers dark mode"})
        >>> [i.value for i in store.search(("memories", "u1"), query="theme")]
        [{'content': 'prefers dark mode'}]
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durability: Literal["flush", "wal"] = "flush",
        flush_interval_s: float = 5.0,
        min_free_bytes: int = DEFAULT_MIN_FREE_BYTES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._closed = True  # until the shard is open
        if durability not in ("flush", "wal"):
            raise InvalidValueError(f"durability must be 'flush' or 'wal', got {durability!r}")
        if isinstance(min_free_bytes, bool) or not isinstance(min_free_bytes, int) or min_free_bytes < 0:
            raise InvalidValueError(f"min_free_bytes must be an int >= 0, got {min_free_bytes!r}")
        self.durability = durability
        self.flush_interval_s = flush_interval_s
        self.min_free_bytes = min_free_bytes
        self._last_flush = time.monotonic()
        self.path = Path(path).resolve()
        with engine_errors(f"creating the directory {self.path}"):
            self.path.mkdir(parents=True, exist_ok=True)
        self._memory_backed = is_memory_backed(self.path)
        self._handle = _lock_path(self.path)
        self._finalizer = weakref.finalize(self, _release, self._handle)
        self._journal = BatchJournal(self.path, sync=durability == "flush", sparse_type=qe.SparseVector)
        try:
            self._handle.shard = open_shard(
                self.path, self.embedder.dim, getattr(self.embedder, "name", "custom"), min_free_bytes
            )
            self._closed = False
            self._recover()
        except BaseException:
            self._closed = True
            self._finalizer()
            raise

    @property
    def _shard(self) -> Any:
        return self._handle.shard

    # ---- journal and disk space ----------------------------------------------------------------
    def _recover(self) -> None:
        """Finish what a crash interrupted: roll a journaled batch forward, or apply a failed batch's undo."""
        try:
            pending = self._journal.pending()
        except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
            raise StoreCorruptedError(
                f"{self.path}'s batch journal cannot be read ({e}): move batch.journal / batch.undo away to open "
                "the store without it"
            ) from e
        if pending is not None:
            self._replay(pending[1])

    def _reserve(self, nbytes: int) -> None:
        # Three times the data: the engine's log, its payload and vector files, and the batch journal;
        # on tmpfs also what the next open allocates, so that the store can always be opened again.
        need = self.min_free_bytes + 3 * nbytes
        if self._memory_backed:
            need += load_reserve(self.path / SHARD_DIR)
        check_free_space(self.path, need, f"a write of about {nbytes:,} bytes")

    def _journal_begin(self, forward: Change, undo: Change) -> None:
        with engine_errors("writing the batch journal"):
            self._journal.begin(forward, undo)

    def _journal_fail(self, undo: Change, *, journaled: bool) -> None:
        self._journal.fail(undo, journaled=journaled)

    def _journal_end(self) -> None:
        with engine_errors("removing the batch journal"):
            self._journal.end()

    # ---- engine primitives -------------------------------------------------------------------
    def _retrieve(self, ids: list[str], *, with_vectors: bool = False) -> dict[str, PointData]:
        if not ids:
            return {}
        out: dict[str, PointData] = {}
        with engine_errors(f"reading {len(ids)} points"):
            records = self._shard.retrieve(ids, with_payload=True, with_vector=with_vectors)
        for r in records:
            vec = r.vector if with_vectors and isinstance(r.vector, dict) else {}
            out[str(r.id)] = PointData(str(r.id), r.payload or {}, vec.get("dense"), vec.get("bm25"))
        return out

    def _upsert(self, points: list[PointData]) -> None:
        with engine_errors(f"writing {len(points)} points"):
            qpoints = [qe.Point(id=p.id, payload=p.payload, vector=p.named_vectors()) for p in points]
            self._shard.update(qe.UpdateOperation.upsert_points(qpoints))

    def _delete_ids(self, ids: list[str]) -> None:
        with engine_errors(f"deleting {len(ids)} points"):
            self._shard.update(qe.UpdateOperation.delete_points(list[Any](ids)))

    def _flush(self) -> None:
        # "flush": segments synced on every write. "wal": the write-ahead log (written before update()
        # returns) carries writes across a process crash; segments are synced at most every
        # flush_interval_s and on close. Several times the batched write throughput; see `memspy bench`.
        now = time.monotonic()
        if self.durability == "flush" or now - self._last_flush >= self.flush_interval_s:
            with engine_errors("flushing to disk"):
                self._shard.flush()
            self._last_flush = now

    def _query(
        self, dense: list[float] | None, sparse: Any, cf: CompiledFilter, limit: int, offset: int
    ) -> list[tuple[dict[str, Any], float | None]]:
        flt = edge_filter(cf)
        with engine_errors("searching"):
            if dense is None:
                req = qe.QueryRequest(
                    limit=limit,
                    offset=offset,
                    filter=flt,
                    with_payload=True,
                    query=qe.OrderBy(key="updated_ts", direction=qe.Direction.Desc),
                )
                return [(h.payload or {}, None) for h in self._shard.query(req)]
            depth = (limit + offset) * self.prefetch_factor
            prefetches = [qe.Prefetch(query=qe.Query.Nearest(dense, using="dense"), limit=depth, filter=flt)]
            if sparse is not None and len(sparse.indices):
                prefetches.append(qe.Prefetch(query=qe.Query.Nearest(sparse, using="bm25"), limit=depth, filter=flt))
            req = qe.QueryRequest(
                limit=limit,
                offset=offset,
                prefetches=prefetches,
                query=qe.Fusion.Rrf(k=60),  # type: ignore[arg-type]
                with_payload=True,
                filter=flt,
            )
            return [(h.payload or {}, float(h.score)) for h in self._shard.query(req)]

    def _namespace_paths(self, cf: CompiledFilter) -> list[str]:
        request = qe.FacetRequest(key="ns_path", limit=1_000_000, exact=True, filter=edge_filter(cf))
        with engine_errors("listing namespaces"):
            return [str(h.value) for h in self._shard.facet(request).hits]

    def count(self) -> int:
        """Number of items stored (all namespaces)."""
        with self._lock:
            self._check_open()
            with engine_errors("counting points"):
                return int(self._shard.count(qe.CountRequest(exact=True)))

    def optimize(self) -> bool:
        """Build HNSW indexes now (blocks); search is exact until segments are large enough.

        Raises:
            StoreFullError: the disk cannot take a rewritten copy of the segments.
        """
        with self._lock:
            self._check_open()
            used = sum(f.stat().st_blocks * 512 for f in (self.path / SHARD_DIR).rglob("*") if f.is_file())
            check_free_space(self.path, self.min_free_bytes + used, "optimize(), which rewrites the segments")
            with engine_errors("optimizing"):
                return bool(self._shard.optimize())

    def close(self) -> None:
        """Flush and close the store; it can then be reopened by any process. Closing twice is fine."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with engine_errors("closing the store"):
                self._finalizer()

    def __repr__(self) -> str:
        return f"EdgeStore(path={str(self.path)!r})"
