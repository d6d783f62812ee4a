"""The single-item and many-item writes every store derives from its one ``batch`` primitive."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from memspy.stores._types import DeleteOp, Namespace, PutOp

__all__ = ["BatchShortcuts"]


class BatchShortcuts:
    """``put``, ``put_many``, ``delete`` and ``delete_many`` as calls of ``self.batch`` (all or nothing)."""

    def batch(self, puts: Any = (), deletes: Any = ()) -> Any:  # pragma: no cover - every store defines it
        raise NotImplementedError

    def put(
        self, namespace: Namespace, key: str, value: dict[str, Any], *, index: bool | list[str] | None = None
    ) -> None:
        """Insert or replace one item; it is stored when this returns."""
        self.batch([PutOp(tuple(namespace) if isinstance(namespace, list) else namespace, key, value, index)])

    def put_many(self, ops: Iterable[PutOp]) -> None:
        """Insert or replace many items in one all-or-nothing batch."""
        self.batch(puts=ops)

    def delete(self, namespace: Namespace, key: str) -> None:
        """Delete one item (a missing item is not an error)."""
        self.batch(deletes=[(namespace, key)])

    def delete_many(self, keys: Iterable[tuple[Namespace, str] | DeleteOp]) -> None:
        """Delete many items in one all-or-nothing batch."""
        self.batch(deletes=keys)
