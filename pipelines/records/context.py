"""Where a memory component finds its store and its run configuration when none is passed to it.

Inside a LangGraph run (a node of a ``StateGraph``, an ``@entrypoint``, a tool called by
``create_react_agent``) LangGraph keeps the run's ``RunnableConfig`` and the graph's store in context
variables. memspy's managers, tools and executor read them from there, as LangMem's do, so the same code
works inside and outside a graph:

- configuration: explicit ``config=`` > a memspy ``configurable(...)`` block > the LangGraph run's
  ``config["configurable"]``;
- store: the one given to the component > the LangGraph run's store (``get_store()``, wrapped as a memspy
  store) > the embedded default store.

LangGraph is an optional dependency: it is only consulted when the program has imported it already (no
graph can be running otherwise), so nothing here imports it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from memspy.stores import BaseStore, Store

__all__ = ["as_store", "langgraph_configurable", "langgraph_store", "resolve_store"]


def _langgraph_call(name: str) -> Any:
    module = sys.modules.get("langgraph.config")
    if module is None:
        return None
    try:
        return getattr(module, name)()
    except RuntimeError:  # "Called get_config outside of a runnable context"
        return None


def langgraph_configurable() -> dict[str, Any]:
    """The ``configurable`` values of the LangGraph run this code is called in; ``{}`` outside one."""
    config = _langgraph_call("get_config")
    values = (config or {}).get("configurable") or {}
    return {k: v for k, v in values.items() if isinstance(k, str) and not k.startswith("__")}


def langgraph_store() -> Any:
    """The store of the LangGraph run this code is called in (a LangGraph ``BaseStore``), or None."""
    return _langgraph_call("get_store")


def as_store(store: Any) -> Any:
    """A memspy store as it is; a LangGraph ``BaseStore`` wrapped so memspy's pipelines can use it.

    Raises:
        InvalidValueError: for anything that is neither (see ``memspy.stores.langgraph.as_memspy_store``).
    """
    if store is None or isinstance(store, BaseStore | Store):
        return store
    from memspy.stores.langgraph import as_memspy_store  # the optional extra, needed only for foreign stores

    return as_memspy_store(store)


def resolve_store(store: Any, default: Callable[[], Any]) -> Any:
    """``store`` if given, else the LangGraph run's store, else ``default()``."""
    if store is not None:
        return store
    ambient = langgraph_store()
    return as_store(ambient) if ambient is not None else default()
