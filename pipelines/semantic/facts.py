"""The two-step extraction design: list the facts a conversation states, then reconcile them with stored memories.

Step one (``ExtractFacts``) turns a conversation, in chunks of at most ``chunk_chars`` characters, into facts
shaped by the configured kinds. Step two (``ReconcileFacts``) runs only when stored memories are shown: it decides
per fact whether to add it, skip it, or update or delete a stored memory. Code does the rest: ids must have been
shown, an update's content is the fact itself (the LM never copies text), a memory is changed once and a fact is
written once (it may still retire several memories), facts no decision mentions are added, exact repeats of stored
memories are skipped without asking the LM, and a profile (a kind that holds one document) is read as one object
and merged field by field without a second call.

Two rules keep a wrong label from losing information. A "skip" says the fact is already stored: when the memory it
cites (or, with no id, every shown memory) holds fewer than half of the fact's content words, the fact is added
instead. A fact that "updates" a second memory after the first has made that memory a copy of the same fact: the
second is retired (when deletes are allowed) rather than left to say what the fact replaced. A free-text fact that
opens with a bare pronoun ("They look great!") names no one and is dropped: a memory must stand alone. So is one
about the talk rather than a person ("The conversation mentions the kind of words used.") and one that reports a
courtesy between the speakers ("Caroline thanks Melanie for her kind words."), or one of nothing but the speakers'
names ("The user is Caroline."): none is worth remembering. A phrase looped inside a fact is kept once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from memspy.pipelines.errors import SchemaError
from memspy.pipelines.records.format import render_content
from memspy.pipelines.runtime.messages import content_words, render_transcript
from memspy.pipelines.semantic.fact_text import names_only, says_nothing, unloop
from memspy.pipelines.semantic.schemas import MemorySchema
from memspy.pipelines.semantic.validate import ExistingMemory, merge_content
from memspy.signatures.facts import FactDecision

__all__ = [
    "Fact",
    "Resolved",
    "chunk_messages",
    "decision_model",
    "fact_item_type",
    "merge_profile",
    "parse_facts",
    "render_dialogue",
    "resolve_decisions",
    "restates",
    "skip_stored",
]


@dataclass(frozen=True)
class Fact:
    """One extracted fact: its kind and validated content."""

    kind: str
    content: BaseModel

    @property
    def text(self) -> str:
        return render_content(self.content)


def _is_sentence(schema: MemorySchema) -> bool:
    fields = schema.model.model_fields
    return len(fields) == 1 and next(iter(fields.values())).annotation is str


def fact_item_type(schemas: list[MemorySchema]) -> Any:
    """The type of one fact in the LM's answer: a sentence, the kind's model, or ``{kind, content}``."""
    if len(schemas) == 1:
        return str if _is_sentence(schemas[0]) else schemas[0].model
    content_t: Any = schemas[0].model
    for s in schemas[1:]:
        content_t = content_t | s.model
    fields: dict[str, Any] = {
        "kind": (Literal[tuple(s.name for s in schemas)], Field(description="the kind of the fact")),
        "content": (content_t, Field(description="the fact, shaped by its kind's fields")),
    }
    return create_model("Fact", **fields)


def restates(fact: str, memory: str) -> bool:
    """Whether ``memory`` holds at least half of ``fact``'s content words (so a "skip" can be believed)."""
    words = content_words(fact)
    return not words or len(words & content_words(memory)) >= len(words) / 2


def parse_facts(
    raw: list[Any] | None, schemas: list[MemorySchema], speakers: Sequence[str] = ()
) -> tuple[list[Fact], list[str]]:
    """Validate the LM's facts; repeats and sentences that are no memory (:mod:`.fact_text`; one of nothing but
    the ``speakers``' names among them) are dropped, invalid ones reported as problems."""
    facts: list[Fact] = []
    problems: list[str] = []
    seen: set[str] = set()
    for n, item in enumerate(raw or []):
        if len(schemas) == 1:
            schema, content = schemas[0], item
        else:
            body = item.model_dump() if isinstance(item, BaseModel) else dict(item or {})
            schema = next((s for s in schemas if s.name == body.get("kind")), schemas[0])
            content = body.get("content")
        if isinstance(content, str):
            if says_nothing(content) or names_only(content, speakers):
                continue
            content = unloop(content)
        try:
            valid = schema.validate(content.strip() if isinstance(content, str) else content)
        except SchemaError as e:
            problems.append(f"fact {n + 1}: {e}")
            continue
        key = render_content(valid).strip().lower()
        if key and key not in seen:
            seen.add(key)
            facts.append(Fact(schema.name, valid))
    return facts, problems


def chunk_messages(messages: list[dict[str, Any]], max_chars: int) -> list[list[dict[str, Any]]]:
    """Split a conversation at message boundaries into chunks of at most ``max_chars`` characters of content.

    System messages (a session's date, say) are repeated at the head of every chunk: each chunk is read alone.
    """
    head = [m for m in messages if m.get("role") == "system"]
    chunks: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0
    for m in messages:
        if m.get("role") == "system":
            continue
        length = len(str(m.get("content") or ""))
        if current and size + length > max_chars:
            chunks.append(head + current)
            current, size = [], 0
        current.append(m)
        size += length
    if current or not chunks:
        chunks.append(head + current)
    return chunks


def decision_model(actions: tuple[str, ...]) -> type[BaseModel]:
    """``FactDecision`` with ``action`` narrowed to what the manager may do."""
    allowed = ["add", "skip"]
    allowed += [a for a in ("update", "delete") if a in actions]
    fields: dict[str, Any] = {
        "action": (Literal[tuple(allowed)], Field(description=FactDecision.model_fields["action"].description))
    }
    return create_model("FactDecision", __base__=FactDecision, **fields)


