"""Semantic memory extraction and consolidation: one LM call reads a conversation and the memories
already stored, and returns the operations that bring the memory collection up to date."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import dspy
from pydantic import BaseModel, Field

__all__ = ["ExtractMemories", "MemoryOperation"]


class MemoryOperation(BaseModel):
    """One change to the memory collection."""

    action: Literal["insert", "update", "delete", "none"] = Field(
        description="insert a new memory, update or delete an existing one by id, or none when nothing is worth keeping"
    )
    id: str | None = Field(
        default=None, description="for update and delete: the id of an existing memory, copied exactly; null for insert"
    )
    kind: str = Field(description="the memory kind (schema name) of the content")
    content: Any = Field(default=None, description="the full memory, shaped by its kind's fields; null for delete")
    importance: float = Field(
        default=0.5, description="how useful this memory will be later, from 0.0 (trivial) to 1.0 (essential)"
    )


# The pipeline narrows `kind`, `content` and `action` to the configured schemas and permissions
# (pydantic types built at run time), so constrained decoding can only produce valid shapes.
class ExtractMemories(dspy.Signature):
    """Extract long-term memories from the conversation. For each lasting fact about the user or the people
    and things they mention (preferences, personal details, relationships, plans, events), insert a memory that
    stands on its own, naming people instead of using pronouns. When the conversation changes an existing memory,
    update it by its id with the full new content; when it shows one is no longer true, delete it by its id.
    Use only ids listed in the existing memories, and never insert a fact that is already stored.
    Rate importance from 0.0 (trivial) to 1.0 (essential).
    When there is nothing to remember, answer with one operation whose action is "none"."""

    conversation: str = dspy.InputField(desc="the conversation, one message per line, oldest first")
    existing_memories: str = dspy.InputField(desc="memories already stored, one JSON object per line with its id")
    memory_kinds: str = dspy.InputField(desc="the kinds of memory you may write and the fields each one has")
    corrections: str = dspy.InputField(desc="problems with your previous answer to fix now; empty on the first try")
    # min_length=1 plus the "none" action: small constrained models otherwise collapse to an empty list.
    operations: Annotated[list[MemoryOperation], Field(min_length=1)] = dspy.OutputField(desc="the changes to apply")
