"""A store-neutral filter language over item values, compiled to Qdrant conditions by each store.

Syntax (LangGraph's): ``{"kind": "Memory"}`` is equality; an operator dict compares:
``{"importance": {"$gte": 0.5}}``, ``{"tag": {"$in": ["a", "b"]}}``, ``{"invalid_at": {"$exists": False}}``.
Operators: ``$eq $ne $gt $gte $lt $lte $in $nin $exists``. Keys are value fields; dots reach into
nested objects (``"profile.name"``). Each part between dots may hold any text (spaces, ``:``, ``$``, ``[]``)
except ``"`` and ``\\``; an empty part (``"..ns"``, ``"a."``) is rejected. A value key that itself holds
a dot cannot be filtered on: the dot always means nesting. Operands are str, bool, int64 or finite floats;
``$in``/``$nin`` take str or int lists (compare a bool with equality).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from memspy.stores._limits import INT_MAX, INT_MIN, is_utf8
from memspy.stores.errors import InvalidFilterError

__all__ = ["CompiledFilter", "Condition", "compile_filter", "payload_path"]

Kind = Literal["match", "any", "range", "empty"]
_RANGE_OPS = {"$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}
_OPS = {"$eq", "$ne", "$in", "$nin", "$exists", *_RANGE_OPS}
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Condition:
    """One payload condition on ``key`` (a full payload path such as ``value.kind``)."""

    kind: Kind
    key: str
    arg: Any


@dataclass
class CompiledFilter:
    """Conditions that must hold and conditions that must not."""

    must: list[Condition]
    must_not: list[Condition]


def _scalar(field: str, op: str, v: Any) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        if not INT_MIN <= v <= INT_MAX:
            raise InvalidFilterError(f"filter[{field!r}] {op} got {v}, outside int64: no stored integer can equal it")
        return v
    if isinstance(v, str):
        if not is_utf8(v):
            raise InvalidFilterError(f"filter[{field!r}] {op} got a string with a lone surrogate: it is not valid text")
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise InvalidFilterError(f"filter[{field!r}] {op} got {v}: compare with a finite number")
        return v
    raise InvalidFilterError(
        f"filter[{field!r}] {op} got {type(v).__name__} {v!r}: compare with a str, int, float or bool"
    )


def payload_path(field: Any, prefix: str = "value.") -> str:
    """The engine's JSON path for a dotted field name: parts quoted unless plain identifiers.

    Raises:
        InvalidFilterError: for an empty part, a ``"`` or ``\\`` in a part, or invalid Unicode, naming the key.
    """
    if not isinstance(field, str) or not field:
        raise InvalidFilterError(f"filter keys must be non-empty field names, got {field!r}")
    if not is_utf8(field):
        raise InvalidFilterError(f"filter key {field!r} holds a lone surrogate: it is not valid text")
    parts = field.split(".")
    if any(not p for p in parts):
        raise InvalidFilterError(
            f"filter key {field!r} has an empty part: dots separate nested field names, as in 'profile.name'"
        )
    if any('"' in p or "\\" in p for p in parts):
        raise InvalidFilterError(f"filter key {field!r} holds a quote or backslash: such fields cannot be filtered on")
    return prefix + ".".join(p if _PLAIN.fullmatch(p) else f'"{p}"' for p in parts)


def _eq(field: str, key: str, op: str, v: Any) -> Condition:
    v = _scalar(field, op, v)
    if isinstance(v, float) and not isinstance(v, bool):
        return Condition("range", key, {"gte": v, "lte": v})
    return Condition("match", key, v)


def compile_filter(filter: dict[str, Any] | None, *, prefix: str = "value.") -> CompiledFilter:
    """Translate a user filter into conditions on payload paths under ``prefix``.

    Raises:
        InvalidFilterError: for an unknown operator or an operand of the wrong type, naming the field.
    """
    out = CompiledFilter(must=[], must_not=[])
    if filter is None:
        return out
    if not isinstance(filter, dict):
        raise InvalidFilterError(f"filter must be a dict such as {{'kind': 'Memory'}}, got {type(filter).__name__}")
    for field, spec in filter.items():
        key = payload_path(field, prefix)
        if not isinstance(spec, dict):
            out.must.append(_eq(field, key, "==", spec))
            continue
        if not spec:
            raise InvalidFilterError(f"filter[{field!r}] is an empty dict: use an operator such as {{'$eq': ...}}")
        ranges: dict[str, float] = {}
        for op, v in spec.items():
            if op not in _OPS:
                raise InvalidFilterError(f"filter[{field!r}] uses unknown operator {op!r}; known: {sorted(_OPS)}")
            if op == "$eq":
                out.must.append(_eq(field, key, op, v))
            elif op == "$ne":
                out.must_not.append(_eq(field, key, op, v))
            elif op in ("$in", "$nin"):
                if not isinstance(v, list | tuple) or not v:
                    raise InvalidFilterError(f"filter[{field!r}] {op} needs a non-empty list, got {v!r}")
                vals = [_scalar(field, op, x) for x in v]
                if any(isinstance(x, float | bool) for x in vals):
                    raise InvalidFilterError(
                        f"filter[{field!r}] {op} takes str/int values, not floats or bools: use equality for a bool"
                    )
                (out.must if op == "$in" else out.must_not).append(Condition("any", key, vals))
            elif op == "$exists":
                if not isinstance(v, bool):
                    raise InvalidFilterError(f"filter[{field!r}] $exists takes True or False, got {v!r}")
                (out.must_not if v else out.must).append(Condition("empty", key, True))
            else:
                if isinstance(v, bool) or not isinstance(v, int | float):
                    raise InvalidFilterError(f"filter[{field!r}] {op} needs a number, got {v!r}")
                ranges[_RANGE_OPS[op]] = float(_scalar(field, op, v))
        if ranges:
            out.must.append(Condition("range", key, ranges))
    return out
