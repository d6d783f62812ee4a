"""A memspy ``Store`` over a LangGraph ``BaseStore`` (``InMemoryStore``, ``PostgresStore``, a platform store).

memspy's managers, tools and executor take it wherever they take a store, so memories can live in the store
a LangGraph deployment already has:

```python
from langgraph.store.memory import InMemoryStore
from memspy.stores.langgraph import LangGraphBackedStore

store = LangGraphBackedStore(InMemoryStore(index={"dims": 384, "embed": my_embed}))
store.put(("memories", "u1"), "k1", {"content": "prefers dark mode", "kind": "Memory"})
store.search(("memories", "u1"), query="theme", filter={"kind": {"$in": ["Memory"]}})
```

- **Filters** keep memspy's meaning (a list field matches by element; ``$in $nin $exists``; dotted paths)
  and are evaluated in Python over the LangGraph store's results, page by page; nothing is pushed to the
  LangGraph store, whose equality would treat list fields differently.
- **Scores** are the LangGraph store's (its similarity, ``None`` without an index), clamped to >= 0.
- **Batches**: everything is validated first with memspy's rules (typed errors, nothing written), then sent
  as one LangGraph ``batch``; whether a failure there is all-or-nothing is the LangGraph store's affair
  (``PostgresStore`` runs a batch in one transaction; ``InMemoryStore`` cannot fail part-way on valid input).
- **Namespaces**: LangGraph forbids ``.`` in a part and ``"langgraph"`` as the root; both are
  ``InvalidNamespaceError`` here, before anything is sent.
- ``patch`` (access bookkeeping) rewrites the items, so the LangGraph store re-embeds them: on ``text`` for
  values that hold a string ``text`` (memspy's record format), else on the store's default fields.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from typing import Any

from langgraph.store.base import BaseStore as LangGraphBaseStore
from langgraph.store.base import GetOp
from langgraph.store.base import Item as LangGraphItem
from langgraph.store.base import PutOp as LangGraphPutOp

from memspy.stores._filters import compile_filter
from memspy.stores._shortcuts import BatchShortcuts
from memspy.stores._types import (
    DeleteOp,
    Item,
    Namespace,
    PutOp,
    SearchItem,
    encode_value,
    validate_key,
    validate_namespace,
)
from memspy.stores.errors import InvalidNamespaceError, InvalidValueError
from memspy.stores.langgraph_filters import memspy_matches

__all__ = ["LangGraphBackedStore"]

_PAGE = 200


def _namespace(ns: Any, *, allow_empty: bool = False, field_name: str = "namespace") -> Namespace:
    out = validate_namespace(ns, allow_empty=allow_empty, field_name=field_name)
    for i, part in enumerate(out):
        if "." in part:
            raise InvalidNamespaceError(
                f"{field_name}[{i}] = {part!r} contains '.', which LangGraph stores do not allow: use '-' or '_'"
            )
    if out and out[0] == "langgraph" and not allow_empty:
        raise InvalidNamespaceError(f"{field_name}[0] is 'langgraph', a root LangGraph reserves: choose another")
    return out


def _item(it: Any, *, score: bool = False) -> Item:
    ns, created, updated = tuple(it.namespace), it.created_at, it.updated_at
    if score:
        s = getattr(it, "score", None)
        return SearchItem(ns, it.key, dict(it.value), created, updated, None if s is None else max(0.0, float(s)))
    return Item(ns, it.key, dict(it.value), created, updated)


class LangGraphBackedStore(BatchShortcuts):
    """memspy's ``Store`` contract over a LangGraph ``BaseStore`` (see the module docstring).

    Args:
        store: The LangGraph store; it stays the caller's (``close`` leaves it open).
    """

    def __init__(self, store: LangGraphBaseStore) -> None:
        if not isinstance(store, LangGraphBaseStore):
            raise InvalidValueError(f"store must be a langgraph.store.base.BaseStore, got {type(store).__name__}")
        self.langgraph_store = store

    # ---- writes ------------------------------------------------------------------------------------------
    def _put_op(self, op: PutOp, i: int) -> LangGraphPutOp:
        try:
            ns, key, value = _namespace(op.namespace), validate_key(op.key), encode_value(op.value)
        except (InvalidValueError, InvalidNamespaceError) as e:
            raise type(e)(f"batch item {i} ({op.namespace!r}, {op.key!r}): {e}") from None
        index = op.index
        if index is True:
            index = None
        if index is not None and index is not False:
            if not isinstance(index, list) or not all(isinstance(f, str) and f for f in index):
                raise InvalidValueError(
                    f"batch item {i}: index must be None, False or a list of field paths, got {index!r}"
                )
        return LangGraphPutOp(ns, key, value, index)

    def batch(self, puts: Iterable[PutOp] = (), deletes: Iterable[tuple[Namespace, str] | DeleteOp] = ()) -> None:
        """Validate every write, then send them as one LangGraph batch (the last write of a key wins)."""
        ops: dict[tuple[Namespace, str], LangGraphPutOp] = {}
        for i, op in enumerate(puts):
            lg = self._put_op(op, i)
            ops.pop((lg.namespace, lg.key), None)
            ops[(lg.namespace, lg.key)] = lg
        for d in deletes:
            ns, key = (d.namespace, d.key) if isinstance(d, DeleteOp) else d
            lg = LangGraphPutOp(_namespace(ns), validate_key(key), None)
            ops.pop((lg.namespace, lg.key), None)
            ops[(lg.namespace, lg.key)] = lg
        if ops:
            self.langgraph_store.batch(list(ops.values()))

    def patch(self, namespace: Namespace, patches: dict[str, dict[str, Any]], *, durable: bool = False) -> int:
        """Merge fields into existing items' values; return how many changed (missing keys are skipped)."""
        ns = _namespace(namespace)
        keys = [validate_key(k) for k in patches]
        found = self.langgraph_store.batch([GetOp(ns, k) for k in keys])
        ops = []
        for k, it in zip(keys, found, strict=True):
            if isinstance(it, LangGraphItem):
                value = encode_value({**it.value, **patches[k]})
                ops.append(LangGraphPutOp(ns, k, value, ["text"] if isinstance(value.get("text"), str) else None))
        if ops:
            self.langgraph_store.batch(ops)
        return len(ops)

    # ---- reads -------------------------------------------------------------------------------------------
    def get(self, namespace: Namespace, key: str) -> Item | None:
        """Return the item or None."""
        got = self.langgraph_store.batch([GetOp(_namespace(namespace), validate_key(key))])[0]
        return _item(got) if got is not None else None

    def _scan(self, ns: Namespace, query: str | None, page: int) -> Iterator[Any]:
        offset = 0
        while True:
            items = self.langgraph_store.search(ns, query=query, limit=page, offset=offset)
            yield from items
            offset += len(items)
            if len(items) < page:
                return
            page = min(page * 2, 2000)

    def search(
        self,
        namespace_prefix: Namespace,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[SearchItem]:
        """Search under a namespace prefix: the LangGraph store ranks, memspy's filter decides."""
        ns = _namespace(namespace_prefix, allow_empty=True, field_name="namespace_prefix")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidValueError(f"limit must be an int >= 1, got {limit!r}")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidValueError(f"offset must be an int >= 0, got {offset!r}")
        if query is not None and (not isinstance(query, str) or not query.strip()):
            raise InvalidValueError("query must be a non-empty string, or None to list items")
        compile_filter(filter)  # a malformed filter fails as it does on memspy's own stores, before any read
        need, out = offset + limit, []
        for it in self._scan(ns, query, max(need if not filter else need * 2, 10)):
            if memspy_matches(dict(it.value), filter):
                out.append(it)
                if len(out) >= need:
                    break
        return [_item(it, score=True) for it in out[offset:]]  # type: ignore[misc]

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
        pre = _namespace(prefix, field_name="prefix") if prefix else None
        suf = _namespace(suffix, field_name="suffix") if suffix else None
        return [
            tuple(ns)
            for ns in self.langgraph_store.list_namespaces(
                prefix=pre, suffix=suf, max_depth=max_depth, limit=limit, offset=offset
            )
        ]

    def count(self) -> int:
        """Number of items stored (all namespaces); reads them all."""
        return sum(1 for _ in self._scan((), None, 1000))

    def close(self) -> None:
        """Nothing to release: the LangGraph store stays open for its owner."""

    # ---- async twins -------------------------------------------------------------------------------------
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

    async def abatch(self, puts: Iterable[PutOp] = (), deletes: Iterable[tuple[Namespace, str]] = ()) -> None:
        await asyncio.to_thread(self.batch, list(puts), list(deletes))

    def __enter__(self) -> LangGraphBackedStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __deepcopy__(self, memo: dict[int, Any]) -> LangGraphBackedStore:
        return self  # compiled copies of a program write to the same store
