"""LangGraph's store semantics, checked on ``LangGraphStore`` over EdgeStore and QdrantStore (local mode).

Written from LangGraph's documented ``BaseStore`` contract (``langgraph.store.base``): get/put/delete,
``batch`` with ``GetOp``/``PutOp``/``SearchOp``/``ListNamespacesOp``, filters, natural-language search with
scores, ``index=False`` and per-put index fields, namespace listing with wildcards. Not supported, and so
checked to fail loudly: TTL, and array index paths such as ``"items[*].text"``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from langgraph.store.base import (
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchItem,
    SearchOp,
)

from memspy.stores import BaseStore, InvalidFilterError, InvalidValueError
from memspy.stores.langgraph import LangGraphStore

U1 = ("docs", "u1")


@pytest.fixture
def lg(store: BaseStore) -> LangGraphStore:
    return LangGraphStore(store)


def _keys(items: list[Any]) -> list[str]:
    return [i.key for i in items]


def test_put_get_returns_langgraph_items(lg: LangGraphStore) -> None:
    lg.put(U1, "k", {"content": "likes tea", "n": 1})
    first = lg.get(U1, "k")
    assert isinstance(first, Item) and first.value == {"content": "likes tea", "n": 1}
    assert first.namespace == U1 and first.key == "k" and first.dict()["namespace"] == list(U1)
    time.sleep(0.01)
    lg.put(U1, "k", {"content": "likes coffee"})
    second = lg.get(U1, "k")
    assert second is not None and second.value == {"content": "likes coffee"}
    assert second.created_at == first.created_at and second.updated_at > first.updated_at
    assert lg.get(U1, "missing") is None


def test_delete_by_method_and_by_none_value(lg: LangGraphStore) -> None:
    lg.put(U1, "a", {"content": "x"})
    lg.put(U1, "b", {"content": "y"})
    lg.delete(U1, "a")
    lg.batch([PutOp(U1, "b", None)])
    lg.delete(U1, "never-there")
    assert lg.get(U1, "a") is None and lg.get(U1, "b") is None
    assert lg.search(U1) == []


def test_batch_results_follow_op_order_and_reads_see_state_before_writes(lg: LangGraphStore) -> None:
    lg.put(U1, "old", {"content": "before"})
    results = lg.batch(
        [
            PutOp(U1, "new", {"content": "first"}),
            GetOp(U1, "new"),
            GetOp(U1, "old"),
            SearchOp(("docs",)),
            ListNamespacesOp(),
            PutOp(U1, "new", {"content": "second"}),  # the last write of a key wins
            PutOp(U1, "old", None),
        ]
    )
    assert results[0] is None and results[1] is None and results[5] is None and results[6] is None
    assert isinstance(results[2], Item) and results[2].value == {"content": "before"}
    assert _keys(results[3]) == ["old"]  # type: ignore[arg-type]
    assert results[4] == [U1]
    got = lg.get(U1, "new")
    assert got is not None and got.value == {"content": "second"}
    assert lg.get(U1, "old") is None


def test_async_twins(lg: LangGraphStore) -> None:
    async def run() -> tuple[Any, Any, Any]:
        await lg.aput(U1, "k", {"content": "async value"})
        got = await lg.aget(U1, "k")
        found = await lg.asearch(U1, query="async")
        spaces = await lg.alist_namespaces()
        await lg.adelete(U1, "k")
        return got, found, spaces

    got, found, spaces = asyncio.run(run())
    assert got.value == {"content": "async value"} and _keys(found) == ["k"] and spaces == [U1]
    assert lg.get(U1, "k") is None


@pytest.mark.parametrize("ns", [(), ("langgraph", "x"), ("docs", "a.b"), ("docs", "")])
def test_invalid_namespaces_are_refused_and_nothing_is_written(lg: LangGraphStore, ns: tuple[str, ...]) -> None:
    with pytest.raises(InvalidNamespaceError):
        lg.put(ns, "k", {"content": "x"})
    with pytest.raises(InvalidNamespaceError):
        lg.batch([PutOp(U1, "ok", {"content": "y"}), PutOp(ns, "k", {"content": "x"})])
    assert lg.get(U1, "ok") is None


def test_ttl_is_not_supported(lg: LangGraphStore) -> None:
    assert lg.supports_ttl is False
    with pytest.raises(NotImplementedError):
        lg.put(U1, "k", {"content": "x"}, ttl=5)
    with pytest.raises(NotImplementedError):
        lg.batch([PutOp(U1, "k", {"content": "x"}, ttl=5.0)])
    assert lg.get(U1, "k") is None


def test_prefix_isolation(lg: LangGraphStore) -> None:
    for ns, key in [(("docs", "u1"), "a"), (("docs", "u10"), "b"), (("docs", "u1", "work"), "c")]:
        lg.put(ns, key, {"content": "dark mode"})
    assert set(_keys(lg.search(("docs", "u1")))) == {"a", "c"}
    assert set(_keys(lg.search(("docs", "u1"), query="dark mode"))) == {"a", "c"}
    assert set(_keys(lg.search(("docs",)))) == {"a", "b", "c"}
    assert set(_keys(lg.search(()))) == {"a", "b", "c"}


def _flat(pages: list[list[str]]) -> list[str]:
    return [k for page in pages for k in page]


def _fill(lg: LangGraphStore) -> None:
    lg.put(
        U1,
        "a",
        {"content": "a", "status": "active", "done": True, "n": 1, "tags": ["x", "y"], "meta": {"lang": "en", "v": 2}},
    )
    lg.put(
        U1, "b", {"content": "b", "status": "active", "done": False, "n": 5, "tags": ["y", "x"], "meta": {"lang": "fr"}}
    )
    lg.put(U1, "c", {"content": "c", "status": "archived", "done": 1, "n": 9.5, "tags": ["x"], "meta": None})


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"status": "active"}, {"a", "b"}),
        ({"status": "active", "n": 5}, {"b"}),
        ({"done": True}, {"a"}),  # a boolean is not the number 1
        ({"done": False}, {"b"}),
        ({"done": 1}, {"c"}),
        ({"tags": ["x", "y"]}, {"a"}),  # a list equals a list with the same elements in the same order
        ({"tags": ["x"]}, {"c"}),
        ({"meta": {"lang": "en"}}, {"a"}),  # a nested object matches on the fields given
        ({"n": {"$gt": 1}}, {"b", "c"}),
        ({"n": {"$gte": 1, "$lt": 9}}, {"a", "b"}),
        ({"n": {"$lte": 5}}, {"a", "b"}),
        ({"n": {"$eq": 9.5}}, {"c"}),
        ({"status": {"$ne": "active"}}, {"c"}),
        ({"status": {"$eq": "archived"}, "done": {"$ne": True}}, {"c"}),
        ({"missing": None}, {"a", "b", "c"}),
        ({"status": "nothing"}, set()),
    ],
)
def test_filters(lg: LangGraphStore, flt: dict[str, Any], expected: set[str]) -> None:
    _fill(lg)
    assert set(_keys(lg.search(U1, filter=flt))) == expected
    assert set(_keys(lg.search(U1, query="a b c", filter=flt))) == expected


def test_unknown_filter_operator_is_a_typed_error(lg: LangGraphStore) -> None:
    _fill(lg)
    with pytest.raises(InvalidFilterError, match=r"\$regex"):
        lg.search(U1, filter={"status": {"$regex": "act"}})
    with pytest.raises(InvalidFilterError, match="number"):
        lg.search(U1, filter={"n": {"$gt": "1"}})


def test_limit_and_offset_page_without_gaps_or_repeats(lg: LangGraphStore) -> None:
    for i in range(7):
        lg.put(U1, f"k{i}", {"content": f"note number {i}", "even": i % 2 == 0})
    pages = [_keys(lg.search(U1, limit=3, offset=o)) for o in (0, 3, 6)]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert sorted(_flat(pages)) == [f"k{i}" for i in range(7)]
    evens = [_keys(lg.search(U1, filter={"even": True}, limit=2, offset=o)) for o in (0, 2)]
    assert sorted(_flat(evens)) == ["k0", "k2", "k4", "k6"]
    ranked = [_keys(lg.search(U1, query="note", limit=2, offset=o)) for o in (0, 2, 4, 6)]
    assert sorted(_flat(ranked)) == [f"k{i}" for i in range(7)]


def test_query_scores_are_similarities_in_unit_range_best_first(lg: LangGraphStore) -> None:
    lg.put(U1, "pet", {"content": "The user has a beagle called Biscuit"})
    lg.put(U1, "theme", {"content": "The user prefers dark mode in every editor"})
    lg.put(U1, "job", {"content": "The user works as a nurse in Lyon"})
    hits = lg.search(U1, query="what dog does the user own?")
    assert all(isinstance(h, SearchItem) for h in hits)
    assert hits[0].key == "pet"
    scores = [h.score for h in hits]
    assert all(s is not None and 0.0 <= s <= 1.0 for s in scores)
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    assert scores[0] > 0.4 > scores[-1]  # type: ignore[operator]
    assert lg.search(U1, query="what dog does the user own?", limit=1)[0].score == pytest.approx(scores[0])


def test_empty_query_lists_without_scores(lg: LangGraphStore) -> None:
    lg.put(U1, "a", {"content": "first"})
    time.sleep(0.01)
    lg.put(U1, "b", {"content": "second"})
    for q in ("", "   ", None):
        hits = lg.search(U1, query=q)
        assert _keys(hits) == ["b", "a"] and all(h.score is None for h in hits)


def test_index_false_items_are_stored_and_listed_but_not_ranked(lg: LangGraphStore) -> None:
    lg.put(U1, "ranked", {"content": "The user has a beagle called Biscuit"})
    lg.put(U1, "hidden", {"content": "The user has a beagle called Biscuit"}, index=False)
    got = lg.get(U1, "hidden")
    assert got is not None and got.value["content"].endswith("Biscuit")
    hits = lg.search(U1, query="beagle")
    assert _keys(hits) == ["ranked", "hidden"]  # unranked items fill the page after the ranked ones
    assert hits[0].score is not None and hits[1].score is None
    assert _keys(lg.search(U1, query="beagle", limit=1)) == ["ranked"]
    assert set(_keys(lg.search(U1))) == {"ranked", "hidden"}


def test_per_put_index_fields_decide_what_is_embedded(lg: LangGraphStore) -> None:
    lg.put(
        U1, "titled", {"title": "a beagle puppy", "body": "quarterly tax report for the accountant"}, index=["title"]
    )
    lg.put(
        U1, "nested", {"meta": {"title": "quarterly tax report for the accountant"}, "body": "x"}, index=["meta.title"]
    )
    tax = lg.search(U1, query="quarterly tax report")
    assert tax[0].key == "nested" and tax[0].score > tax[1].score + 0.3  # type: ignore[operator]
    dog = lg.search(U1, query="a young dog")
    assert dog[0].key == "titled"
    with pytest.raises(InvalidValueError, match=r"items\[\*\]\.text"):
        lg.put(U1, "arr", {"items": [{"text": "x"}]}, index=["items[*].text"])
    assert lg.get(U1, "arr") is None


def test_relevance_and_hybrid_order_hold_the_same_items(store: BaseStore) -> None:
    hybrid = LangGraphStore(store, order="hybrid")
    hybrid.put(U1, "biscuit", {"content": "Biscuit"})
    hybrid.put(U1, "pet", {"content": "The user owns a small dog"})
    for q in ("Biscuit the dog", "pets"):
        a, b = hybrid.search(U1, query=q), LangGraphStore(store).search(U1, query=q)
        assert {(h.key, round(h.score or 0, 6)) for h in a} == {(h.key, round(h.score or 0, 6)) for h in b}
    with pytest.raises(InvalidValueError):
        LangGraphStore(store, order="random")  # type: ignore[arg-type]


@pytest.fixture
def spaces(lg: LangGraphStore) -> LangGraphStore:
    for ns in [
        ("a", "b", "c"),
        ("a", "b", "d", "e"),
        ("a", "b", "d", "i"),
        ("a", "b", "f"),
        ("a", "c", "f"),
        ("b", "a", "f"),
        ("users", "123"),
        ("users", "456", "settings"),
    ]:
        lg.put(ns, "k", {"content": "x"})
    return lg


def test_list_namespaces_prefix_suffix_and_wildcards(spaces: LangGraphStore) -> None:
    assert spaces.list_namespaces(prefix=("a", "b")) == [
        ("a", "b", "c"),
        ("a", "b", "d", "e"),
        ("a", "b", "d", "i"),
        ("a", "b", "f"),
    ]
    assert spaces.list_namespaces(suffix=("f",)) == [("a", "b", "f"), ("a", "c", "f"), ("b", "a", "f")]
    assert spaces.list_namespaces(prefix=("a", "*", "f")) == [("a", "b", "f"), ("a", "c", "f")]
    assert spaces.list_namespaces(prefix=("*", "a")) == [("b", "a", "f")]
    assert spaces.list_namespaces(suffix=("*", "f")) == [("a", "b", "f"), ("a", "c", "f"), ("b", "a", "f")]
    assert spaces.list_namespaces(prefix=("a",), suffix=("d", "*")) == [("a", "b", "d", "e"), ("a", "b", "d", "i")]
    assert spaces.list_namespaces(prefix=("users",), suffix=("settings",)) == [("users", "456", "settings")]
    assert spaces.list_namespaces(prefix=("nothing",)) == []


def test_list_namespaces_max_depth_limit_offset(spaces: LangGraphStore) -> None:
    assert spaces.list_namespaces(prefix=("a", "b"), max_depth=3) == [("a", "b", "c"), ("a", "b", "d"), ("a", "b", "f")]
    assert spaces.list_namespaces(max_depth=1) == [("a",), ("b",), ("users",)]
    every = spaces.list_namespaces()
    assert every == sorted(every) and len(every) == 8
    assert spaces.list_namespaces(limit=3) + spaces.list_namespaces(limit=3, offset=3) == every[:6]
    op = ListNamespacesOp(match_conditions=(MatchCondition("prefix", ("a",)), MatchCondition("suffix", ("f",))))
    assert spaces.batch([op])[0] == [("a", "b", "f"), ("a", "c", "f")]


def test_a_langgraph_graph_uses_it_through_get_store(lg: LangGraphStore) -> None:
    from langgraph.config import get_store
    from langgraph.func import entrypoint

    @entrypoint(store=lg)
    def remember(fact: str) -> list[str]:
        store = get_store()
        store.put(("facts", "u1"), "f1", {"content": fact})
        return [h.value["content"] for h in store.search(("facts", "u1"), query="pet")]

    assert remember.invoke("has a beagle called Biscuit") == ["has a beagle called Biscuit"]
    assert lg.store.get(("facts", "u1"), "f1") is not None  # written to the memspy store
