"""Item types and input validation shared by every store."""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from memspy.stores._limits import (
    INT_MAX,
    INT_MIN,
    MAX_KEY_CHARS,
    MAX_NAMESPACE_PARTS,
    MAX_PART_CHARS,
    MAX_VALUE_BYTES,
    MAX_VALUE_DEPTH,
    is_utf8,
)
from memspy.stores.errors import (
    InvalidNamespaceError,
    InvalidValueError,
)

__all__ = [
    "MAX_VALUE_BYTES",
    "NS_SEP",
    "DeleteOp",
    "Item",
    "Namespace",
    "PutOp",
    "SearchItem",
    "encode_value",
    "namespace_path",
    "namespace_prefixes",
    "point_id",
    "validate_key",
    "validate_namespace",
]

Namespace = tuple[str, ...]
# Unit separator: cannot appear in a validated namespace part, so joined paths are unambiguous.
NS_SEP = "\x1f"
_ID_NAMESPACE = uuid.UUID("6f1c2b0e-8f3a-5d7e-9a41-3c2d5e6f7a80")


@dataclass(frozen=True)
class Item:
    """A stored memory item.

    Attributes:
        namespace: Hierarchical path, e.g. ``("memories", "user-1")``.
        key: Unique id of the item within its namespace.
        value: The JSON object stored.
        created_at: When the item was first written (UTC).
        updated_at: When the item was last written (UTC).
    """

    namespace: Namespace
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    def dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (LangGraph's ``Item.dict()`` shape)."""
        return {
            "namespace": list(self.namespace),
            "key": self.key,
            "value": self.value,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class SearchItem(Item):
    """An item returned by ``search``, with its relevance ``score`` (None without a query)."""

    score: float | None = None

    def dict(self) -> dict[str, Any]:
        return {**super().dict(), "score": self.score}


@dataclass(frozen=True)
class PutOp:
    """One upsert in a batch. ``index`` is None (store default), False (not embedded) or field paths."""

    namespace: Namespace
    key: str
    value: dict[str, Any]
    index: bool | list[str] | None = None


@dataclass(frozen=True)
class DeleteOp:
    """One delete in a batch."""

    namespace: Namespace
    key: str
    extra: dict[str, Any] = field(default_factory=dict)


def validate_namespace(namespace: Any, *, allow_empty: bool = False, field_name: str = "namespace") -> Namespace:
    """Check a namespace and return it as a tuple.

    Raises:
        InvalidNamespaceError: naming the bad part and how to fix it.
    """
    if isinstance(namespace, str) or not isinstance(namespace, tuple | list):
        raise InvalidNamespaceError(
            f"{field_name} must be a tuple of strings such as ('memories', 'user-1'), got {namespace!r:.80}"
        )
    ns = tuple(namespace)
    if not ns and not allow_empty:
        raise InvalidNamespaceError(f"{field_name} is empty: give at least one part, e.g. ('memories',)")
    if len(ns) > MAX_NAMESPACE_PARTS:
        raise InvalidNamespaceError(
            f"{field_name} has {len(ns)} parts: the limit is {MAX_NAMESPACE_PARTS}; use fewer, coarser levels"
        )
    for i, part in enumerate(ns):
        if not isinstance(part, str):
            raise InvalidNamespaceError(f"{field_name}[{i}] must be a str, got {type(part).__name__}: {part!r}")
        if len(part) > MAX_PART_CHARS:
            raise InvalidNamespaceError(
                f"{field_name}[{i}] is {len(part)} characters long: the limit is {MAX_PART_CHARS}"
            )
        if not part.strip():
            raise InvalidNamespaceError(f"{field_name}[{i}] is empty or blank: every part needs a non-empty name")
        if any(ord(c) < 32 or ord(c) == 127 for c in part):
            raise InvalidNamespaceError(f"{field_name}[{i}] = {part!r} contains a control character: remove it")
        if not is_utf8(part):
            raise InvalidNamespaceError(f"{field_name}[{i}] = {part!r} holds a lone surrogate: it is not valid text")
    return ns


def validate_key(key: Any) -> str:
    """Check an item key: a non-empty string of valid text, without control characters, within the size limit."""
    if not isinstance(key, str) or not key:
        raise InvalidValueError(f"key must be a non-empty str, got {key!r:.80}")
    if len(key) > MAX_KEY_CHARS:
        raise InvalidValueError(
            f"key is {len(key)} characters long: the limit is {MAX_KEY_CHARS}; use a shorter id (e.g. a UUID)"
        )
    if any(ord(c) < 32 for c in key):
        raise InvalidValueError(f"key {key!r} contains a control character: remove it")
    if not is_utf8(key):
        raise InvalidValueError(f"key {key!r} holds a lone surrogate: it is not valid text")
    return key


def _check_json(obj: Any, path: str, depth: int) -> None:
    if obj is None or isinstance(obj, bool):
        return
    if isinstance(obj, int):
        if not INT_MIN <= obj <= INT_MAX:
            raise InvalidValueError(
                f"value{path} = {obj} does not fit in 64 bits and would not read back exactly: store it as a string"
            )
        return
    if isinstance(obj, str):
        if not is_utf8(obj):
            raise InvalidValueError(f"value{path} holds a lone surrogate (invalid Unicode): decode the text properly")
        return
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise InvalidValueError(f"value{path} is {obj}: JSON has no NaN or infinity; store null or a number")
        return
    if isinstance(obj, list | tuple | dict) and depth >= MAX_VALUE_DEPTH:
        raise InvalidValueError(
            f"value{path} is nested deeper than {MAX_VALUE_DEPTH} levels: flatten it, or store it as a JSON string"
        )
    if isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            _check_json(v, f"{path}[{i}]", depth + 1)
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise InvalidValueError(f"value{path} has a non-string key {k!r}: JSON object keys are strings")
            if not is_utf8(k):
                raise InvalidValueError(f"value{path} has a key {k!r} holding a lone surrogate: it is not valid text")
            _check_json(v, f"{path}.{k}", depth + 1)
        return
    raise InvalidValueError(
        f"value{path} is a {type(obj).__name__}, which is not JSON: convert it (e.g. to str or a dict) first"
    )


def encode_value(value: Any, *, max_bytes: int = MAX_VALUE_BYTES) -> dict[str, Any]:
    """Validate a value as a JSON object within the size and depth limits; return a normalized deep copy.

    Raises:
        InvalidValueError: naming the first offending path (``value.a.b[2]``) and the fix.
    """
    if not isinstance(value, dict):
        raise InvalidValueError(f"value must be a dict (a JSON object), got {type(value).__name__}")
    _check_json(value, "", 0)
    text = json.dumps(value, ensure_ascii=False)
    size = len(text.encode())
    if size > max_bytes:
        raise InvalidValueError(
            f"value is {size} bytes as JSON; the limit is {max_bytes}: store large blobs elsewhere "
            "and keep a reference in the value"
        )
    decoded: dict[str, Any] = json.loads(text)
    return decoded


def namespace_path(namespace: Namespace) -> str:
    """Join a namespace into one string key."""
    return NS_SEP.join(namespace)


def namespace_prefixes(namespace: Namespace) -> list[str]:
    """Every prefix of a namespace as a joined path: ('a','b') -> ['a', 'a<SEP>b']."""
    return [NS_SEP.join(namespace[: i + 1]) for i in range(len(namespace))]


def point_id(namespace: Namespace, key: str) -> str:
    """A stable UUIDv5 for (namespace, key): the Qdrant point id."""
    return str(uuid.uuid5(_ID_NAMESPACE, namespace_path(namespace) + "\x1e" + key))


def utcnow() -> datetime:
    return datetime.now(UTC)
