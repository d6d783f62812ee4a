"""The store manager: retrieve related memories, run the memory manager, apply its changes atomically."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Sequence
from typing import Any

import dspy

from memspy.pipelines.records.context import as_store, resolve_store
from memspy.pipelines.records.format import (
    ACTIVE,
    RecordChange,
    apply_changes,
    render_content,
    retired_record,
)
from memspy.pipelines.records.namespaces import NamespaceTemplate
from memspy.pipelines.records.recall import RankedMemory, RankingWeights, search_memories
from memspy.pipelines.records.writes import rewrite
from memspy.pipelines.runtime.messages import message_ids, normalize_messages, render_transcript
from memspy.pipelines.semantic.changes import ChangePlan
from memspy.pipelines.semantic.manager import MemoryManager
from memspy.pipelines.semantic.programs import load_program
from memspy.pipelines.semantic.provenance import supporting_ids
from memspy.pipelines.semantic.schemas import ExtractedMemory
from memspy.pipelines.semantic.scopes import Scopes, event_log
from memspy.stores import BaseStore, Namespace

__all__ = ["MemoryStoreManager", "create_memory_store_manager", "default_store"]


_DEFAULT_STORES: dict[str, BaseStore] = {}
_DEFAULT_LOCK = threading.Lock()


def default_store(path: str = ".memspy/store") -> BaseStore:
    """The embedded default store (``EdgeStore``) at ``path``, opened once per process and shared."""
    from memspy.stores import EdgeStore

    key = os.path.abspath(path)
    with _DEFAULT_LOCK:
        store = _DEFAULT_STORES.get(key)
        if store is None or getattr(store, "_closed", False):
            store = _DEFAULT_STORES[key] = EdgeStore(path)
        return store


def _existing(records: dict[str, dict[str, Any]]) -> list[tuple[str, str, Any]]:
    return [(key, value["kind"], value["content"]) for key, value in records.items()]


def _query_text(messages: list[dict[str, Any]], max_chars: int = 2000) -> str:
    return render_transcript(messages)[-max_chars:]


class MemoryStoreManager(dspy.Module):
    """Keeps a store's memories in step with conversations (LangMem's ``create_memory_store_manager``).

    For each call: fill the namespace from ``config``, fetch the ``query_limit`` most relevant valid
    memories, run ``self.manager`` and write all its changes as one batch. With the facts design the memories
    shown to the reconciling step are each new fact's nearest stored ones (relevance >= ``neighbour_score``).
    """

    def __init__(
        self,
        lm: Any = None,
        *,
        namespace: Namespace | str = ("memories", "{user_id}"),
        store: BaseStore | None = None,
        query_limit: int = 5,
        hard_delete: bool = False,
        weights: RankingWeights | None = None,
        neighbour_score: float = 0.45,
        scopes: Sequence[str] = (),
        **manager_kwargs: Any,
    ) -> None:
        super().__init__()
        if not 0.0 <= neighbour_score <= 1.0:
            raise ValueError(f"neighbour_score must be in [0, 1], got {neighbour_score}: it is a cosine threshold")
        self.neighbour_score = neighbour_score
        manager_kwargs.setdefault("enable_deletes", True)
        self.manager = MemoryManager(lm, **manager_kwargs)
        self.namespace = NamespaceTemplate(namespace)
        self.store = as_store(store)  # a LangGraph BaseStore is wrapped
        self.query_limit = query_limit
        self.hard_delete = hard_delete
        self.weights = weights or RankingWeights()
        self.scopes = Scopes(scopes)  # optional ids (mem0's user_id / agent_id / run_id): see .scopes

    def save(self, path: Any, save_program: bool = False, modules_to_serialize: Any = None) -> None:
        """DSPy's ``save``; with ``save_program=True`` the store (open files, locks) is left out of the pickle:
        the loaded program writes to the store it is then given, the LangGraph run's, or the embedded default."""
        store, self.store = self.store, (None if save_program else self.store)
        try:
            super().save(path, save_program=save_program, modules_to_serialize=modules_to_serialize)
        finally:
            self.store = store

    def _store(self) -> BaseStore:
        return resolve_store(self.store, default_store)  # given > the LangGraph run's > the embedded default

    def retrieve_existing(
        self, ns: Namespace, messages: list[dict[str, Any]], scope: dict[str, Any] | None = None
    ) -> dict[str, dict[str, Any]]:
        """The stored records shown to the LM, by key (the only ids it may update or delete)."""
        kinds = [s.name for s in self.manager.schemas]
        store = self._store()
        if not self.manager.enable_inserts:  # profiles: every document of each kind, not a relevance cut
            flt = {"kind": {"$in": kinds}, **ACTIVE, **(scope or {})}
            items = store.search(ns, filter=flt, limit=max(10, len(kinds) * 2))
            return {i.key: i.value for i in items}
        ranked = search_memories(
            store,
            ns,
            _query_text(messages),
            filter={"kind": {"$in": kinds}, **(scope or {})},
            limit=self.query_limit,
            weights=self.weights,
            track_access=False,
        )
        return {r.key: r.value for r in ranked}

    def neighbours(
        self, ns: Namespace, texts: list[str], scope: dict[str, Any] | None = None
    ) -> dict[str, dict[str, Any]]:
        """The stored records close to any of ``texts`` (new facts): each fact's few nearest above
        ``neighbour_score``, at most ``2 * query_limit`` in all, by key."""
        kinds = [s.name for s in self.manager.schemas]
        found: dict[str, dict[str, Any]] = {}
        for text in texts:
            for r in search_memories(
                self._store(),
                ns,
                text,
                filter={"kind": {"$in": kinds}, **(scope or {})},
                limit=3,
                weights=self.weights,
                track_access=False,
                min_score=self.neighbour_score,
            ):
                found.setdefault(r.key, r.value)
        return dict(list(found.items())[: 2 * self.query_limit])

    def forward(
        self,
        messages: Any,
        config: dict[str, Any] | None = None,
        thread_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dspy.Prediction:
        """Process one batch of messages (``metadata`` is stored with every memory written).

        Returns:
            ``Prediction(events=[{namespace, key, event}], memories=[ExtractedMemory], usage=Usage)``.
        """
        msgs = normalize_messages(messages)
        ns = self.namespace.resolve(config)
        thread = thread_id or ((config or {}).get("configurable", {}).get("thread_id"))
        scoped = self.scopes.require(config, what="writing memories")
        scope = {f"scope.{k}": v for k, v in scoped.items()}
        olds: dict[str, dict[str, Any]] = {}
        if self.manager.design == "facts" and self.manager.enable_inserts:

            def neighbours(texts: list[str]) -> list[tuple[str, str, Any]]:
                olds.update(self.neighbours(ns, texts, scope))
                return _existing(olds)

            pred = self.manager(messages=msgs, existing=neighbours)
        else:
            olds = self.retrieve_existing(ns, msgs, scope)
            pred = self.manager(messages=msgs, existing=_existing(olds))
        ids = message_ids(msgs)
        provenance = {"source": "extraction", "thread_id": thread, "message_ids": ids}
        written = [render_content(op.content) for op in pred.operations if op.action != "delete"]
        supports = iter(supporting_ids(getattr(self._store(), "embedder", None), written, msgs, ids))
        plan = ChangePlan(
            [
                (op, None if op.action == "delete" else {**provenance, "message_ids": next(supports)})
                for op in pred.operations
            ],
            set(olds),
            provenance,
            self.scopes,
            scoped,
            metadata,
            self.hard_delete,
        )
        events = rewrite(self._store(), ns, plan.rereads(), plan.build)
        return dspy.Prediction(events=events, memories=list(pred.memories), usage=pred.usage, namespace=ns)

    def invoke(self, input: dict[str, Any], config: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """LangMem's shape: ``invoke({"messages": [...]}, config={"configurable": {...}})`` -> events."""
        thread, metadata = input.get("thread_id"), input.get("metadata")
        return list(self(messages=input["messages"], config=config, thread_id=thread, metadata=metadata).events)

    async def ainvoke(self, input: dict[str, Any], config: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.invoke, input, config)

    async def aforward(self, messages: Any, config: dict[str, Any] | None = None, thread_id: str | None = None) -> Any:
        return await asyncio.to_thread(self.forward, messages, config, thread_id)

    def search(
        self,
        query: str | None = None,
        *,
        config: dict[str, Any] | None = None,
        limit: int = 10,
        filter: dict[str, Any] | None = None,
        weights: RankingWeights | None = None,
        min_score: float | None = None,
    ) -> list[RankedMemory]:
        """Ranked recall of valid memories in this manager's namespace and scope (see
        :mod:`memspy.pipelines.records.recall`); ``min_score`` drops those whose relevance is below it."""
        ns = self.namespace.resolve(config)
        flt = {**(filter or {}), **self.scopes.filter(config)} or None
        store, w = self._store(), weights or self.weights
        if min_score is None:
            return search_memories(store, ns, query, filter=flt, limit=limit, weights=w)
        return search_memories(store, ns, query, filter=flt, limit=limit, weights=w, min_score=min_score)

    def get_memories(self, config: dict[str, Any] | None = None, *, limit: int = 100) -> list[ExtractedMemory]:
        """All valid memories in the namespace as ``ExtractedMemory``, newest first."""
        ns = self.namespace.resolve(config)
        by_name = {s.name: s for s in self.manager.schemas}
        out = []
        for it in self._store().search(ns, filter={**ACTIVE, **self.scopes.filter(config)}, limit=limit):
            schema = by_name.get(it.value.get("kind", ""))
            if schema is not None:
                out.append(ExtractedMemory(it.key, schema.validate(it.value["content"])))
        return out

    def delete_all(self, config: dict[str, Any] | None = None) -> int:
        """Delete every valid memory in the namespace and scope (mem0's ``delete_all``); return how many.

        Soft deletes unless ``hard_delete``; one batch per namespace and page. With scopes configured, at least
        one id must be given.
        """
        ns = self.namespace.resolve(config)
        self.scopes.require(config, what="delete_all")
        flt, store, done = {**ACTIVE, **self.scopes.filter(config)}, self._store(), 0
        while page := store.search(ns, filter=flt, limit=200):  # deleted ones no longer match: always page 1
            by_ns: dict[Namespace, list[RecordChange]] = {}
            for it in page:
                retired = retired_record(it.value, provenance={"source": "delete_all"})
                soft = RecordChange("put", it.key, retired, "delete")
                by_ns.setdefault(it.namespace, []).append(RecordChange("delete", it.key) if self.hard_delete else soft)
            for item_ns, changes in by_ns.items():
                apply_changes(store, item_ns, changes)
            done += len(page)
        return done

    def memory_history(self, memory_id: str, config: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """A memory's event log, oldest first: ``{event: ADD|UPDATE|DELETE, old, new, time, source}`` each
        (mem0's ``history``; ``self.history`` is DSPy's LM call log); ``[]`` for an unknown id."""
        item = self._store().get(self.namespace.resolve(config), memory_id)
        return event_log(item.value) if item is not None else []


def create_memory_store_manager(lm: Any = None, **kwargs: Any) -> MemoryStoreManager:
    """Create a store-backed memory manager (LangMem's ``create_memory_store_manager``).

    Args:
        lm: A ``dspy.LM``, a model string, or None (``dspy.configure``).
        **kwargs: ``namespace``, ``store`` (default: ``EdgeStore(".memspy/store")``), ``query_limit``,
            ``hard_delete``, ``weights``, ``program`` (a saved compiled program), and the memory manager's
            ``schemas``, ``instructions``, ``enable_inserts``, ``enable_updates``, ``enable_deletes`` (default True),
            ``max_steps``.

    Example:
        >>> manager = create_memory_store_manager("local", namespace=("memories", "{user_id}"))  # doctest: +SKIP
        >>> manager.invoke({"messages": msgs}, config={"configurable": {"user_id": "u1"}})
    """
    program = kwargs.pop("program", None)
    compiled = kwargs.pop("compiled", True)
    manager = MemoryStoreManager(lm, **kwargs)
    if program is not None and _saved_by_store_manager(program):
        manager.load(str(program))
    else:  # a memory manager's program (what `memspy optimize extract` saves), or the shipped one
        load_program(manager.manager, program, compiled=compiled)
    return manager


def _saved_by_store_manager(path: Any) -> bool:
    """Whether a saved program's keys are a store manager's (``manager.extract``) rather than a manager's."""
    if not str(path).endswith(".json"):
        return True
    with open(path, encoding="utf-8") as f:
        state = json.load(f)
    return any(str(key).startswith("manager.") for key in state)
