"""Episodic memory, last step: turn a finished episode into reusable lessons (reflections), adding new ones
or updating those already known."""

from __future__ import annotations

from typing import Literal

import dspy
from pydantic import BaseModel, Field

__all__ = ["GenerateReflections", "ReflectionOperation"]


class ReflectionOperation(BaseModel):
    """One change to the reflection collection."""

    operator: Literal["add", "update"] = Field(description="add a new reflection, or update an existing one by id")
    id: str | None = Field(default=None, description="for update: the existing reflection's id; null for add")
    title: str = Field(description="a short name for the lesson")
    use_cases: str = Field(description="the kinds of tasks and the warning signs that call for this lesson")
    hints: str = Field(description="concrete advice on tools and arguments: what to do, what to avoid, and why")
    confidence: float = Field(description="how useful it will be: 0.1 (tentative) to 1.0 (clearly proven)")


# The pipeline narrows `id` to the ids shown (and `operator` to "add" when none are shown); the update, length
# and confidence rules are enforced in code as well, so a weaker adapter or model cannot bypass them.
class GenerateReflections(dspy.Signature):
    """Learn reusable lessons for future tasks from the new episode of a tool-using agent. Compare it with the
    related past episodes and the existing reflections. When a lesson matches an existing reflection, update
    it by its id: keep its title, merge its use cases and hints with what is new, and adjust the confidence to
    the evidence. Otherwise add a new reflection. Keep use cases and hints under 200 words together; when an
    update would grow longer, add a narrower reflection instead. Give transferable advice about tools and
    reasoning (what to do, what to avoid, and why) with no user-specific details. Give at least one reflection."""

    episode: str = dspy.InputField(desc="the new episode: goal, situation, turns, outcome and its lesson")
    relevant_episodes: str = dspy.InputField(desc="related past episodes, for patterns across episodes")
    existing_reflections: str = dspy.InputField(desc="reflections already stored, one per line with its id")
    agent_instructions: str = dspy.InputField(desc="the agent's system prompt, if known")
    corrections: str = dspy.InputField(desc="problems with your previous answer to fix now; empty on the first try")
    reflections: list[ReflectionOperation] = dspy.OutputField(desc="the reflections to add or update")
