"""The ``Store`` protocol and the engine-independent half of every Qdrant-backed store."""

from __future__ import annotations

import asyncio
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from memspy.stores._filters import CompiledFilter, Condition, compile_filter
from memspy.stores._types import (
    DeleteOp,
    Item,
    Namespace,
    PutOp,
    SearchItem,
    encode_value,
    namespace_path,
    namespace_prefixes,
    point_id,
    utcnow,
    validate_key,
    validate_namespace,
)
from memspy.stores.embeddings import Bm25Embedder, Embedder, SparseEmbedder, as_embedder
from memspy.stores.errors import InvalidValueError
from memspy.stores.protocol import PointData, Store

__all__ = ["BaseStore", "PointData", "Store"]  # PointData and Store re-exported from .protocol


def _item_from(payload: dict[str, Any], score: float | None = None, *, with_score: bool = False) -> Item:
    ns = tuple(payload["ns_path"].split("\x1f"))
    created = datetime.fromisoformat(payload["created_at"])
    updated = datetime.fromisoformat(payload["updated_at"])
    if with_score:
        return SearchItem(ns, payload["key"], payload["value"], created, updated, score)
    return Item(ns, payload["key"], payload["value"], created, updated)


class BaseStore(ABC):
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

    def _journal_begin(self, upserts: list[PointData], deletes: list[str]) -> None:  # noqa: B027 - optional hook
        """Record a multi-operation batch before applying it (engines with a local journal override)."""

    def _journal_end(self) -> None:  # noqa: B027 - optional hook
        """Forget the recorded batch once it is fully applied or rolled back."""

    # ---- writes ------------------------------------------------------------------------------
    def _text_for(self, value: dict[str, Any], index: bool | list[str] | None) -> str | None:
        if index is False:
            return None
        fields = index if isinstance(index, list) else self.index_fields
        if fields:
            parts = []
            for f in fields:
                v: Any = value
                for p in f.split("."):
                    v = v.get(p) if isinstance(v, dict) else None
                if v is not None:
                    parts.append(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
            return "\n".join(parts) or None
        if isinstance(value.get("content"), str):
            return str(value["content"])
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    def _prepare(self, ops: Sequence[PutOp]) -> tuple[list[PointData], list[str | None]]:
        points: list[PointData] = []
        texts: list[str | None] = []
        for i, op in enumerate(ops):
            try:
                ns = validate_namespace(op.namespace)
                key = validate_key(op.key)
                value = encode_value(op.value)
            except InvalidValueError as e:
                raise type(e)(f"batch item {i} ({op.namespace!r}, {op.key!r}): {e}") from None
            if op.index is not None and not isinstance(op.index, bool | list):
                raise InvalidValueError(f"index must be None, False or a list of field paths, got {op.index!r}")
            payload = {
                "ns": namespace_prefixes(ns),
                "ns_path": namespace_path(ns),
                "ns_depth": len(ns),
                "key": key,
                "value": value,
            }
            points.append(PointData(point_id(ns, key), payload))
            texts.append(self._text_for(value, op.index))
        return points, texts

    def batch(self, puts: Iterable[PutOp] = (), deletes: Iterable[tuple[Namespace, str]] = ()) -> None:
        """Apply upserts and deletes all-or-nothing.

        Every item is validated and embedded before anything is written; if the engine fails
        part-way, items already written are restored to their previous state.
        """
        put_ops = list(puts)
        del_keys = [(validate_namespace(ns), validate_key(k)) for ns, k in deletes]
        points, texts = self._prepare(put_ops)
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
        delete_ids = [point_id(ns, k) for ns, k in del_keys]
        with self._lock:
            before = self._retrieve([p.id for p in points] + delete_ids, with_vectors=True)
            now = utcnow().isoformat()
            for p in points:
                prev = before.get(p.id)
                p.payload["created_at"] = prev.payload["created_at"] if prev else now
                p.payload["updated_at"] = now
                p.payload["updated_ts"] = utcnow().timestamp()
            delete_ids = [i for i in delete_ids if i in before]
            if not points and not delete_ids:
                return
            self._apply(points, delete_ids, before)

    def _apply(self, points: list[PointData], delete_ids: list[str], before: dict[str, PointData]) -> None:
        multi = bool(points) and bool(delete_ids)
        if multi:
            self._journal_begin(points, delete_ids)
        try:
            if points:
                self._upsert(points)
            if delete_ids:
                self._delete_ids(delete_ids)
            self._flush()
        except BaseException:
            restore = [b for b in before.values()]
            fresh = [p.id for p in points if p.id not in before]
            if restore:
                self._upsert(restore)
            if fresh:
                self._delete_ids(fresh)
            self._flush()
            if multi:
                self._journal_end()
            raise
        if multi:
            self._journal_end()

    def put(
        self, namespace: Namespace, key: str, value: dict[str, Any], *, index: bool | list[str] | None = None
    ) -> None:
        """Insert or replace one item; it is on disk when this returns."""
        self.batch([PutOp(tuple(namespace) if isinstance(namespace, list) else namespace, key, value, index)])

    def put_many(self, ops: Iterable[PutOp]) -> None:
        """Insert or replace many items in one all-or-nothing batch."""
        self.batch(puts=ops)

    def delete(self, namespace: Namespace, key: str) -> None:
        """Delete one item (a missing item is not an error)."""
        self.batch(deletes=[(namespace, key)])

    def delete_many(self, keys: Iterable[tuple[Namespace, str] | DeleteOp]) -> None:
        """Delete many items in one all-or-nothing batch."""
        self.batch(deletes=[(k.namespace, k.key) if isinstance(k, DeleteOp) else k for k in keys])

    def patch(self, namespace: Namespace, patches: dict[str, dict[str, Any]], *, durable: bool = False) -> int:
        """Merge fields into the values of existing items without re-embedding them; return how many changed.

        For bookkeeping such as access counts: ``updated_at`` is left alone and missing keys are skipped.
        One upsert writes them all (atomic in the engine's log); unless ``durable``, it is not synced to
        disk on the spot, because recall calls this after every search and a sync would double its cost.
        """
        ns = validate_namespace(namespace)
        ids = {point_id(ns, validate_key(k)): p for k, p in patches.items()}
        with self._lock:
            found = self._retrieve(list(ids), with_vectors=True)
            points = []
            for pid, point in found.items():
                value = encode_value({**point.payload["value"], **ids[pid]})
                points.append(PointData(pid, {**point.payload, "value": value}, point.dense, point.sparse))
            if points:
                self._upsert(points)
                if durable:
                    self._flush()
        return len(points)

    # ---- reads -------------------------------------------------------------------------------
    def get(self, namespace: Namespace, key: str) -> Item | None:
        """Return the item or None."""
        ns = validate_namespace(namespace)
        with self._lock:
            found = self._retrieve([point_id(ns, validate_key(key))])
        point = next(iter(found.values()), None)
        return _item_from(point.payload) if point else None

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
        """
        ns = validate_namespace(namespace_prefix, allow_empty=True, field_name="namespace_prefix")
        if not isinstance(limit, int) or limit < 1 or not isinstance(offset, int) or offset < 0:
            raise InvalidValueError(f"limit must be >= 1 and offset >= 0, got limit={limit!r} offset={offset!r}")
        cf = compile_filter(filter)
        if ns:
            cf.must.append(Condition("match", "ns", namespace_path(ns)))
        dense = sparse = None
        if query is not None:
            if not isinstance(query, str) or not query.strip():
                raise InvalidValueError("query must be a non-empty string, or None to list items")
            dense = self.embedder.embed_query(query)
            sparse = self.sparse_embedder.embed_query(query)
        with self._lock:
            hits = self._query(dense, sparse, cf, limit, offset)
        return [_item_from(p, s, with_score=True) for p, s in hits]  # type: ignore[misc]

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
        cf = CompiledFilter(must=[], must_not=[])
        if prefix:
            cf.must.append(Condition("match", "ns", namespace_path(validate_namespace(prefix, field_name="prefix"))))
        with self._lock:
            paths = self._namespace_paths(cf)
        out: set[Namespace] = set()
        for path in paths:
            ns = tuple(path.split("\x1f"))
            if suffix and ns[-len(suffix) :] != tuple(suffix):
                continue
            out.add(ns[:max_depth] if max_depth else ns)
        return sorted(out)[offset : offset + limit]

    # ---- async twins -------------------------------------------------------------------------
    async def aput(self, namespace: Namespace, key: str, value: dict[str, Any], **kw: Any) -> None:
        await asyncio.to_thread(self.put, namespace, key, value, **kw)

    async def aget(self, namespace: Namespace, key: str) -> Item | None:
        return await asyncio.to_thread(self.get, namespace, key)

    async def adelete(self, namespace: Namespace, key: str) -> None:
        await asyncio.to_thread(self.delete, namespace, key)

    async def asearch(self, namespace_prefix: Namespace, **kw: Any) -> list[SearchItem]:
        return await asyncio.to_thread(lambda: self.search(namespace_prefix, **kw))

    async def alist_namespaces(self, **kw: Any) -> list[Namespace]:
        return await asyncio.to_thread(lambda: self.list_namespaces(**kw))

    async def aput_many(self, ops: Iterable[PutOp]) -> None:
        await asyncio.to_thread(self.put_many, list(ops))

    async def adelete_many(self, keys: Iterable[tuple[Namespace, str]]) -> None:
        await asyncio.to_thread(self.delete_many, list(keys))

    async def abatch(self, puts: Iterable[PutOp] = (), deletes: Iterable[tuple[Namespace, str]] = ()) -> None:
        await asyncio.to_thread(self.batch, list(puts), list(deletes))

    def __enter__(self) -> BaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __deepcopy__(self, memo: dict[int, Any]) -> BaseStore:
        # DSPy optimizers deep-copy programs; a compiled copy must write to the same database.
        return self
