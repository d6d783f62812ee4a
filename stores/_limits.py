"""The size limits of every store, and checks of the scalar arguments of the ``Store`` API.

Limits exist so that no input can reach the engine in a shape it cannot store or read back: the
engine parses payloads with a recursion limit (a value nested ~120 levels deep made a store
unopenable), keeps integers as int64 and text as UTF-8, and allocates per key and namespace part.

| what | limit |
|---|---|
| value | a JSON object, at most ``MAX_VALUE_BYTES`` as UTF-8 JSON, nested at most ``MAX_VALUE_DEPTH`` levels |
| integers (values and filters) | ``INT_MIN`` .. ``INT_MAX`` (int64); floats must be finite |
| key | 1 .. ``MAX_KEY_CHARS`` characters, no control characters |
| namespace | 1 .. ``MAX_NAMESPACE_PARTS`` parts of 1 .. ``MAX_PART_CHARS`` characters |
| ``limit`` / ``offset`` | 1 .. ``MAX_LIMIT`` / 0 .. ``MAX_OFFSET``; ``max_depth`` >= 1 |
| text anywhere | valid Unicode: no lone surrogates (they have no UTF-8 form) |
"""

from __future__ import annotations

from typing import Any

from memspy.stores.errors import InvalidValueError

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "MAX_KEY_CHARS",
    "MAX_LIMIT",
    "MAX_NAMESPACE_PARTS",
    "MAX_OFFSET",
    "MAX_PART_CHARS",
    "MAX_VALUE_BYTES",
    "MAX_VALUE_DEPTH",
    "check_count",
    "check_index",
    "check_query",
    "is_utf8",
]

MAX_VALUE_BYTES = 1_000_000
MAX_VALUE_DEPTH = 32
MAX_KEY_CHARS = 1024
MAX_NAMESPACE_PARTS = 32
MAX_PART_CHARS = 256
MAX_LIMIT = 1_000_000
MAX_OFFSET = 1_000_000
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1


def is_utf8(text: str) -> bool:
    """True when ``text`` has a UTF-8 form (it holds no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_count(name: str, value: Any, *, low: int, high: int, allow_none: bool = False) -> int | None:
    """Check an integer argument such as ``limit``, ``offset`` or ``max_depth``.

    Raises:
        InvalidValueError: for a non-int (a bool included) or a value outside ``low .. high``.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValueError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if not low <= value <= high:
        raise InvalidValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


def check_query(query: Any) -> str | None:
    """Check a search query: None, or a non-blank string of valid Unicode."""
    if query is None:
        return None
    if not isinstance(query, str) or not query.strip():
        raise InvalidValueError(f"query must be a non-empty string, or None to list items; got {query!r}")
    if not is_utf8(query):
        raise InvalidValueError("query holds a lone surrogate (invalid Unicode): decode the text properly first")
    return query


def check_index(index: Any) -> bool | list[str] | None:
    """Check ``index``: None (store default), a bool, or a list of non-empty field paths."""
    if index is None or isinstance(index, bool):
        return index
    if not isinstance(index, list):
        raise InvalidValueError(f"index must be None, False or a list of field paths, got {index!r}")
    for i, field in enumerate(index):
        if not isinstance(field, str) or not field or not is_utf8(field):
            raise InvalidValueError(f"index[{i}] must be a non-empty field path such as 'content', got {field!r}")
    return list(index)
