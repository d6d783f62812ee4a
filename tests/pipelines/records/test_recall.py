"""The recall blend: relevance, importance, recency and frequency, and access tracking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from memspy.pipelines import RankingWeights, search_memories
from memspy.pipelines.records.format import new_record
from memspy.pipelines.records.recall import rank
from memspy.stores import EdgeStore, MiniLMEmbedder, PutOp, SearchItem

NOW = datetime(2026, 1, 31, tzinfo=UTC)


def item(
    key: str, score: float | None, *, importance: float = 0.5, age_days: float = 0, accesses: int = 0
) -> SearchItem:
    ts = (NOW - timedelta(days=age_days)).isoformat()
    value = {"importance": importance, "updated_at": ts, "last_accessed_at": None, "access_count": accesses}
    when = NOW - timedelta(days=age_days)
    return SearchItem(("m",), key, value, when, when, score)


def test_relevance_dominates_by_default() -> None:
    ranked = rank([item("weak", 0.01, importance=1.0), item("strong", 0.03, importance=0.0)], RankingWeights(), now=NOW)
    assert [r.key for r in ranked] == ["strong", "weak"]
    assert ranked[0].parts["relevance"] == 1.0


def test_each_term_can_decide_a_tie() -> None:
    tie = 0.02
    by_importance = rank(
        [item("low", tie, importance=0.1), item("high", tie, importance=0.9)], RankingWeights(), now=NOW
    )
    assert by_importance[0].key == "high"
    by_recency = rank([item("old", tie, age_days=90), item("new", tie, age_days=1)], RankingWeights(), now=NOW)
    assert by_recency[0].key == "new"
    assert by_recency[1].parts["recency"] == pytest.approx(0.5**3, rel=1e-6)  # three half-lives
    by_use = rank([item("rare", tie), item("often", tie, accesses=15)], RankingWeights(), now=NOW)
    assert by_use[0].key == "often"


def test_weights_are_user_settable_and_validated() -> None:
    items = [item("relevant", 0.03, importance=0.0), item("important", 0.01, importance=1.0)]
    assert rank(items, RankingWeights(relevance=0.0, importance=1.0), now=NOW)[0].key == "important"
    with pytest.raises(ValueError, match="importance"):
        RankingWeights(importance=-1)


def test_search_counts_accesses(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    with EdgeStore(tmp_path / "s", embedder=embedder) as store:
        ns = ("memories", "u1")
        store.put_many(
            [
                PutOp(ns, "a", new_record("Memory", "The user prefers dark mode"), ["text"]),
                PutOp(ns, "b", new_record("Memory", "The user has a cat named Tom"), ["text"]),
            ]
        )
        first = search_memories(store, ns, "dark theme", limit=1)
        assert [r.key for r in first] == ["a"]
        second = search_memories(store, ns, "dark theme", limit=1)
        assert second[0].value["access_count"] == 1  # read back what the first search recorded
        stored = store.get(ns, "a")
        assert stored is not None and stored.value["access_count"] == 2 and stored.value["last_accessed_at"]
        assert stored.value["text"] == "The user prefers dark mode"  # content untouched


def test_relevance_is_an_absolute_cosine_and_min_score_drops_unrelated_memories(
    tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    with EdgeStore(tmp_path / "s", embedder=embedder) as store:
        ns = ("memories", "u1")
        store.put_many(
            [
                PutOp(ns, "a", new_record("Memory", "The user prefers dark mode"), ["text"]),
                PutOp(ns, "b", new_record("Memory", "The user has a cat named Tom"), ["text"]),
            ]
        )
        unrelated = "What is the capital of Peru?"
        assert search_memories(store, ns, unrelated, track_access=False) == []  # default min_score
        assert len(search_memories(store, ns, unrelated, track_access=False, min_score=0.0)) == 2
        hits = search_memories(store, ns, "Does the user have a pet?", track_access=False)
        assert hits[0].key == "b" and 0.0 < hits[0].parts["relevance"] <= 1.0
        q, doc = embedder.embed_query("Does the user have a pet?"), embedder.embed_documents([hits[0].value["text"]])[0]
        assert hits[0].parts["relevance"] == pytest.approx(sum(x * y for x, y in zip(q, doc, strict=True)), abs=1e-5)
        strict = search_memories(store, ns, "Does the user have a pet?", track_access=False, min_score=0.5)
        assert [r.key for r in strict] == ["b"]
        assert len(search_memories(store, ns, None, track_access=False)) == 2  # no query: nothing is dropped
        for bad in (-0.1, 1.5):
            with pytest.raises(ValueError, match="min_score"):
                search_memories(store, ns, "pet", min_score=bad)
