"""A DSPy 3.4 custom engine that runs a local GGUF model through llama-cpp-python.

Pass it as ``dspy.LM(engine.name, engine=engine, async_engine=AsyncLlamaEngine(engine))``. The engine takes one
canonical ``dspy.lm15.Request`` and returns one ``Response``; DSPy keeps caching, retries and history. With
``supports_response_schema`` DSPy's JSONAdapter sends the signature's JSON schema, which becomes a llama.cpp
grammar (every array capped with ``maxItems`` first, so a constrained list cannot repeat until ``max_tokens``).
``llama_cpp`` is imported lazily: this module imports without it.
"""

from __future__ import annotations

import asyncio
import copy
import os
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from dspy.lm15 import ContextLengthError, Message, Request, Response, TextPart, ThinkingPart, Usage, response_to_events
from dspy.lm15 import UnsupportedFeatureError as LMUnsupportedFeature

from memspy.pipelines.runtime.model_files import local_lm_name

__all__ = [
    "DEFAULT_MAX_ITEMS",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_N_CTX",
    "AsyncLlamaEngine",
    "LlamaEngine",
    "add_max_items",
    "default_n_threads",
]

DEFAULT_MAX_ITEMS = 12
DEFAULT_N_CTX = 8192
DEFAULT_MAX_TOKENS = 1024
_FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_call", "function_call": "tool_call"}
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_ONE = ("items", "additionalProperties", "not", "contains", "if", "then", "else", "unevaluatedItems")
_EXTENSIONS = ("min_p", "repeat_penalty", "typical_p")
_OPTIONAL = ("top_p", "top_k", "seed", "presence_penalty", "frequency_penalty")


def default_n_threads(n_threads: int | None = None) -> int:
    """Resolve the llama.cpp thread count: argument, else env ``MEMSPY_LM_THREADS``, else ``min(2, cpus)``.

    Args:
        n_threads: An explicit thread count.

    Returns:
        A positive thread count.

    Raises:
        ValueError: The argument or ``MEMSPY_LM_THREADS`` is not a positive integer.
    """
    if n_threads is None:
        raw = os.environ.get("MEMSPY_LM_THREADS", "").strip()
        if not raw:
            return max(1, min(2, os.cpu_count() or 1))
        try:
            n_threads = int(raw)
        except ValueError as exc:
            raise ValueError(f"MEMSPY_LM_THREADS must be a positive integer, got {raw!r}") from exc
    if n_threads < 1:
        raise ValueError(f"n_threads must be a positive integer, got {n_threads}")
    return n_threads


