"""Namespace templates such as ``("memories", "{user_id}")``, filled from a run's configuration."""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from memspy.pipelines.errors import NamespaceConfigError
from memspy.pipelines.records.context import langgraph_configurable
from memspy.stores import Namespace, validate_namespace

__all__ = ["NamespaceTemplate", "configurable", "get_config"]

_CONFIG: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("memspy_config", default=None)
_VAR = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_FORBIDDEN = ("*", "?", "/", "\\", "..")


def get_config() -> dict[str, Any]:
    """The configuration in effect (``{"configurable": {...}}``): the innermost :func:`configurable` block's values
    over those of the LangGraph run this is called in, if any (see :mod:`memspy.pipelines.records.context`)."""
    own = _CONFIG.get()
    ambient = langgraph_configurable()
    if not ambient:
        return own or {"configurable": {}}
    return {"configurable": {**ambient, **((own or {}).get("configurable") or {})}}


@contextmanager
def configurable(**values: Any) -> Iterator[dict[str, Any]]:
    """Set template values for the code inside, e.g. tools called by an agent.

    Example:
        >>> with configurable(user_id="u1"):
        ...     NamespaceTemplate(("memories", "{user_id}")).resolve()
        ('memories', 'u1')
    """
    merged = {"configurable": {**get_config().get("configurable", {}), **values}}
    token = _CONFIG.set(merged)
    try:
        yield merged
    finally:
        _CONFIG.reset(token)


def _check_value(name: str, value: Any) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise NamespaceConfigError(f"configurable[{name!r}] must be a str or int, got {type(value).__name__}")
    text = str(value)
    if not text.strip():
        raise NamespaceConfigError(f"configurable[{name!r}] is empty: give the id this namespace is scoped to")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise NamespaceConfigError(f"configurable[{name!r}] = {text!r} contains a control character")
    if any(f in text for f in _FORBIDDEN) or _VAR.search(text):
        raise NamespaceConfigError(
            f"configurable[{name!r}] = {text!r} contains a separator, wildcard or template; "
            "it could reach outside its scope: use a plain id"
        )
    return text


class NamespaceTemplate:
    """A namespace whose parts may hold ``{name}`` placeholders, at most one per part.

    Args:
        template: A tuple of parts, or a single string (one part).

    Raises:
        NamespaceConfigError: a part holds two placeholders, whose values could run together across tenants.
    """

    def __init__(self, template: Namespace | str) -> None:
        parts = (template,) if isinstance(template, str) else tuple(template)
        self.template: Namespace = validate_namespace(parts)
        for part in self.template:
            if len(_VAR.findall(part)) > 1:
                raise NamespaceConfigError(
                    f"namespace part {part!r} holds {len(_VAR.findall(part))} variables: two tenants could fill it "
                    "alike ('a-b' + 'c' and 'a' + 'b-c'); give each variable its own part, e.g. "
                    "('memories', '{org}', '{user}')"
                )
        self.variables = [v for p in self.template for v in _VAR.findall(p)]

    def resolve(self, config: Mapping[str, Any] | None = None) -> Namespace:
        """Fill the placeholders from ``config["configurable"]`` (or the active :func:`configurable` block).

        Raises:
            NamespaceConfigError: a value is missing or could escape its scope.
        """
        values = dict(get_config().get("configurable", {}))
        if config:
            values.update(config.get("configurable", config) if isinstance(config, Mapping) else {})
        out = []
        for part in self.template:

            def fill(m: re.Match[str]) -> str:
                name = m.group(1)
                if name not in values:
                    raise NamespaceConfigError(
                        f"namespace {self.template} needs {name!r}: pass config={{'configurable': {{'{name}': ...}}}}"
                    )
                return _check_value(name, values[name])

            out.append(_VAR.sub(fill, part))
        return validate_namespace(tuple(out))

    def __repr__(self) -> str:
        return f"NamespaceTemplate({self.template!r})"
