"""Render chat messages (OpenAI and Anthropic shapes, tool calls and results included) as a transcript."""

from __future__ import annotations

import json
import re
from typing import Any

from memspy.pipelines.errors import MessageError

__all__ = ["content_words", "message_ids", "normalize_messages", "render_transcript", "supporting_messages"]

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("the and for that this with are was were has have had you your she her his him they them our".split())


_LC_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "function"}


def _langchain(kind: str, msg: Any) -> dict[str, Any]:
    """A LangChain message (``BaseMessage`` object or its dict form) in OpenAI's shape, tool calls included."""
    get = msg.get if isinstance(msg, dict) else lambda k, d=None: getattr(msg, k, d)
    kind = kind.removesuffix("MessageChunk").lower() if kind.endswith("MessageChunk") else kind
    content = get("content")
    out: dict[str, Any] = {"role": get("role") if kind == "chat" else _LC_ROLES.get(kind, kind), "content": content}
    for key in ("id", "name", "tool_call_id"):
        if get(key) is not None:
            out[key] = get(key)
    shown = {b.get("id") for b in content if isinstance(b, dict)} if isinstance(content, list) else set()
    calls = [c for c in get("tool_calls") or [] if isinstance(c, dict) and c.get("id") not in shown]
    if calls:  # LangChain's {"name", "args", "id"}; Anthropic-style content may already hold them as tool_use
        out["tool_calls"] = [
            {"id": c.get("id"), "type": "function", "function": {"name": c.get("name"), "arguments": c.get("args")}}
            for c in calls
        ]
    return out


def _is_langchain(kind: Any) -> bool:
    return isinstance(kind, str) and (kind in _LC_ROLES or kind == "chat" or kind.endswith("MessageChunk"))


def _as_dict(msg: Any, i: int) -> dict[str, Any]:
    if isinstance(msg, dict):
        return _langchain(msg["type"], msg) if "role" not in msg and _is_langchain(msg.get("type")) else msg
    if _is_langchain(getattr(msg, "type", None)) and hasattr(msg, "content"):
        return _langchain(msg.type, msg)  # LangChain's BaseMessage is a pydantic model: test it before model_dump
    if hasattr(msg, "model_dump"):
        return dict(msg.model_dump())
    if isinstance(msg, tuple | list) and len(msg) == 2 and all(isinstance(x, str) for x in msg):
        return {"role": msg[0], "content": msg[1]}
    raise MessageError(f"messages[{i}] is a {type(msg).__name__}; use a dict like {{'role': 'user', 'content': 'hi'}}")


def _args(raw: Any) -> str:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return json.dumps(raw, ensure_ascii=False, sort_keys=True)


def _block_text(block: Any) -> str:
    if isinstance(block, str):
        return block
    if not isinstance(block, dict):
        return str(block)
    kind = block.get("type")
    if kind in ("text", "input_text", "output_text"):
        return str(block.get("text", ""))
    if kind == "tool_use":  # Anthropic
        return f"[tool call {block.get('name')}({_args(block.get('input', {}))}) id={block.get('id')}]"
    if kind == "tool_result":  # Anthropic
        inner = block.get("content")
        body = _content_text(inner) if inner is not None else ""
        err = " error" if block.get("is_error") else ""
        return f"[tool result{err} for {block.get('tool_use_id')}: {body}]"
    if kind in ("image", "image_url"):
        return "[image]"
    return json.dumps(block, ensure_ascii=False)


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(t for t in (_block_text(b) for b in content) if t)
    return _block_text(content)


def normalize_messages(messages: Any) -> list[dict[str, Any]]:
    """Return messages as dicts; raise :class:`MessageError` naming the bad message."""
    if isinstance(messages, dict) and "messages" in messages:
        messages = messages["messages"]
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if not isinstance(messages, list | tuple):
        raise MessageError(f"messages must be a list of chat messages, got {type(messages).__name__}")
    out = []
    for i, m in enumerate(messages):
        d = _as_dict(m, i)
        if "role" not in d:
            raise MessageError(f"messages[{i}] has no 'role': give 'user', 'assistant', 'system' or 'tool'")
        out.append(d)
    return out


def _line(i: int, m: dict[str, Any]) -> str:
    role = str(m.get("role"))
    name = f" ({m['name']})" if m.get("name") and role != "tool" else ""
    text = _content_text(m.get("content"))
    parts = [text] if text else []
    for call in m.get("tool_calls") or []:  # OpenAI
        fn = call.get("function", call)
        parts.append(f"[tool call {fn.get('name')}({_args(fn.get('arguments', {}))}) id={call.get('id')}]")
    if role == "tool":
        label = m.get("name") or "tool"
        return f"[{i}] tool result from {label} for {m.get('tool_call_id')}: {text}"
    return f"[{i}] {role}{name}: {' '.join(parts)}"


def render_transcript(messages: Any) -> str:
    """One numbered line per message; tool calls show name, arguments and id; tool results show their call id."""
    return "\n".join(_line(i, m) for i, m in enumerate(normalize_messages(messages)))


def message_ids(messages: Any) -> list[str]:
    """Each message's id if it has one, else its index as a string."""
    return [str(m.get("id") or i) for i, m in enumerate(normalize_messages(messages))]


def content_words(text: str) -> set[str]:
    """The lowercased words of ``text`` that carry content (longer than two letters, not a stop word)."""
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOP}


def supporting_messages(text: str, messages: list[dict[str, Any]], ids: list[str], max_ids: int = 3) -> list[str]:
    """The ids of the messages a memory (its rendered ``text``) most likely came from, by word overlap; all ids
    when none stands out.

    Provenance then points at the turns that support a memory rather than at its whole batch, so
    evidence recall can be measured per memory.
    """
    target = content_words(text)
    if not target:
        return list(ids)
    scored = []
    for mid, m in zip(ids, messages, strict=True):
        overlap = len(target & content_words(_content_text(m.get("content")))) / len(target)
        if overlap >= 0.3:
            scored.append((overlap, mid))
    scored.sort(key=lambda t: -t[0])
    return [mid for _, mid in scored[:max_ids]] or list(ids)
