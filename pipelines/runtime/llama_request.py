"""DSPy requests as llama.cpp arguments: chat messages, sampling options, and one compiled grammar per schema.

DSPy's JSONAdapter sends the signature's JSON schema with every call; every array in it is capped with
``maxItems`` (a constrained list could otherwise repeat until ``max_tokens``). llama.cpp constrains decoding with a GBNF
grammar converted from it; the conversion runs in Python, so :class:`GrammarCache` does it once per distinct
schema (keyed by the schema's JSON text) instead of on every call.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from dspy.lm15 import Message, Request, Response, TextPart, ThinkingPart, Usage
from dspy.lm15 import UnsupportedFeatureError as LMUnsupportedFeature

__all__ = [
    "DEFAULT_MAX_ITEMS",
    "OPTIONAL_PARAMS",
    "SPACE_RULE",
    "GrammarCache",
    "add_max_items",
    "chat_messages",
    "chat_response",
    "completion_kwargs",
    "laid_out_answers",
    "llama_grammar_from_schema",
    "schema_gbnf",
]

DEFAULT_MAX_ITEMS = 12
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_ONE = ("items", "additionalProperties", "not", "contains", "if", "then", "else", "unevaluatedItems")
_EXTENSIONS = ("min_p", "repeat_penalty", "typical_p")
_FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_call", "function_call": "tool_call"}
OPTIONAL_PARAMS = ("top_p", "top_k", "seed", "presence_penalty", "frequency_penalty")


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


# llama-cpp-python's converter lets JSON hold at most one space between tokens; llama.cpp's own allows a newline
# and indentation. Measured on the local model (``memspy eval extraction``, LoCoMo): with labeled demos in the prompt,
# which DSPy writes as indented JSON, the one-space grammar pushed every answer to `{ "facts": [] }` (the model
# wanted a newline after `[`, and `]` was the likeliest token left), and the wider rule let it list the facts; with no
# demos the wider rule recalled fewer facts (test split 0.61 -> 0.48). So the wider rule is used only when the
# prompt's own earlier answers are laid out over several lines.
SPACE_RULE = 'space ::= | " " | "\\n" [ \\t]{0,20}'


def schema_gbnf(schema_json: str, *, layout: bool = False) -> str:
    """The GBNF grammar of a JSON schema; with ``layout``, newlines and indentation are allowed where a space is."""
    from llama_cpp import llama_grammar

    gbnf = llama_grammar.json_schema_to_gbnf(schema_json)
    if not layout:
        return gbnf
    return "\n".join(SPACE_RULE if line.startswith("space ::=") else line for line in gbnf.splitlines())


def llama_grammar_from_schema(schema_json: str, *, layout: bool = False) -> Any:
    """Compile a JSON schema (as JSON text) into a ``llama_cpp.LlamaGrammar`` (see :func:`schema_gbnf`).

    A schema the converter cannot handle falls back to plain JSON, like ``create_chat_completion`` does.
    """
    from llama_cpp import llama_grammar

    try:
        gbnf = schema_gbnf(schema_json, layout=layout)
    except Exception:  # llama-cpp-python's own fallback for schemas it cannot convert
        return llama_grammar.LlamaGrammar.from_string(llama_grammar.JSON_GBNF, verbose=False)
    return llama_grammar.LlamaGrammar.from_string(gbnf, verbose=False)


def laid_out_answers(request: Request) -> bool:
    """Whether an earlier assistant message of ``request`` (a few-shot demo's answer) spans several lines."""
    return any(m.role == "assistant" and "\n" in _text_of(m.parts, "an assistant message") for m in request.messages)


class GrammarCache:
    """Compiled grammars keyed by the JSON text of their schema, least recently used dropped first.

    Args:
        build: Turns schema JSON text (and ``layout=True``) into a grammar (default :func:`llama_grammar_from_schema`).
        capacity: How many grammars to keep; pipelines that narrow a schema per call (turn ids) make many.
    """

    def __init__(self, build: Callable[..., Any] | None = None, capacity: int = 64) -> None:
        if capacity < 1:
            raise ValueError(f"GrammarCache capacity must be >= 1, got {capacity}")
        self.build = build or llama_grammar_from_schema
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, schema: dict[str, Any], *, layout: bool = False) -> Any:
        """Return the grammar for ``schema`` (``layout``: see :func:`schema_gbnf`), compiling it on first use."""
        text = json.dumps(schema)  # key order kept: the grammar writes properties in the schema's order
        key = f"layout:{text}" if layout else text
        with self._lock:
            if key in self._items:
                self.hits += 1
                self._items.move_to_end(key)
                return self._items[key]
        grammar = self.build(text, layout=True) if layout else self.build(text)
        with self._lock:
            self.misses += 1
            self._items[key] = grammar
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return grammar

    def __len__(self) -> int:
        return len(self._items)


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


