"""mem0-style scopes and history for the store manager: optional ids that narrow a search, and an event log.

A namespace template makes every ``{variable}`` required. ``scopes=("user_id", "agent_id", "run_id")`` adds ids
that are optional instead: each record written stores the ones the call's configuration gives under
``value["scope"]``, and reads filter on the ones given, so a missing id widens the search to every value of it
(mem0's ``user_id`` / ``agent_id`` / ``run_id``). ``metadata=`` is stored as ``value["metadata"]`` and filtered
with dotted keys (``{"metadata.category": "food"}``).

:func:`event_log` turns a record's version history into mem0's ``history(memory_id)`` (the store manager's
``memory_history``): one event per change (``ADD``, ``UPDATE``, ``DELETE``) with the old and the new content,
the time and the source.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from memspy.pipelines.errors import ConfigError
from memspy.pipelines.records.namespaces import get_config

__all__ = ["Scopes", "event_log"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Scopes:
    """The optional scope ids of a store manager (see the module docstring)."""

    def __init__(self, names: Sequence[str] = ()) -> None:
        names = tuple(names)
        bad = [n for n in names if not isinstance(n, str) or not _NAME.match(n)]
        if bad:
            raise ConfigError(f"scopes must be identifiers such as 'user_id' or 'agent_id', got {bad!r}")
        self.names = names

    def values(self, config: Mapping[str, Any] | None = None) -> dict[str, str]:
        """The scope ids given by ``config`` (or the active/LangGraph configuration); missing ones are left out.

        Raises:
            ConfigError: a given id that is not a non-empty str or int.
        """
        values = dict(get_config().get("configurable", {}))
        if config:
            values.update(config.get("configurable", config))
        out: dict[str, str] = {}
        for name in self.names:
            v = values.get(name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, str | int) or not str(v).strip():
                raise ConfigError(f"configurable[{name!r}] must be a non-empty str or int, got {v!r}")
            out[name] = str(v)
        return out

    def filter(self, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Filter conditions for the given ids (``{"scope.user_id": "alice"}``); ``{}`` when none is given."""
        return {f"scope.{k}": v for k, v in self.values(config).items()}

    def require(self, config: Mapping[str, Any] | None = None, *, what: str) -> dict[str, str]:
        """The given ids; at least one must be given when scopes are configured.

        Raises:
            ConfigError: naming the ids to pass.
        """
        values = self.values(config)
        if self.names and not values:
            raise ConfigError(
                f"{what} needs at least one of {list(self.names)}: pass config={{'configurable': {{'user_id': ...}}}}"
            )
        return values

    def stamp(self, record: dict[str, Any], values: dict[str, str], metadata: Mapping[str, Any] | None) -> None:
        """Write the scope ids (and metadata, when given) into a record about to be stored."""
        if values or self.names:
            record["scope"] = dict(values)
        if metadata is not None:
            if not isinstance(metadata, Mapping):
                raise ConfigError(f"metadata must be a dict of JSON values, got {type(metadata).__name__}")
            record["metadata"] = dict(metadata)


def _source(provenance: Any) -> Any:
    return provenance.get("source") if isinstance(provenance, dict) else None


def event_log(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A record's changes, oldest first: ``{"event", "old", "new", "time", "source"}`` each.

    The first event is ``ADD`` when the oldest kept version is the record's first (history keeps the last
    versions only); a soft-deleted record ends with ``DELETE``.
    """
    versions = [*record.get("history", []), dict(record)]
    events: list[dict[str, Any]] = []
    for i, v in enumerate(versions):
        old = versions[i - 1].get("content") if i else None
        first = i == 0 and v.get("updated_at") == record.get("created_at")
        events.append(
            {
                "event": "ADD" if first else "UPDATE",
                "old": old,
                "new": v.get("content"),
                "time": v.get("updated_at"),
                "source": _source(v.get("provenance")),
            }
        )
    if record.get("invalid_at"):
        events.append(
            {
                "event": "DELETE",
                "old": record.get("content"),
                "new": None,
                "time": record.get("invalid_at"),
                "source": _source(record.get("deleted_by")),
            }
        )
    return events
