"""Semantic memory extraction and consolidation: one LM call reads a conversation and the memories
already stored, and returns the operations that bring the memory collection up to date."""

from __future__ import annotations

from typing import Any, Literal

import dspy
from pydantic import BaseModel, Field

__all__ = ["ExtractMemories", "MemoryOperation"]


class MemoryOperation(BaseModel):
    """One change to the memory collection."""

    action: Literal["insert", "update", "delete"] = Field(
        description="insert a new memory, update an existing one by id, or delete an existing one by id"
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
    """You maintain an assistant's long-term memory about the people and things it talks with.
    Read the conversation and the existing memories, then return the changes needed so that memory
    holds every durable, useful fact: preferences, personal details, relationships, plans, decisions
    and events worth recalling in a later conversation.

    - Insert a memory for each new fact. Write it so it makes sense on its own, with names instead of pronouns.
    - Update an existing memory (by its id) when the conversation refines, extends or corrects it;
      give the complete new content, not only the change.
    - Delete an existing memory (by its id) only when the conversation shows it is no longer true.
    - Leave memories that are still accurate alone, and never repeat one that already exists.
    - Skip small talk, greetings and anything only relevant to the current moment.
    Use only ids that appear in the existing memories. Rate each memory's importance from 0.0 to 1.0."""

    conversation: str = dspy.InputField(desc="the conversation, one message per line, oldest first")
    existing_memories: str = dspy.InputField(desc="memories already stored, one JSON object per line with its id")
    memory_kinds: str = dspy.InputField(desc="the kinds of memory you may write and the fields each one has")
    corrections: str = dspy.InputField(desc="problems with your previous answer to fix now; empty on the first try")
    operations: list[MemoryOperation] = dspy.OutputField(desc="the changes to apply; an empty list if none")