@dataclass(frozen=True)
class Resolved:
    """A change decided for one fact: ``insert`` (new id), ``update`` or ``delete`` of a shown id."""

    action: Literal["insert", "update", "delete"]
    id: str
    kind: str
    content: BaseModel | None


def _insert(fact: Fact) -> Resolved:
    return Resolved("insert", str(uuid.uuid4()), fact.kind, fact.content)


def resolve_decisions(
    raw: list[Any] | None,
    facts: list[Fact],
    shown: list[ExistingMemory],
    actions: tuple[str, ...],
) -> tuple[list[Resolved], list[str]]:
    """Turn the LM's decisions into changes, enforcing the rules in the module docstring.

    Returns:
        ``(changes, problems)``: problems name decisions that cite an unknown fact number or id; the changes
        are what the valid decisions (and the facts no decision mentions) amount to.
    """
    by_id = {e.id: e for e in shown}
    problems: list[str] = []
    decided: set[int] = set()
    touched: set[str] = set()
    placed: set[int] = set()  # facts already written: a fact lands once, though it may retire several memories
    out: list[Resolved] = []
    for n, item in enumerate(raw or []):
        d = item.model_dump() if isinstance(item, BaseModel) else dict(item)
        index, action, mid = d.get("fact"), d.get("action"), str(d.get("id") or "")
        if not isinstance(index, int) or not 1 <= index <= len(facts):
            problems.append(f"decision {n + 1}: fact {index!r} is not one of the numbers 1..{len(facts)}")
            continue
        fact = facts[index - 1]
        if action in ("update", "delete") and mid not in by_id:
            problems.append(f"decision {n + 1}: id {mid!r} is not one of the stored ids {sorted(by_id)}")
            continue
        if action == "skip" and not _believable_skip(fact, by_id.get(mid), shown):
            continue  # not decided: the fact is added below
        decided.add(index)
        if action == "update" and index in placed and mid not in touched and by_id[mid].kind == fact.kind:
            if "delete" in actions and not by_id[mid].placeholder:  # now a copy of a memory the fact rewrote
                touched.add(mid)
                out.append(Resolved("delete", mid, by_id[mid].kind, None))
            continue
        if action == "skip" or (action in ("add", "update") and index in placed):
            continue
        if action == "update" and "update" in actions and mid not in touched and by_id[mid].kind == fact.kind:
            touched.add(mid)
            placed.add(index)
            out.append(Resolved("update", mid, fact.kind, fact.content))
        elif action == "delete" and "delete" in actions and mid not in touched and not by_id[mid].placeholder:
            touched.add(mid)
            out.append(Resolved("delete", mid, by_id[mid].kind, None))
        elif action in ("add", "update") and "insert" in actions:
            placed.add(index)
            out.append(_insert(fact))  # an update of a memory already changed, or of another kind, adds instead
    out += [_insert(f) for i, f in enumerate(facts, 1) if i not in decided and "insert" in actions]
    return _dedupe_inserts(out), problems


def _believable_skip(fact: Fact, cited: ExistingMemory | None, shown: list[ExistingMemory]) -> bool:
    candidates = [cited] if cited is not None else shown
    return any(c.content is not None and restates(fact.text, render_content(c.content)) for c in candidates)


def _dedupe_inserts(changes: list[Resolved]) -> list[Resolved]:
    seen: set[str] = set()
    out = []
    for c in changes:
        if c.action == "insert":
            key = render_content(c.content).strip().lower()
            if key in seen:
                continue
            seen.add(key)
        out.append(c)
    return out


# What a small model writes into a field the conversation says nothing about; never merged over a real value.
_VAGUE = {"", "unknown", "none", "n/a", "na", "null", "user", "the user", "home", "not specified", "not mentioned"}


def _definite(content: BaseModel) -> BaseModel:
    """``content`` with vague placeholder values ("unknown", "user", ...) set to None."""
    values = {
        k: (None if isinstance(v, str) and v.strip().lower().strip(".") in _VAGUE else v)
        for k, v in content.model_dump().items()
    }
    return type(content).model_validate(values)


def merge_profile(facts: list[Fact], shown: list[ExistingMemory]) -> list[Resolved]:
    """Merge each fact's definite fields into its kind's one document (stored or placeholder)."""
    docs = {e.kind: e for e in shown}
    merged: dict[str, BaseModel | None] = {k: e.content for k, e in docs.items()}
    for f in facts:
        if f.kind in docs:
            merged[f.kind] = merge_content(merged[f.kind], _definite(f.content))
    return [
        Resolved("update", docs[k].id, k, content)
        for k, content in merged.items()
        if content is not None and content != docs[k].content
    ]


def skip_stored(facts: list[Fact], shown: list[ExistingMemory]) -> list[Fact]:
    """Facts whose text is not already, word for word, a shown memory."""
    stored = {render_content(e.content).strip().lower() for e in shown if e.content is not None}
    return [f for f in facts if f.text.strip().lower() not in stored]


def render_dialogue(messages: list[dict[str, Any]], *, include_assistant: bool) -> str:
    """``speaker: text`` lines (speaker: the message's name, else its role); system lines stay as context.

    Without ``include_assistant`` the assistant's replies are left out when anyone else speaks: a small model
    otherwise turns the last reply ("Congratulations!") into a fact.
    """
    people = [m for m in messages if m.get("role") not in ("system", "assistant", "tool")]
    lines = []
    for m in messages:
        role = str(m.get("role"))
        if role == "tool" or (role == "assistant" and not include_assistant and people):
            continue
        content = m.get("content")
        text = content if isinstance(content, str) else render_transcript([m]).split(": ", 1)[-1]
        if text.strip():
            lines.append(f"{m.get('name') or role}: {text.strip()}")
    return "\n".join(lines)
