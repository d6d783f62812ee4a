"""Filters between LangGraph's store language and memspy's, for the adapters in :mod:`memspy.stores.langgraph`.

The two languages differ where it matters:

- LangGraph (``InMemoryStore``, ``PostgresStore``): a plain value is JSON equality of the whole field (a list
  equals a list of the same elements in the same order; a dict without ``$`` keys matches nested fields);
  operators ``$eq $ne $gt $gte $lt $lte``.
- memspy (Qdrant's payload filters): a plain value matches a field equal to it *or a list holding it*; extra
  operators ``$in $nin $exists``; dotted keys reach nested fields.

Each direction is an exact evaluator in Python plus a *pushdown*: a filter in the other language that holds for
every matching item (a superset), so the backing store narrows the candidates and Python decides.
"""

from __future__ import annotations

import math
from typing import Any

from memspy.stores.errors import InvalidFilterError

__all__ = ["check_langgraph_filter", "langgraph_matches", "langgraph_pushdown", "memspy_matches"]

_LG_OPS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")
_RANGE = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}
_MISSING = object()


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: ``True`` is not ``1`` (as in Postgres JSONB), ``1`` is ``1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) if type(a) is type(b) or (_number(a) is not None and _number(b) is not None) else False


# ---- LangGraph's language ---------------------------------------------------------------------------------


def _lg_operator(field: str, value: Any, op: str, operand: Any) -> bool:
    if op == "$eq":
        return _lg_compare(field, value, operand)
    if op == "$ne":
        return not _lg_compare(field, value, operand)
    if op in _RANGE:
        a, b = _number(value), _number(operand)
        if b is None:
            raise InvalidFilterError(f"filter[{field!r}] {op} needs a number, got {operand!r}")
        return a is not None and bool(_RANGE[op](a, b))
    raise InvalidFilterError(f"filter[{field!r}] uses operator {op!r}; LangGraph stores take {list(_LG_OPS)}")


def _lg_compare(field: str, value: Any, spec: Any) -> bool:
    if isinstance(spec, dict):
        if any(isinstance(k, str) and k.startswith("$") for k in spec):
            return all(_lg_operator(field, value, op, v) for op, v in spec.items())
        if not isinstance(value, dict):
            return False
        return all(_lg_compare(f"{field}.{k}", value.get(k), v) for k, v in spec.items())
    if isinstance(spec, list | tuple):
        return (
            isinstance(value, list)
            and len(value) == len(spec)
            and all(_lg_compare(field, x, y) for x, y in zip(value, spec, strict=True))
        )
    return _json_equal(value, spec)


def check_langgraph_filter(filter: Any, path: str = "") -> None:
    """Raise a typed error for a LangGraph filter that is not a dict or uses an operator LangGraph lacks.

    Raises:
        InvalidFilterError: naming the field and the operators that exist.
    """
    if filter is None and not path:
        return
    if not isinstance(filter, dict):
        if not path:
            raise InvalidFilterError(f"filter must be a dict such as {{'status': 'active'}}, got {filter!r}")
        return
    for k, spec in filter.items():
        field = f"{path}.{k}" if path else str(k)
        if isinstance(k, str) and k.startswith("$"):
            if k not in _LG_OPS:
                raise InvalidFilterError(f"filter[{path!r}] uses operator {k!r}; LangGraph stores take {list(_LG_OPS)}")
            if k in _RANGE and _number(spec) is None:
                raise InvalidFilterError(f"filter[{path!r}] {k} needs a number, got {spec!r}")
        elif isinstance(spec, dict):
            check_langgraph_filter(spec, field)


def langgraph_matches(value: dict[str, Any], filter: dict[str, Any] | None) -> bool:
    """Whether a stored value satisfies a LangGraph filter.

    Raises:
        InvalidFilterError: for an operator LangGraph does not define or a non-numeric range operand.
    """
    if not filter:
        return True
    if not isinstance(filter, dict):
        raise InvalidFilterError(f"filter must be a dict such as {{'status': 'active'}}, got {type(filter).__name__}")
    return all(_lg_compare(str(k), value.get(k), spec) for k, spec in filter.items())


