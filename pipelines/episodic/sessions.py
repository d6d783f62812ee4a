"""Open episodic sessions: the turn counter and the turns of the unfinished episode, persisted per session."""

from __future__ import annotations

import threading
from typing import Any

from memspy.pipelines.records.format import now_iso
from memspy.stores import BaseStore, Namespace, PutOp

__all__ = ["SESSION_KIND", "OpenSessions", "session_id_from"]

SESSION_KIND = "EpisodeSession"
_OPEN = "_open"


def session_id_from(session_id: str | None, config: dict[str, Any] | None) -> str:
    """The session: ``session_id``, else ``config["configurable"]``'s ``session_id`` or ``thread_id``.

    Raises:
        ValueError: none is given.
    """
    conf = (config or {}).get("configurable", {})
    sid = session_id or conf.get("session_id") or conf.get("thread_id")
    if not sid:
        raise ValueError("a session is needed: pass session_id=... or config={'configurable': {'session_id': ...}}")
    return str(sid)


class OpenSessions:
    """Session records under ``namespace + ("_open",)``, keyed by session id, and one lock per session.

    A record holds ``next_turn_id`` (turn ids continue across calls and restarts), ``open_turns`` (summaries
    not yet in an episode), ``recent_turns`` (the last summaries, context for the next call) and
    ``open_count``. Copies of a module share this object, as they share the store.
    """

    def __init__(self, store: BaseStore) -> None:
        self.store = store
        self._guard = threading.Lock()
        self._locks: dict[tuple[Namespace, str], threading.Lock] = {}

    def __deepcopy__(self, memo: dict[int, Any]) -> OpenSessions:
        return self

    def lock(self, ns: Namespace, session_id: str) -> threading.Lock:
        """The lock serializing work on one session of one namespace."""
        with self._guard:
            return self._locks.setdefault((ns, session_id), threading.Lock())

    def exists(self, ns: Namespace, session_id: str) -> bool:
        return self.store.get((*ns, _OPEN), session_id) is not None

    def load(self, ns: Namespace, session_id: str) -> dict[str, Any]:
        """The session's record, or a fresh one."""
        item = self.store.get((*ns, _OPEN), session_id)
        if item is not None:
            return dict(item.value)
        return {
            "kind": SESSION_KIND,
            "session_id": session_id,
            "next_turn_id": 0,
            "open_turns": [],
            "open_count": 0,
            "recent_turns": [],
        }

    def put_op(self, ns: Namespace, state: dict[str, Any]) -> PutOp:
        """The write of ``state`` (not embedded), for a batch with other writes."""
        value = {**state, "open_count": len(state["open_turns"]), "updated_at": now_iso()}
        return PutOp((*ns, _OPEN), state["session_id"], value, False)

    def with_open_turns(self, ns: Namespace, *, limit: int = 100) -> list[str]:
        """Ids of the sessions that still have open turns."""
        items = self.store.search((*ns, _OPEN), filter={"kind": SESSION_KIND, "open_count": {"$gt": 0}}, limit=limit)
        return [it.key for it in items]
