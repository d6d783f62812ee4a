"""Hot-path memory tools: an agent saves, revises, deletes and searches its own long-term memories.

Records use :mod:`memspy.pipelines.records.format`, the background store manager's format, so both paths mix freely.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import dspy
from dspy.adapters.types.tool import _resolve_json_schema_reference
from dspy.utils.callback import with_callbacks
from pydantic import Field

from memspy.pipelines.errors import MemoryToolError
from memspy.pipelines.records.context import as_store
from memspy.pipelines.records.namespaces import NamespaceTemplate, configurable
from memspy.pipelines.records.recall import RankingWeights
from memspy.pipelines.semantic.schemas import Memory, normalize_schemas
from memspy.pipelines.semantic.tool_backends import ManageMemory, SearchMemory
from memspy.pipelines.semantic.tool_schema import LangChainFace, expose
from memspy.signatures.tools import MANAGE_MEMORY_INSTRUCTIONS, SEARCH_MEMORY_INSTRUCTIONS
from memspy.stores import BaseStore, Namespace

__all__ = ["MemoryTool", "create_manage_memory_tool", "create_search_memory_tool"]

_ACTIONS = ("create", "update", "delete")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"tool name {name!r} must be 1-64 letters, digits, '_' or '-'")
    return name


def _nullable(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}], "default": None, "description": description}


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
    instructions: str = MANAGE_MEMORY_INSTRUCTIONS,
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
    backend = ManageMemory(_name(name), template, as_store(store), kind, plain, actions, hard_delete)
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
    instructions: str = SEARCH_MEMORY_INSTRUCTIONS,
    store: BaseStore | None = None,
    name: str = "search_memory",
    response_format: Literal["content", "content_and_artifact"] = "content",
    weights: RankingWeights | None = None,
) -> MemoryTool:
    """A tool that searches memories with ranked recall (LangMem's ``create_search_memory_tool``).

    Args:
        namespace: The namespace (or prefix) to search; ``{name}`` parts are filled on every call.
        instructions: The tool description: when the agent should search.
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
    backend = SearchMemory(_name(name), NamespaceTemplate(namespace), as_store(store), response_format, weights)
    tool = MemoryTool(backend, name=name, desc=instructions.strip(), args=args, arg_types=dict.fromkeys(args, Any))
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
