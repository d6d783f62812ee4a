"""The facts design's two steps, run for a :class:`~memspy.pipelines.semantic.manager.MemoryManager`.

Step one lists the facts of each chunk of a conversation (one LM call per chunk); code then gives each fact to the
speaker whose words it restates (:mod:`~memspy.pipelines.semantic.attribution`) and keeps, in the speaker's words,
what no listed fact covers (:mod:`~memspy.pipelines.semantic.coverage`). Step two reconciles the facts with the
stored memories shown, with an LM call only when some are shown; code enforces the decisions
(:func:`~memspy.pipelines.semantic.facts.resolve_decisions`).
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

import dspy

from memspy.pipelines.errors import MemoryExtractionError, StepError
from memspy.pipelines.records.format import render_content
from memspy.pipelines.runtime.messages import normalize_messages
from memspy.pipelines.runtime.steps import run_step
from memspy.pipelines.runtime.strict_json import complete_items
from memspy.pipelines.runtime.usage import Usage
from memspy.pipelines.semantic.attribution import attribute_all, speakers_of
from memspy.pipelines.semantic.coverage import uncovered_statements
from memspy.pipelines.semantic.facts import (
    Fact,
    chunk_messages,
    merge_profile,
    parse_facts,
    render_dialogue,
    resolve_decisions,
    skip_stored,
)
from memspy.pipelines.semantic.operations import AppliedOperation
from memspy.pipelines.semantic.validate import ExistingMemory

__all__ = ["apply_facts", "chunk_facts", "extract_facts"]


def chunk_facts(manager: Any, pred: Any, chunk: list[dict[str, Any]]) -> tuple[list[Fact], list[str]]:
    """A chunk's facts from the LM's answer ``pred``: each given to the speaker whose words it restates
    (``manager.attribute_speakers``), then the speakers' uncovered statements (``manager.keeps_uncovered()``)."""
    items = pred.facts if isinstance(pred.facts, list) else [pred.facts]  # a profile's one object
    if manager.attribute_speakers:
        items = attribute_all(items, chunk)
    facts, problems = parse_facts(items, manager.schemas, speakers_of(chunk))
    if not problems and manager.keeps_uncovered() and all(isinstance(i, str) for i in items):
        lost = uncovered_statements(items, chunk, include_assistant=manager.include_assistant)
        facts += parse_facts(lost, manager.schemas)[0]
    return facts, problems


def extract_facts(manager: Any, messages: Any, usage: Usage) -> list[Fact]:
    """Step one: the facts of each chunk of ``messages`` (``manager.chunk_chars`` characters), one LM call per
    chunk (see :func:`_chunk_answer` for an answer cut off), deduplicated by text.

    Raises:
        MemoryExtractionError: a chunk's answer stayed unparseable or invalid after every retry.
    """
    msgs = normalize_messages(messages)
    # What is shown is decided on the whole conversation, before chunking: a chunk of only the assistant's
    # replies (or of tool results) in a conversation where someone else speaks has nothing to extract.
    people = any(m.get("role") not in ("system", "assistant", "tool") for m in msgs)
    assistant = manager.include_assistant or not people
    msgs = [m for m in msgs if m.get("role") != "tool" and (assistant or m.get("role") != "assistant")]
    facts: list[Fact] = []
    seen: set[str] = set()
    for chunk in chunk_messages(msgs, manager.chunk_chars):
        for f in _chunk_answer(manager, chunk, usage):
            if f.text.strip().lower() not in seen:
                seen.add(f.text.strip().lower())
                facts.append(f)
    return facts


class _ReadInHalves(Exception):
    """A chunk's answer was cut off before it finished any fact: the chunk is read again as two halves."""


def _chunk_answer(manager: Any, chunk: list[dict[str, Any]], usage: Usage) -> list[Fact]:
    """One chunk's facts. An answer cut off at ``max_tokens`` (or ended as a loop) is not asked for again: a small
    model asked again writes the same long list.

    - The facts it finished are kept (each one followed by ``,`` or ``]``; the one the cut fell in never is), and
      what the speakers said that they do not cover is kept in their words, as for any answer
      (:func:`chunk_facts`): one call for the chunk.
    - If it finished none, the chunk is read again as two halves (at message boundaries, each with the chunk's
      system messages); a single message is asked again with the cut fed back, then fails loudly.
    """
    dialogue = render_dialogue(chunk, include_assistant=manager.include_assistant)
    spoken = [m for m in chunk if m.get("role") != "system"]
    if not spoken or not dialogue:
        return []
    inputs = {"conversation": dialogue, "memory_kinds": manager.kinds_text()}
    validate = functools.partial(chunk_facts, manager, chunk=chunk)

    def finished(answer: str) -> list[Fact] | None:
        items = complete_items(answer, "facts")
        if items:
            facts, problems = validate(dspy.Prediction(facts=items))
            if facts and not problems:
                return facts
        if len(spoken) >= 2:
            raise _ReadInHalves
        return None

    try:
        return run_step(manager.extract, "extract", usage, validate, manager.max_retries, cut_short=finished, **inputs)
    except StepError as e:
        raise MemoryExtractionError(e.errors, attempts=e.attempts) from None
    except _ReadInHalves:
        head, half = [m for m in chunk if m.get("role") == "system"], len(spoken) // 2
        return [
            *_chunk_answer(manager, head + spoken[:half], usage),
            *_chunk_answer(manager, head + spoken[half:], usage),
        ]


def apply_facts(manager: Any, facts: list[Fact], working: list[ExistingMemory], usage: Usage) -> list[AppliedOperation]:
    """Step two: reconcile ``facts`` with the shown memories ``working``; an LM call only when some are shown.

    Stored ids are shown to the LM as short aliases (``m1``, ``m2``...) and mapped back in code. A profile
    manager (no inserts) merges the facts into its documents without a call.
    """
    if not manager.enable_inserts:
        changes = merge_profile(facts, working)
    else:
        facts = skip_stored(facts, working)
        shown = [e for e in working if not e.placeholder]
        if not facts:
            return []
        changes, _ = resolve_decisions([], facts, shown, manager.actions)
        if shown:
            alias = [ExistingMemory(f"m{i}", e.kind, e.content, e.importance) for i, e in enumerate(shown, 1)]
            last: dict[str, Any] = {"changes": changes}

            def validate(pred: dspy.Prediction) -> tuple[list[Any], list[str]]:
                last["changes"], problems = resolve_decisions(pred.decisions, facts, alias, manager.actions)
                return last["changes"], problems

            changes = run_step(
                manager.reconcile,
                "reconcile",
                usage,
                validate,
                min(manager.max_retries, 1),
                fallback=lambda _problems: last["changes"],  # keep the valid decisions of the last answer
                error=lambda step, errors, attempts: MemoryExtractionError(errors, attempts=attempts),
                new_facts="\n".join(f"{i}. {f.text}" for i, f in enumerate(facts, 1)),
                existing_memories="\n".join(f"{a.id}: {render_content(a.content)}" for a in alias),
            )
            real = {a.id: e.id for a, e in zip(alias, shown, strict=True)}
            changes = [replace(c, id=real.get(c.id, c.id)) if c.action != "insert" else c for c in changes]
    importance = {e.id: e.importance for e in working}
    return [AppliedOperation(c.action, c.id, c.kind, c.content, importance.get(c.id, 0.5)) for c in changes]
