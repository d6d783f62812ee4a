"""Checks on what the LM proposes: only shown ids, only permitted actions, only valid content."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from memspy.pipelines.errors import SchemaError
from memspy.pipelines.records.format import render_content
from memspy.pipelines.semantic.schemas import ExtractedMemory, MemorySchema, RemoveDoc

__all__ = ["ExistingMemory", "merge_content", "parse_existing", "validate_operations"]


@dataclass
class ExistingMemory:
    """A memory the LM is shown, with its id. ``placeholder``: an empty profile not yet stored."""

    id: str
    kind: str
    content: BaseModel | None
    importance: float = 0.5
    placeholder: bool = False

    def prompt_line(self) -> str:
        body: Any = self.content.model_dump(exclude_none=True) if self.content is not None else {}
        return json.dumps({"id": self.id, "kind": self.kind, "content": body}, ensure_ascii=False)


def _schema_for(content: Any, schemas: list[MemorySchema], kind: str | None = None) -> MemorySchema:
    by_name = {s.name: s for s in schemas}
    if kind is not None:
        if kind not in by_name:
            raise SchemaError(f"unknown kind {kind!r}; known kinds: {sorted(by_name)}")
        return by_name[kind]
    if isinstance(content, BaseModel):
        name = type(content).__name__
        if name in by_name:
            return by_name[name]
    for s in schemas:  # first schema that accepts it
        try:
            s.validate(content)
            return s
        except SchemaError:
            continue
    raise SchemaError(f"existing memory {content!r} matches none of the schemas {sorted(by_name)}")


def parse_existing(existing: Any, schemas: list[MemorySchema]) -> list[ExistingMemory]:
    """Accept LangMem's shapes of existing memories and return them validated, with ids."""
    out: list[ExistingMemory] = []
    for i, item in enumerate(existing or []):
        kind: str | None = None
        importance = 0.5
        content: Any
        if isinstance(item, ExtractedMemory):
            mid, content = item.id, item.content
        elif isinstance(item, tuple) and len(item) == 3:
            mid, kind, content = item
        elif isinstance(item, tuple) and len(item) == 2:
            mid, content = item
        elif isinstance(item, dict) and "content" in item:
            mid, kind, content = item.get("id") or str(i), item.get("kind"), item["content"]
            importance = float(item.get("importance", 0.5))
        elif isinstance(item, str):
            mid, content = str(i), item
        else:
            raise SchemaError(f"existing[{i}] has an unsupported shape {type(item).__name__}: use (id, content)")
        if isinstance(content, RemoveDoc):
            continue
        schema = _schema_for(content, schemas, kind)
        out.append(ExistingMemory(str(mid), schema.name, schema.validate(content), importance))
    return out


def merge_content(old: BaseModel | None, new: BaseModel) -> BaseModel:
    """``new``'s non-empty fields over ``old``'s (a profile update keeps what the new answer leaves out)."""
    if old is None:
        return new
    patch = {k: v for k, v in new.model_dump().items() if v is not None}
    return type(new).model_validate({**old.model_dump(), **patch})


def validate_operations(
    raw_ops: list[Any],
    working: list[ExistingMemory],
    schemas: list[MemorySchema],
    actions: tuple[str, ...],
    *,
    merge_updates: bool = False,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Return (valid operations as dicts, errors). Any error means the whole answer is retried.

    Rules: the action must be permitted; update and delete must name an id that was shown, at most one
    operation per id (an update and a delete of one id contradict each other); content
    must validate against its kind; importance is clamped to [0, 1]; duplicate inserts and inserts
    repeating an existing memory are dropped.
    """
    shown = {e.id: e for e in working}
    by_name = {s.name: s for s in schemas}
    errors: list[str] = []
    ops: list[dict[str, Any]] = []
    seen_text = {render_content(e.content).strip().lower() for e in working if e.content is not None}
    changed: dict[str, int] = {}  # memory id -> the operation that updates or deletes it
    for n, raw in enumerate(raw_ops or []):
        op = raw.model_dump() if isinstance(raw, BaseModel) else dict(raw)
        action, kind = op.get("action"), op.get("kind")
        mid = str(op.get("id") or "")
        if action == "none":
            continue
        where = f"operation {n} ({action} {mid or ''})".replace(" )", ")")
        if action not in actions:
            errors.append(f"{where}: action {action!r} is not allowed; allowed: {list(actions)}")
            continue
        raw_importance = op.get("importance")
        importance = min(1.0, max(0.0, float(raw_importance if raw_importance is not None else 0.5)))
        if action in ("update", "delete"):
            if mid not in shown:
                errors.append(f"{where}: id {mid!r} is not one of the existing memory ids {sorted(shown)}")
                continue
            if mid in changed:  # e.g. update then delete: which one is meant? the LM must say
                errors.append(
                    f"{where}: memory {mid!r} is already changed by operation {changed[mid]}; "
                    "give at most one operation per memory id"
                )
                continue
            changed[mid] = n
            kind = shown[mid].kind
        if action == "delete":
            if shown[mid].placeholder:
                errors.append(f"{where}: {mid!r} is an empty document and cannot be deleted")
                continue
            ops.append({"action": "delete", "id": mid, "kind": kind, "content": None, "importance": importance})
            continue
        if kind not in by_name:
            errors.append(f"{where}: unknown kind {kind!r}; use one of {sorted(by_name)}")
            continue
        try:
            content = by_name[kind].validate(op.get("content"))
        except SchemaError as e:
            errors.append(f"{where}: {e}")
            continue
        if action == "update" and merge_updates:
            content = merge_content(shown[mid].content, content)
        if action == "insert":
            text = render_content(content).strip().lower()
            if not text or text in seen_text:
                continue  # small LMs repeat themselves: a duplicate insert is dropped, not an error
            seen_text.add(text)
            mid = str(uuid.uuid4())
        ops.append({"action": action, "id": mid, "kind": kind, "content": content, "importance": importance})
    return ops, errors
