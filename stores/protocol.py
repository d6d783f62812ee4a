"""The ``Store`` protocol every memspy store keeps, and the engine-level point and change types."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from memspy.stores._types import Item, Namespace, PutOp, SearchItem

__all__ = ["Change", "PointData", "Store"]


@runtime_checkable
class Store(Protocol):
    """Namespaced memory items with hybrid search: the contract every memspy store keeps."""

    def put(
        self, namespace: Namespace, key: str, value: dict[str, Any], *, index: bool | list[str] | None = None
    ) -> None: ...
    def get(self, namespace: Namespace, key: str) -> Item | None: ...
    def delete(self, namespace: Namespace, key: str) -> None: ...
    def search(
        self,
        namespace_prefix: Namespace,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[SearchItem]: ...
    def list_namespaces(
        self, *, prefix: Namespace | None = None, max_depth: int | None = None, limit: int = 100, offset: int = 0
    ) -> list[Namespace]: ...
    def put_many(self, ops: Iterable[PutOp]) -> None: ...
    def delete_many(self, keys: Iterable[tuple[Namespace, str]]) -> None: ...
    def batch(self, puts: Iterable[PutOp] = (), deletes: Iterable[tuple[Namespace, str]] = ()) -> None: ...
    def close(self) -> None: ...


@dataclass
class PointData:
    """A point as the engine stores it: payload plus optional dense and sparse vectors."""

    id: str
    payload: dict[str, Any]
    dense: list[float] | None = None
    sparse: Any = None  # has .indices and .values

    def named_vectors(self, sparse_type: Any = None) -> dict[str, Any]:
        """The point's vectors by name; an empty sparse vector is left out. ``sparse_type`` rebuilds it."""
        out: dict[str, Any] = {}
        if self.dense is not None:
            out["dense"] = list(self.dense)
        if self.sparse is not None and len(self.sparse.indices):
            s = self.sparse
            out["bm25"] = sparse_type(indices=list(s.indices), values=list(s.values)) if sparse_type else s
        return out


@dataclass
class Change:
    """What one batch does to the engine: points to upsert, then ids to delete."""

    upserts: list[PointData] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.upserts or self.deletes)
