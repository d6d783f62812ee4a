"""A stateful property test over the whole ``Store`` API, on every store.

Hypothesis drives puts, batches of every shape, deletes, reads, searches with odd filters, queries and
limits, namespace listings and reopens, against a model dict of what was acknowledged. It checks that
every error is a ``StoreError``, that a call that raised changed nothing, that every acknowledged write
reads back (after reopens too) and that a search returns only what the model holds under the prefix.
Derandomized and small by default; ``MEMSPY_HYPOTHESIS_EXAMPLES=500`` runs a longer search.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from memspy.stores import BaseStore, DeleteOp, PutOp, StoreError

EXAMPLES = int(os.environ.get("MEMSPY_HYPOTHESIS_EXAMPLES", "10"))
STEPS = int(os.environ.get("MEMSPY_HYPOTHESIS_STEPS", "25"))
Key = tuple[tuple[str, ...], str]


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Valid input first (what Hypothesis shrinks towards), hostile input as the alternative."""
    return st.one_of(good, bad)


def _nested(levels: int) -> dict[str, Any]:
    v: dict[str, Any] = {"n": 1}
    for _ in range(levels - 1):
        v = {"nested": v}
    return v


odd_text = st.sampled_from(["\ud800", "a\udc80b", "\x00", "\x1f", "\x7f", "", " ", "ü", "$", "a.b", "..", "x" * 300])
good_parts = st.sampled_from(["memories", "u1", "u10", "a b", "ü", "$x", "a.b", ":"])
good_ns = st.lists(good_parts, min_size=1, max_size=3).map(tuple)
namespaces = mostly(
    good_ns,
    st.one_of(
        st.lists(st.one_of(good_parts, odd_text), min_size=1, max_size=3).map(tuple),
        st.sampled_from([(), "memories", ("memories", 5), tuple(f"p{i}" for i in range(33))]),
    ),
)
prefixes = mostly(
    st.one_of(st.just(()), st.lists(good_parts, min_size=1, max_size=2).map(tuple)),
    st.one_of(st.lists(odd_text, min_size=1, max_size=2).map(tuple), st.sampled_from([None, "m"])),
)
keys = mostly(
    st.sampled_from(["k1", "k2", "k3", "with space", "ü", "a:b$c"]),
    st.one_of(odd_text, st.sampled_from([7, b"k"])),
)
good_fields = st.sampled_from(["content", "kind", "n", "flag", "a b", "c:d", "$e", "x[]", "1", "nested"])
fields = mostly(good_fields, st.one_of(odd_text, st.sampled_from(["a.b", "..ns", 'q"r', "back\\slash"])))
good_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)
scalars = mostly(good_scalars, st.one_of(st.sampled_from([2**63, -(2**70), float("nan"), float("inf")]), odd_text))
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(fields, inner, max_size=3), max_leaves=6
)
values = mostly(
    st.one_of(
        st.fixed_dictionaries(
            {"content": st.text(max_size=20), "kind": st.sampled_from(["Memory", "Triple"])},
            optional={"n": st.integers(-5, 5), "flag": st.booleans(), "a b": st.sampled_from(["x", "y"])},
        ),
        st.dictionaries(fields, json_values, max_size=4),
    ),
    st.sampled_from([_nested(32), _nested(40), [], "text", None, {1: 2}, {"s": {1, 2}}]),
)
indexes = mostly(
    st.one_of(st.none(), st.just(False), st.lists(good_fields, max_size=2)),
    st.sampled_from([[1], "content", [""], {"a": 1}]),
)
put_ops = st.builds(PutOp, namespaces, keys, values, indexes)
good_values = st.fixed_dictionaries(
    {"content": st.text(max_size=20), "kind": st.sampled_from(["Memory", "Triple"])},
    optional={"n": st.integers(-5, 5), "flag": st.booleans(), "a b": st.sampled_from(["x", "y"])},
)
good_puts = st.builds(PutOp, good_ns, st.sampled_from(["k1", "k2", "k3", "ü"]), good_values)
puts = mostly(put_ops, st.sampled_from([("memories", "k"), None, 5]))
deletes = mostly(
    st.one_of(st.tuples(namespaces, keys), st.builds(DeleteOp, namespaces, keys)),
    st.sampled_from([("memories",), ("a", "b", "c"), 5]),
)
operands = mostly(good_scalars, st.one_of(scalars, st.lists(scalars, max_size=3), st.just({"a": 1})))
ops = mostly(
    st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$exists"]), st.sampled_from(["$in", "$nin", "$like"])
)
conditions = st.one_of(operands, st.dictionaries(ops, st.one_of(operands, st.lists(operands, max_size=3)), max_size=2))
filters = mostly(
    st.one_of(st.none(), st.dictionaries(fields, conditions, min_size=1, max_size=2)),
    st.sampled_from(["kind=Memory", 5, [], {"kind": {}}]),
)
counts = mostly(st.integers(min_value=1, max_value=20), st.sampled_from([0, -1, 10**19, 2.5, "3", True, None]))
offsets = mostly(st.integers(min_value=0, max_value=3), st.sampled_from([-1, 10**19, 1.5, None]))
good_filters = st.one_of(
    st.none(),
    st.fixed_dictionaries({"kind": st.sampled_from(["Memory", "Triple"])}),
    st.fixed_dictionaries({"flag": st.booleans()}),
    st.fixed_dictionaries({"n": st.fixed_dictionaries({"$gte": st.integers(-5, 5)})}),
    st.fixed_dictionaries({"a b": st.fixed_dictionaries({"$ne": st.sampled_from(["x", "y"])})}),
)
queries = mostly(st.one_of(st.none(), st.text(min_size=1, max_size=12)), st.one_of(odd_text, st.just(5)))


