"""Read-modify-write of memory records without lost updates.

Every writer of records (the background store manager, the hot-path tools, the access bookkeeping of a
search) changes a record by building its next version from the current one. Two writers that read the same
version and then write would each overwrite the other's change. So the read that a write builds on and the
write itself run under one lock per (store, namespace): :func:`rewrite` re-reads the records it is about to
change, lets the caller build the changes from those fresh values (the LM call, which is slow, happens before,
outside the lock), and writes them as one batch. A change made in between is never overwritten: the writer
that comes second builds on it, and it goes into ``history``.

The lock serializes the writers of one process; an ``EdgeStore`` directory is open in one process only.
Writers in several processes on one Qdrant server are not serialized by it.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from memspy.pipelines.records.format import RecordChange, apply_changes, now_iso
from memspy.stores import Namespace

__all__ = ["bump_access", "namespace_lock", "rewrite"]

_LOCKS: weakref.WeakKeyDictionary[Any, dict[Namespace, threading.RLock]] = weakref.WeakKeyDictionary()
_BY_ID: dict[int, dict[Namespace, threading.RLock]] = {}  # stores that cannot be weakly referenced
_REGISTRY = threading.Lock()


def namespace_lock(store: Any, namespace: Namespace) -> threading.RLock:
    """The lock that every record writer of ``namespace`` in ``store`` holds while it reads and writes."""
    owner = getattr(store, "langgraph_store", store)  # wrappers of one LangGraph store share its locks
    with _REGISTRY:
        try:
            locks = _LOCKS.setdefault(owner, {})
        except TypeError:
            locks = _BY_ID.setdefault(id(owner), {})
        return locks.setdefault(tuple(namespace), threading.RLock())


def rewrite(
    store: Any,
    namespace: Namespace,
    keys: Iterable[str],
    build: Callable[[dict[str, dict[str, Any] | None]], list[RecordChange]],
) -> list[dict[str, Any]]:
    """Re-read ``keys``, build the changes from their current values (None: not stored), write them in one batch.

    Returns:
        The events of :func:`memspy.pipelines.records.format.apply_changes`.
    """
    with namespace_lock(store, namespace):
        current: dict[str, dict[str, Any] | None] = {}
        for key in dict.fromkeys(keys):
            item = store.get(namespace, key)
            current[key] = item.value if item is not None else None
        return apply_changes(store, namespace, build(current))


def bump_access(store: Any, hits: Iterable[tuple[Namespace, str]]) -> None:
    """Count one access of each hit (``access_count`` + 1, ``last_accessed_at`` now), from its current count."""
    by_ns: dict[Namespace, list[str]] = {}
    for ns, key in hits:
        by_ns.setdefault(tuple(ns), []).append(key)
    ts = now_iso()
    for ns, keys in by_ns.items():
        with namespace_lock(store, ns):
            patches = {}
            for key in dict.fromkeys(keys):
                item = store.get(ns, key)
                if item is not None:
                    count = int(item.value.get("access_count", 0)) + keys.count(key)
                    patches[key] = {"last_accessed_at": ts, "access_count": count}
            if patches:
                store.patch(ns, patches)
