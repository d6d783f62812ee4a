"""What the memory tools tell an agent: when to save, change or delete a memory, and when to search.

A tool's description is the prompt an agent (``dspy.ReAct``, an OpenAI or Anthropic tool loop) picks tools by.
With the local 1.5B model in ``dspy.ReAct``, "Save, revise or remove long-term memories... Create one for durable
facts" lost to the search tool on 6 of 8 requests such as "Remember that I prefer dark mode in every app."; naming
the moment to save ("when the user tells you something to remember") saved 4 of the 8.
"""

from __future__ import annotations

__all__ = ["MANAGE_MEMORY_INSTRUCTIONS", "MEMORY_SERVER_INSTRUCTIONS", "SEARCH_MEMORY_INSTRUCTIONS"]

MANAGE_MEMORY_INSTRUCTIONS = (
    "Save a new long-term memory when the user tells you something to remember or a lasting fact about themselves "
    "(preferences, personal details, plans, decisions); update one by id when it is corrected or refined; delete "
    "one by id when it is no longer true."
)
SEARCH_MEMORY_INSTRUCTIONS = (
    "Search the long-term memories saved in earlier conversations. Returns the best matches as a JSON list of "
    "objects with key (the id to update or delete), kind, content and score."
)
# What an MCP client is told about the memory server as a whole (`memspy mcp`).
MEMORY_SERVER_INSTRUCTIONS = (
    "Long-term memory that persists across conversations. Search it before answering questions about the "
    "user; add a memory for durable facts (preferences, personal details, plans, decisions); update or delete "
    "one by its id when it changes or stops being true."
)
