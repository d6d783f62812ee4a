"""The engine-independent half of every Qdrant-backed store: validation, embedding, batches, rollback.

Engines supply six primitives (retrieve, upsert, delete, flush, query, namespace facet) and may add
a journal and a disk-space guard through the optional hooks. What this class guarantees on top:

- bad input raises a typed ``StoreError`` subclass before anything is written;
- a batch is all-or-nothing: if the engine fails part-way, the state from before is restored; if even
  that fails, the store holds the undo, retries it before its next operation, and the journal applies
  it on reopen, so a batch reported as failed is never applied later;
- a closed store raises ``StoreClosedError``.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from memspy.stores._async import AsyncTwins
from memspy.stores._filters import CompiledFilter, Condition, compile_filter
from memspy.stores._limits import MAX_LIMIT, MAX_NAMESPACE_PARTS, MAX_OFFSET, check_count, check_query
from memspy.stores._points import batch_bytes, delete_keys, item_from, prepare_puts
from memspy.stores._shortcuts import BatchShortcuts
from memspy.stores._types import (
    NS_SEP,
    Item,
    Namespace,
    PutOp,
    SearchItem,
    encode_value,
    namespace_path,
    point_id,
    utcnow,
    validate_key,
    validate_namespace,
)
from memspy.stores.embeddings import Bm25Embedder, Embedder, SparseEmbedder, as_embedder
from memspy.stores.errors import InvalidValueError, StoreClosedError, StoreEngineError, StoreError
from memspy.stores.protocol import Change, PointData, Store

__all__ = ["BaseStore", "PointData", "Store"]  # PointData and Store re-exported from .protocol


class BaseStore(AsyncTwins, BatchShortcuts, ABC):
    """Validation, embedding, batching, rollback and async twins; engines supply the primitives."""

    def __init__(
        self,
        *,
        embedder: Any = None,
        dim: int | None = None,
        sparse_embedder: SparseEmbedder | None = None,
        index_fields: list[str] | None = None,
        prefetch_factor: int = 8,
    ) -> None:
        self.embedder: Embedder = as_embedder(embedder, dim=dim)
        self.sparse_embedder: SparseEmbedder = sparse_embedder or Bm25Embedder()
        self.index_fields = index_fields
        self.prefetch_factor = prefetch_factor
        self._lock = threading.RLock()
        self._closed = False
        self._pending_undo: Change | None = None

    # ---- engine primitives -------------------------------------------------------------------
    @abstractmethod
    def _retrieve(self, ids: list[str], *, with_vectors: bool = False) -> dict[str, PointData]: ...
    @abstractmethod
    def _upsert(self, points: list[PointData]) -> None: ...
    @abstractmethod
    def _delete_ids(self, ids: list[str]) -> None: ...
    @abstractmethod
    def _flush(self) -> None: ...
    @abstractmethod
    def _query(
        self, dense: list[float] | None, sparse: Any, cf: CompiledFilter, limit: int, offset: int
    ) -> list[tuple[dict[str, Any], float | None]]: ...
    @abstractmethod
    def _namespace_paths(self, cf: CompiledFilter) -> list[str]: ...
    @abstractmethod
    def close(self) -> None: ...
    @abstractmethod
    def count(self) -> int:
        """Number of items stored (all namespaces)."""

    # ---- optional hooks ----------------------------------------------------------------------
    def _reserve(self, nbytes: int) -> None:
        """Refuse, before anything is written, a write of about ``nbytes`` that the disk cannot take."""

    def _journal_begin(self, forward: Change, undo: Change) -> None:
        """Record a multi-operation batch and its undo before applying it (engines with a local journal)."""

    def _journal_fail(self, undo: Change, *, journaled: bool) -> None:
        """Record that the current batch failed: only ``undo`` may be applied from now on."""

    def _journal_end(self) -> None:
        """Forget the recorded batch once it is fully applied or rolled back."""

    # ---- state -------------------------------------------------------------------------------
    def _check_open(self) -> None:
        """Raise ``StoreClosedError`` after ``close()``; finish a pending rollback before anything else."""
        with self._lock:
            if self._closed:
                raise StoreClosedError(f"{self!r} is closed: open a new store on the same path or collection")
            undo = self._pending_undo
            if undo is None:
                return
            try:
                self._replay(undo)
            except StoreError as e:
                raise StoreEngineError(
                    f"{self!r} could not roll back a failed batch yet ({e}): it retries on every call and on "
                    "reopen; fix the cause (disk space, permissions) or reopen the store"
                ) from e
            self._pending_undo = None

    def _replay(self, change: Change) -> None:
        """Apply a recorded change (a rollback, or a batch a crash interrupted), then forget the journal."""
        if change.upserts:
            self._upsert(change.upserts)
        if change.deletes:
            self._delete_ids(change.deletes)
        self._flush()
        self._journal_end()

    # ---- writes ------------------------------------------------------------------------------
    def batch(self, puts: Iterable[PutOp] = (), deletes: Iterable[tuple[Namespace, str]] = ()) -> None:
        """Apply upserts and deletes all-or-nothing.

        Every item is validated and embedded before anything is written; if the engine fails
        part-way, items already written are restored to their previous state.

        Raises:
            InvalidValueError / InvalidNamespaceError: bad input (nothing written).
            StoreFullError: the disk is too full (nothing written). StoreEngineError: the engine failed
            (rolled back). StoreClosedError: after ``close()``.
        """
        self._check_open()
        points, texts = prepare_puts(puts, self.index_fields)
        del_keys = delete_keys(deletes)
        seen: dict[str, int] = {}
        for i, p in enumerate(points):  # last write of a key in a batch wins
            seen[p.id] = i
        points = [points[i] for i in sorted(seen.values())]
        texts = [texts[i] for i in sorted(seen.values())]
        to_embed = [(p, t) for p, t in zip(points, texts, strict=True) if t is not None]
        if to_embed:
            dense = self.embedder.embed_documents([t for _, t in to_embed])
            sparse = self.sparse_embedder.embed_documents([t for _, t in to_embed])
            for (p, _), d, s in zip(to_embed, dense, sparse, strict=True):
                p.dense, p.sparse = d, s
        delete_ids = list(dict.fromkeys(point_id(ns, k) for ns, k in del_keys))
        with self._lock:
            self._check_open()
            before = self._retrieve([p.id for p in points] + delete_ids, with_vectors=True)
            now = utcnow()
            for p in points:
                prev = before.get(p.id)
                p.payload["created_at"] = prev.payload["created_at"] if prev else now.isoformat()
                p.payload["updated_at"] = now.isoformat()
                p.payload["updated_ts"] = now.timestamp()
            delete_ids = [i for i in delete_ids if i in before]
            if not points and not delete_ids:
                return
            self._apply(points, delete_ids, before)

    def _apply(self, points: list[PointData], delete_ids: list[str], before: dict[str, PointData]) -> None:
        undo = Change(list(before.values()), [p.id for p in points if p.id not in before])
        self._reserve(batch_bytes(points))
        journaled = bool(points) and bool(delete_ids)
        if journaled:
            self._journal_begin(Change(points, delete_ids), undo)
        try:
            if points:
                self._upsert(points)
            if delete_ids:
                self._delete_ids(delete_ids)
            self._flush()
        except BaseException as exc:
            self._roll_back(undo, journaled, exc)
            raise
        if journaled:
            self._journal_end()

    def _roll_back(self, undo: Change, journaled: bool, exc: BaseException) -> None:
        try:
            self._journal_fail(undo, journaled=journaled)
        except BaseException as e:  # the in-process rollback below still runs
            exc.add_note(f"memspy: recording the rollback failed: {e}")
        try:
            self._replay(undo)
        except BaseException as e:
            self._pending_undo = undo
            exc.add_note(f"memspy: rolling the batch back failed too ({e}); the store retries before its next call")

    def patch(self, namespace: Namespace, patches: dict[str, dict[str, Any]], *, durable: bool = False) -> int:
        """Merge fields into the values of existing items without re-embedding them; return how many changed.

        For bookkeeping such as access counts: ``updated_at`` is left alone and missing keys are skipped.
        One upsert writes them all (atomic in the engine's log); unless ``durable``, it is not synced to
        disk on the spot, because recall calls this after every search and a sync would double its cost.
        """
        self._check_open()
        ns = validate_namespace(namespace)
        if not isinstance(patches, dict) or not all(isinstance(p, dict) for p in patches.values()):
            raise InvalidValueError("patches must map item keys to dicts of fields to merge into their values")
        ids = {point_id(ns, validate_key(k)): p for k, p in patches.items()}
        with self._lock:
            self._check_open()
            found = self._retrieve(list(ids), with_vectors=True)
            points = []
            for pid, point in found.items():
                value = encode_value({**point.payload["value"], **ids[pid]})
                points.append(PointData(pid, {**point.payload, "value": value}, point.dense, point.sparse))
            if points:
                self._reserve(batch_bytes(points))
                self._upsert(points)
                if durable:
                    self._flush()
        return len(points)

    # ---- reads -------------------------------------------------------------------------------
    def get(self, namespace: Namespace, key: str) -> Item | None:
        """Return the item or None."""
        ns = validate_namespace(namespace)
        pid = point_id(ns, validate_key(key))
        with self._lock:
            self._check_open()
            found = self._retrieve([pid])
        point = next(iter(found.values()), None)
        return item_from(point.payload) if point else None

    def search(
        self,
        namespace_prefix: Namespace,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[SearchItem]:
        """Search items under a namespace prefix.

        With ``query``: hybrid (dense + BM25) search fused with reciprocal rank fusion; without:
        the newest items first. ``filter`` applies to value fields (see ``memspy.stores._filters``).

        Raises:
            InvalidNamespaceError / InvalidFilterError / InvalidValueError: bad arguments, named.
        """
        ns = validate_namespace(namespace_prefix, allow_empty=True, field_name="namespace_prefix")
        limit = check_count("limit", limit, low=1, high=MAX_LIMIT)  # type: ignore[assignment]
        offset = check_count("offset", offset, low=0, high=MAX_OFFSET)  # type: ignore[assignment]
        query = check_query(query)
        cf = compile_filter(filter)
        if ns:
            cf.must.append(Condition("match", "ns", namespace_path(ns)))
        self._check_open()
        dense = sparse = None
        if query is not None:
            dense = self.embedder.embed_query(query)
            sparse = self.sparse_embedder.embed_query(query)
        with self._lock:
            self._check_open()
            hits = self._query(dense, sparse, cf, limit, offset)
        return [item_from(p, s, with_score=True) for p, s in hits]  # type: ignore[misc]

    def list_namespaces(
        self,
        *,
        prefix: Namespace | None = None,
        suffix: Namespace | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Namespace]:
        """List distinct namespaces, optionally under ``prefix``, ending in ``suffix``, cut to ``max_depth``."""
        pre = validate_namespace(prefix or (), allow_empty=True, field_name="prefix")
        suf = validate_namespace(suffix or (), allow_empty=True, field_name="suffix")
        depth = check_count("max_depth", max_depth, low=1, high=MAX_NAMESPACE_PARTS, allow_none=True)
        limit = check_count("limit", limit, low=1, high=MAX_LIMIT)  # type: ignore[assignment]
        offset = check_count("offset", offset, low=0, high=MAX_OFFSET)  # type: ignore[assignment]
        cf = CompiledFilter(must=[], must_not=[])
        if pre:
            cf.must.append(Condition("match", "ns", namespace_path(pre)))
        with self._lock:
            self._check_open()
            paths = self._namespace_paths(cf)
        out: set[Namespace] = set()
        for path in paths:
            ns = tuple(path.split(NS_SEP))
            if suf and ns[-len(suf) :] != suf:
                continue
            out.add(ns[:depth] if depth else ns)
        return sorted(out)[offset : offset + limit]

    def __enter__(self) -> BaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __deepcopy__(self, memo: dict[int, Any]) -> BaseStore:
        # DSPy optimizers deep-copy programs; a compiled copy must write to the same database.
        return self
