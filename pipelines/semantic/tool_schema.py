"""How a memory tool shows itself to LangChain and LangGraph, which take plain functions or ``BaseTool`` objects.

A memory tool is a ``dspy.Tool``. :func:`expose` gives it what LangChain reads from a function (``__name__``,
``__qualname__``, ``__doc__``, a typed ``__signature__`` and ``__annotations__``), so
``create_react_agent(tools=[create_manage_memory_tool(...)])`` converts it as it converts a function;
:class:`LangChainFace` adds LangChain's ``description`` and ``tool_call_schema`` (a pydantic model of the
arguments) and :meth:`LangChainFace.as_langchain_tool` for code that wants a ``StructuredTool``.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from pydantic import BaseModel, Field, create_model

__all__ = ["LangChainFace", "expose"]


def _parameters(args: dict[str, Any], types: dict[str, Any]) -> list[inspect.Parameter]:
    params = []
    for name, spec in args.items():
        annotation: Any = Annotated[types.get(name, Any), Field(description=spec.get("description"))]
        default = spec.get("default", inspect.Parameter.empty)
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation))
    return params


def expose(tool: Any, types: dict[str, Any]) -> None:
    """Give ``tool`` a function's face: its name, its description as ``__doc__``, a typed signature.

    Args:
        tool: A ``dspy.Tool`` with ``name``, ``desc`` and ``args`` (JSON schemas with descriptions and defaults).
        types: The Python type of each argument (``str | None``, a pydantic model, ``Literal[...]``).
    """
    params = _parameters(tool.args or {}, types)
    face = {
        "__name__": tool.name,
        "__qualname__": tool.name,
        "__doc__": tool.desc,
        "__signature__": inspect.Signature(params, return_annotation=str),
        "__annotations__": {**{p.name: p.annotation for p in params}, "return": str},
    }
    for key, value in face.items():
        object.__setattr__(tool, key, value)  # instance attributes: the pydantic fields stay as they are


class LangChainFace:
    """LangChain's names for a tool's description and argument schema, and the conversion to a ``StructuredTool``."""

    name: str
    desc: str

    @property
    def description(self) -> str:
        """The tool's description (LangChain's name for ``desc``)."""
        return self.desc

    @property
    def tool_call_schema(self) -> type[BaseModel]:
        """The arguments as a pydantic model: ``tool.tool_call_schema.model_json_schema()`` is the JSON schema."""
        fields: dict[str, Any] = {}
        for p in inspect.signature(self).parameters.values():  # type: ignore[arg-type]
            fields[p.name] = (p.annotation, ... if p.default is inspect.Parameter.empty else p.default)
        return create_model(self.name, __doc__=self.desc, **fields)

    def as_langchain_tool(self) -> Any:
        """This tool as a LangChain ``StructuredTool`` (needs ``langchain-core``, the ``memspy[langgraph]`` extra)."""
        from langchain_core.tools import StructuredTool  # the optional extra, needed only here

        call: Any = self

        def run(**kw: Any) -> Any:
            return call(**kw)

        async def arun(**kw: Any) -> Any:
            return await call.acall(**kw)

        fmt: Any = (
            "content_and_artifact" if getattr(call.func, "response_format", "") == "content_and_artifact" else "content"
        )
        return StructuredTool.from_function(
            func=run,
            coroutine=arun,
            name=self.name,
            description=self.desc,
            args_schema=self.tool_call_schema,
            response_format=fmt,
            handle_validation_error=lambda e: f"Error: invalid arguments for {self.name}: {e}",
        )
