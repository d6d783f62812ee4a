"""Ranked recall: calibrated relevance blended with importance and memory strength (recency, frequency).

``score = w_relevance * relevance + w_importance * importance + w_recency * recency + w_frequency * frequency``

- relevance: the cosine of the query and the memory's indexed text under the store's dense embedder, clamped
  to [0, 1]: an absolute value, so a caller can tell "nothing relevant" from a match. Candidates whose relevance
  is below ``min_score`` are dropped (an unrelated query returns nothing). A store without a dense embedder
  falls back to its own score divided by the best candidate's;
- importance: the record's LM-rated importance in [0, 1];
- recency: ``0.5 ** (age_days / half_life_days)``, age since the record was last updated or accessed;
- frequency: ``min(1, log1p(access_count) / log1p(saturation))``.
Each weight is >= 0; they need not sum to 1. Candidates are the top ``limit * candidate_factor``
hybrid (dense + BM25) hits; without a query, relevance is 0, nothing is dropped, and ranking uses the other terms.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from memspy.pipelines.records.format import ACTIVE
from memspy.pipelines.records.writes import bump_access
from memspy.stores import BaseStore, Namespace, SearchItem

__all__ = ["DEFAULT_MIN_SCORE", "RankedMemory", "RankingWeights", "rank", "relevance", "search_memories"]

# MiniLM cosine, measured: an unrelated memory scores -0.05 to 0.15 against a question, one answering it 0.3-0.85.
DEFAULT_MIN_SCORE = 0.15
_CACHE_SIZE = 4096
_vectors: OrderedDict[tuple[int, str], Any] = OrderedDict()
_vectors_lock = threading.Lock()


@dataclass(frozen=True)
class RankingWeights:
    """Weights of the recall blend (see the module docstring)."""

    relevance: float = 0.7
    importance: float = 0.15
    recency: float = 0.1
    frequency: float = 0.05
    half_life_days: float = 30.0
    frequency_saturation: int = 20
    candidate_factor: int = 4

    def __post_init__(self) -> None:
        for name in ("relevance", "importance", "recency", "frequency"):
            if getattr(self, name) < 0:
                raise ValueError(f"RankingWeights.{name} must be >= 0, got {getattr(self, name)}")
        if self.half_life_days <= 0 or self.frequency_saturation < 1 or self.candidate_factor < 1:
            raise ValueError("half_life_days must be > 0, frequency_saturation and candidate_factor >= 1")


@dataclass(frozen=True)
class RankedMemory:
    """A stored memory with its blended score and the parts of it."""

    item: SearchItem
    score: float
    parts: dict[str, float]

    @property
    def key(self) -> str:
        return self.item.key

    @property
    def value(self) -> dict[str, Any]:
        return self.item.value


def _age_days(value: dict[str, Any], now: datetime, fallback: datetime) -> float:
    stamps = [value.get("updated_at"), value.get("last_accessed_at")]
    times = [datetime.fromisoformat(s) for s in stamps if isinstance(s, str)]
    latest = max(times) if times else fallback
    return max(0.0, (now - latest).total_seconds() / 86400)


def _text(item: SearchItem) -> str:
    text = item.value.get("text") if isinstance(item.value, dict) else None
    return text if isinstance(text, str) and text else str(item.value)


def _doc_vectors(embedder: Any, texts: list[str]) -> list[Any]:
    """Document vectors, cached per embedder and text (a memory's text changes only when it is updated)."""
    key = id(embedder)
    with _vectors_lock:
        missing = list(dict.fromkeys(t for t in texts if (key, t) not in _vectors))
    if missing:
        fresh = embedder.embed_documents(missing)
        with _vectors_lock:
            for t, v in zip(missing, fresh, strict=True):
                _vectors[(key, t)] = v
            while len(_vectors) > _CACHE_SIZE:
                _vectors.popitem(last=False)
    with _vectors_lock:
        return [_vectors.get((key, t)) for t in texts]


def relevance(store: Any, query: str | None, items: list[SearchItem]) -> list[float]:
    """Each item's relevance to ``query`` in [0, 1] (see the module docstring)."""
    if not query or not items:
        return [0.0] * len(items)
    embedder = getattr(store, "embedder", None)
    if embedder is None or not hasattr(embedder, "embed_documents"):
        best = max((i.score or 0.0 for i in items), default=0.0)
        return [(i.score or 0.0) / best if best > 0 else 0.0 for i in items]
    q = embedder.embed_query(query)
    docs = _doc_vectors(embedder, [_text(i) for i in items])
    return [max(0.0, min(1.0, float(sum(a * b for a, b in zip(q, d, strict=True))))) for d in docs]


def rank(
    items: list[SearchItem],
    weights: RankingWeights,
    *,
    now: datetime | None = None,
    relevances: list[float] | None = None,
) -> list[RankedMemory]:
    """Score and sort items by the blend, best first (``relevances``: one per item; default: scaled scores)."""
    now = now or datetime.now(UTC)
    if relevances is None:
        best = max((i.score or 0.0 for i in items), default=0.0)
        relevances = [(i.score or 0.0) / best if best > 0 else 0.0 for i in items]
    out = []
    for it, rel in zip(items, relevances, strict=True):
        v = it.value
        parts = {
            "relevance": rel,
            "importance": float(v.get("importance", 0.5)),
            "recency": 0.5 ** (_age_days(v, now, it.updated_at) / weights.half_life_days),
            "frequency": min(1.0, math.log1p(int(v.get("access_count", 0))) / math.log1p(weights.frequency_saturation)),
        }
        score = sum(getattr(weights, k) * parts[k] for k in parts)
        out.append(RankedMemory(it, score, parts))
    out.sort(key=lambda r: r.score, reverse=True)
    return out


def search_memories(
    store: BaseStore,
    namespace: Namespace,
    query: str | None = None,
    *,
    filter: dict[str, Any] | None = None,
    limit: int = 10,
    offset: int = 0,
    weights: RankingWeights | None = None,
    include_invalid: bool = False,
    track_access: bool = True,
    min_score: float = DEFAULT_MIN_SCORE,
) -> list[RankedMemory]:
    """Search valid memories under ``namespace`` ranked by the blend; count an access for each returned one.

    ``min_score`` drops candidates whose relevance (see the module docstring) is below it; 0 keeps them all.
    """
    if not 0.0 <= min_score <= 1.0:
        raise ValueError(f"min_score must be in [0, 1], got {min_score}: it is a cosine relevance threshold")
    weights = weights or RankingWeights()
    flt = dict(filter or {})
    if not include_invalid:
        flt.update(ACTIVE)
    pool = (limit + offset) * weights.candidate_factor
    items = store.search(namespace, query=query, filter=flt, limit=pool)
    rel = relevance(store, query, items)
    if query:
        kept = [(i, r) for i, r in zip(items, rel, strict=True) if r >= min_score]
        items, rel = [i for i, _ in kept], [r for _, r in kept]
    ranked = rank(items, weights, relevances=rel)[offset : offset + limit]
    if track_access and ranked:  # counted from the stored count, not the one read: concurrent searches add up
        bump_access(store, [(r.item.namespace, r.key) for r in ranked])
    return ranked
