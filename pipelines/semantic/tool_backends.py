"""What the memory tools do: create, update or delete one memory record, and ranked recall over a namespace.

:class:`~memspy.pipelines.semantic.tools.MemoryTool` wraps these functions for DSPy, LangChain and hand-written
agent loops; they write the background store manager's record format, so both paths mix freely.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from memspy.pipelines.errors import MemoryToolError, SchemaError
from memspy.pipelines.records.context import resolve_store
from memspy.pipelines.records.format import (
    ACTIVE,
    RecordChange,
    apply_changes,
    new_record,
    render_content,
    retired_record,
    updated_record,
)
from memspy.pipelines.records.namespaces import NamespaceTemplate, get_config
from memspy.pipelines.records.recall import RankingWeights, search_memories
from memspy.pipelines.records.writes import rewrite
from memspy.pipelines.semantic.schemas import Memory, MemorySchema
from memspy.pipelines.semantic.store_manager import default_store
from memspy.stores import BaseStore, StoreError

__all__ = ["ManageMemory", "SearchMemory", "ToolBackend"]


def _int_arg(value: Any, name: str, low: int, high: int) -> int:
    if (isinstance(value, str) and value.strip().isdigit()) or (isinstance(value, float) and value.is_integer()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MemoryToolError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


@dataclass(eq=False)
class ToolBackend:  # a tool's function: its name, namespace template and (lazily opened) store
    name: str
    template: NamespaceTemplate
    _store: BaseStore | None

    @property
    def store(self) -> BaseStore:
        return resolve_store(self._store, default_store)  # given > the LangGraph run's > the embedded default

    def __deepcopy__(self, memo: dict[int, Any]) -> ToolBackend:
        return self  # copies of a program (optimizers deep-copy modules) share the store

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_store": None}  # a pickled program (save_program=True) leaves the store out


@dataclass(eq=False)
class ManageMemory(ToolBackend):  # create, update or delete one memory record
    schema: MemorySchema
    plain: bool
    actions: tuple[str, ...]
    hard_delete: bool

    def _content(self, content: Any) -> Any:
        if content is None or (isinstance(content, str) and not content.strip()):
            raise MemoryToolError("content is required to create or update a memory")
        if self.plain and isinstance(content, str):
            return Memory(content=content.strip())
        try:
            return self.schema.validate(content)
        except SchemaError as e:
            raise MemoryToolError(str(e)) from None

    def __call__(self, content: Any = None, action: str = "create", id: Any = None, importance: Any = None) -> str:
        if action not in self.actions:
            raise MemoryToolError(f"action {action!r} is not permitted for {self.name}; use {list(self.actions)}")
        imp, number = importance, isinstance(importance, int | float) and not isinstance(importance, bool)
        if imp is not None and not (number and 0 <= imp <= 1):
            raise MemoryToolError(f"importance must be a number from 0.0 to 1.0, got {imp!r}")
        ns = self.template.resolve()
        provenance = {"source": "tool", "tool": self.name, "thread_id": get_config()["configurable"].get("thread_id")}
        if action == "create":
            if id:
                raise MemoryToolError(f"create takes no id; to change memory {id!r} use action='update'")
            body = self._content(content)
            text = render_content(body)
            same = self.store.search(ns, filter={"text": text, "kind": self.schema.name, **ACTIVE}, limit=1)
            if same:  # agents (small ones especially) repeat themselves: an exact duplicate is not stored twice
                return f"memory {same[0].key} already holds this; nothing was created"
            key = str(uuid.uuid4())
            record = new_record(self.schema.name, body, importance=0.5 if imp is None else imp, provenance=provenance)
            apply_changes(self.store, ns, [RecordChange("put", key, record, "insert")])
            return f"created memory {key}"
        if not isinstance(id, str) or not id.strip() or any(ord(c) < 32 for c in id):
            raise MemoryToolError(f"{action} needs the id of an existing memory (the key from search or create)")

        def build(current: dict[str, dict[str, Any] | None]) -> list[RecordChange]:
            # Built on the record as stored now, under the namespace's write lock: a background manager's write
            # in between is kept (in history), and this change is not overwritten by one that read before it.
            value = current[id]
            if value is None or "invalid_at" in value:
                raise MemoryToolError(
                    f"no memory with id {id!r}; nothing was changed. Search first and copy an id exactly"
                )
            if action == "update":
                if (kind := value.get("kind")) != self.schema.name:
                    raise MemoryToolError(
                        f"memory {id} is a {kind}; {self.name} only updates {self.schema.name} memories"
                    )
                record = updated_record(value, self._content(content), importance=imp, provenance=provenance)
                return [RecordChange("put", id, record, "update")]
            if self.hard_delete:
                return [RecordChange("delete", id)]
            return [RecordChange("put", id, retired_record(value, provenance=provenance), "delete")]

        rewrite(self.store, ns, [id], build)
        return f"{'updated' if action == 'update' else 'deleted'} memory {id}"


@dataclass(eq=False)
class SearchMemory(ToolBackend):  # ranked recall over the tool's namespace
    response_format: str
    weights: RankingWeights | None

    def __call__(self, query: str = "", limit: int = 10, offset: int = 0, filter: dict[str, Any] | None = None) -> Any:
        if not isinstance(query, str) or not isinstance(filter, dict | None):
            raise MemoryToolError(f"query must be a string and filter an object or null, got {query!r}, {filter!r}")
        n, skip = _int_arg(limit, "limit", 1, 100), _int_arg(offset, "offset", 0, 10_000)
        ns, text = self.template.resolve(), query.strip() or None  # a missing namespace value raises
        try:
            ranked = search_memories(
                self.store, ns, text, filter=filter or None, limit=n, offset=skip, weights=self.weights
            )
        except StoreError as e:  # what the LM wrote (filter, query) cannot be searched: it reads why and retries
            raise MemoryToolError(str(e)) from None
        v = [(r.key, r.value, round(r.score, 4)) for r in ranked]
        rows = [{"key": k, "kind": x.get("kind"), "content": x.get("content"), "score": sc} for k, x, sc in v]
        text = json.dumps(rows, ensure_ascii=False)
        return (text, ranked) if self.response_format == "content_and_artifact" else text
