"""Semantic memory in two small steps: list the facts a conversation states, then reconcile them with the
memories already stored. Each step is simple enough for a small local model; code enforces the rest."""

from __future__ import annotations

from typing import Literal

import dspy
from pydantic import BaseModel, Field

__all__ = ["ExtractFacts", "FactDecision", "ReconcileFacts"]


# The pipeline swaps `facts` to a list of the configured kind's model (or of {kind, content} for several kinds);
# the default free-text kind keeps plain sentences, which a small model writes most reliably.
class ExtractFacts(dspy.Signature):
    """List the facts the conversation states about the people in it, each as a short standalone sentence that
    names the person ("The user" when no name is given). Keep details such as names, places, dates and numbers.
    Leave out greetings, questions, the assistant's replies and general knowledge.
    Return an empty list when there is nothing to remember."""

    conversation: str = dspy.InputField(desc="the conversation, one message per line, oldest first")
    memory_kinds: str = dspy.InputField(desc="the kinds of facts to write and the fields each one has")
    corrections: str = dspy.InputField(desc="problems with your previous answer to fix now; empty on the first try")
    facts: list[str] = dspy.OutputField(desc="standalone sentences, one fact each")


class FactDecision(BaseModel):
    """What one new fact does to the stored memories."""

    fact: int = Field(description="the number of the new fact")
    action: Literal["add", "update", "delete", "skip"] = Field(
        description="add a new memory, update or delete a stored one by id, or skip a fact already stored"
    )
    id: str | None = Field(default=None, description="for update and delete: the stored memory's id; else null")


# The pipeline narrows `action` to what the manager may do (no "delete" unless deletes are enabled).
class ReconcileFacts(dspy.Signature):
    """Decide how each new fact changes the stored memories. Answer "skip" when a stored memory already says the
    same thing; "update" with that memory's id when the new fact replaces or corrects it (same topic, newer or
    more detailed information); "delete" with a memory's id when the new fact shows that memory is no longer true;
    otherwise "add". Give one decision per new fact, and one more for each other memory it makes outdated."""

    new_facts: str = dspy.InputField(desc="the new facts, numbered")
    existing_memories: str = dspy.InputField(desc="stored memories, one per line as id: memory")
    corrections: str = dspy.InputField(desc="problems with your previous answer to fix now; empty on the first try")
    decisions: list[FactDecision] = dspy.OutputField(desc="one decision per new fact")