def chat_messages(request: Request) -> list[dict[str, str]]:
    """Turn ``request.system`` and ``request.messages`` into llama.cpp chat messages (text only)."""
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


def completion_kwargs(
    request: Request, *, temperature: float, max_tokens: int, max_items: int, grammars: GrammarCache | None
) -> dict[str, Any]:
    """Map ``request.config`` to ``create_chat_completion`` keyword arguments.

    Args:
        request: The DSPy request.
        temperature: Used when the request sets none.
        max_tokens: Used when the request sets none.
        max_items: ``maxItems`` for uncapped arrays of a response schema.
        grammars: Where a response schema's grammar comes from; None passes the schema as ``response_format``
            (llama-cpp-python then converts it on every call).

    Returns:
        The keyword arguments.
    """
    config = request.config
    if config.logprobs is not None or config.tool_choice is not None:
        raise LMUnsupportedFeature("the local llama.cpp engine does not support logprobs or tool_choice")
    kwargs: dict[str, Any] = {
        "temperature": temperature if config.temperature is None else config.temperature,
        "max_tokens": config.max_tokens or max_tokens,
    }
    for key in OPTIONAL_PARAMS:
        if getattr(config, key) is not None:
            kwargs[key] = getattr(config, key)
    if config.stop:
        kwargs["stop"] = list(config.stop)
    extensions = config.extensions or {}
    kwargs.update({key: extensions[key] for key in _EXTENSIONS if key in extensions})
    fmt = config.response_format
    if fmt is not None and fmt.get("type") == "json_schema":
        schema = add_max_items(fmt["schema"], max_items)
        if grammars is not None:
            kwargs["grammar"] = grammars.get(schema, layout=laid_out_answers(request))
        else:
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
    elif fmt is not None:
        kwargs["response_format"] = {"type": "json_object"}
    return kwargs


def chat_response(raw: dict[str, Any], model: str, stats: Any = None) -> Response:
    """Turn a llama.cpp chat-completion dict into a canonical ``Response``.

    Args:
        raw: What ``create_chat_completion`` returned.
        model: The model name to report.
        stats: The call's ``CallStats``: reused prompt tokens become ``usage.cache_read_tokens`` and every
            counter goes to ``provider_data["llama_cpp"]``.
    """
    choice = raw["choices"][0]
    text = (choice.get("message") or {}).get("content") or ""
    usage = raw.get("usage") or {}
    return Response(
        id=raw.get("id") or None,
        model=model,
        message=Message.assistant([TextPart(text)]),
        finish_reason=_FINISH.get(choice.get("finish_reason") or "stop", "stop"),
        usage=Usage(
            input_tokens=usage.get("prompt_tokens"),
            output_tokens=usage.get("completion_tokens"),
            cache_read_tokens=stats.reused_tokens if stats is not None else None,
        ),
        provider_data={"llama_cpp": stats.as_dict()} if stats is not None else None,
    )
