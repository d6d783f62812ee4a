"""The one record format every writer uses (background manager and hot-path tools alike)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from memspy.stores import BaseStore, Item, Namespace, PutOp

__all__ = [
    "ACTIVE",
    "INDEX_FIELDS",
    "MAX_HISTORY",
    "RecordChange",
    "apply_changes",
    "bookkeeping",
    "is_active",
    "new_record",
    "next_version",
    "now_iso",
    "render_content",
    "retired_record",
    "updated_record",
]

# Records are embedded by their rendered text, not their JSON.
INDEX_FIELDS = ["text"]
# Filter for records that are still valid (soft-deleted ones carry `invalid_at`).
ACTIVE: dict[str, Any] = {"invalid_at": {"$exists": False}}
MAX_HISTORY = 20


def render_content(content: Any) -> str:
    """A readable one-line text of a memory's content, used for indexing and prompts."""
    if isinstance(content, BaseModel):
        content = content.model_dump(exclude_none=True)
    if isinstance(content, dict):
        if set(content) == {"content"} and isinstance(content["content"], str):
            return content["content"]
        if {"subject", "predicate", "object"} <= set(content):
            text = f"{content['subject']} {content['predicate']} {content['object']}"
            return text + (f" ({content['context']})" if content.get("context") else "")
        return "; ".join(f"{k}: {v}" for k, v in content.items() if v not in (None, "", []))
    return str(content)


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _content_dict(content: BaseModel | dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(content, BaseModel):
        return content.model_dump(mode="json")
    if isinstance(content, str):
        return {"content": content}
    return dict(content)


def new_record(
    kind: str,
    content: BaseModel | dict[str, Any] | str,
    *,
    importance: float = 0.5,
    provenance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A fresh memory record.

    Fields: ``kind``, ``content`` (the schema's fields), ``text`` (rendered, what is embedded),
    ``importance`` (0-1), ``provenance`` (source, thread id, message ids), ``created_at``,
    ``updated_at``, ``last_accessed_at``, ``access_count``, ``history`` (previous versions);
    ``invalid_at`` appears once a record is soft-deleted.
    """
    body = _content_dict(content)
    return {
        "kind": kind,
        "content": body,
        "text": render_content(body),
        "importance": round(min(1.0, max(0.0, float(importance))), 3),
        "provenance": provenance or {},
        **bookkeeping(),
    }


def bookkeeping(*, history: bool = True) -> dict[str, Any]:
    """The fields every stored record starts with, whatever its kind: ``created_at`` and ``updated_at`` (now),
    ``last_accessed_at`` (None) and ``access_count`` (0) for ranked recall, and an empty ``history``."""
    ts = now_iso()
    fields: dict[str, Any] = {"created_at": ts, "updated_at": ts, "last_accessed_at": None, "access_count": 0}
    if history:
        fields["history"] = []
    return fields


def next_version(old: dict[str, Any], new: dict[str, Any], snapshot: tuple[str, ...]) -> dict[str, Any]:
    """``new`` as the next version of ``old``: it keeps ``old``'s creation time and access counts, and ``old``'s
    ``snapshot`` fields go into ``history`` (the last :data:`MAX_HISTORY` versions are kept)."""
    new["created_at"] = old.get("created_at", new["created_at"])
    new["last_accessed_at"] = old.get("last_accessed_at")
    new["access_count"] = old.get("access_count", 0)
    new["history"] = [*old.get("history", []), {k: old.get(k) for k in snapshot}][-MAX_HISTORY:]
    return new


def updated_record(
    old: dict[str, Any],
    content: BaseModel | dict[str, Any] | str,
    *,
    importance: float | None = None,
    provenance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A new version of ``old``; the previous version goes into ``history``."""
    rec = new_record(
        old.get("kind", "Memory"),
        content,
        importance=old.get("importance", 0.5) if importance is None else importance,
        provenance=provenance if provenance is not None else old.get("provenance", {}),
    )
    return next_version(old, rec, ("content", "importance", "provenance", "updated_at"))


def retired_record(
    old: dict[str, Any], *, reason: str = "deleted", provenance: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``old`` marked invalid (a soft delete): excluded from search, kept for history."""
    rec = dict(old)
    rec["invalid_at"] = now_iso()
    rec["invalid_reason"] = reason
    if provenance:
        rec["deleted_by"] = provenance
    return rec


class RecordChange:
    """One change to apply: ``put`` a record value, or ``delete`` (hard) a key.

    ``event`` names it for callers: ``insert``, ``update``, ``delete`` (soft) or ``hard_delete``.
    """

    __slots__ = ("event", "key", "op", "value")

    def __init__(self, op: str, key: str, value: dict[str, Any] | None = None, event: str | None = None) -> None:
        self.op, self.key, self.value = op, key, value
        self.event = event or ("hard_delete" if op == "delete" else "update")

    def __repr__(self) -> str:
        return f"RecordChange({self.op!r}, {self.key!r})"


def apply_changes(store: BaseStore, namespace: Namespace, changes: list[RecordChange]) -> list[dict[str, Any]]:
    """Write all changes as one all-or-nothing batch; return LangMem-style events."""
    puts = [PutOp(namespace, c.key, c.value, INDEX_FIELDS) for c in changes if c.op == "put" and c.value is not None]
    deletes = [(namespace, c.key) for c in changes if c.op == "delete"]
    if puts or deletes:
        store.batch(puts=puts, deletes=deletes)
    return [{"namespace": namespace, "key": c.key, "event": c.event} for c in changes]


def is_active(item: Item) -> bool:
    """Whether a stored record is still valid (not soft-deleted)."""
    return "invalid_at" not in item.value
