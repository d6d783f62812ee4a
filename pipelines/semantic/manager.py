"""The functional core of semantic memory: messages + existing memories -> updated memories (no storage)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import dspy
from pydantic import BaseModel, Field, create_model

from memspy.pipelines.errors import MemoryExtractionError, StepError
from memspy.pipelines.runtime.messages import render_transcript
from memspy.pipelines.runtime.steps import predictor, run_step
from memspy.pipelines.runtime.usage import Usage, UsageMeter
from memspy.pipelines.semantic.schemas import ExtractedMemory, MemorySchema, RemoveDoc, normalize_schemas
from memspy.pipelines.semantic.validate import ExistingMemory, parse_existing, validate_operations
from memspy.signatures.extraction import ExtractMemories, MemoryOperation

__all__ = [
    "AppliedOperation",
    "MemoryManager",
    "create_memory_manager",
]


@dataclass
class AppliedOperation:
    """A validated change: what the store manager writes. ``content`` is None for deletes."""

    action: Literal["insert", "update", "delete"]
    id: str
    kind: str
    content: BaseModel | None
    importance: float


def _operation_model(schemas: list[MemorySchema], actions: tuple[str, ...]) -> type[BaseModel]:
    kinds = tuple(s.name for s in schemas)
    content_t: Any = schemas[0].model
    for s in schemas[1:]:
        content_t = content_t | s.model
    fields: dict[str, Any] = {
        "action": (Literal[(*actions, "none")], Field(description=MemoryOperation.model_fields["action"].description)),
        "kind": (Literal[kinds], Field(description="the memory kind of the content")),
        "content": (content_t | None, Field(default=None, description="the full memory; null for delete")),
    }
    return create_model("MemoryOperation", __base__=MemoryOperation, **fields)


class MemoryManager(dspy.Module):
    """Extracts, updates and deletes memories from a conversation in one LM call per step.

    The predictor ``self.extract`` is the public name saved in compiled programs.
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
    ) -> None:
        super().__init__()
        if max_steps < 1 or max_retries < 0:
            raise ValueError(f"max_steps must be >= 1 and max_retries >= 0, got {max_steps}, {max_retries}")
        self.schemas = normalize_schemas(schemas)
        self.enable_inserts, self.enable_updates, self.enable_deletes = enable_inserts, enable_updates, enable_deletes
        if not enable_inserts and not enable_updates:
            raise ValueError("enable_inserts and enable_updates are both False: the manager could change nothing")
        self.max_steps, self.max_retries = max_steps, max_retries
        actions = tuple(
            a for a, on in (("insert", enable_inserts), ("update", enable_updates), ("delete", enable_deletes)) if on
        )
        self.actions = actions
        op_model: Any = _operation_model(self.schemas, actions)
        sig = ExtractMemories.with_updated_fields("operations", type_=Annotated[list[op_model], Field(min_length=1)])
        if not enable_inserts:
            sig = sig.append_instructions(
                "Each kind holds exactly one document: update it with every new detail instead of inserting."
            )
        if instructions:
            sig = sig.append_instructions(instructions)
        self.extract = predictor(sig, lm)
        self.usage = UsageMeter()

    def kinds_text(self) -> str:
        """The ``memory_kinds`` input the predictor is shown: each schema, then the allowed actions."""
        allowed = ", ".join(self.actions)
        return "\n".join(s.describe() for s in self.schemas) + f"\nAllowed actions: {allowed}."

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

    def forward(self, messages: Any, existing: Any = None, max_steps: int | None = None) -> dspy.Prediction:
        """Update the memory collection from ``messages``.

        Args:
            messages: OpenAI- or Anthropic-format chat messages (tool calls and results included).
            existing: Current memories: ``ExtractedMemory`` items, ``(id, content)`` or ``(id, kind, content)``
                tuples, dicts with ``id``/``content``, or strings.
            max_steps: LM passes (default: the manager's); stops early when a pass changes nothing.

        Returns:
            ``Prediction(memories=[ExtractedMemory...], operations=[AppliedOperation...], usage=Usage)``,
            iterable like the memories list.
        """
        conversation = render_transcript(messages)
        working = self.seed_existing(parse_existing(existing, self.schemas))
        usage = Usage()
        applied: list[AppliedOperation] = []
        for _ in range(max_steps or self.max_steps):
            ops = self._step(conversation, working, usage)
            if not ops:
                break
            applied.extend(ops)
            working = _apply(working, ops)
        self.usage.record(usage)
        return MemoryPrediction(memories=_result(working, applied), operations=applied, usage=usage)

    def invoke(self, input: dict[str, Any], config: Any = None) -> list[ExtractedMemory]:
        """LangMem's call shape: ``{"messages": [...], "existing": [...], "max_steps": n}`` -> memories."""
        return list(self(messages=input["messages"], existing=input.get("existing"), max_steps=input.get("max_steps")))

    async def ainvoke(self, input: dict[str, Any], config: Any = None) -> list[ExtractedMemory]:
        return await asyncio.to_thread(self.invoke, input, config)

    async def aforward(self, messages: Any, existing: Any = None, max_steps: int | None = None) -> dspy.Prediction:
        return await asyncio.to_thread(self.forward, messages, existing, max_steps)


class MemoryPrediction(dspy.Prediction):
    """A prediction that also behaves like LangMem's list of ``ExtractedMemory``."""

    def __iter__(self) -> Any:
        return iter(self.memories)

    def __len__(self) -> int:
        return len(self.memories)

    def __getitem__(self, key: Any) -> Any:
        return self.memories[key] if isinstance(key, int | slice) else super().__getitem__(key)


def _apply(working: list[ExistingMemory], ops: list[AppliedOperation]) -> list[ExistingMemory]:
    by_id = {e.id: e for e in working}
    for op in ops:
        if op.action == "delete":
            by_id.pop(op.id, None)
        else:
            by_id[op.id] = ExistingMemory(op.id, op.kind, op.content, op.importance, False)
    return list(by_id.values())


def _result(working: list[ExistingMemory], applied: list[AppliedOperation]) -> list[ExtractedMemory]:
    removed = [
        ExtractedMemory(uuid.uuid4().hex, RemoveDoc(json_doc_id=op.id)) for op in applied if op.action == "delete"
    ]
    changed_ids = [op.id for op in applied if op.action != "delete"]
    by_id = {e.id: e for e in working}
    keep = [by_id[i] for i in dict.fromkeys(changed_ids) if i in by_id]
    keep += [e for e in working if e.id not in set(changed_ids) and not e.placeholder]
    return removed + [ExtractedMemory(e.id, e.content) for e in keep if e.content is not None]


def create_memory_manager(lm: Any = None, **kwargs: Any) -> MemoryManager:
    """Create the functional memory manager (LangMem's ``create_memory_manager``).

    Args:
        lm: A ``dspy.LM``, a model string (``"openai/gpt-4o-mini"``, ``"local"``), or None to use
            ``dspy.configure(lm=...)``.
        **kwargs: ``schemas``, ``instructions``, ``enable_inserts``, ``enable_updates``, ``enable_deletes``,
            ``max_steps``, ``max_retries`` (see :class:`MemoryManager`), and ``program=`` a saved compiled
            program to load.

    Example:
        >>> manager = create_memory_manager("local", schemas=[Triple], enable_deletes=True)  # doctest: +SKIP
        >>> manager.invoke({"messages": [{"role": "user", "content": "Alice manages the ML team"}]})
    """
    program = kwargs.pop("program", None)
    manager = MemoryManager(lm, **kwargs)
    if program is not None:
        manager.load(str(program))
    return manager
