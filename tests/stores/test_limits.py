"""Input a store cannot keep, or read back exactly, is refused with a typed error naming it, on every store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from memspy.stores import BaseStore, InvalidFilterError, InvalidNamespaceError, InvalidValueError, PutOp
from memspy.stores._limits import MAX_KEY_CHARS, MAX_NAMESPACE_PARTS, MAX_VALUE_DEPTH

U1 = ("memories", "u1")


def nested(levels: int) -> dict[str, Any]:
    """A JSON object nested ``levels`` deep: {"a": {"a": ... {"a": 1}}}."""
    v: dict[str, Any] = {"a": 1}
    for _ in range(levels - 1):
        v = {"a": v}
    return v


def nested_list(levels: int) -> list[Any]:
    v: list[Any] = [1]
    for _ in range(levels - 1):
        v = [v]
    return v


def keys(store: BaseStore, flt: dict[str, Any], query: str | None = None) -> set[str]:
    return {i.key for i in store.search(U1, query=query, filter=flt)}


def test_deep_value_is_rejected_and_the_store_stays_usable(toy_factory: Any, tmp_path: Path) -> None:
    store = toy_factory(tmp_path / "d")
    store.put(U1, "ok", {"content": "fine"})
    with pytest.raises(InvalidValueError, match=f"nested deeper than {MAX_VALUE_DEPTH}"):
        store.put(U1, "deep", {"content": "x", "v": nested(126)})  # 126 levels bricked a store
    with pytest.raises(InvalidValueError, match="nested deeper"):
        store.put_many([PutOp(U1, "deeper", nested(5000))])  # no RecursionError
    with pytest.raises(InvalidValueError, match="nested deeper"):
        store.put(U1, "list", {"v": nested_list(MAX_VALUE_DEPTH)})  # 32 lists inside the object
    store.put(U1, "edge", nested(MAX_VALUE_DEPTH))  # exactly at the limit
    store.close()
    again = toy_factory(tmp_path / "d")
    assert {i.key for i in again.search(U1)} == {"ok", "edge"}
    got = again.get(U1, "edge")
    assert got is not None and got.value == nested(MAX_VALUE_DEPTH)
    again.delete(U1, "edge")
    assert again.get(U1, "edge") is None


@pytest.mark.parametrize("n", [10**30, 2**63, -(2**63) - 1])
def test_integers_beyond_int64_are_rejected(toy_store: BaseStore, n: int) -> None:
    with pytest.raises(InvalidValueError, match="64 bits"):
        toy_store.put(U1, "k", {"content": "x", "n": n})
    with pytest.raises(InvalidValueError, match=r"value\.deep\.n"):
        toy_store.put(U1, "k", {"deep": {"n": n}})
    assert toy_store.get(U1, "k") is None
    with pytest.raises(InvalidFilterError, match="int64"):
        toy_store.search(U1, filter={"n": n})
    with pytest.raises(InvalidFilterError, match="int64"):
        toy_store.search(U1, filter={"n": {"$gte": n}})


def test_int64_bounds_and_floats_read_back_exactly(toy_factory: Any, tmp_path: Path) -> None:
    value = {"max": 2**63 - 1, "min": -(2**63), "huge": 1e300, "tiny": 5e-324, "third": 1 / 3}
    store = toy_factory(tmp_path / "n")
    store.put(U1, "k", value)
    store.close()
    got = toy_factory(tmp_path / "n").get(U1, "k")
    assert got is not None and got.value == value
    assert type(got.value["max"]) is int and type(got.value["min"]) is int


def test_bool_equality_matches_on_every_store(toy_store: BaseStore) -> None:
    toy_store.put(U1, "on", {"content": "lamp", "active": True})
    toy_store.put(U1, "off", {"content": "lamp", "active": False})
    toy_store.put(U1, "none", {"content": "lamp"})
    assert keys(toy_store, {"active": True}) == {"on"}
    assert keys(toy_store, {"active": False}) == {"off"}
    assert keys(toy_store, {"active": {"$eq": True}}, query="lamp") == {"on"}
    assert keys(toy_store, {"active": {"$ne": True}}) == {"off", "none"}
    with pytest.raises(InvalidFilterError, match="use equality for a bool"):
        toy_store.search(U1, filter={"active": {"$in": [True]}})


@pytest.mark.parametrize("field", ["a b", "c:d", "$e", "x[]", "ü ñ", "1", "-"])
def test_odd_field_names_filter_correctly(toy_store: BaseStore, field: str) -> None:
    toy_store.put(U1, "hit", {field: "yes", "nested": {field: 5}})
    toy_store.put(U1, "miss", {field: "no", "nested": {field: 1}})
    assert keys(toy_store, {field: "yes"}) == {"hit"}
    assert keys(toy_store, {f"nested.{field}": {"$gte": 5}}) == {"hit"}
    assert keys(toy_store, {field: {"$exists": True}}) == {"hit", "miss"}


def test_a_dot_in_a_filter_key_always_means_nesting(toy_store: BaseStore) -> None:
    toy_store.put(U1, "literal", {"a.b": 2})
    toy_store.put(U1, "nested", {"a": {"b": 2}})
    assert keys(toy_store, {"a.b": 2}) == {"nested"}


@pytest.mark.parametrize("field", ["..ns", "a.", ".a", "a..b", 'q"r', "back\\slash", "bad\ud800", ""])
def test_unreachable_field_names_are_rejected_naming_the_key(toy_store: BaseStore, field: str) -> None:
    with pytest.raises(InvalidFilterError) as info:
        toy_store.search(U1, filter={field: 1})
    assert repr(field) in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"offset": 10**19}, "offset"),
        ({"limit": 10**19}, "limit"),
        ({"limit": 2.5}, "limit"),
        ({"limit": "3"}, "limit"),
        ({"limit": True}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": None}, "offset"),
        ({"query": 5}, "query"),
    ],
)
def test_bad_search_arguments_are_typed(toy_store: BaseStore, kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidValueError, match=name):
        toy_store.search(U1, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"max_depth": "2"}, "max_depth"),
        ({"max_depth": 0}, "max_depth"),
        ({"max_depth": 1.5}, "max_depth"),
        ({"limit": "x"}, "limit"),
        ({"offset": 10**19}, "offset"),
    ],
)
def test_bad_list_namespaces_arguments_are_typed(toy_store: BaseStore, kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidValueError, match=name):
        toy_store.list_namespaces(**kwargs)


@pytest.mark.parametrize("index", [[1], "content", [""], {"content": 1}, [None]])
def test_bad_index_is_typed_and_writes_nothing(toy_store: BaseStore, index: Any) -> None:
    with pytest.raises(InvalidValueError, match="index"):
        toy_store.put(U1, "k", {"content": "x"}, index=index)
    assert toy_store.get(U1, "k") is None


def test_key_and_namespace_limits(toy_store: BaseStore) -> None:
    toy_store.put(U1, "k" * MAX_KEY_CHARS, {"content": "longest key"})
    with pytest.raises(InvalidValueError, match=str(MAX_KEY_CHARS)):
        toy_store.put(U1, "k" * (MAX_KEY_CHARS + 1), {"content": "x"})
    with pytest.raises(InvalidValueError, match=str(MAX_KEY_CHARS)):
        toy_store.put(U1, "k" * 50_000_000, {"content": "x"})  # a 50 MB key
    deepest = tuple(f"p{i}" for i in range(MAX_NAMESPACE_PARTS))
    toy_store.put(deepest, "k", {"content": "deepest namespace"})
    too_deep = tuple(f"p{i}" for i in range(MAX_NAMESPACE_PARTS + 1))
    with pytest.raises(InvalidNamespaceError, match=str(MAX_NAMESPACE_PARTS)):
        toy_store.put(too_deep, "k", {"content": "x"})
    with pytest.raises(InvalidNamespaceError, match=str(MAX_NAMESPACE_PARTS)):
        toy_store.put(tuple(["p"] * 1500), "k", {"content": "x"})
    with pytest.raises(InvalidNamespaceError, match="namespace_prefix"):
        toy_store.search(too_deep)
    with pytest.raises(InvalidNamespaceError, match="prefix"):
        toy_store.list_namespaces(prefix=too_deep)
    assert toy_store.list_namespaces(prefix=deepest[:3], max_depth=3) == [deepest[:3]]
    assert {i.key for i in toy_store.search(())} == {"k" * MAX_KEY_CHARS, "k"}


@pytest.mark.parametrize("where", ["namespace", "key", "value", "value key", "query", "filter", "prefix"])
def test_lone_surrogates_are_typed_errors(toy_store: BaseStore, where: str) -> None:
    bad = "x\udc80y"
    with pytest.raises((InvalidValueError, InvalidNamespaceError, InvalidFilterError), match="surrogate"):
        if where == "namespace":
            toy_store.put(("memories", bad), "k", {"content": "x"})
        elif where == "key":
            toy_store.put(U1, bad, {"content": "x"})
        elif where == "value":
            toy_store.put(U1, "k", {"content": bad})
        elif where == "value key":
            toy_store.put(U1, "k", {"content": "x", bad: 1})
        elif where == "query":
            toy_store.search(U1, query=bad)
        elif where == "filter":
            toy_store.search(U1, filter={"content": bad})
        else:
            toy_store.list_namespaces(prefix=(bad,))
    assert toy_store.search(()) == []


@pytest.mark.parametrize(
    ("puts", "deletes", "match"),
    [
        ([("memories", "u1")], [], "PutOp"),
        (5, [], "puts must be a list"),
        ([], "abc", "deletes must be a list"),
        ([], [(U1, "k", "extra")], "pair"),
        ([], [("memories",)], "pair"),
        ([PutOp(U1, "a", {"content": "x"}), PutOp(U1, 7, {"content": "y"})], [], "batch item 1"),  # type: ignore[arg-type]
    ],
)
def test_malformed_batches_are_typed_and_write_nothing(
    toy_store: BaseStore, puts: Any, deletes: Any, match: str
) -> None:
    with pytest.raises(InvalidValueError, match=match):
        toy_store.batch(puts, deletes)
    assert toy_store.search(()) == []
