"""Scripted models for the integration tests: a DSPy LM that answers by output field, a LangChain chat model."""

from __future__ import annotations

from typing import Any

import dspy
from dspy.clients.engines.dummy_engine import AsyncDummyEngine, DummyEngine
from dspy.utils import DummyLM
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage


class _PromptEngine(DummyEngine):  # keeps the prompt being answered, for answers that depend on it
    def _complete_messages(self, messages: Any) -> Any:
        self.owner.prompt = messages[-1]["content"]
        return super()._complete_messages(messages)


class ScriptedLM(DummyLM):
    """Answers each call from the queue of the output field its prompt asks for (``facts=[...]``, ...).

    A queued answer may be a function of the prompt (to name the ids a prompt shows, see :func:`alias`).
    """

    def __init__(self, **queues: list[Any]) -> None:
        super().__init__({f"`{name}`": list(q) for name, q in queues.items()}, adapter=dspy.JSONAdapter())
        self.prompt = ""
        self._engine_spec = _PromptEngine(self)
        self._async_engine_spec = AsyncDummyEngine(self._engine_spec)

    def _format_answer_fields(self, field_names_and_values: Any) -> Any:
        if isinstance(field_names_and_values, list):  # a queue: its next answer
            field_names_and_values = field_names_and_values.pop(0) if field_names_and_values else {}
        if callable(field_names_and_values):
            field_names_and_values = field_names_and_values(self.prompt)
        return super()._format_answer_fields(field_names_and_values)

    def left(self) -> dict[str, int]:
        """How many scripted answers were not used, per field."""
        return {k.strip("`"): len(v) for k, v in self.answers.items() if v}  # type: ignore[union-attr]


class ScriptedChatModel(GenericFakeChatModel):
    """A LangChain chat model that replies from a script and accepts tools (``create_react_agent`` binds them)."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:
        return self


def chat_model(*replies: str | AIMessage) -> ScriptedChatModel:
    return ScriptedChatModel(messages=iter([AIMessage(r) if isinstance(r, str) else r for r in replies]))


def tool_call(name: str, args: dict[str, Any], id: str = "call-1") -> AIMessage:
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": id}])


def alias(prompt: str, text: str) -> str:
    """The short id (``m2``) a reconcile prompt shows for the stored memory whose text is ``text``."""
    for line in prompt.splitlines():
        head, sep, rest = line.partition(": ")
        if sep and rest.strip() == text and head.startswith("m") and head[1:].isdigit():
            return head
    raise AssertionError(f"{text!r} is not among the memories shown:\n{prompt}")
