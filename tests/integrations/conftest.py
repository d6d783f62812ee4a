"""Fixtures of the integration tests."""

from __future__ import annotations

import pytest
from langgraph.store.memory import InMemoryStore

from memspy.stores import MiniLMEmbedder


@pytest.fixture
def lg_store(embedder: MiniLMEmbedder) -> InMemoryStore:
    """LangMem's docs use ``InMemoryStore(index={"dims": 1536, "embed": "openai:..."})``: offline, MiniLM's 384."""
    return InMemoryStore(index={"dims": 384, "embed": embedder.embed_documents})
