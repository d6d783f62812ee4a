"""What ``memspy demo`` expects to find after each part, checked and printed: the demo proves its own recall.

Expected facts are matched with the extraction benchmark's matcher (MiniLM cosine >= 0.70 after normalizing how
people are named); a search is right when its top hit holds the expected words; triples and profiles are checked
field by field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memspy.evals.extraction_match import FactMatcher
from memspy.pipelines.records import ACTIVE
from memspy.stores import BaseStore

__all__ = ["Check", "check_facts", "check_profile", "check_top_hits", "check_triples", "summarize"]


@dataclass(frozen=True)
class Check:
    """One expectation of the demo and whether the run met it."""

    part: str
    what: str
    ok: bool
    detail: str = ""

    def line(self) -> str:
        return f"  check {'PASS' if self.ok else 'FAIL'} {self.what}" + (f" ({self.detail})" if self.detail else "")


def _active_texts(store: BaseStore, prefix: tuple[str, ...]) -> list[str]:
    return [str(i.value.get("text", "")) for i in store.search(prefix, filter=ACTIVE, limit=100)]


def check_facts(
    store: BaseStore, prefix: tuple[str, ...], expected: list[str], names: list[str], matcher: FactMatcher
) -> list[Check]:
    """One check per expected fact: is some active memory under ``prefix`` a match for it?"""
    texts = _active_texts(store, prefix)
    if not texts:
        return [Check("semantic", f"remembers {fact!r}", False, "no memory stored") for fact in expected]
    sims = matcher.similarity(expected, texts, names)
    checks = []
    for fact, row in zip(expected, sims, strict=True):
        best = int(row.argmax())
        ok = float(row[best]) >= matcher.threshold
        checks.append(Check("semantic", f"remembers {fact!r}", ok, f"best {texts[best]!r}, cosine {row[best]:.2f}"))
    return checks


def check_top_hits(hits: dict[str, list[str]], expected: dict[str, list[str]]) -> list[Check]:
    """A search is right when its top hit holds every expected word (case-insensitive)."""
    checks = []
    for query, words in expected.items():
        top = (hits.get(query) or [""])[0]
        ok = bool(top) and all(w.lower() in top.lower() for w in words)
        checks.append(Check("semantic", f"top hit for {query!r} mentions {words}", ok, top or "no hit"))
    return checks


def check_triples(store: BaseStore, prefix: tuple[str, ...], expected: dict[str, Any]) -> list[Check]:
    """Active triples hold each ``kept`` and none of the ``retired`` patterns: (subject, words of the rest)."""
    active = [i.value["content"] for i in store.search(prefix, filter=ACTIVE, limit=100) if i.value.get("content")]
    rest = [(str(t.get("subject", "")), " ".join(str(t.get(k) or "") for k in ("predicate", "object"))) for t in active]

    def holds(subject: str, words: list[str], s: str, r: str) -> bool:
        return s.lower() == subject.lower() and all(w.lower() in r.lower() for w in words)

    checks = []
    for subject, words in expected.get("kept", []):
        ok = any(holds(subject, words, s, r) for s, r in rest)
        checks.append(Check("triples", f"keeps a triple {subject} ... {' '.join(words)}", ok))
    for subject, words in expected.get("retired", []):
        left = [f"{s} {r}" for s, r in rest if holds(subject, words, s, r)]
        checks.append(Check("triples", f"retires {subject} ... {' '.join(words)}", not left, "; ".join(left)))
    return checks


def check_profile(document: dict[str, Any] | None, expected: dict[str, str]) -> list[Check]:
    """Each expected profile field holds the expected words."""
    doc = document or {}
    return [
        Check("profile", f"profile {field} mentions {word!r}", word.lower() in str(doc.get(field) or "").lower(),
              str(doc.get(field)))
        for field, word in expected.items()
    ]  # fmt: skip


def summarize(checks: list[Check]) -> str:
    """``recall: n/m expected facts; checks passed: p/q``."""
    facts = [c for c in checks if c.what.startswith("remembers ")]
    recall, passed = sum(c.ok for c in facts), sum(c.ok for c in checks)
    return f"demo recall: {recall}/{len(facts)} expected facts; checks passed: {passed}/{len(checks)}"
