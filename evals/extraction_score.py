"""Scoring one case's stored memories against its gold facts, and summing rows up into the report table.

Per case (:func:`score_case`), over the memories the pipeline *wrote* (new keys, or seeded ones whose text
changed; an untouched ``existing`` memory is not the pipeline's output):

- **recall**: the gold facts stated by some written memory (:class:`~memspy.evals.extraction_match.FactMatcher`);
- **precision**: the written memories that state some gold fact;
- **evidence**: the gold facts with evidence ids stated by a memory whose provenance (``provenance.message_ids``
  or ``dia_ids``) holds one of those ids;
- **outdated kept**: outdated memories still there: the seeded record is active with its old text, or a written
  memory states the old text (at the threshold) more closely than any gold fact.

:func:`summarize` micro-averages per pipeline and source (sums of counts, then ratios), and
:func:`summary_markdown` renders one table per source with one row per pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from memspy.evals.extraction_cases import ExtractionCase, content_text
from memspy.evals.extraction_match import FactJudge, FactMatcher

__all__ = ["StoredMemory", "score_case", "summarize", "summary_markdown"]


@dataclass(frozen=True)
class StoredMemory:
    """An active memory read back from the store: its key, text, supporting message ids, and whether the
    pipeline wrote it (False for a seeded memory left as it was)."""

    key: str
    text: str
    message_ids: tuple[str, ...] = ()
    written: bool = True

    @classmethod
    def from_value(cls, key: str, value: dict[str, Any], seeded: dict[str, str]) -> StoredMemory:
        """Read a stored value: ``text`` (else the rendered ``content``), provenance ids, written-or-not."""
        text = value.get("text")
        if not isinstance(text, str) or not text.strip():
            text = content_text(value.get("content", value))
        ids = value.get("dia_ids") or (value.get("provenance") or {}).get("message_ids") or []
        written = key not in seeded or seeded[key] != text
        return cls(key, text, tuple(str(i) for i in ids), written)


def _hits(ok: np.ndarray, case: ExtractionCase, written: list[StoredMemory]) -> tuple[int, int, int]:
    """``(facts recalled, memories matched, evidence hits)`` of a match matrix (memories x facts)."""
    if not ok.size:
        return 0, 0, 0
    evidence = sum(
        1
        for j, f in enumerate(case.facts)
        if f.evidence and any(ok[i, j] and set(written[i].message_ids) & set(f.evidence) for i in range(len(written)))
    )
    return int(ok.any(axis=0).sum()), int(ok.any(axis=1).sum()), evidence


def _judged(judge: FactJudge, texts: list[str], facts: list[str], sims: np.ndarray) -> tuple[np.ndarray, int]:
    """The judge's match matrix over each fact's ``judge.k`` most similar memories, and its failed calls."""
    ok, errors = np.zeros((len(texts), len(facts)), dtype=bool), 0
    for j, fact in enumerate(facts):
        order = [int(i) for i in np.argsort(-sims[:, j], kind="stable")[: judge.k]] if texts else []
        try:
            picked = judge(fact=fact, candidates=[texts[i] for i in order]).matching
        except Exception:  # a judge that fails on one fact must not lose the run; counted in judge_errors
            errors += 1
            continue
        for p in picked:
            ok[order[p], j] = True
    return ok, errors


def score_case(
    case: ExtractionCase, memories: Sequence[StoredMemory], matcher: FactMatcher, judge: FactJudge | None = None
) -> dict[str, Any]:
    """The counts of one case (see the module docstring) and the details behind them; with a ``judge``, also
    ``judge_facts_recalled``, ``judge_memories_matched``, ``judge_evidence_hits`` and ``judge_errors``."""
    written = [m for m in memories if m.written]
    texts = [m.text for m in written]
    facts = [f.text for f in case.facts]
    ok, sims = matcher.matches(texts, facts, case.speakers)
    recalled, matched, evidence = _hits(ok, case, written)
    kept = _outdated_kept(case, memories, written, sims, matcher)
    memory_hit = np.asarray(ok.any(axis=1) if ok.size else np.zeros(len(texts), dtype=bool))
    fact_hit = np.asarray(ok.any(axis=0) if ok.size else np.zeros(len(facts), dtype=bool))
    row: dict[str, Any] = {
        "facts": len(facts),
        "facts_recalled": recalled,
        "memories": len(written),
        "memories_matched": matched,
        "evidence_facts": sum(1 for f in case.facts if f.evidence),
        "evidence_hits": evidence,
        "outdated": len(case.outdated),
        "outdated_kept": len(kept),
    }
    if judge is not None:
        judged, errors = _judged(judge, texts, facts, sims)
        j_recalled, j_matched, j_evidence = _hits(judged, case, written)
        row.update(judge_facts_recalled=j_recalled, judge_memories_matched=j_matched, judge_evidence_hits=j_evidence)
        row["judge_errors"] = errors
    row["details"] = {
        "memories": [
            {
                "text": m.text,
                "ids": list(m.message_ids),
                "closest_fact": int(np.argmax(sims[i])) if facts else None,
                "similarity": round(float(sims[i].max()), 3) if facts else None,
                "match": bool(memory_hit[i]),
            }
            for i, m in enumerate(written)
        ],
        "missed": [f.text for j, f in enumerate(case.facts) if not fact_hit[j]],
        "outdated_kept": kept,
    }
    return row


def _outdated_kept(
    case: ExtractionCase,
    memories: Sequence[StoredMemory],
    written: list[StoredMemory],
    sims: np.ndarray,
    matcher: FactMatcher,
) -> list[str]:
    if not case.outdated:
        return []
    by_key = {m.key: m for m in memories}
    seeded = {m["id"]: content_text(m["content"]) for m in case.existing}
    old_ids = [i for i in case.outdated if i in seeded]
    old = [seeded[i] for i in old_ids]
    to_old = matcher.similarity([m.text for m in written], old, case.speakers)
    best_new = sims.max(axis=1) if sims.size else np.full(len(written), -1.0)
    kept = []
    for j, mid in enumerate(old_ids):
        same = mid in by_key and not by_key[mid].written
        restated = any(to_old[i, j] >= matcher.threshold and to_old[i, j] > best_new[i] for i in range(len(written)))
        if same or restated:
            kept.append(mid)
    return kept


_COUNTS = (
    *("facts", "facts_recalled", "memories", "memories_matched", "evidence_facts", "evidence_hits"),
    *("outdated", "outdated_kept", "calls", "prompt_tokens", "completion_tokens", "seconds"),
    *("judge_facts_recalled", "judge_memories_matched", "judge_evidence_hits", "judge_errors"),
)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def summarize(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per ``(source, pipeline)`` in first-seen order: sums of the counts, then the ratios."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["source"], row["pipeline"])
        if key not in groups:
            groups[key] = {
                "source": key[0],
                "pipeline": key[1],
                "sessions": 0,
                "errors": 0,
                **dict.fromkeys(_COUNTS, 0),
            }
        g = groups[key]
        g["sessions"] += 1
        g["errors"] += bool(row.get("error"))
        g["judged"] = g.get("judged", False) or "judge_facts_recalled" in row
        for count in _COUNTS:
            g[count] += row.get(count) or 0
    out = []
    for g in groups.values():
        n, judged = g["sessions"], g.pop("judged", False)
        g.update(
            recall=_ratio(g["facts_recalled"], g["facts"]),
            precision=_ratio(g["memories_matched"], g["memories"]),
            evidence=_ratio(g["evidence_hits"], g["evidence_facts"]),
            outdated_kept_share=_ratio(g["outdated_kept"], g["outdated"]),
            judge_recall=_ratio(g["judge_facts_recalled"], g["facts"]) if judged else None,
            judge_precision=_ratio(g["judge_memories_matched"], g["memories"]) if judged else None,
            judge_evidence=_ratio(g["judge_evidence_hits"], g["evidence_facts"]) if judged else None,
            memories_per_session=g["memories"] / n,
            calls_per_session=g["calls"] / n,
            tokens_per_session=(g["prompt_tokens"] + g["completion_tokens"]) / n,
            seconds_per_session=g["seconds"] / n,
        )
        out.append(g)
    return out


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def summary_markdown(summary: Sequence[dict[str, Any]], *, threshold: float, normalized: bool = True) -> str:
    """Markdown tables, one per source, one row per pipeline (judge columns when the LM judge ran)."""
    lines: list[str] = []
    for source in dict.fromkeys(g["source"] for g in summary):
        group = [g for g in summary if g["source"] == source]
        judged = any(g.get("judge_recall") is not None for g in group)
        extra = " judge recall | judge precision | judge evidence |" if judged else ""
        lines += [
            f"### {source} ({group[0]['sessions']} sessions, {group[0]['facts']} gold facts; "
            f"MiniLM cosine >= {threshold:.2f}{' after person normalization' if normalized else ', names as written'})",
            "",
            "| pipeline | recall | precision | evidence | outdated kept | memories/session | calls/session "
            "| tokens/session | seconds/session | errors |" + extra,
            "|---|---|---|---|---|---|---|---|---|---|" + ("---|" * 3 if judged else ""),
        ]
        for g in group:
            kept = f"{g['outdated_kept']}/{g['outdated']}" if g["outdated"] else "-"
            cells = [
                g["pipeline"],
                *(_fmt(g[k]) for k in ("recall", "precision", "evidence")),
                kept,
                _fmt(g["memories_per_session"], 1),
                _fmt(g["calls_per_session"], 2),
                _fmt(g["tokens_per_session"], 0),
                _fmt(g["seconds_per_session"], 2),
                str(g["errors"]),
            ]
            if judged:
                cells += [_fmt(g.get(k)) for k in ("judge_recall", "judge_precision", "judge_evidence")]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)
