"""``QdrantStore``: the same contract over ``qdrant-client``, for a Qdrant server or cluster."""

from __future__ import annotations

from typing import Any

from qdrant_client import QdrantClient, models

from memspy.stores._engine import engine_errors
from memspy.stores._filters import CompiledFilter, Condition
from memspy.stores.base import BaseStore, PointData
from memspy.stores.errors import StoreError, StoreLockedError

__all__ = ["QdrantStore"]


def _condition(c: Condition) -> Any:
    if c.kind == "match":
        return models.FieldCondition(key=c.key, match=models.MatchValue(value=c.arg))
    if c.kind == "any":
        return models.FieldCondition(key=c.key, match=models.MatchAny(any=c.arg))
    if c.kind == "range":
        return models.FieldCondition(key=c.key, range=models.Range(**c.arg))
    return models.IsEmptyCondition(is_empty=models.PayloadField(key=c.key))


def _filter(cf: CompiledFilter) -> models.Filter | None:
    if not cf.must and not cf.must_not:
        return None
    return models.Filter(
        must=[_condition(c) for c in cf.must] or None, must_not=[_condition(c) for c in cf.must_not] or None
    )


class QdrantStore(BaseStore):
    """Memory store in a Qdrant server or cluster: the scale-out path.

    Args:
        url: Server URL, e.g. ``http://localhost:6333``. Or pass ``client=`` / ``location=":memory:"``
            (qdrant-client's local mode: a test double of the server API, not an engine).
        collection: Collection name (created if missing).
        api_key: Server API key.
        client: An existing ``QdrantClient``.

    Batches are sent as single requests with ``wait=True``; if a later request of a batch fails,
    the earlier ones are rolled back from the points read before the batch.

    Example:
        >>> store = QdrantStore(location=":memory:")                     # doctest: +SKIP
        >>> store.put(("memories", "u1"), "k1", {"content": "prefers dark mode"})
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        collection: str = "memspy",
        api_key: str | None = None,
        location: str | None = None,
        path: str | None = None,
        client: QdrantClient | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if client is None:
            try:
                client = QdrantClient(url=url, api_key=api_key, location=location, path=path)
            except RuntimeError as e:
                if "already accessed" in str(e):
                    raise StoreLockedError(f"{path} is in use by another QdrantClient: close it first") from e
                raise StoreError(f"cannot open Qdrant at {url or location or path}: {e}") from e
        self.client = client
        self.collection = collection
        with engine_errors(f"opening collection {collection!r}"):
            self._ensure_collection()

    def _ensure_collection(self) -> None:
        if self.client.collection_exists(self.collection):
            info = self.client.get_collection(self.collection)
            vectors = info.config.params.vectors
            size = vectors["dense"].size if isinstance(vectors, dict) and "dense" in vectors else None
            if size != self.embedder.dim:
                raise StoreError(
                    f"collection {self.collection!r} holds {size}-dim vectors but the embedder makes "
                    f"{self.embedder.dim}: use the embedder it was built with, or another collection"
                )
            return
        self.client.create_collection(
            self.collection,
            vectors_config={"dense": models.VectorParams(size=self.embedder.dim, distance=models.Distance.COSINE)},
            sparse_vectors_config={"bm25": models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        for field, schema in (
            ("ns", models.PayloadSchemaType.KEYWORD),
            ("ns_path", models.PayloadSchemaType.KEYWORD),
            ("updated_ts", models.PayloadSchemaType.FLOAT),
        ):
            self.client.create_payload_index(self.collection, field, field_schema=schema)

    def _retrieve(self, ids: list[str], *, with_vectors: bool = False) -> dict[str, PointData]:
        if not ids:
            return {}
        out: dict[str, PointData] = {}
        with engine_errors(f"reading {len(ids)} points"):
            records = self.client.retrieve(self.collection, ids, with_payload=True, with_vectors=with_vectors)
        for r in records:
            vec: dict[str, Any] = r.vector if with_vectors and isinstance(r.vector, dict) else {}
            out[str(r.id)] = PointData(str(r.id), r.payload or {}, vec.get("dense"), vec.get("bm25"))
        return out

    def _upsert(self, points: list[PointData]) -> None:
        qpoints = [
            models.PointStruct(id=p.id, payload=p.payload, vector=p.named_vectors(models.SparseVector)) for p in points
        ]
        with engine_errors(f"writing {len(points)} points"):
            self.client.upsert(self.collection, qpoints, wait=True)

    def _delete_ids(self, ids: list[str]) -> None:
        with engine_errors(f"deleting {len(ids)} points"):
            self.client.delete(self.collection, models.PointIdsList(points=list(ids)), wait=True)

    def _flush(self) -> None:
        """Writes are acknowledged with ``wait=True``; the server's WAL makes them durable."""

    def _query(
        self, dense: list[float] | None, sparse: Any, cf: CompiledFilter, limit: int, offset: int
    ) -> list[tuple[dict[str, Any], float | None]]:
        with engine_errors("searching"):
            return self._query_points(dense, sparse, _filter(cf), limit, offset)

    def _query_points(
        self, dense: list[float] | None, sparse: Any, flt: models.Filter | None, limit: int, offset: int
    ) -> list[tuple[dict[str, Any], float | None]]:
        if dense is None:
            res = self.client.query_points(
                self.collection,
                query=models.OrderByQuery(order_by=models.OrderBy(key="updated_ts", direction=models.Direction.DESC)),
                query_filter=flt,
                limit=limit,
                offset=offset,
                with_payload=True,
            )
            return [(p.payload or {}, None) for p in res.points]
        depth = (limit + offset) * self.prefetch_factor
        prefetch = [models.Prefetch(query=list(dense), using="dense", limit=depth, filter=flt)]
        if sparse is not None and len(sparse.indices):
            sv = models.SparseVector(indices=list(sparse.indices), values=list(sparse.values))
            prefetch.append(models.Prefetch(query=sv, using="bm25", limit=depth, filter=flt))
        res = self.client.query_points(
            self.collection,
            prefetch=prefetch,
            query=models.RrfQuery(rrf=models.Rrf(k=60)),
            query_filter=flt,
            limit=limit,
            offset=offset,
            with_payload=True,
        )
        return [(p.payload or {}, float(p.score)) for p in res.points]

    def _namespace_paths(self, cf: CompiledFilter) -> list[str]:
        with engine_errors("listing namespaces"):
            res = self.client.facet(
                self.collection, key="ns_path", facet_filter=_filter(cf), limit=1_000_000, exact=True
            )
        return [str(h.value) for h in res.hits]

    def count(self) -> int:
        """Number of items stored (all namespaces)."""
        with self._lock:
            self._check_open()
            with engine_errors("counting points"):
                return int(self.client.count(self.collection, exact=True).count)

    def close(self) -> None:
        """Close the client connection. Closing twice is fine."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with engine_errors("closing the client"):
                self.client.close()

    def __repr__(self) -> str:
        return f"QdrantStore(collection={self.collection!r})"