def _is_array(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if kind == "array" or (isinstance(kind, list) and "array" in kind):
        return True
    return kind is None and ("items" in schema or "prefixItems" in schema)


def _cap_arrays(schema: Any, max_items: int) -> None:
    if not isinstance(schema, dict):
        return
    if _is_array(schema) and "maxItems" not in schema:
        schema["maxItems"] = max(max_items, int(schema.get("minItems", 0)))
    subs = [schema.get(key) for key in _SCHEMA_ONE]
    subs += [sub for key in _SCHEMA_MAPS if isinstance(schema.get(key), dict) for sub in schema[key].values()]
    subs += [sub for key in _SCHEMA_LISTS if isinstance(schema.get(key), list) for sub in schema[key]]
    for sub in subs:
        _cap_arrays(sub, max_items)


def add_max_items(schema: dict[str, Any], max_items: int = DEFAULT_MAX_ITEMS) -> dict[str, Any]:
    """Return a copy of a JSON schema with ``maxItems`` on every array schema that lacks one.

    Walks properties, ``$defs``/``definitions``, ``anyOf``/``oneOf``/``allOf``, ``items`` and the other
    sub-schema keywords. An existing ``maxItems`` is kept; a ``minItems`` above ``max_items`` wins.

    Args:
        schema: A JSON schema (not modified).
        max_items: The cap for uncapped arrays.

    Returns:
        The capped copy.
    """
    capped = copy.deepcopy(schema)
    _cap_arrays(capped, max_items)
    return capped


def _text_of(parts: Any, where: str) -> str:
    if isinstance(parts, str):
        return parts
    texts: list[str] = []
    for part in parts:
        if isinstance(part, TextPart):
            texts.append(part.text)
        elif not isinstance(part, ThinkingPart):
            raise LMUnsupportedFeature(f"the local llama.cpp engine takes text only; {where} has a {part.type} part")
    return "\n".join(texts)


class LlamaEngine:
    """Synchronous DSPy engine over one lazily created ``llama_cpp.Llama`` (one lock serializes all use)."""

    supports_response_schema = True
    supports_function_calling = False
    supports_reasoning = False
    supported_params = frozenset({"temperature", "max_tokens", "stop", "response_format", *_OPTIONAL})

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        llama: Any = None,
        name: str | None = None,
        n_threads: int | None = None,
        n_ctx: int = DEFAULT_N_CTX,
        max_items: int = DEFAULT_MAX_ITEMS,
        temperature: float = 0.0,
        max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> None:
        """Create the engine; the model is loaded on first use.

        Args:
            model_path: The GGUF file (needed unless ``llama`` is given).
            llama: A ready ``llama_cpp.Llama`` (or a stand-in with ``reset`` and ``create_chat_completion``).
            name: The LM name; default :func:`local_lm_name` of ``model_path``, or ``local/custom``.
            n_threads: llama.cpp threads; default :func:`default_n_threads`.
            n_ctx: Context window in tokens.
            max_items: ``maxItems`` added to uncapped arrays of a response schema.
            temperature: Temperature when the request gives none.
            max_tokens: Completion cap when the request gives none.
        """
        if model_path is None and llama is None:
            raise ValueError("LlamaEngine needs model_path or llama")
        self.model_path = Path(model_path) if model_path is not None else None
        self.n_threads = default_n_threads(n_threads)
        self.n_ctx = n_ctx
        self.max_items = max_items
        self.temperature = temperature
        self.max_tokens = max_tokens
        self._explicit_threads = n_threads
        self._llama = llama
        self._owns_llama = llama is None
        self._lock = threading.RLock()
        if name is None:
            name = local_lm_name(self.model_path) if self.model_path is not None else "local/custom"
        self.name = name

    @property
    def llama(self) -> Any:
        """The ``Llama`` object, created from ``model_path`` on first access."""
        with self._lock:
            if self._llama is None:
                from llama_cpp import Llama

                self._llama = Llama(
                    model_path=str(self.model_path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads,
                    verbose=False,
                )
            return self._llama

    def to_messages(self, request: Request) -> list[dict[str, str]]:
        """Turn ``request.system`` and ``request.messages`` into llama.cpp chat messages."""
        if request.tools:
            raise LMUnsupportedFeature("the local llama.cpp engine does not support tools")
        messages: list[dict[str, str]] = []
        if request.system is not None:
            messages.append({"role": "system", "content": _text_of(request.system, "system")})
        for message in request.messages:
            if message.role == "tool":
                raise LMUnsupportedFeature("the local llama.cpp engine does not support tool messages")
            role = "system" if message.role == "developer" else message.role
            messages.append({"role": role, "content": _text_of(message.parts, f"a {message.role} message")})
        return messages

    def completion_kwargs(self, request: Request) -> dict[str, Any]:
        """Map ``request.config`` to ``create_chat_completion`` keyword arguments."""
        config = request.config
        if config.logprobs is not None or config.tool_choice is not None:
            raise LMUnsupportedFeature("the local llama.cpp engine does not support logprobs or tool_choice")
        kwargs: dict[str, Any] = {
            "temperature": self.temperature if config.temperature is None else config.temperature,
            "max_tokens": config.max_tokens or self.max_tokens,
        }
        for key in _OPTIONAL:
            if getattr(config, key) is not None:
                kwargs[key] = getattr(config, key)
        if config.stop:
            kwargs["stop"] = list(config.stop)
        extensions = config.extensions or {}
        kwargs.update({key: extensions[key] for key in _EXTENSIONS if key in extensions})
        fmt = config.response_format
        if fmt is not None:
            if fmt.get("type") == "json_schema":
                schema = add_max_items(fmt["schema"], self.max_items)
                kwargs["response_format"] = {"type": "json_object", "schema": schema}
            else:
                kwargs["response_format"] = {"type": "json_object"}
        return kwargs

    def to_response(self, raw: dict[str, Any], model: str) -> Response:
        """Turn a llama.cpp chat-completion dict into a canonical ``Response`` with token usage."""
        choice = raw["choices"][0]
        text = (choice.get("message") or {}).get("content") or ""
        usage = raw.get("usage") or {}
        return Response(
            id=raw.get("id") or None,
            model=model,
            message=Message.assistant([TextPart(text)]),
            finish_reason=_FINISH.get(choice.get("finish_reason") or "stop", "stop"),
            usage=Usage(input_tokens=usage.get("prompt_tokens"), output_tokens=usage.get("completion_tokens")),
        )

    def complete(self, request: Request) -> Response:
        """Run one chat completion (greedy unless the request sets a temperature)."""
        messages = self.to_messages(request)
        kwargs = self.completion_kwargs(request)
        with self._lock:
            llm = self.llama
            llm.reset()  # a reused KV prefix changes greedy output; every call starts clean
            try:
                raw = llm.create_chat_completion(messages=messages, **kwargs)
            except ValueError as exc:  # llama.cpp's way of saying the prompt does not fit
                if "context window" in str(exc):
                    raise ContextLengthError(str(exc), provider="llama.cpp") from exc
                raise
        return self.to_response(raw, request.model)

    def stream(self, request: Request) -> Iterator[Any]:
        """Stream events of one completion (computed whole, then replayed as events)."""
        return response_to_events(self.complete(request))

    def close(self) -> None:
        """Free the llama.cpp model if this engine loaded it; the next call loads it again."""
        with self._lock:
            if not self._owns_llama or self._llama is None:
                return
            llm, self._llama = self._llama, None
            if hasattr(llm, "close"):
                llm.close()

    def __deepcopy__(self, memo: dict[int, Any]) -> LlamaEngine:
        # An engine is a shared resource (one model, one lock): copies of a program share it.
        return self

    def dump_state(self) -> dict[str, Any]:
        """JSON state for saving a program with this LM (no secrets)."""
        path = str(self.model_path) if self.model_path is not None else None
        state = {key: getattr(self, key) for key in ("name", "n_ctx", "max_items", "temperature", "max_tokens")}
        return {"model_path": path, "n_threads": self._explicit_threads, **state}

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> LlamaEngine:
        """Rebuild an engine saved with :meth:`dump_state`."""
        return cls(**state)


class AsyncLlamaEngine:
    """Async twin of :class:`LlamaEngine`: the same model and lock, run in a worker thread."""

    def __init__(self, sync: LlamaEngine) -> None:
        """Wrap ``sync``, the engine that does the work."""
        self.sync = sync

    async def complete(self, request: Request) -> Response:
        """Run one completion off the event loop."""
        return await asyncio.to_thread(self.sync.complete, request)

    async def stream(self, request: Request) -> AsyncIterator[Any]:
        """Stream events of one completion."""
        response = await self.complete(request)
        for event in response_to_events(response):
            yield event

    async def aclose(self) -> None:
        """Nothing to release; the sync engine owns the model."""
