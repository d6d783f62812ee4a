"""Stored shapes of episodic memory (episodes, reflections) and their text for prompts.

They build on the one record format (:mod:`memspy.pipelines.records.format`): the same timestamps, access
counters and version history as every other record, with episodic fields in place of ``content``.
"""

from __future__ import annotations

from typing import Any

from memspy.pipelines.episodic.reflection import ReflectionChange
from memspy.pipelines.episodic.turns import render_summaries
from memspy.pipelines.records.format import bookkeeping, next_version

__all__ = [
    "EPISODE_KIND",
    "REFLECTION_KIND",
    "episode_record",
    "format_episodes",
    "format_reflections",
    "new_reflection_record",
    "render_episode",
    "updated_reflection_record",
]

EPISODE_KIND = "Episode"
REFLECTION_KIND = "Reflection"


def _episode_text(rec: dict[str, Any]) -> str:
    return (
        f"Goal: {rec['intent']}\nSituation: {rec['situation']}\n"
        f"Outcome: {rec['assessment']} {rec['justification']}\nLesson: {rec['reflection']}"
    )


def episode_record(fields: dict[str, Any], turns: list[dict[str, Any]], session_id: str) -> dict[str, Any]:
    """A consolidated episode as stored: its fields, turn summaries, embedded ``text``, provenance, timestamps."""
    rec: dict[str, Any] = {
        "kind": EPISODE_KIND,
        **{k: fields.get(k, "") for k in ("situation", "intent", "assessment", "justification", "reflection")},
        "goal_achieved": fields.get("goal_achieved"),
        "turns": turns,
        "provenance": {"source": "episodic", "session_id": session_id, "turn_ids": [t["turn_id"] for t in turns]},
        "reflection_keys": [],
        "importance": 0.5,
        **bookkeeping(history=False),
    }
    rec["text"] = _episode_text(rec)
    return rec


def render_episode(rec: dict[str, Any], *, with_turns: bool = True) -> str:
    """An episode as text for a prompt, optionally with its turn summaries."""
    text = _episode_text(rec)
    if with_turns and rec.get("turns"):
        text += "\nTurns:\n" + render_summaries(rec["turns"])
    return text


def _reflection_text(rec: dict[str, Any]) -> str:
    return f"{rec['title']}\nUse cases: {rec['use_cases']}\nHints: {rec['hints']}"


def new_reflection_record(change: ReflectionChange, provenance: dict[str, Any]) -> dict[str, Any]:
    """A new reflection; ``importance`` mirrors ``confidence`` so ranked recall favours confident lessons."""
    rec: dict[str, Any] = {
        "kind": REFLECTION_KIND,
        "title": change.title,
        "use_cases": change.use_cases,
        "hints": change.hints,
        "confidence": change.confidence,
        "importance": change.confidence,
        "provenance": {k: list(v) for k, v in provenance.items()},
        **bookkeeping(),
    }
    if change.split_from:
        rec["split_from"] = change.split_from
    rec["text"] = _reflection_text(rec)
    return rec


def updated_reflection_record(
    old: dict[str, Any], change: ReflectionChange, provenance: dict[str, Any]
) -> dict[str, Any]:
    """The new version of ``old``: the previous version goes into ``history``, provenance accumulates."""
    rec = new_reflection_record(change, provenance)
    merged = {}
    for k in set(old.get("provenance", {})) | set(provenance):
        merged[k] = list(dict.fromkeys([*old.get("provenance", {}).get(k, []), *provenance.get(k, [])]))
    rec = next_version(old, rec, ("title", "use_cases", "hints", "confidence", "provenance", "updated_at"))
    rec["provenance"] = merged
    return rec


def format_episodes(records: list[dict[str, Any]]) -> str:
    """Past episodes as a block for an agent's system prompt; empty when there are none."""
    if not records:
        return ""
    lines = ["Relevant past episodes:"]
    for i, r in enumerate(records, 1):
        achieved = r.get("goal_achieved")
        done = "unclear" if achieved is None else "achieved" if achieved else "not achieved"
        lines.append(
            f"{i}. Goal: {r.get('intent', '')} Situation: {r.get('situation', '')} "
            f"Outcome: {done} ({r.get('justification', '')}) Lesson: {r.get('reflection', '')}"
        )
    return "\n".join(lines)


def format_reflections(records: list[dict[str, Any]]) -> str:
    """Reflections as a block for an agent's system prompt; empty when there are none."""
    if not records:
        return ""
    lines = ["Lessons from past episodes:"]
    for i, r in enumerate(records, 1):
        lines.append(
            f"{i}. {r.get('title', '')} (confidence {float(r.get('confidence', 0.5)):.1f}). "
            f"When: {r.get('use_cases', '')} Hints: {r.get('hints', '')}"
        )
    return "\n".join(lines)
