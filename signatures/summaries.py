"""Short-term memory: a running summary of a conversation that grows too long, and a summary of a whole thread."""

from __future__ import annotations

import dspy
from pydantic import BaseModel, Field

__all__ = ["ExtractThread", "SummarizeConversation", "ThreadSummary"]


class SummarizeConversation(dspy.Signature):
    """Summarize the conversation so far so that it can replace the messages it covers. Start from the existing
    summary when there is one and extend it with the new messages: keep every fact, name, number, date, decision,
    request and open question a later reply could need, and drop greetings and filler. Write plain prose in the
    third person ("The user asked ..."), never addressing anyone, and stay within the word budget."""

    existing_summary: str = dspy.InputField(desc="the summary of earlier messages; empty when there is none")
    messages: str = dspy.InputField(desc="the new messages to fold into the summary, one per line, oldest first")
    max_words: int = dspy.InputField(desc="the most words the summary may have")
    corrections: str = dspy.InputField(desc="problems with your previous answer to fix now; empty on the first try")
    summary: str = dspy.OutputField(desc="the updated summary")


class ThreadSummary(BaseModel):
    """What a conversation thread was about (LangMem's ``SummarizeThread``)."""

    title: str = Field(description="a short title for the thread, at most ten words")
    summary: str = Field(description="what was discussed, asked and decided, in a few sentences")


# The pipeline replaces the type of `thread` with the caller's schema (a pydantic model), so constrained
# decoding produces exactly its fields.
class ExtractThread(dspy.Signature):
    """Read the whole conversation thread and describe it with the fields asked for, using only what the
    conversation says."""

    conversation: str = dspy.InputField(desc="the conversation, one message per line, oldest first")
    corrections: str = dspy.InputField(desc="problems with your previous answer to fix now; empty on the first try")
    thread: ThreadSummary = dspy.OutputField(desc="the thread, in the requested shape")
