"""``EdgeStore``: the embedded default, Qdrant's engine in-process (``qdrant-edge-py``) in a directory."""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Literal

import qdrant_edge as qe

from memspy.stores._filters import CompiledFilter, Condition
from memspy.stores.base import BaseStore, PointData
from memspy.stores.errors import StoreError, StoreLockedError

__all__ = ["EdgeStore"]

_OPEN_PATHS: set[str] = set()
_OPEN_LOCK = threading.Lock()
_SHARD_DIR = "shard"
_JOURNAL = "batch.journal"


def _condition(c: Condition) -> Any:
    if c.kind == "match":
        return qe.FieldCondition(key=c.key, match=qe.MatchValue(value=c.arg))
    if c.kind == "any":
        return qe.FieldCondition(key=c.key, match=qe.MatchAny(any=c.arg))
    if c.kind == "range":
        return qe.FieldCondition(key=c.key, range=qe.RangeFloat(**c.arg))
    return qe.IsEmptyCondition(key=c.key)


def _filter(cf: CompiledFilter) -> Any:
    if not cf.must and not cf.must_not:
        return None
    return qe.Filter(
        must=[_condition(c) for c in cf.must] or None, must_not=[_condition(c) for c in cf.must_not] or None
    )


class EdgeStore(BaseStore):
    """Persistent memory store on Qdrant's embedded engine.

    Each item gets a dense (MiniLM by default) and a BM25 sparse vector; a query runs both and
    fuses them with Qdrant's reciprocal rank fusion. Every write is flushed before it returns.

    Args:
        path: Directory of the store (created if missing).
        embedder: Dense embedder or ``list[str] -> vectors`` callable (default: offline MiniLM).
        dim: Dimension of a callable embedder without a ``dim`` attribute.
        index_fields: Value fields to embed (default: ``content`` if present, else the whole value).
        durability: ``"flush"`` (default) syncs every write to disk before it returns; ``"wal"`` relies on
            the write-ahead log, which survives a process crash, and syncs every ``flush_interval_s``.

    Raises:
        StoreLockedError: another process or open store already uses ``path``.

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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if durability not in ("flush", "wal"):
            raise ValueError(f"durability must be 'flush' or 'wal', got {durability!r}")
        self.durability = durability
        self.flush_interval_s = flush_interval_s
        self._last_flush = time.monotonic()
        self.path = Path(path).resolve()
        self.path.mkdir(parents=True, exist_ok=True)
        self._key = str(self.path)
        self._closed = False
        with _OPEN_LOCK:
            if self._key in _OPEN_PATHS:
                raise StoreLockedError(f"{self.path} is already open in this process: reuse that EdgeStore or close it")
            self._lock_fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(self._lock_fd)
                raise StoreLockedError(
                    f"{self.path} is in use by another process: close it there, or open a copy of the directory"
                ) from None
            _OPEN_PATHS.add(self._key)
        try:
            self._shard = self._open_shard()
            self._replay_journal()
        except BaseException:
            self._release()
            raise

    def _open_shard(self) -> Any:
        shard_path = self.path / _SHARD_DIR
        meta = self.path / "memspy.json"
        if meta.exists():
            info = json.loads(meta.read_text())
            if info.get("dim") != self.embedder.dim:
                raise StoreError(
                    f"{self.path} holds {info.get('dim')}-dim vectors but the embedder makes {self.embedder.dim}: "
                    "open it with the embedder it was built with, or use a new path"
                )
            return qe.EdgeShard.load(str(shard_path))
        cfg = qe.EdgeConfig(
            vectors={"dense": qe.EdgeVectorParams(size=self.embedder.dim, distance=qe.Distance.Cosine)},
            sparse_vectors={"bm25": qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )
        shard = qe.EdgeShard.create(str(shard_path), cfg)
        for field, schema in (
            ("ns", qe.PayloadSchemaType.Keyword),
            ("ns_path", qe.PayloadSchemaType.Keyword),
            ("updated_ts", qe.PayloadSchemaType.Float),
        ):
            shard.update(qe.UpdateOperation.create_field_index(field, schema))
        shard.flush()
        tmp = meta.with_suffix(".tmp")
        tmp.write_text(json.dumps({"dim": self.embedder.dim, "embedder": getattr(self.embedder, "name", "custom")}))
        tmp.replace(meta)
        return shard

    # ---- journal: makes a batch of upserts + deletes all-or-nothing across a crash -----------
    def _journal_begin(self, upserts: list[PointData], deletes: list[str]) -> None:
        doc = {
            "upserts": [
                {
                    "id": p.id,
                    "payload": p.payload,
                    "dense": p.dense,
                    "sparse": [list(p.sparse.indices), list(p.sparse.values)] if p.sparse is not None else None,
                }
                for p in upserts
            ],
            "deletes": deletes,
        }
        tmp = self.path / (_JOURNAL + ".tmp")
        with open(tmp, "w") as f:
            json.dump(doc, f)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path / _JOURNAL)

    def _journal_end(self) -> None:
        (self.path / _JOURNAL).unlink(missing_ok=True)

    def _replay_journal(self) -> None:
        journal = self.path / _JOURNAL
        (self.path / (_JOURNAL + ".tmp")).unlink(missing_ok=True)  # never committed: the batch did not start
        if not journal.exists():
            return
        doc = json.loads(journal.read_text())
        points = [
            PointData(
                u["id"],
                u["payload"],
                u["dense"],
                qe.SparseVector(indices=u["sparse"][0], values=u["sparse"][1]) if u["sparse"] else None,
            )
            for u in doc["upserts"]
        ]
        if points:
            self._upsert(points)
        if doc["deletes"]:
            self._delete_ids(doc["deletes"])
        self._flush()
        self._journal_end()

    # ---- engine primitives -------------------------------------------------------------------
    def _retrieve(self, ids: list[str], *, with_vectors: bool = False) -> dict[str, PointData]:
        if not ids:
            return {}
        out: dict[str, PointData] = {}
        for r in self._shard.retrieve(ids, with_payload=True, with_vector=with_vectors):
            vec = r.vector if with_vectors and isinstance(r.vector, dict) else {}
            out[str(r.id)] = PointData(str(r.id), r.payload or {}, vec.get("dense"), vec.get("bm25"))
        return out

    def _upsert(self, points: list[PointData]) -> None:
        qpoints = [qe.Point(id=p.id, payload=p.payload, vector=p.named_vectors()) for p in points]
        self._shard.update(qe.UpdateOperation.upsert_points(qpoints))

    def _delete_ids(self, ids: list[str]) -> None:
        self._shard.update(qe.UpdateOperation.delete_points(list[Any](ids)))

    def _flush(self) -> None:
        # "flush": segments synced on every write. "wal": the write-ahead log (written before update()
        # returns) carries writes across a process crash; segments are synced at most every
        # flush_interval_s and on close. Several times the batched write throughput; see `memspy bench`.
        now = time.monotonic()
        if self.durability == "flush" or now - self._last_flush >= self.flush_interval_s:
            self._shard.flush()
            self._last_flush = now

    def _query(
        self, dense: list[float] | None, sparse: Any, cf: CompiledFilter, limit: int, offset: int
    ) -> list[tuple[dict[str, Any], float | None]]:
        flt = _filter(cf)
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
        resp = self._shard.facet(qe.FacetRequest(key="ns_path", limit=1_000_000, exact=True, filter=_filter(cf)))
        return [str(h.value) for h in resp.hits]

    def count(self) -> int:
        """Number of items stored (all namespaces)."""
        with self._lock:
            return int(self._shard.count(qe.CountRequest(exact=True)))

    def optimize(self) -> bool:
        """Build HNSW indexes now (blocks); search is exact until segments are large enough."""
        with self._lock:
            return bool(self._shard.optimize())

    def _release(self) -> None:
        with _OPEN_LOCK:
            _OPEN_PATHS.discard(self._key)
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)

    def close(self) -> None:
        """Flush and close the store; it can then be reopened by any process."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._shard.flush()
                self._shard.close()
            finally:
                self._release()

    def __repr__(self) -> str:
        return f"EdgeStore(path={str(self.path)!r})"
