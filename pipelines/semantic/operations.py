"""The memory manager's operations: a validated change, the one-call design's operation type, applying changes
to the working set, and the LangMem-shaped result."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

import dspy
from pydantic import BaseModel, Field, create_model

from memspy.pipelines.semantic.schemas import ExtractedMemory, MemorySchema, RemoveDoc
from memspy.pipelines.semantic.validate import ExistingMemory
from memspy.signatures.extraction import MemoryOperation

__all__ = ["AppliedOperation", "MemoryPrediction", "apply_operations", "extracted_memories", "operation_model"]


@dataclass
class AppliedOperation:
    """A validated change: what the store manager writes. ``content`` is None for deletes."""

    action: Literal["insert", "update", "delete"]
    id: str
    kind: str
    content: BaseModel | None
    importance: float


def operation_model(schemas: list[MemorySchema], actions: tuple[str, ...]) -> type[BaseModel]:
    """The one-call design's operation type: ``action`` narrowed to ``actions``, ``content`` to the kinds."""
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


class MemoryPrediction(dspy.Prediction):
    """A prediction that also behaves like LangMem's list of ``ExtractedMemory``."""

    def __iter__(self) -> Any:
        return iter(self.memories)

    def __len__(self) -> int:
        return len(self.memories)

    def __getitem__(self, key: Any) -> Any:
        return self.memories[key] if isinstance(key, int | slice) else super().__getitem__(key)


def apply_operations(working: list[ExistingMemory], ops: list[AppliedOperation]) -> list[ExistingMemory]:
    """The memories after ``ops``: deletes removed, inserts and updates written over by id."""
    by_id = {e.id: e for e in working}
    for op in ops:
        if op.action == "delete":
            by_id.pop(op.id, None)
        else:
            by_id[op.id] = ExistingMemory(op.id, op.kind, op.content, op.importance, False)
    return list(by_id.values())


def extracted_memories(working: list[ExistingMemory], applied: list[AppliedOperation]) -> list[ExtractedMemory]:
    """LangMem's result list: a ``RemoveDoc`` per delete, then the changed memories, then the unchanged ones."""
    removed = [
        ExtractedMemory(uuid.uuid4().hex, RemoveDoc(json_doc_id=op.id)) for op in applied if op.action == "delete"
    ]
    changed_ids = [op.id for op in applied if op.action != "delete"]
    by_id = {e.id: e for e in working}
    keep = [by_id[i] for i in dict.fromkeys(changed_ids) if i in by_id]
    keep += [e for e in working if e.id not in set(changed_ids) and not e.placeholder]
    return removed + [ExtractedMemory(e.id, e.content) for e in keep if e.content is not None]
