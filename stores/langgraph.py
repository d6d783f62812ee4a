"""LangGraph's ``BaseStore`` over any memspy store (needs the ``memspy[langgraph]`` extra).

```python
from langgraph.graph import StateGraph
from memspy.stores import EdgeStore
from memspy.stores.langgraph import LangGraphStore

store = LangGraphStore(EdgeStore(".memspy/store"))
graph = StateGraph(State).add_node(...).compile(store=store)   # nodes get it from get_store() / runtime.store
store.put(("memories", "u1"), "k1", {"content": "prefers dark mode"})
store.search(("memories", "u1"), query="display theme", filter={"kind": "Memory"}, limit=3)
```

Semantics (LangGraph's, checked by ``tests/stores/test_langgraph.py`` over EdgeStore and QdrantStore):

- ``batch`` runs the reads (get, search, list_namespaces) in order against the state before the batch, then
  applies every put and delete (``value=None``) as one memspy all-or-nothing batch; a key put twice keeps
  the last value.
- **Search with a query**: candidates come from memspy's hybrid (dense + BM25) search; each gets the cosine
  similarity of the query's and the item's dense vectors, clamped to [0, 1], as its ``score``, a relevance a
  caller can threshold (RRF fusion values are not). ``order="relevance"`` (default) sorts by that score, as
  LangGraph's stores do; ``order="hybrid"`` keeps the fused order. Items stored with ``index=False`` have no
  vector: as in ``InMemoryStore`` they come after the ranked ones with ``score=None`` when a page has room.
  ``query=""`` (or blank) means no query: newest first, ``score=None``.
- **Filters**: LangGraph's language (equality of whole values, lists and nested objects included;
  ``$eq $ne $gt $gte $lt $lte``; ``True`` never equals ``1``); see :mod:`memspy.stores.langgraph_filters`.
- **list_namespaces**: prefix and suffix conditions with ``*`` wildcards, ``max_depth``, ``limit``, ``offset``.
- **Not supported**: TTL (``supports_ttl = False``: a ``ttl`` raises ``NotImplementedError``, as LangGraph's
  own stores without TTL do); per-field vectors (memspy embeds the ``index`` fields joined as one text, so
  array paths such as ``"items[*].text"`` are rejected: index the parent field instead).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Iterator
from typing import Any, Literal

try:
    from langgraph.store.base import BaseStore as LangGraphBaseStore
    from langgraph.store.base import (
        GetOp,
        InvalidNamespaceError,
        ListNamespacesOp,
        MatchCondition,
        Op,
        PutOp,
        Result,
        SearchOp,
        validate_op_namespace,
    )
    from langgraph.store.base import Item as LangGraphItem
    from langgraph.store.base import SearchItem as LangGraphSearchItem
except ImportError as e:  # an optional extra
    raise ImportError(
        f"memspy.stores.langgraph needs the langgraph extra: pip install 'memspy[langgraph]' ({e})"
    ) from e

from memspy.stores._types import Item, Namespace, SearchItem, point_id
from memspy.stores._types import PutOp as MemspyPutOp
from memspy.stores.base import BaseStore
from memspy.stores.errors import InvalidValueError
from memspy.stores.langgraph_backed import LangGraphBackedStore
from memspy.stores.langgraph_filters import check_langgraph_filter, langgraph_matches, langgraph_pushdown
from memspy.stores.protocol import Store

__all__ = ["LangGraphBackedStore", "LangGraphStore", "as_memspy_store"]

_PAGE = 256


def _to_item(it: Item) -> LangGraphItem:
    return LangGraphItem(
        value=it.value, key=it.key, namespace=it.namespace, created_at=it.created_at, updated_at=it.updated_at
    )


def _to_search_item(it: Item, score: float | None) -> LangGraphSearchItem:
    return LangGraphSearchItem(it.namespace, it.key, it.value, it.created_at, it.updated_at, score)


def _index(op: PutOp) -> bool | list[str] | None:
    if op.index is None or op.index is False:
        return op.index
    if not isinstance(op.index, list) or not all(isinstance(p, str) and p for p in op.index):
        raise InvalidValueError(f"index must be None, False or a list of field paths, got {op.index!r}")
    if op.index == ["$"]:
        return None  # the whole document: memspy's default for values without a string "content"
    for path in op.index:
        if "[" in path or path == "$":
            raise InvalidValueError(
                f"index path {path!r}: memspy embeds whole fields, not array elements; index the field "
                f"{path.split('[')[0]!r} instead"
            )
    return list(op.index)


def _matches(condition: MatchCondition, ns: Namespace) -> bool:
    path = tuple(condition.path)
    if len(ns) < len(path):
        return False
    part = ns[: len(path)] if condition.match_type == "prefix" else ns[len(ns) - len(path) :]
    return all(p == "*" or p == n for p, n in zip(path, part, strict=True))


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na > 0 and nb > 0 else 0.0


class LangGraphStore(LangGraphBaseStore):
    """A LangGraph ``BaseStore`` whose items live in a memspy store (see the module docstring for semantics).

    Args:
        store: Any memspy store (``EdgeStore``, ``QdrantStore``, ...).
        order: ``"relevance"`` sorts query results by their calibrated score; ``"hybrid"`` keeps memspy's
            fused dense + BM25 order.
        candidate_factor: With a query, how many hybrid candidates per requested result are scored.
        unindexed_scan: How many newest items a query page may scan for ``index=False`` items to fill it.
    """

    supports_ttl: bool = False

    def __init__(
        self,
        store: Store,
        *,
        order: Literal["relevance", "hybrid"] = "relevance",
        candidate_factor: int = 3,
        unindexed_scan: int = 1000,
    ) -> None:
        if order not in ("relevance", "hybrid"):
            raise InvalidValueError(f"order must be 'relevance' or 'hybrid', got {order!r}")
        if not isinstance(candidate_factor, int) or candidate_factor < 1:
            raise InvalidValueError(f"candidate_factor must be an int >= 1, got {candidate_factor!r}")
        self.store = store
        self.order = order
        self.candidate_factor = candidate_factor
        self.unindexed_scan = unindexed_scan

    # ---- batch -------------------------------------------------------------------------------------------
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run reads in order on the state before the batch, then apply all writes atomically."""
        ops = list(ops)
        results: list[Result] = []
        writes: dict[tuple[Namespace, str], PutOp] = {}
        for op in ops:
            validate_op_namespace(op)
            if isinstance(op, PutOp):
                if not op.namespace:
                    raise InvalidNamespaceError("Namespace cannot be empty.")
                if op.namespace[0] == "langgraph":
                    raise InvalidNamespaceError(f'Root label for namespace cannot be "langgraph". Got: {op.namespace}')
                if op.ttl is not None:
                    raise NotImplementedError("TTL is not supported by LangGraphStore: pass ttl=None")
        for op in ops:
            if isinstance(op, GetOp):
                got = self.store.get(tuple(op.namespace), str(op.key))
                results.append(_to_item(got) if got else None)
            elif isinstance(op, SearchOp):
                results.append(self._search(op))
            elif isinstance(op, ListNamespacesOp):
                results.append(self._list_namespaces(op))
            elif isinstance(op, PutOp):
                writes.pop((tuple(op.namespace), str(op.key)), None)  # re-insert: the last write's position wins
                writes[(tuple(op.namespace), str(op.key))] = op
                results.append(None)
            else:
                raise InvalidValueError(
                    f"unknown operation {type(op).__name__}: use GetOp, SearchOp, PutOp or ListNamespacesOp"
                )
        puts = [
            MemspyPutOp(ns, k, dict(op.value), _index(op)) for (ns, k), op in writes.items() if op.value is not None
        ]
        deletes = [(ns, k) for (ns, k), op in writes.items() if op.value is None]
        if puts or deletes:
            self.store.batch(puts, deletes)
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """:meth:`batch` on a worker thread (memspy stores are synchronous)."""
        return await asyncio.to_thread(self.batch, list(ops))

    # ---- search ------------------------------------------------------------------------------------------
    def _scan(
        self, ns: Namespace, query: str | None, pushed: dict[str, Any], flt: Any, cap: int
    ) -> Iterator[SearchItem]:
        """Matching items in the store's order, read page by page, at most ``cap`` read."""
        read = 0
        while read < cap:
            page = self.store.search(ns, query=query, filter=pushed or None, limit=min(_PAGE, cap - read), offset=read)
            read += len(page)
            yield from (it for it in page if langgraph_matches(it.value, flt))
            if len(page) < _PAGE:
                return

    def _vectors(self, items: list[SearchItem]) -> dict[str, list[float] | None]:
        store = self.store
        if not isinstance(store, BaseStore):
            return {}
        ids = [point_id(it.namespace, it.key) for it in items]
        with store._lock:
            points = store._retrieve(ids, with_vectors=True)
        return {pid: (points[pid].dense if pid in points else None) for pid in ids}

    def _search(self, op: SearchOp) -> list[LangGraphSearchItem]:
        if not isinstance(op.limit, int) or op.limit < 0 or not isinstance(op.offset, int) or op.offset < 0:
            raise InvalidValueError(f"limit and offset must be ints >= 0, got limit={op.limit!r} offset={op.offset!r}")
        check_langgraph_filter(op.filter)
        ns, flt, need = tuple(op.namespace_prefix), op.filter, op.offset + op.limit
        if op.limit == 0:
            return []
        pushed = langgraph_pushdown(flt)
        query = op.query if isinstance(op.query, str) and op.query.strip() else None
        if query is None:
            page = list(_take(self._scan(ns, None, pushed, flt, 10**12), need))[op.offset :]
            return [_to_search_item(it, None) for it in page]
        pool = list(_take(self._scan(ns, query, pushed, flt, 10**12), need * self.candidate_factor))
        scored = self._score(query, pool)
        if self.order == "relevance":
            scored.sort(key=lambda p: -(p[1] or 0.0))
        kept = scored[op.offset : need]
        if len(kept) < op.limit and isinstance(self.store, BaseStore):
            kept += self._unindexed(ns, pushed, flt, {(it.namespace, it.key) for it, _ in scored}, op.limit - len(kept))
        return [_to_search_item(it, s) for it, s in kept]

    def _score(self, query: str, pool: list[SearchItem]) -> list[tuple[SearchItem, float | None]]:
        store = self.store
        if not pool or not isinstance(store, BaseStore):
            return [(it, it.score) for it in pool]
        q = store.embedder.embed_query(query)
        vectors = self._vectors(pool)
        out: list[tuple[SearchItem, float | None]] = []
        for it in pool:
            v = vectors.get(point_id(it.namespace, it.key))
            out.append((it, max(0.0, min(1.0, _cosine(q, v))) if v else None))
        return out

    def _unindexed(
        self, ns: Namespace, pushed: dict[str, Any], flt: Any, seen: set[tuple[Namespace, str]], room: int
    ) -> list[tuple[SearchItem, float | None]]:
        candidates = [
            it for it in self._scan(ns, None, pushed, flt, self.unindexed_scan) if (it.namespace, it.key) not in seen
        ]
        vectors = self._vectors(candidates)
        bare = [it for it in candidates if vectors.get(point_id(it.namespace, it.key)) is None]
        return [(it, None) for it in bare[:room]]

    # ---- namespaces --------------------------------------------------------------------------------------
    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        conditions = tuple(op.match_conditions or ())
        literal: list[str] = []
        for c in conditions:
            if c.match_type not in ("prefix", "suffix"):
                raise InvalidValueError(f"match_type must be 'prefix' or 'suffix', got {c.match_type!r}")
            if c.match_type == "prefix" and not literal:
                for part in c.path:
                    if part == "*":
                        break
                    literal.append(part)
        found: list[Namespace] = []
        offset = 0
        while True:
            page = self.store.list_namespaces(prefix=tuple(literal) or None, limit=1000, offset=offset)
            found += page
            offset += len(page)
            if len(page) < 1000:
                break
        kept = {
            ns[: op.max_depth] if op.max_depth is not None else ns
            for ns in found
            if all(_matches(c, ns) for c in conditions)
        }
        return sorted(kept)[op.offset : op.offset + op.limit]


def as_memspy_store(store: Any) -> Any:
    """The memspy store behind ``store``: a memspy store as is, a ``LangGraphStore``'s own, else a LangGraph
    ``BaseStore`` wrapped in :class:`LangGraphBackedStore`.

    Raises:
        InvalidValueError: for anything else, naming what was given.
    """
    if isinstance(store, LangGraphStore):
        return store.store
    if isinstance(store, LangGraphBaseStore):
        return LangGraphBackedStore(store)
    if isinstance(store, BaseStore | LangGraphBackedStore | Store):
        return store
    raise InvalidValueError(f"store must be a memspy store or a LangGraph BaseStore, got {type(store).__name__}")


def _take(items: Iterator[SearchItem], n: int) -> Iterator[SearchItem]:
    for i, it in enumerate(items):
        if i >= n:
            return
        yield it
