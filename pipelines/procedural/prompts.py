"""Shared pieces of the prompt optimizers: the ``Prompt`` type, template-variable checks, trajectory rendering."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, Required, TypedDict

from pydantic import BaseModel

from memspy.pipelines.runtime.messages import render_transcript

__all__ = [
    "Prompt",
    "as_prompt",
    "check_template",
    "render_guidance",
    "render_trajectories",
    "template_variables",
]

# `{name}` or `{name.attr}` / `{name[0]}` / `{name!r:>10}`, but not `{{escaped}}` braces or JSON like `{"a": 1}`.
_VARIABLE = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)(?:[.\[][^{}]*)?(?:![rsa])?(?::[^{}]*)?\}(?!\})")
_MAX_CONVERSATION_CHARS = 6000


class Prompt(TypedDict, total=False):
    """A prompt to optimize (LangMem's ``Prompt``): plain dicts with these keys are accepted too.

    ``update_instructions`` says how the prompt may change; ``when_to_update`` says which problems it owns
    (the multi-prompt optimizer shows it when attributing feedback).
    """

    name: Required[str]
    prompt: Required[str]
    update_instructions: NotRequired[str | None]
    when_to_update: NotRequired[str | None]


def as_prompt(value: Any, default_name: str = "prompt") -> Prompt:
    """Normalize a string, a ``Prompt``-like dict or a pydantic model into a :class:`Prompt` dict.

    Raises:
        TypeError: ``value`` has no prompt text.
    """
    if isinstance(value, str):
        return Prompt(name=default_name, prompt=value)
    if isinstance(value, BaseModel):
        value = value.model_dump()
    elif not isinstance(value, Mapping) and hasattr(value, "prompt"):
        value = {k: getattr(value, k, None) for k in Prompt.__annotations__}
    if not isinstance(value, Mapping) or not isinstance(value.get("prompt"), str):
        raise TypeError(f"a prompt must be a string or a mapping with a string 'prompt', got {value!r}")
    out = Prompt(name=str(value.get("name") or default_name), prompt=value["prompt"])
    if value.get("update_instructions"):
        out["update_instructions"] = str(value["update_instructions"])
    if value.get("when_to_update"):
        out["when_to_update"] = str(value["when_to_update"])
    return out


def template_variables(text: str) -> list[str]:
    """The ``str.format`` variables of ``text`` in order of first use, e.g. ``["user_name"]``."""
    return list(dict.fromkeys(_VARIABLE.findall(text)))


def check_template(original: str, rewritten: str) -> list[str]:
    """Problems that make ``rewritten`` unusable in place of ``original``: empty, or template variables lost or
    invented (the caller formats the prompt with the original's variables). Empty when it is fine."""
    if not rewritten.strip():
        return ["the new prompt is empty"]
    before, after = template_variables(original), template_variables(rewritten)
    problems = []
    if lost := [v for v in before if v not in after]:
        names = ", ".join("{" + v + "}" for v in lost)
        problems.append(f"the new prompt dropped the template variables {names}")
    if added := [v for v in after if v not in before]:
        names = ", ".join("{" + v + "}" for v in added)
        problems.append(f"the new prompt added template variables {names}; the only ones are {_list(before)}")
    return problems


def _list(names: list[str]) -> str:
    return ", ".join("{" + v + "}" for v in names) if names else "no variables in braces"


def _render_feedback(feedback: Any) -> str:
    if feedback is None:
        return "Feedback: none"
    if not isinstance(feedback, Mapping):
        return f"Feedback: {feedback}"
    lines = []
    labels = {"score": "Score", "comment": "Comment", "revised": "A better answer would have been"}
    for key, label in labels.items():
        if feedback.get(key) is not None:
            lines.append(f"{label}: {feedback[key]}")
    for key, value in feedback.items():
        if key not in labels and value is not None:
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
            lines.append(f"{key}: {text}")
    return "Feedback:\n" + "\n".join(lines) if lines else "Feedback: none"


def _split(trajectory: Any) -> tuple[Any, Any]:
    if isinstance(trajectory, tuple | list) and len(trajectory) == 2 and not _is_message(trajectory[0]):
        return trajectory[0], trajectory[1]
    return trajectory, None  # a bare conversation, with no feedback


def _is_message(value: Any) -> bool:
    return isinstance(value, Mapping) and "role" in value


def render_trajectories(trajectories: Sequence[Any], max_chars: int = _MAX_CONVERSATION_CHARS) -> str:
    """Render ``[(messages, feedback), ...]`` as numbered conversations, each followed by its feedback.

    A long conversation keeps its last ``max_chars`` characters (the end is where users react).

    Raises:
        ValueError: No trajectories were given.
    """
    if isinstance(trajectories, str):
        trajectories = [(trajectories, None)]
    if not trajectories:
        raise ValueError("trajectories is empty: give at least one (messages, feedback) pair")
    blocks = []
    for n, trajectory in enumerate(trajectories, start=1):
        messages, feedback = _split(trajectory)
        text = render_transcript(messages)
        if len(text) > max_chars:
            text = "... (earlier messages cut)\n" + text[-max_chars:]
        blocks.append(f"Conversation {n}:\n{text}\n{_render_feedback(feedback)}")
    return "\n\n".join(blocks)


def render_guidance(prompt: Prompt, context: str = "") -> str:
    """The prompt's own update rules plus any extra ``context`` (e.g. the rest of a multi-prompt system)."""
    parts = []
    if prompt.get("update_instructions"):
        parts.append(f"How to update it: {prompt['update_instructions']}")
    if prompt.get("when_to_update"):
        parts.append(f"When to update it: {prompt['when_to_update']}")
    if context:
        parts.append(context)
    return "\n".join(parts)