class StoreMachine(RuleBasedStateMachine):
    """One store, its model, and the checks after every call."""

    def __init__(self, factory: Callable[[Path], BaseStore], path: Path) -> None:
        super().__init__()
        self.factory, self.path = factory, path
        self.store = factory(path)
        self.model: dict[Key, dict[str, Any]] = {}

    def _read(self, key: Key) -> dict[str, Any] | None:
        item = self.store.get(*key)
        return item.value if item is not None else None

    def _check(self, touched: list[Key]) -> None:
        for k in touched:
            try:
                got = self._read(k)
            except StoreError:
                assert k not in self.model  # an invalid namespace or key cannot have been stored
                continue
            assert got == self.model.get(k), f"{k}: store holds {got!r}, acknowledged {self.model.get(k)!r}"

    def _write(self, call: Callable[[], None], put_ops: list[Any], del_keys: list[Any]) -> None:
        pairs = [(p.namespace, p.key) for p in put_ops if isinstance(p, PutOp)]
        pairs += [(d.namespace, d.key) if isinstance(d, DeleteOp) else d for d in del_keys]
        touched = [
            (tuple(p[0]), p[1])
            for p in pairs
            if isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], tuple) and isinstance(p[1], str)
        ]
        try:
            call()
        except StoreError:
            self._check(touched)  # nothing of a failed call was applied
            return
        expected: dict[Key, dict[str, Any] | None] = {}
        for p in put_ops:  # the call succeeded, so every op was valid; the last write of a key wins
            expected[(tuple(p.namespace), p.key)] = json.loads(json.dumps(p.value))
        for d in del_keys:  # deletes apply after the upserts of the same batch
            ns, k = (d.namespace, d.key) if isinstance(d, DeleteOp) else d
            expected[(tuple(ns), k)] = None
        for k, v in expected.items():
            if v is None:
                self.model.pop(k, None)
            else:
                self.model[k] = v
        self._check(touched)

    # ---- writes: hostile input, and valid input that fills the store -------------------------
    @rule(op=put_ops)
    def put(self, op: PutOp) -> None:
        self._write(lambda: self.store.put(op.namespace, op.key, op.value, index=op.index), [op], [])

    @rule(ops=st.lists(good_puts, min_size=1, max_size=4))
    def put_many_good(self, ops: list[PutOp]) -> None:
        self._write(lambda: self.store.put_many(ops), ops, [])

    @rule(ops=st.lists(puts, max_size=4))
    def put_many(self, ops: list[Any]) -> None:
        self._write(lambda: self.store.put_many(ops), ops, [])

    @rule(ns=namespaces, key=keys)
    def delete(self, ns: Any, key: Any) -> None:
        self._write(lambda: self.store.delete(ns, key), [], [(ns, key)])

    @rule(put_ops=st.lists(puts, max_size=3), del_keys=st.lists(deletes, max_size=3))
    def batch(self, put_ops: list[Any], del_keys: list[Any]) -> None:
        self._write(lambda: self.store.batch(put_ops, del_keys), put_ops, del_keys)

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data(), put_ops=st.lists(good_puts, max_size=3))
    def batch_on_stored(self, data: st.DataObject, put_ops: list[PutOp]) -> None:
        stored = st.sampled_from(sorted(self.model))
        del_keys = data.draw(st.lists(stored, min_size=1, max_size=2))
        rewrite = [PutOp(ns, k, data.draw(good_values)) for ns, k in data.draw(st.lists(stored, max_size=2))]
        ops = put_ops + rewrite
        self._write(lambda: self.store.batch(ops, del_keys), ops, del_keys)

    # ---- reads ---------------------------------------------------------------------------------
    @rule(prefix=prefixes, query=queries, flt=filters, limit=counts, offset=offsets)
    def search(self, prefix: Any, query: Any, flt: Any, limit: Any, offset: Any) -> None:
        try:
            hits = self.store.search(prefix, query=query, filter=flt, limit=limit, offset=offset)
        except StoreError:
            return
        self._check_hits(hits, prefix, query, flt, limit, offset)

    @rule(data=st.data(), query=st.one_of(st.none(), st.text(max_size=8).map(lambda t: "q " + t)), flt=good_filters)
    def search_good(self, data: st.DataObject, query: str | None, flt: dict[str, Any] | None) -> None:
        spaces = sorted({ns for ns, _ in self.model}) or [("memories",)]
        ns = data.draw(st.sampled_from(spaces))
        prefix = ns[: data.draw(st.integers(0, len(ns)))]
        limit, offset = data.draw(st.sampled_from([1, 3, 50])), data.draw(st.sampled_from([0, 0, 1]))
        hits = self.store.search(prefix, query=query, filter=flt, limit=limit, offset=offset)
        self._check_hits(hits, prefix, query, flt, limit, offset)

    def _check_hits(self, hits: list[Any], prefix: Any, query: Any, flt: Any, limit: int, offset: int) -> None:
        for h in hits:
            assert h.namespace[: len(prefix)] == tuple(prefix)
            assert self.model.get((h.namespace, h.key)) == h.value
            for field, want in (flt or {}).items():
                if field in ("kind", "flag") and not isinstance(want, dict):
                    assert h.value.get(field) == want and type(h.value.get(field)) is type(want)
        if query is None and flt is None and offset == 0:
            under = {k for k in self.model if k[0][: len(prefix)] == tuple(prefix)}
            assert len(hits) == min(limit, len(under))
            if limit >= len(under):
                assert {(h.namespace, h.key) for h in hits} == under  # every acknowledged write is found

    @rule(prefix=prefixes, suffix=prefixes, depth=st.one_of(st.none(), counts), limit=counts, offset=offsets)
    def list_namespaces(self, prefix: Any, suffix: Any, depth: Any, limit: Any, offset: Any) -> None:
        try:
            found = self.store.list_namespaces(
                prefix=prefix, suffix=suffix, max_depth=depth, limit=limit, offset=offset
            )
        except StoreError:
            return
        stored = {ns for ns, _ in self.model}
        assert all(any(ns[: len(f)] == f for ns in stored) for f in found)
        if not prefix and not suffix and depth is None and offset == 0 and limit >= len(stored):
            assert set(found) == stored

    @invariant()
    def holds_what_was_acknowledged(self) -> None:
        listed = {(i.namespace, i.key): i.value for i in self.store.search((), limit=1000)}
        assert listed == self.model

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = self.factory(self.path)
        self._check(list(self.model))

    def teardown(self) -> None:
        self._check(list(self.model))
        self.store.close()


def test_store_api_property(toy_factory: Callable[..., BaseStore], store_kind: str, tmp_path: Path) -> None:
    # EdgeStore in "wal" mode: the same code paths without a disk sync per write (test_crash.py covers syncs)
    kw: dict[str, Any] = {"durability": "wal"} if store_kind == "edge" else {}
    paths = (tmp_path / f"run{i}" for i in itertools.count())
    run_state_machine_as_test(
        lambda: StoreMachine(lambda path: toy_factory(path, **kw), next(paths)),
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            derandomize=True,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        ),
    )