def _push(path: str, spec: Any, out: dict[str, Any]) -> None:
    if isinstance(spec, dict):
        if any(isinstance(k, str) and k.startswith("$") for k in spec):
            ranges = {op: v for op, v in spec.items() if op in _RANGE and _number(v) is not None}
            eq = spec.get("$eq", _MISSING)
            if eq is not _MISSING and not isinstance(eq, dict | list | tuple):
                _push(path, eq, out)
            elif ranges:
                out[path] = ranges
            return  # $ne is not pushed: Qdrant's must-not also drops lists that contain the value
        for k, v in spec.items():
            if isinstance(k, str) and k and "." not in k:
                _push(f"{path}.{k}", v, out)
        return
    if isinstance(spec, list | tuple):
        if spec and all(isinstance(x, str) for x in spec):
            out[path] = {"$in": list(dict.fromkeys(spec))}  # a list holding them holds at least one of them
        return
    if spec is None:
        out[path] = {"$exists": False}  # missing or null (Qdrant's "empty" also takes [])
    elif isinstance(spec, bool):
        return  # decided in Python: the embedded engine's match on booleans is not reliable in every version
    elif isinstance(spec, str):
        out[path] = spec
    elif _number(spec) is not None and math.isfinite(spec):
        out[path] = {"$gte": spec, "$lte": spec}  # a range also matches 1.0 stored for 1, as JSON equality does


def langgraph_pushdown(filter: dict[str, Any] | None) -> dict[str, Any]:
    """A memspy filter that every value matching the LangGraph ``filter`` also matches.

    Keys with a dot stay in Python (memspy would read the dot as nesting); so does ``$ne``.
    """
    out: dict[str, Any] = {}
    for k, spec in (filter or {}).items():
        if isinstance(k, str) and k and "." not in k:
            _push(k, spec, out)
    return out


# ---- memspy's language ------------------------------------------------------------------------------------


def _at(value: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _elements(v: Any) -> list[Any]:
    return list(v) if isinstance(v, list) else [v]


def _ms_condition(field: str, value: Any, op: str, operand: Any) -> bool:
    present = [x for x in _elements(value) if x is not _MISSING and x is not None]
    if op == "$eq":
        return any(_json_equal(x, operand) for x in present)
    if op == "$ne":
        return not any(_json_equal(x, operand) for x in present)
    if op in ("$in", "$nin"):
        if not isinstance(operand, list | tuple) or not operand:
            raise InvalidFilterError(f"filter[{field!r}] {op} needs a non-empty list, got {operand!r}")
        hit = any(_json_equal(x, o) for x in present for o in operand)
        return hit if op == "$in" else not hit
    if op == "$exists":
        if not isinstance(operand, bool):
            raise InvalidFilterError(f"filter[{field!r}] $exists takes True or False, got {operand!r}")
        return bool(present) == operand
    if op in _RANGE:
        b = _number(operand)
        if b is None:
            raise InvalidFilterError(f"filter[{field!r}] {op} needs a number, got {operand!r}")
        return any((a := _number(x)) is not None and _RANGE[op](a, b) for x in present)
    raise InvalidFilterError(
        f"filter[{field!r}] uses unknown operator {op!r}; known: {sorted([*_LG_OPS, '$in', '$nin', '$exists'])}"
    )


def memspy_matches(value: dict[str, Any], filter: dict[str, Any] | None) -> bool:
    """Whether a stored value satisfies a memspy filter (Qdrant's semantics: a list field matches by element).

    Raises:
        InvalidFilterError: for an unknown operator or a malformed operand, naming the field.
    """
    if not filter:
        return True
    if not isinstance(filter, dict):
        raise InvalidFilterError(f"filter must be a dict such as {{'kind': 'Memory'}}, got {type(filter).__name__}")
    for field, spec in filter.items():
        if not isinstance(field, str) or not field:
            raise InvalidFilterError(f"filter keys must be non-empty field names, got {field!r}")
        found = _at(value, field)
        if not isinstance(spec, dict):
            if isinstance(spec, list | tuple | type(None)):
                raise InvalidFilterError(
                    f"filter[{field!r}] = {spec!r}: compare with a str, int, float or bool (or use $in / $exists)"
                )
            spec = {"$eq": spec}
        if not spec:
            raise InvalidFilterError(f"filter[{field!r}] is an empty dict: use an operator such as {{'$eq': ...}}")
        if not all(_ms_condition(field, found, op, v) for op, v in spec.items()):
            return False
    return True
