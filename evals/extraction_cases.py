"""Labeled extraction cases: a conversation in, the facts worth remembering (with their evidence) out.

Two sources, one shape (:class:`ExtractionCase`):

- **LoCoMo sessions** (:func:`locomo_cases`). Each sample's ``observation`` maps ``session_N_observation`` to
  ``{speaker: [[fact, dia_id], ...]}``: the gold facts of session N, each with the turn that supports it. A case
  is one session: a system message with the session date (id ``S<N>``), then one ``user`` message per turn
  carrying the speaker's ``name`` and the turn's dia id as its ``id`` (so provenance can be checked); a shared
  photo's caption is appended as ``[shares a photo: ...]``. LoCoMo is CC BY-NC 4.0: for measuring only.
- **Labeled JSONL records** (:func:`labeled_cases`, by default memspy's bundled set): the records of task
  ``extract`` (:mod:`memspy.evals.labeled`). Gold facts are the contents of their ``insert`` and ``update``
  operations; the ``existing`` memories that an ``update`` or ``delete`` names are *outdated* and must not
  survive. They carry what LoCoMo lacks: updates, deletes and conversations with nothing to remember.

:func:`split_cases` keeps the split honest: LoCoMo is split by conversation (``conv-26`` dev, ``conv-30`` test,
both parameters), so no session of the test conversation is ever in the dev split.

Example:
    >>> cases = split_cases("dev", locomo_path="locomo-dev.json")     # doctest: +SKIP
    >>> cases[0].id, cases[0].kind, len(cases[0].facts), cases[0].messages[1]["id"]
    ('conv-26/s1', 'session', 7, 'D1:1')
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memspy.evals.labeled import LabeledRecord, bundled_dataset, load_labeled
from memspy.evals.locomo import clean_evidence, parse_locomo_sample

__all__ = [
    "CASE_KINDS",
    "SPLITS",
    "ExtractionCase",
    "GoldFact",
    "case_kind",
    "content_text",
    "default_locomo_path",
    "labeled_cases",
    "locomo_cases",
    "split_cases",
]

SPLITS = ("train", "dev", "test")
CASE_KINDS = ("insert", "update", "delete", "mixed", "nothing", "memories", "session")
_DATA_CANDIDATES = (
    "data/locomo/locomo-dev.json",
    "shared/data/locomo/locomo-dev.json",
    "../shared/data/locomo/locomo-dev.json",
)
_OBSERVATION = re.compile(r"session_(\d+)_observation")


@dataclass(frozen=True)
class GoldFact:
    """A fact worth remembering: its text, the ids of the messages that support it, whom it is about."""

    text: str
    evidence: tuple[str, ...] = ()
    speaker: str = ""


@dataclass(frozen=True)
class ExtractionCase:
    """One conversation to extract memories from, and what a perfect extractor keeps.

    Attributes:
        id: Unique within a run (``conv-26/s3`` or the labeled record's id).
        source: ``"locomo"`` or the labeled file's stem (``"semantic_extraction"`` for the bundled set).
        split: ``"train"``, ``"dev"`` or ``"test"``.
        kind: One of :data:`CASE_KINDS` (see :func:`case_kind`).
        messages: Chat messages (``role``, ``content``, optional ``name`` and ``id``).
        facts: The gold facts.
        existing: Memories stored before the conversation: ``{id, kind, content, importance}``.
        outdated: Ids of ``existing`` memories the conversation makes outdated (updated or deleted).
        speakers: The people of the conversation, by name (used to normalize how a fact names them).
        date: The session date, when known.
    """

    id: str
    source: str
    split: str
    kind: str
    messages: list[dict[str, Any]]
    facts: tuple[GoldFact, ...]
    existing: tuple[dict[str, Any], ...] = ()
    outdated: tuple[str, ...] = ()
    speakers: tuple[str, ...] = ()
    date: str = ""

    def outdated_texts(self) -> list[str]:
        """The contents of the outdated memories, as text."""
        by_id = {m["id"]: m for m in self.existing}
        return [content_text(by_id[i]["content"]) for i in self.outdated if i in by_id]


def content_text(content: Any) -> str:
    """A memory content as one line: a string as is; a triple as "subject predicate object"; else "key: value"."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        if set(content) == {"content"}:
            return str(content["content"])
        if {"subject", "predicate", "object"} <= set(content):
            text = f"{content['subject']} {content['predicate']} {content['object']}"
            return text + (f" ({content['context']})" if content.get("context") else "")
        return "; ".join(f"{k}: {v}" for k, v in content.items() if v not in (None, "", []))
    return "" if content is None else str(content)


def default_locomo_path() -> Path | None:
    """``$MEMSPY_EVAL_DATA``, else the first LoCoMo dev file found under the usual relative paths."""
    env = os.environ.get("MEMSPY_EVAL_DATA")
    if env:
        return Path(env)
    return next((Path(c) for c in _DATA_CANDIDATES if Path(c).is_file()), None)


def locomo_cases(
    path: str | Path, *, conversations: Sequence[str] | None = None, split: str = "dev"
) -> list[ExtractionCase]:
    """One case per LoCoMo session that has gold observations.

    Args:
        path: A LoCoMo JSON file (a list of samples).
        conversations: Keep only these sample ids (all when None).
        split: The split name given to the cases.

    Raises:
        ValueError: A requested conversation is not in the file.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    samples = data if isinstance(data, list) else [data]
    found = [str(s.get("sample_id")) for s in samples]
    if conversations is not None and (missing := sorted(set(conversations) - set(found))):
        raise ValueError(f"conversations {missing} are not in {path}; it holds {found}")
    cases: list[ExtractionCase] = []
    for sample in samples:
        if conversations is not None and str(sample.get("sample_id")) not in conversations:
            continue
        conv = parse_locomo_sample(sample)
        by_index = {s.index: s for s in conv.sessions}
        observations = sample.get("observation") or {}
        for key in sorted(observations, key=lambda k: int(m.group(1)) if (m := _OBSERVATION.fullmatch(k)) else 0):
            match = _OBSERVATION.fullmatch(key)
            session = by_index.get(int(match.group(1))) if match else None
            if session is None:
                continue
            known = {t.dia_id for t in session.turns}
            facts = tuple(
                GoldFact(str(item[0]), clean_evidence(item[1], known), str(speaker))
                for speaker, items in (observations[key] or {}).items()
                for item in items
                if isinstance(item, list | tuple) and len(item) == 2 and str(item[0]).strip()
            )
            messages: list[dict[str, Any]] = [
                {"role": "system", "content": f"[session date: {session.date}]", "id": f"S{session.index}"}
            ]
            for t in session.turns:
                text = t.text + (f" [shares a photo: {t.caption}]" if t.caption else "")
                messages.append({"role": "user", "name": t.speaker, "content": text, "id": t.dia_id})
            cases.append(
                ExtractionCase(
                    id=f"{conv.sample_id}/s{session.index}",
                    source="locomo",
                    split=split,
                    kind="session",
                    messages=messages,
                    facts=facts,
                    speakers=conv.speakers,
                    date=session.date,
                )
            )
    return cases


def case_kind(record: LabeledRecord) -> str:
    """``insert``, ``update``, ``delete`` (only that action), ``mixed`` (several), ``nothing`` (no operation), or
    ``memories`` (a record labeled with ``expected_memories``)."""
    ops = record.fields.get("expected")
    if ops is None:
        return "memories"
    actions = {op["action"] for op in ops}
    if not actions:
        return "nothing"
    return actions.pop() if len(actions) == 1 else "mixed"


def _record_case(record: LabeledRecord, source: str) -> ExtractionCase:
    messages = [dict(m) for m in record.fields["messages"]]
    existing = tuple(
        {
            "id": m["id"],
            "kind": m.get("kind") or "Memory",
            "content": m["content"],
            "importance": m.get("importance", 0.5),
        }
        for m in record.fields.get("existing") or []
    )
    ops = record.fields.get("expected")
    if ops is None:  # the whole collection afterwards: facts are the memories that are not already stored
        stored = {content_text(m["content"]) for m in existing}
        texts = [content_text(c) for c in record.fields["expected_memories"]]
        facts = tuple(GoldFact(t) for t in texts if t not in stored)
        outdated = tuple(m["id"] for m in existing if content_text(m["content"]) not in texts)
    else:
        facts = tuple(GoldFact(content_text(op["content"])) for op in ops if op["action"] != "delete")
        outdated = tuple(dict.fromkeys(str(op["id"]) for op in ops if op["action"] != "insert"))
    speakers = tuple(dict.fromkeys(str(m["name"]) for m in messages if m.get("name") and m.get("role") != "tool"))
    return ExtractionCase(
        id=record.id,
        source=source,
        split=record.split or "train",
        kind=case_kind(record),
        messages=messages,
        facts=facts,
        existing=existing,
        outdated=outdated,
        speakers=speakers,
    )


def labeled_cases(path: str | Path | None = None, *, split: str | None = None) -> list[ExtractionCase]:
    """The ``extract`` records of a labeled JSONL file (default: memspy's bundled set) as cases.

    Args:
        path: The file (format in :mod:`memspy.evals.labeled`).
        split: Keep only records marked with this split (``"train"`` or ``"dev"``).

    Raises:
        LabeledDataError: The file is invalid.
    """
    file = Path(path) if path is not None else bundled_dataset()
    return [_record_case(r, file.stem) for r in load_labeled(file, task="extract", split=split)]


def split_cases(
    split: str,
    *,
    locomo_path: str | Path | None = None,
    labeled_path: str | Path | None = None,
    sources: Sequence[str] = ("locomo", "labeled"),
    dev_conversation: str = "conv-26",
    test_conversation: str = "conv-30",
) -> list[ExtractionCase]:
    """The cases of one split.

    - ``train``: the labeled records marked ``train`` (LoCoMo is never training data for what memspy ships).
    - ``dev``: the sessions of ``dev_conversation`` and the labeled records marked ``dev``.
    - ``test``: the sessions of ``test_conversation`` and, as the held-out update/delete/nothing cases, the labeled
      records marked ``dev`` (the labeled format has no test split; reports keep the sources apart).

    Args:
        split: ``"train"``, ``"dev"`` or ``"test"``.
        locomo_path: The LoCoMo file (default :func:`default_locomo_path`).
        labeled_path: The labeled JSONL file (default: the bundled set).
        sources: Which of ``"locomo"`` and ``"labeled"`` to include.
        dev_conversation: The LoCoMo conversation to compile and tune on.
        test_conversation: The LoCoMo conversation to report on; never tune on it.

    Raises:
        ValueError: An unknown split or source, the same conversation for dev and test, or no LoCoMo file.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    if unknown := set(sources) - {"locomo", "labeled"}:
        raise ValueError(f"sources must be 'locomo' and/or 'labeled', got {sorted(unknown)}")
    if dev_conversation == test_conversation:
        raise ValueError(
            f"dev_conversation and test_conversation are both {dev_conversation!r}: give two conversations"
        )
    cases: list[ExtractionCase] = []
    if "locomo" in sources and split != "train":
        path = locomo_path or default_locomo_path()
        if path is None or not Path(path).is_file():
            raise ValueError(f"no LoCoMo file at {path}: pass locomo_path (--data) or set MEMSPY_EVAL_DATA")
        conversation = dev_conversation if split == "dev" else test_conversation
        cases += locomo_cases(path, conversations=[conversation], split=split)
    if "labeled" in sources:
        cases += labeled_cases(labeled_path, split="train" if split == "train" else "dev")
    return cases
