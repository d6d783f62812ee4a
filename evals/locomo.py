"""The evaluation data model (conversations, sessions, turns, questions) and the LoCoMo loader.

LoCoMo (Maharana et al., ACL 2024) ships a JSON list of samples ``{sample_id, conversation, qa, ...}``.
``conversation`` holds ``speaker_a``, ``speaker_b``, ``session_N_date_time`` and ``session_N`` (a list of
turns ``{speaker, dia_id, text, img_url?, blip_caption?}``); each ``qa`` item holds ``question``,
``answer`` (category 5: ``adversarial_answer``), ``evidence`` (dia ids) and ``category`` (1 multi-hop,
2 temporal, 3 open-domain, 4 single-hop, 5 adversarial).

Evidence lists are cleaned: entries such as ``"D8:6; D9:17"`` are split, and ids that name no turn of the
conversation are dropped (a question left without evidence gets no R@k, only QA).

Example:
    >>> convs = load_locomo("locomo-dev.json")                      # doctest: +SKIP
    >>> convs[0].sample_id, len(convs[0].turns), convs[0].questions[0].category
    ('conv-26', 419, 2)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

__all__ = [
    "CATEGORY_NAMES",
    "Conversation",
    "Question",
    "Session",
    "Turn",
    "clean_evidence",
    "load_locomo",
    "parse_locomo_sample",
]

CATEGORY_NAMES: dict[int, str] = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
_SESSION = re.compile(r"session_(\d+)")


@dataclass(frozen=True)
class Turn:
    """One utterance of a conversation."""

    dia_id: str
    speaker: str
    text: str
    session: int
    date: str = ""
    caption: str = ""

    def render(self, *, with_date: bool = True) -> str:
        """``"[date] speaker: text"``, with a shared photo's caption appended as ``[shares a photo: ...]``."""
        body = f"{self.speaker}: {self.text}"
        if self.caption:
            body += f" [shares a photo: {self.caption}]"
        return f"[{self.date}] {body}" if with_date and self.date else body


@dataclass(frozen=True)
class Session:
    """A dated sitting of the conversation."""

    index: int
    date: str
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class Question:
    """A question with its gold answer, the ids of the turns that support it, and its category."""

    qid: str
    conversation_id: str
    question: str
    answer: str
    evidence: tuple[str, ...]
    category: int
    adversarial_answer: str = ""

    @property
    def category_name(self) -> str:
        return CATEGORY_NAMES.get(self.category, str(self.category))


@dataclass(frozen=True)
class Conversation:
    """A multi-session conversation between two speakers and the questions asked about it."""

    sample_id: str
    speakers: tuple[str, ...]
    sessions: tuple[Session, ...]
    questions: tuple[Question, ...] = field(default=())

    @cached_property
    def turns(self) -> tuple[Turn, ...]:
        """Every turn, in order."""
        return tuple(t for s in self.sessions for t in s.turns)

    @cached_property
    def turn_by_id(self) -> dict[str, Turn]:
        """Turns keyed by dia id."""
        return {t.dia_id: t for t in self.turns}

    def truncated(self, max_sessions: int) -> Conversation:
        """The first ``max_sessions`` sessions, with only the questions whose evidence lies inside them."""
        sessions = self.sessions[:max_sessions]
        kept = {t.dia_id for s in sessions for t in s.turns}
        questions = tuple(q for q in self.questions if q.evidence and set(q.evidence) <= kept)
        return Conversation(self.sample_id, self.speakers, sessions, questions)


def clean_evidence(raw: Any, known: set[str] | dict[str, Any]) -> tuple[str, ...]:
    """Split ``"D1:2; D3:4"``-style entries, strip them, keep known ids once each, in order."""
    items = raw if isinstance(raw, list) else [raw] if raw else []
    out: list[str] = []
    for item in items:
        for part in re.split(r"[;,]", str(item)):
            ev = part.strip()
            if ev in known and ev not in out:
                out.append(ev)
    return tuple(out)


def _answer_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def parse_locomo_sample(sample: dict[str, Any]) -> Conversation:
    """Turn one LoCoMo sample into a :class:`Conversation`.

    Raises:
        ValueError: the sample lacks ``sample_id`` or ``conversation``.
    """
    if "conversation" not in sample or "sample_id" not in sample:
        raise ValueError("a LoCoMo sample needs 'sample_id' and 'conversation'")
    sid = str(sample["sample_id"])
    conv = sample["conversation"]
    numbers = sorted(int(m.group(1)) for k in conv if (m := _SESSION.fullmatch(k)))
    sessions = []
    for n in numbers:
        date = str(conv.get(f"session_{n}_date_time") or "")
        turns = tuple(
            Turn(
                dia_id=str(t["dia_id"]),
                speaker=str(t.get("speaker", "")),
                text=str(t.get("text", "")),
                session=n,
                date=date,
                caption=str(t.get("blip_caption") or ""),
            )
            for t in conv[f"session_{n}"] or []
        )
        if turns:
            sessions.append(Session(n, date, turns))
    known = {t.dia_id for s in sessions for t in s.turns}
    questions = []
    for i, qa in enumerate(sample.get("qa", [])):
        category = int(qa.get("category", 4))
        questions.append(
            Question(
                qid=f"{sid}/q{i}",
                conversation_id=sid,
                question=str(qa["question"]),
                answer=_answer_text(qa.get("answer")),
                evidence=clean_evidence(qa.get("evidence", []), known),
                category=category,
                adversarial_answer=_answer_text(qa.get("adversarial_answer")),
            )
        )
    speakers = tuple(str(conv[k]) for k in ("speaker_a", "speaker_b") if k in conv)
    return Conversation(sid, speakers, tuple(sessions), tuple(questions))


def load_locomo(path: str | Path) -> list[Conversation]:
    """Load a LoCoMo-format JSON file (a list of samples, or one sample)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    samples = data if isinstance(data, list) else [data]
    return [parse_locomo_sample(s) for s in samples]
