"""Items to engine points and back: validation of a batch, the payload layout, the text that is embedded.

Payload of a point: ``ns`` (every prefix of the namespace, for prefix filters), ``ns_path``, ``ns_depth``,
``key``, ``value`` (the item), ``created_at``/``updated_at`` (ISO) and ``updated_ts`` (for newest-first order).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from memspy.stores._limits import check_index
from memspy.stores._types import (
    NS_SEP,
    DeleteOp,
    Item,
    Namespace,
    PutOp,
    SearchItem,
    encode_value,
    namespace_path,
    namespace_prefixes,
    point_id,
    validate_key,
    validate_namespace,
)
from memspy.stores.errors import InvalidNamespaceError, InvalidValueError
from memspy.stores.protocol import PointData

__all__ = ["batch_bytes", "delete_keys", "item_from", "prepare_puts", "text_for"]


def batch_bytes(points: list[PointData]) -> int:
    """About how many bytes a batch adds to the engine's files (payload JSON plus vectors)."""
    total = 0
    for p in points:
        total += len(json.dumps(p.payload, ensure_ascii=False).encode()) + 256
        total += 4 * len(p.dense or ()) + 8 * (len(p.sparse.indices) if p.sparse is not None else 0)
    return total


def item_from(payload: dict[str, Any], score: float | None = None, *, with_score: bool = False) -> Item:
    """The item a point's payload holds (a ``SearchItem`` with ``with_score``)."""
    ns = tuple(payload["ns_path"].split(NS_SEP))
    created = datetime.fromisoformat(payload["created_at"])
    updated = datetime.fromisoformat(payload["updated_at"])
    if with_score:
        return SearchItem(ns, payload["key"], payload["value"], created, updated, score)
    return Item(ns, payload["key"], payload["value"], created, updated)


def text_for(value: dict[str, Any], index: bool | list[str] | None, default_fields: list[str] | None) -> str | None:
    """The text embedded for a value: the ``index`` fields, else ``content``, else the whole value."""
    if index is False:
        return None
    fields = index if isinstance(index, list) else default_fields
    if fields:
        parts = []
        for f in fields:
            v: Any = value
            for p in f.split("."):
                v = v.get(p) if isinstance(v, dict) else None
            if v is not None:
                parts.append(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
        return "\n".join(parts) or None
    if isinstance(value.get("content"), str):
        return str(value["content"])
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _as_list(items: Any, what: str) -> list[Any]:
    if isinstance(items, str | bytes | dict) or not isinstance(items, Iterable):
        raise InvalidValueError(f"{what} must be a list, got {type(items).__name__}")
    return list(items)


def prepare_puts(ops: Any, default_fields: list[str] | None) -> tuple[list[PointData], list[str | None]]:
    """Validate every upsert of a batch; return its points (without vectors or times) and texts to embed.

    Raises:
        InvalidValueError / InvalidNamespaceError: naming the batch item, before anything is written.
    """
    points: list[PointData] = []
    texts: list[str | None] = []
    for i, op in enumerate(_as_list(ops, "puts")):
        if not isinstance(op, PutOp):
            raise InvalidValueError(f"batch item {i} must be a PutOp(namespace, key, value), got {op!r:.80}")
        try:
            ns = validate_namespace(op.namespace)
            key = validate_key(op.key)
            value = encode_value(op.value)
            index = check_index(op.index)
        except (InvalidValueError, InvalidNamespaceError) as e:
            raise type(e)(f"batch item {i} ({op.namespace!r:.80}, {op.key!r:.80}): {e}") from None
        payload = {
            "ns": namespace_prefixes(ns),
            "ns_path": namespace_path(ns),
            "ns_depth": len(ns),
            "key": key,
            "value": value,
        }
        points.append(PointData(point_id(ns, key), payload))
        texts.append(text_for(value, index, default_fields))
    return points, texts


def delete_keys(keys: Any) -> list[tuple[Namespace, str]]:
    """Validate the deletes of a batch: ``(namespace, key)`` pairs or ``DeleteOp``s."""
    out: list[tuple[Namespace, str]] = []
    for i, k in enumerate(_as_list(keys, "deletes")):
        if isinstance(k, DeleteOp):
            k = (k.namespace, k.key)
        if not isinstance(k, tuple | list) or len(k) != 2:
            raise InvalidValueError(f"delete {i} must be a (namespace, key) pair or a DeleteOp, got {k!r:.80}")
        out.append((validate_namespace(k[0]), validate_key(k[1])))
    return out
