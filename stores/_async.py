"""The async twins of the ``Store`` API: each runs its sync method in a worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from memspy.stores._types import Item, Namespace, PutOp, SearchItem
from memspy.stores.protocol import Store

__all__ = ["AsyncTwins"]


class AsyncTwins:
    """``aput``, ``aget``, ``adelete``, ``asearch``, ``alist_namespaces``, ``aput_many``, ``adelete_many``, ``abatch``.

    Mixed into a class that implements ``Store``; the arguments are checked by the sync methods.
    """

    async def aput(self: Store, namespace: Namespace, key: str, value: dict[str, Any], **kw: Any) -> None:
        await asyncio.to_thread(self.put, namespace, key, value, **kw)

    async def aget(self: Store, namespace: Namespace, key: str) -> Item | None:
        return await asyncio.to_thread(self.get, namespace, key)

    async def adelete(self: Store, namespace: Namespace, key: str) -> None:
        await asyncio.to_thread(self.delete, namespace, key)

    async def asearch(self: Store, namespace_prefix: Namespace, **kw: Any) -> list[SearchItem]:
        return await asyncio.to_thread(lambda: self.search(namespace_prefix, **kw))

    async def alist_namespaces(self: Store, **kw: Any) -> list[Namespace]:
        return await asyncio.to_thread(lambda: self.list_namespaces(**kw))

    async def aput_many(self: Store, ops: Iterable[PutOp]) -> None:
        await asyncio.to_thread(self.put_many, ops)

    async def adelete_many(self: Store, keys: Iterable[tuple[Namespace, str]]) -> None:
        await asyncio.to_thread(self.delete_many, keys)

    async def abatch(self: Store, puts: Iterable[PutOp] = (), deletes: Iterable[tuple[Namespace, str]] = ()) -> None:
        await asyncio.to_thread(self.batch, puts, deletes)
