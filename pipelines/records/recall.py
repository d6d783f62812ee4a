"""Ranked recall: hybrid relevance blended with importance and memory strength (recency, frequency).

``score = w_relevance * relevance + w_importance * importance + w_recency * recency + w_frequency * frequency``

- relevance: the store's hybrid (dense + BM25, RRF-fused) score, divided by the best candidate's;
- importance: the record's LM-rated importance in [0, 1];
- recency: ``0.5 ** (age_days / half_life_days)``, age since the record was last updated or accessed;
- frequency: ``min(1, log1p(access_count) / log1p(saturation))``.
Each weight is >= 0; they need not sum to 1. Candidates are the top ``limit * candidate_factor``
hybrid hits; without a query, relevance is 0 and ranking uses the other terms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from memspy.pipelines.records.format import ACTIVE, now_iso
from memspy.stores import BaseStore, Namespace, SearchItem

__all__ = ["RankedMemory", "RankingWeights", "rank", "search_memories"]


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


def rank(items: list[SearchItem], weights: RankingWeights, *, now: datetime | None = None) -> list[RankedMemory]:
    """Score and sort items by the blend, best first."""
    now = now or datetime.now(UTC)
    best = max((i.score or 0.0 for i in items), default=0.0)
    out = []
    for it in items:
        v = it.value
        parts = {
            "relevance": (it.score or 0.0) / best if best > 0 else 0.0,
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
) -> list[RankedMemory]:
    """Search valid memories under ``namespace`` ranked by the blend; count an access for each returned one."""
    weights = weights or RankingWeights()
    flt = dict(filter or {})
    if not include_invalid:
        flt.update(ACTIVE)
    pool = (limit + offset) * weights.candidate_factor
    ranked = rank(store.search(namespace, query=query, filter=flt, limit=pool), weights)[offset : offset + limit]
    if track_access and ranked:
        ts = now_iso()
        by_ns: dict[Namespace, dict[str, dict[str, Any]]] = {}
        for r in ranked:
            by_ns.setdefault(r.item.namespace, {})[r.key] = {
                "last_accessed_at": ts,
                "access_count": int(r.value.get("access_count", 0)) + 1,
            }
        for ns, patches in by_ns.items():
            store.patch(ns, patches)
    return ranked
