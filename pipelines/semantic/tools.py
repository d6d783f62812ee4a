"""Hot-path memory tools: an agent saves, revises, deletes and searches its own long-term memories.

Records use :mod:`memspy.pipelines.records.format`, the background store manager's format, so both paths mix freely.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import dspy
from dspy.adapters.types.tool import _resolve_json_schema_reference
from dspy.utils.callback import with_callbacks
from pydantic import Field

from memspy.pipelines.errors import MemoryToolError, SchemaError
from memspy.pipelines.records.context import as_store, resolve_store
from memspy.pipelines.records.format import (
    ACTIVE,
    RecordChange,
    apply_changes,
    new_record,
    render_content,
    retired_record,
    updated_record,
)
from memspy.pipelines.records.namespaces import NamespaceTemplate, configurable, get_config
from memspy.pipelines.records.recall import RankingWeights, search_memories
from memspy.pipelines.records.writes import rewrite
from memspy.pipelines.semantic.schemas import Memory, MemorySchema, normalize_schemas
from memspy.pipelines.semantic.store_manager import default_store
from memspy.pipelines.semantic.tool_schema import LangChainFace, expose
from memspy.stores import BaseStore, Namespace, StoreError

__all__ = ["MemoryTool", "create_manage_memory_tool", "create_search_memory_tool"]

_ACTIONS = ("create", "update", "delete")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

_MANAGE_DESCRIPTION = (
    "Save, revise or remove long-term memories that persist across conversations. Create one for durable facts "
    "(preferences, personal details, plans, decisions); update one by id when it is corrected or refined; "
    "delete one by id when it is no longer true."
)
_SEARCH_DESCRIPTION = (
    "Search the long-term memories saved in earlier conversations. Returns the best matches as a JSON list of "
    "objects with key (the id to update or delete), kind, content and score."
)


def _name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"tool name {name!r} must be 1-64 letters, digits, '_' or '-'")
    return name


def _nullable(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}], "default": None, "description": description}


def _int_arg(value: Any, name: str, low: int, high: int) -> int:
    if (isinstance(value, str) and value.strip().isdigit()) or (isinstance(value, float) and value.is_integer()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MemoryToolError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


@dataclass(eq=False)
class _Backend:  # a tool's function: its name, namespace template and (lazily opened) store
    name: str
    template: NamespaceTemplate
    _store: BaseStore | None

    @property
    def store(self) -> BaseStore:
        return resolve_store(self._store, default_store)  # given > the LangGraph run's > the embedded default

    def __deepcopy__(self, memo: dict[int, Any]) -> _Backend:
        return self  # copies of a program (optimizers deep-copy modules) share the store

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_store": None}  # a pickled program (save_program=True) leaves the store out


@dataclass(eq=False)
class _ManageMemory(_Backend):  # create, update or delete one memory record
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
class _SearchMemory(_Backend):  # ranked recall over the tool's namespace
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


class MemoryTool(LangChainFace, dspy.Tool):
    """A ``dspy.Tool`` (for ``dspy.ReAct``) that also serves OpenAI, Anthropic and hand-written agent loops.

    Calls the agent can correct (forbidden action, unknown id, invalid content) write nothing and return
    ``"Error: ..."`` text; configuration problems (a namespace value missing) raise.
    """

    def _run(self, kwargs: dict[str, Any]) -> Any:
        unknown = sorted(set(kwargs) - set(self.args or {}) - set(inspect.signature(self.func).parameters))
        try:
            if unknown:
                raise MemoryToolError(f"unknown argument(s) {unknown}; {self.name} takes {sorted(self.args or {})}")
            return self.func(**kwargs)
        except MemoryToolError as e:
            return f"Error: {e}"

    @with_callbacks
    def __call__(self, **kwargs: Any) -> Any:
        return self._run(kwargs)

    @with_callbacks
    async def acall(self, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self._run, kwargs)

    def invoke(self, args: Mapping[str, Any] | str, config: Mapping[str, Any] | None = None) -> Any:
        """Run one call from a hand-written agent loop.

        Args:
            args: The arguments, a dict or a JSON object string (OpenAI's ``arguments``).
            config: ``{"configurable": {"user_id": ..., "thread_id": ...}}``; default: the active ``configurable``.
        """
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except json.JSONDecodeError as e:
                return f"Error: the arguments are not valid JSON ({e.msg}); send a JSON object"
        if not isinstance(args, Mapping):
            return f"Error: the arguments must be a JSON object, got {type(args).__name__}"
        values = dict(config.get("configurable", config)) if config else {}
        with configurable(**values):
            return self(**dict(args))

    async def ainvoke(self, args: Mapping[str, Any] | str, config: Mapping[str, Any] | None = None) -> Any:
        """:meth:`invoke` on a worker thread (the store is synchronous)."""
        return await asyncio.to_thread(self.invoke, args, config)

    def json_schema(self) -> dict[str, Any]:
        """``{"name", "description", "parameters"}`` with the parameters as a JSON schema object."""
        props = json.loads(json.dumps(self.args or {}))
        params = {"type": "object", "properties": props, "required": [k for k in props if "default" not in props[k]]}
        return {"name": self.name, "description": self.desc, "parameters": params}

    def to_openai(self) -> dict[str, Any]:
        """The tool in OpenAI's chat-completions ``tools`` format."""
        return {"type": "function", "function": self.json_schema()}

    def to_anthropic(self) -> dict[str, Any]:
        """The tool in Anthropic's messages ``tools`` format."""
        spec = self.json_schema()
        return {"name": spec["name"], "description": spec["description"], "input_schema": spec["parameters"]}


def create_manage_memory_tool(
    namespace: Namespace | str = ("memories", "{user_id}"),
    *,
    instructions: str = _MANAGE_DESCRIPTION,
    schema: Any = str,
    actions_permitted: Sequence[str] = _ACTIONS,
    store: BaseStore | None = None,
    name: str = "manage_memory",
    hard_delete: bool = False,
) -> MemoryTool:
    """A tool that creates, updates and deletes memories (LangMem's ``create_manage_memory_tool``).

    Args:
        namespace: Where memories live; ``{name}`` parts are filled on every call from ``configurable(...)``.
        instructions: The tool description: when the agent should save, change or delete a memory.
        schema: ``str`` (free text, stored as the ``Memory`` kind ``{"content": text}``), a pydantic model or a
            JSON-schema dict (with a ``title``): the kind and shape of ``content``.
        actions_permitted: The actions the agent may take, a non-empty subset of create, update, delete.
        store: The store (default: ``default_store()``, opened on first use and shared).
        name: The tool's name.
        hard_delete: Remove records for real; by default a delete only marks them invalid (kept for history).
    """
    actions = tuple(dict.fromkeys(actions_permitted))
    if not actions or any(a not in _ACTIONS for a in actions):
        raise ValueError(f"actions_permitted must be a non-empty subset of {_ACTIONS}, got {actions_permitted!r}")
    plain = schema is str
    schemas = normalize_schemas(Memory if plain else schema)
    if len(schemas) != 1:
        raise ValueError(f"a manage tool writes one kind; got {[s.name for s in schemas]}: make one tool per schema")
    kind = schemas[0]
    content_schema = {"type": "string"} if plain else _resolve_json_schema_reference(kind.model.model_json_schema())
    args: dict[str, Any] = {
        "content": _nullable(content_schema, f"the {kind.name} memory; required for create and update"),
        "action": {"type": "string", "enum": list(actions), "default": actions[0], "description": "what to do"},
    }
    if "update" in actions or "delete" in actions:
        args["id"] = _nullable({"type": "string"}, "the id (key) of the memory to update or delete")
    if "create" in actions or "update" in actions:
        unit = {"type": "number", "minimum": 0, "maximum": 1}
        args["importance"] = _nullable(unit, "how useful this memory will be later, 0.0 to 1.0")
    desc = f"{instructions.strip()} Permitted actions: {', '.join(actions)}."
    template = NamespaceTemplate(namespace)
    backend = _ManageMemory(_name(name), template, as_store(store), kind, plain, actions, hard_delete)
    tool = MemoryTool(backend, name=name, desc=desc, args=args, arg_types=dict.fromkeys(args, Any))
    action_type: Any = Literal[actions]
    expose(
        tool,
        {
            "content": (str if plain else kind.model) | None,
            "action": action_type,
            "id": str | None,
            "importance": Annotated[float, Field(ge=0, le=1)] | None,
        },
    )
    return tool


def create_search_memory_tool(
    namespace: Namespace | str = ("memories", "{user_id}"),
    *,
    store: BaseStore | None = None,
    name: str = "search_memory",
    response_format: Literal["content", "content_and_artifact"] = "content",
    weights: RankingWeights | None = None,
) -> MemoryTool:
    """A tool that searches memories with ranked recall (LangMem's ``create_search_memory_tool``).

    Args:
        namespace: The namespace (or prefix) to search; ``{name}`` parts are filled on every call.
        store: The store (default: ``default_store()``).
        name: The tool's name.
        response_format: ``"content"``: a JSON text list of ``{key, kind, content, score}``;
            ``"content_and_artifact"``: a tuple of that text and the ``RankedMemory`` list.
        weights: Ranking weights (see :mod:`memspy.pipelines.records.recall`).
    """
    if response_format not in ("content", "content_and_artifact"):
        raise ValueError(f"response_format must be 'content' or 'content_and_artifact', got {response_format!r}")
    args: dict[str, Any] = {
        "query": {"type": "string", "description": "what to look for, in natural language"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10, "description": "results to return"},
        "offset": {"type": "integer", "minimum": 0, "default": 0, "description": "results to skip (paging)"},
        "filter": _nullable({"type": "object"}, 'exact-match conditions on memory fields, e.g. {"kind": "Memory"}'),
    }
    backend = _SearchMemory(_name(name), NamespaceTemplate(namespace), as_store(store), response_format, weights)
    tool = MemoryTool(backend, name=name, desc=_SEARCH_DESCRIPTION, args=args, arg_types=dict.fromkeys(args, Any))
    expose(
        tool,
        {
            "query": str,
            "limit": Annotated[int, Field(ge=1, le=100)],
            "offset": Annotated[int, Field(ge=0)],
            "filter": dict[str, Any] | None,
        },
    )
    return tool
