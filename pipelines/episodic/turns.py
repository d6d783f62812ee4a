"""Turns of a conversation (one user message and everything up to the next), Yes/No verdicts, turn rendering."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from memspy.pipelines.episodic.privacy import redact_patterns
from memspy.pipelines.runtime.messages import normalize_messages, render_transcript

__all__ = [
    "TURN_TEXT_FIELDS",
    "Turn",
    "parse_yes_no",
    "render_summaries",
    "split_turns",
    "system_prompt_of",
    "turn_record",
    "with_verdicts",
]

# The LM-written fields of a stored turn summary: what redaction runs over.
TURN_TEXT_FIELDS = ("situation", "intent", "action", "thought", "assessment_assistant", "assessment_user")

_YES_NO = re.compile(r"^[\W_]*(yes|no)\b[\W_]*(.*)$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Turn:
    """One turn: a user message and the assistant replies, tool calls and tool results after it.

    Attributes:
        id: The turn's index within its session, as a string.
        messages: The turn's messages (dicts), in order.
    """

    id: str
    messages: list[dict[str, Any]]

    def render(self) -> str:
        """The turn inside ``<turn_ID>`` tags, emails/phones/cards already replaced by placeholders.

        Double quotes (tool arguments are JSON) become single quotes: a small model copying them into its JSON
        answer otherwise ends the string early.
        """
        body = redact_patterns(render_transcript(self.messages)).replace('"', "'")
        return f"<turn_{self.id}>\n{body}\n</turn_{self.id}>"

    def render_user(self) -> str:
        """Only the turn's user message(s), pattern-redacted: what shows whether the previous request ended."""
        users = [m for m in self.messages if m.get("role") == "user"]
        return redact_patterns(render_transcript(users)).replace('"', "'") if users else "(none)"


def split_turns(messages: Any, start: int = 0) -> list[Turn]:
    """Split chat messages into turns numbered from ``start``; system messages are left out.

    Messages before the first user message (a continuation) form a turn of their own.

    Example:
        >>> msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
        ...         {"role": "user", "content": "bye"}]
        >>> [(t.id, len(t.messages)) for t in split_turns(msgs, start=4)]
        [('4', 2), ('5', 1)]
    """
    groups: list[list[dict[str, Any]]] = []
    for m in normalize_messages(messages):
        if m.get("role") == "system":
            continue
        if m.get("role") == "user" or not groups:
            groups.append([])
        groups[-1].append(m)
    return [Turn(str(start + i), g) for i, g in enumerate(groups)]


def system_prompt_of(messages: Any) -> str | None:
    """The text of the first system message, if any (the agent's instructions)."""
    for m in normalize_messages(messages):
        if m.get("role") == "system" and m.get("content"):
            content = m["content"]
            return content if isinstance(content, str) else render_transcript([{**m, "role": "system"}])
    return None


def parse_yes_no(text: str | None) -> tuple[bool | None, str]:
    """Split a verdict such as ``"Yes — it worked"``, ``"no: still open"`` or ``"**No**, ..."`` into (bool, reason).

    Returns:
        ``(True | False, reason)``, or ``(None, text)`` when the text starts with neither Yes nor No.

    Example:
        >>> parse_yes_no("Yes — the booking was confirmed")
        (True, 'the booking was confirmed')
    """
    raw = (text or "").strip()
    m = _YES_NO.match(raw)
    if not m:
        return None, raw
    return m.group(1).lower() == "yes", m.group(2).strip()


def turn_record(fields: dict[str, Any]) -> dict[str, Any]:
    """A stored turn summary: the LM's fields plus the parsed verdicts of both assessments."""
    rec = {"turn_id": str(fields.get("turn_id", ""))}
    rec.update({k: str(fields.get(k) or "").strip() for k in TURN_TEXT_FIELDS})
    return with_verdicts(rec)


def with_verdicts(rec: dict[str, Any]) -> dict[str, Any]:
    """``rec`` with ``assistant_succeeded``/``assistant_reason`` and ``episode_ended``/``episode_end_reason``."""
    ok, why = parse_yes_no(rec.get("assessment_assistant"))
    ended, because = parse_yes_no(rec.get("assessment_user"))
    # No clear "Yes" means the request is still open: the episode goes on.
    return {
        **rec,
        "assistant_succeeded": ok,
        "assistant_reason": why,
        "episode_ended": ended is True,
        "episode_end_reason": because,
    }


def render_summaries(turns: list[dict[str, Any]]) -> str:
    """Turn summaries as text for a prompt, each inside ``<turn_ID>`` tags."""
    blocks = []
    for t in turns:
        lines = "\n".join(f"{k}: {t.get(k, '')}" for k in TURN_TEXT_FIELDS)
        blocks.append(f"<turn_{t.get('turn_id')}>\n{lines}\n</turn_{t.get('turn_id')}>")
    return "\n".join(blocks)
