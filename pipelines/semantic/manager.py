"""The functional core of semantic memory: messages + existing memories -> updated memories (no storage)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import dspy
from pydantic import Field

from memspy.pipelines.errors import MemoryExtractionError, StepError
from memspy.pipelines.runtime.lm import is_local_lm
from memspy.pipelines.runtime.messages import render_transcript
from memspy.pipelines.runtime.steps import predictor, resolve_lm, run_step
from memspy.pipelines.runtime.usage import Usage, UsageMeter
from memspy.pipelines.semantic.fact_steps import apply_facts, extract_facts
from memspy.pipelines.semantic.facts import Fact, decision_model, fact_item_type
from memspy.pipelines.semantic.operations import (
    AppliedOperation,
    MemoryPrediction,
    apply_operations,
    extracted_memories,
    operation_model,
)
from memspy.pipelines.semantic.programs import load_program
from memspy.pipelines.semantic.schemas import ExtractedMemory, normalize_schemas
from memspy.pipelines.semantic.validate import ExistingMemory, parse_existing, validate_operations
from memspy.signatures.extraction import ExtractMemories
from memspy.signatures.facts import ExtractFacts, ReconcileFacts

__all__ = [
    "DESIGNS",
    "AppliedOperation",
    "MemoryManager",
    "create_memory_manager",
]

# "facts": list facts, then reconcile with stored memories (the default; what a small local model does well).
# "single": one call returns the operations (insert/update/delete by id) directly.
DESIGNS = ("facts", "single")


class MemoryManager(dspy.Module):
    """Extracts, updates and deletes memories from a conversation.

    With ``design="facts"`` (the default) ``self.extract`` lists the facts of each chunk of the conversation and
    ``self.reconcile`` decides, only when stored memories are shown, which facts add, update, delete or repeat one
    (see :mod:`memspy.pipelines.semantic.facts`). With ``design="single"`` one call per step returns the
    operations. The predictor names ``extract`` and ``reconcile`` are the keys of compiled programs.
    ``attribute_speakers=False`` keeps the facts' names as the LM wrote them (by default a fact that names one
    speaker but restates another's words is given to that speaker: :mod:`memspy.pipelines.semantic.attribution`).
    ``keep_uncovered`` keeps, in the speaker's words, what a person says about themselves that no listed fact
    covers (:mod:`memspy.pipelines.semantic.coverage`); None (the default) turns it on for the local LM, where it
    was measured, and off for other models.
    """

    def __init__(
        self,
        lm: Any = None,
        *,
        schemas: Any = None,
        instructions: str | None = None,
        enable_inserts: bool = True,
        enable_updates: bool = True,
        enable_deletes: bool = False,
        max_steps: int = 1,
        max_retries: int = 2,
        design: str = "facts",
        chunk_chars: int = 2400,
        include_assistant: bool = False,
        attribute_speakers: bool = True,
        keep_uncovered: bool | None = None,
    ) -> None:
        super().__init__()
        if max_steps < 1 or max_retries < 0:
            raise ValueError(f"max_steps must be >= 1 and max_retries >= 0, got {max_steps}, {max_retries}")
        if design not in DESIGNS:
            raise ValueError(f"design must be one of {list(DESIGNS)}, got {design!r}")
        if chunk_chars < 200:
            raise ValueError(f"chunk_chars must be >= 200, got {chunk_chars}: a chunk must hold a few messages")
        self.design, self.chunk_chars, self.include_assistant = design, chunk_chars, include_assistant
        self.attribute_speakers = attribute_speakers  # see memspy.pipelines.semantic.attribution
        self.keep_uncovered = keep_uncovered  # see memspy.pipelines.semantic.coverage
        # Kept on the module too: DSPy optimizers' reset_copy() clears a predictor's own LM, and a compiled copy
        # must still run on the LM it was built with when none is configured globally.
        resolved = self.default_lm = resolve_lm(lm)
        self.schemas = normalize_schemas(schemas)
        self.enable_inserts, self.enable_updates, self.enable_deletes = enable_inserts, enable_updates, enable_deletes
        if not enable_inserts and not enable_updates:
            raise ValueError("enable_inserts and enable_updates are both False: the manager could change nothing")
        self.max_steps, self.max_retries = max_steps, max_retries
        actions = tuple(
            a for a, on in (("insert", enable_inserts), ("update", enable_updates), ("delete", enable_deletes)) if on
        )
        self.actions = actions
        if design == "single":
            op_model: Any = operation_model(self.schemas, actions)
            ops_t = Annotated[list[op_model], Field(min_length=1)]
            sig = ExtractMemories.with_updated_fields("operations", type_=ops_t)
            if not enable_inserts:
                sig = sig.append_instructions(
                    "Each kind holds exactly one document: update it with every new detail instead of inserting."
                )
        else:
            item = fact_item_type(self.schemas)
            if not enable_inserts and len(self.schemas) == 1 and item is not str:  # a profile: one object to fill
                desc = "every field the conversation tells about the user; null where it tells nothing"
                sig = ExtractFacts.with_updated_fields("facts", type_=item, desc=desc)
            else:
                sig = ExtractFacts.with_updated_fields("facts", type_=list[item])  # type: ignore[valid-type]
            recon = ReconcileFacts.with_updated_fields("decisions", type_=list[decision_model(actions)])  # type: ignore[misc]
            self.reconcile = predictor(recon, resolved)
        if instructions:
            sig = sig.append_instructions(instructions)
        self.extract = predictor(sig, resolved)
        self.usage = UsageMeter()

    def keeps_uncovered(self) -> bool:
        """Whether the statements no listed fact covers are kept (``keep_uncovered``; None: on the local LM)."""
        if self.keep_uncovered is not None:
            return self.keep_uncovered
        return is_local_lm(self.default_lm if self.default_lm is not None else dspy.settings.lm)

    def kinds_text(self) -> str:
        """The ``memory_kinds`` input the predictor is shown: each schema, then (for the one-call ``"single"``
        design, whose answer is operations) the allowed actions; the facts design's extract step lists facts only."""
        kinds = "\n".join(s.describe() for s in self.schemas)
        return kinds + f"\nAllowed actions: {', '.join(self.actions)}." if self.design == "single" else kinds

    def seed_existing(self, existing: list[ExistingMemory]) -> list[ExistingMemory]:
        """``existing`` plus, for a profile manager (no inserts), an empty document per kind not yet present."""
        if self.enable_inserts:
            return existing
        have = {e.kind for e in existing}
        seeded = list(existing)
        # A profile starts as an empty document with a stable id (the kind's name) that the LM can only update.
        for s in self.schemas:
            if s.name not in have:
                seeded.append(ExistingMemory(s.name.lower(), s.name, None, 0.5, True))
        return seeded

    @staticmethod
    def existing_text(working: list[ExistingMemory]) -> str:
        """The ``existing_memories`` input the predictor is shown: one JSON line per memory, or ``(none)``."""
        return "\n".join(e.prompt_line() for e in working) or "(none)"

    def _step(self, conversation: str, working: list[ExistingMemory], usage: Usage) -> list[AppliedOperation]:
        shown = self.existing_text(working)

        def validate(pred: dspy.Prediction) -> tuple[list[dict[str, Any]], list[str]]:
            return validate_operations(
                pred.operations, working, self.schemas, self.actions, merge_updates=not self.enable_inserts
            )

        try:
            ops = run_step(
                self.extract,
                "extract",
                usage,
                validate,
                self.max_retries,
                conversation=conversation,
                existing_memories=shown,
                memory_kinds=self.kinds_text(),
            )
        except StepError as e:  # reported as the memory manager's own error type
            raise MemoryExtractionError(e.errors, attempts=e.attempts) from None
        return [AppliedOperation(**op) for op in ops]

    def extract_facts(self, messages: Any, usage: Usage) -> list[Fact]:
        """Step one of the facts design (:func:`memspy.pipelines.semantic.fact_steps.extract_facts`)."""
        return extract_facts(self, messages, usage)

    def apply_facts(self, facts: list[Fact], working: list[ExistingMemory], usage: Usage) -> list[AppliedOperation]:
        """Step two of the facts design (:func:`memspy.pipelines.semantic.fact_steps.apply_facts`)."""
        return apply_facts(self, facts, working, usage)

    def forward(self, messages: Any, existing: Any = None, max_steps: int | None = None) -> dspy.Prediction:
        """Update the memory collection from ``messages``.

        Args:
            messages: OpenAI- or Anthropic-format chat messages (tool calls and results included).
            existing: Current memories: ``ExtractedMemory`` items, ``(id, content)`` or ``(id, kind, content)``
                tuples, dicts with ``id``/``content``, or strings. With the facts design, also a function of the
                new facts' texts that returns such memories.
            max_steps: LM passes of the ``"single"`` design (default: the manager's); stops early when a pass
                changes nothing. The facts design makes one pass.

        Returns:
            ``Prediction(memories=[ExtractedMemory...], operations=[AppliedOperation...], usage=Usage)``,
            iterable like the memories list.
        """
        if dspy.settings.lm is None and self.default_lm is not None:
            with dspy.context(lm=self.default_lm):
                return self._forward(messages, existing, max_steps)
        return self._forward(messages, existing, max_steps)

    def _forward(self, messages: Any, existing: Any, max_steps: int | None) -> dspy.Prediction:
        usage = Usage()
        if self.design == "facts":
            facts = self.extract_facts(messages, usage)
            if callable(existing):  # memories chosen for these facts (the store manager's neighbours)
                existing = existing([f.text for f in facts]) if facts else []
            working = self.seed_existing(parse_existing(existing, self.schemas))
            applied = self.apply_facts(facts, working, usage)
            working = apply_operations(working, applied)
            self.usage.record(usage)
            return MemoryPrediction(memories=extracted_memories(working, applied), operations=applied, usage=usage)
        working = self.seed_existing(parse_existing(existing, self.schemas))
        conversation = render_transcript(messages)
        applied = []
        for _ in range(max_steps or self.max_steps):
            ops = self._step(conversation, working, usage)
            if not ops:
                break
            applied.extend(ops)
            working = apply_operations(working, ops)
        self.usage.record(usage)
        return MemoryPrediction(memories=extracted_memories(working, applied), operations=applied, usage=usage)

    def invoke(self, input: dict[str, Any], config: Any = None) -> list[ExtractedMemory]:
        """LangMem's call shape: ``{"messages": [...], "existing": [...], "max_steps": n}`` -> memories."""
        return list(self(messages=input["messages"], existing=input.get("existing"), max_steps=input.get("max_steps")))

    async def ainvoke(self, input: dict[str, Any], config: Any = None) -> list[ExtractedMemory]:
        return await asyncio.to_thread(self.invoke, input, config)

    async def aforward(self, messages: Any, existing: Any = None, max_steps: int | None = None) -> dspy.Prediction:
        return await asyncio.to_thread(self.forward, messages, existing, max_steps)


def create_memory_manager(lm: Any = None, **kwargs: Any) -> MemoryManager:
    """Create the functional memory manager (LangMem's ``create_memory_manager``).

    Args:
        lm: A ``dspy.LM``, a model string (``"openai/gpt-4o-mini"``, ``"local"``), or None to use
            ``dspy.configure(lm=...)``.
        **kwargs: ``schemas``, ``instructions``, ``enable_inserts``, ``enable_updates``, ``enable_deletes``,
            ``max_steps``, ``max_retries``, ``design``, ``chunk_chars``, ``include_assistant``,
            ``attribute_speakers``, ``keep_uncovered`` (see :class:`MemoryManager`), ``program=`` a saved
            compiled program to load, and ``compiled=False`` to keep the local LM's manager uncompiled (by
            default it loads the program memspy ships).

    Example:
        >>> manager = create_memory_manager("local", schemas=[Triple], enable_deletes=True)  # doctest: +SKIP
        >>> manager.invoke({"messages": [{"role": "user", "content": "Alice manages the ML team"}]})
    """
    program = kwargs.pop("program", None)
    compiled = kwargs.pop("compiled", True)
    manager = MemoryManager(lm, **kwargs)
    load_program(manager, program, compiled=compiled)
    return manager
