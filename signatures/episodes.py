"""Episodic memory, first two steps: summarize each turn of a tool-using conversation, then consolidate the
turns of one finished episode into a single account of what the user wanted and how it went."""

from __future__ import annotations

import dspy
from pydantic import BaseModel, Field

__all__ = ["ConsolidateEpisode", "ExtractTurnEpisodes", "TurnSummary"]


class TurnSummary(BaseModel):
    """What happened in one turn: one user message and the assistant's work up to the next user message."""

    turn_id: str = Field(description="the id from the turn's <turn_ID> tag")
    situation: str = Field(description="what the user asked in this turn, and their overall goal")
    intent: str = Field(description="what the assistant tried to achieve in this turn")
    action: str = Field(
        description="each tool call in this turn with its arguments and result, failed ones included; "
        "or the reply, if no tool was used"
    )
    thought: str = Field(description="why the assistant chose these tools and arguments")
    assessment_assistant: str = Field(description="Yes or No: did the assistant achieve its intent; then why")
    assessment_user: str = Field(description="Yes or No: is the user's current request finished here; then why")


# The pipeline narrows `turn_id` to the ids of the turns in the request (a Literal built at run time) and puts
# the exact count in the schema, so constrained decoding cannot invent ids; the count is also checked in code.
class ExtractTurnEpisodes(dspy.Signature):
    """Summarize each turn of this conversation between a user and a tool-using assistant: write exactly one
    summary for every id in turn_ids, in order, using only that turn's messages. Give the situation, the
    assistant's intent, its action (every tool call with its arguments; when a call failed, say so and what the
    assistant did next), its reasoning, whether it achieved its intent, and whether the user's current request
    is finished after this turn: Yes when the user's next message shows them satisfied or moving to a new task,
    No when the user still needs help or nothing shows the request is done. Keep every field to one or two short
    sentences. Say "the user" and never copy names, emails, phone numbers, addresses or other personal details."""

    conversation: str = dspy.InputField(desc="the turns to summarize, each inside <turn_ID> tags")
    previous_turns: str = dspy.InputField(desc="earlier turns, only as context; do not summarize them")
    next_user_message: str = dspy.InputField(desc="the user's next message, only to judge if the request finished")
    turn_ids: str = dspy.InputField(desc="the ids of the turns to summarize, one summary each")
    corrections: str = dspy.InputField(desc="problems with your previous answer to fix now; empty on the first try")
    turns: list[TurnSummary] = dspy.OutputField(desc="one summary per turn id, in order")


class ConsolidateEpisode(dspy.Signature):
    """These are the turn summaries of one finished episode between a user and a tool-using assistant. Sum
    the episode up: the situation that led the user to ask for help, the user's goal, whether the goal was
    achieved (start with Yes or No), and the evidence for that verdict. Then reflect on the turns: which tool
    choices, arguments and reasoning worked and are worth repeating, and which failed and should be avoided
    next time. Keep each field short and say "the user" instead of any personal detail."""

    turns: str = dspy.InputField(desc="the episode's turn summaries, oldest first")
    corrections: str = dspy.InputField(desc="problems with your previous answer to fix now; empty on the first try")
    situation: str = dspy.OutputField(desc="what led the user to seek help")
    intent: str = dspy.OutputField(desc="the user's goal in this episode")
    assessment: str = dspy.OutputField(desc="Yes or No: was the user's goal achieved")
    justification: str = dspy.OutputField(desc="the evidence from the turns for the assessment")
    reflection: str = dspy.OutputField(
        desc="which tool calls or arguments failed and what fixed them; what to repeat and what to avoid"
    )
