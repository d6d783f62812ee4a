"""Recall from a conversation: the search queries that find the memories a reply needs."""

from __future__ import annotations

from typing import Annotated

import dspy
from pydantic import Field

__all__ = ["GenerateSearchQueries"]


# The pipeline uses the first `max_queries` of the list, without repeats.
class GenerateSearchQueries(dspy.Signature):
    """Write search queries for the long-term memories that would help answer the last message of the
    conversation. Each query targets one distinct aspect (a person, a preference, a past event, a plan) and reads
    like the memory it looks for ("the user's dietary restrictions"), not like a question to the user. Write one
    query when a single aspect matters."""

    conversation: str = dspy.InputField(desc="the conversation, one message per line, oldest first")
    corrections: str = dspy.InputField(desc="problems with your previous answer to fix now; empty on the first try")
    queries: Annotated[list[str], Field(min_length=1)] = dspy.OutputField(desc="distinct search queries")
