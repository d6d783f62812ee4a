"""A generic JSONL format for your own conversations and questions, and the dataset loader that picks a reader.

One JSON object per line, one conversation per object::

    {"id": "alice",
     "sessions": [
       {"date": "2024-05-01",
        "messages": [
          {"id": "m1", "speaker": "Alice", "text": "I moved to Lisbon last week."},
          {"id": "m2", "speaker": "Bot", "text": "How do you like it?"}]}],
     "questions": [
       {"question": "Where does Alice live?", "answer": "Lisbon", "evidence": ["m1"], "category": "single-hop"},
       {"question": "What is Alice's cat called?", "answer": null}]}

- ``id``: the conversation id (default ``conv-<line number>``).
- ``sessions``: dated sittings, oldest first; ``date`` is any text (it is shown to pipelines and the answerer);
  optional ``index`` (default: the position, 1-based).
- a message: ``speaker`` (or ``name``, or ``role``), ``text`` (or ``content``), optional ``id`` (default
  ``D<session>:<turn>``, 1-based like LoCoMo) and optional ``caption`` (an image description).
- a question: ``question``; ``answer`` (``null`` = not answerable from the conversation); ``evidence``: ids of
  the messages that support it (needed for R@k); ``category``: 1-5 or ``multi-hop``, ``temporal``,
  ``open-domain``, ``single-hop``, ``adversarial`` (default: ``adversarial`` when ``answer`` is null, else
  ``single-hop``).

Example:
    >>> convs = load_dataset("my_conversations.jsonl")                  # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from memspy.evals.locomo import CATEGORY_NAMES, Conversation, Question, Session, Turn, clean_evidence, load_locomo

__all__ = [
    "conversation_to_json",
    "dump_jsonl",
    "load_dataset",
    "load_jsonl",
    "parse_category",
    "parse_conversation",
]

_BY_NAME = {name: num for num, name in CATEGORY_NAMES.items()}


def parse_category(raw: Any, answer: Any = "") -> int:
    """A category number from 1-5 or a name; None means 5 when ``answer`` is None, else 4.

    Raises:
        ValueError: an unknown category.
    """
    if raw is None:
        return 5 if answer is None else 4
    if isinstance(raw, int) and raw in CATEGORY_NAMES:
        return raw
    key = str(raw).strip().lower().replace("_", "-").replace(" ", "-")
    if key.isdigit() and int(key) in CATEGORY_NAMES:
        return int(key)
    if key not in _BY_NAME:
        raise ValueError(f"unknown category {raw!r}: use 1-5 or one of {sorted(_BY_NAME)}")
    return _BY_NAME[key]


def parse_conversation(obj: dict[str, Any], default_id: str = "conv-1") -> Conversation:
    """Build a :class:`Conversation` from one JSONL object (see the module docstring).

    Raises:
        ValueError: a message without text, or an unknown category.
    """
    cid = str(obj.get("id") or default_id)
    sessions: list[Session] = []
    for pos, sess in enumerate(obj.get("sessions", []), start=1):
        n = int(sess.get("index") or pos)
        date = str(sess.get("date") or "")
        turns = []
        for i, msg in enumerate(sess.get("messages", []), start=1):
            text = msg.get("text", msg.get("content"))
            if not isinstance(text, str):
                raise ValueError(f"{cid}: session {n} message {i} has no 'text' (or 'content') string")
            speaker = str(msg.get("speaker") or msg.get("name") or msg.get("role") or "user")
            dia_id = str(msg.get("id") or f"D{n}:{i}")
            turns.append(Turn(dia_id, speaker, text, n, date, str(msg.get("caption") or "")))
        sessions.append(Session(n, date, tuple(turns)))
    known = {t.dia_id for s in sessions for t in s.turns}
    questions = []
    for i, q in enumerate(obj.get("questions", [])):
        answer = q.get("answer")
        questions.append(
            Question(
                qid=f"{cid}/q{i}",
                conversation_id=cid,
                question=str(q["question"]),
                answer="" if answer is None else str(answer),
                evidence=clean_evidence(q.get("evidence", []), known),
                category=parse_category(q.get("category"), answer),
            )
        )
    speakers = tuple(dict.fromkeys(t.speaker for s in sessions for t in s.turns))
    return Conversation(cid, speakers, tuple(sessions), tuple(questions))


def load_jsonl(path: str | Path) -> list[Conversation]:
    """Load conversations in the generic JSONL format; blank lines are skipped.

    Raises:
        ValueError: a line is not valid JSON, naming the line.
    """
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{n}: not JSON ({e.msg})") from None
        out.append(parse_conversation(obj, default_id=f"conv-{n}"))
    return out


def conversation_to_json(conv: Conversation) -> dict[str, Any]:
    """The generic JSONL object of a conversation (inverse of :func:`parse_conversation`)."""
    return {
        "id": conv.sample_id,
        "sessions": [
            {
                "index": s.index,
                "date": s.date,
                "messages": [
                    {
                        "id": t.dia_id,
                        "speaker": t.speaker,
                        "text": t.text,
                        **({"caption": t.caption} if t.caption else {}),
                    }
                    for t in s.turns
                ],
            }
            for s in conv.sessions
        ],
        "questions": [
            {
                "question": q.question,
                "answer": None if q.category == 5 and not q.answer else q.answer,
                "evidence": list(q.evidence),
                "category": q.category,
            }
            for q in conv.questions
        ],
    }


def dump_jsonl(conversations: list[Conversation], path: str | Path) -> None:
    """Write conversations in the generic JSONL format (e.g. to convert LoCoMo)."""
    lines = [json.dumps(conversation_to_json(c), ensure_ascii=False) for c in conversations]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_dataset(path: str | Path) -> list[Conversation]:
    """Load ``*.jsonl`` in the generic format, anything else as LoCoMo JSON."""
    if str(path).endswith(".jsonl"):
        return load_jsonl(path)
    return load_locomo(path)
