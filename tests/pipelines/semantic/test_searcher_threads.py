"""The memory searcher (queries from a conversation, then ranked recall) and the thread extractor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM
from pydantic import BaseModel

from memspy.pipelines import (
    StepError,
    ThreadSummary,
    create_manage_memory_tool,
    create_memory_searcher,
    create_thread_extractor,
)
from memspy.stores import EdgeStore, MiniLMEmbedder, SearchItem

U1 = {"configurable": {"user_id": "u1"}}
CHAT = [
    {"role": "user", "content": "Can you plan dinner for Saturday? My sister is coming."},
    {"role": "assistant", "content": "Sure! Any constraints?"},
    {"role": "user", "content": "Keep in mind what you know about us."},
]


def lm(*answers: dict[str, Any]) -> DummyLM:
    return DummyLM(list(answers), adapter=dspy.JSONAdapter())


@pytest.fixture
def store(tmp_path: Path, embedder: MiniLMEmbedder) -> Iterator[EdgeStore]:
    s = EdgeStore(tmp_path / "store", embedder=embedder)
    tool = create_manage_memory_tool(store=s)
    for fact in (
        "The user is vegetarian",
        "The user's sister Ana is allergic to peanuts",
        "The user works as a nurse",
        "The user plays the cello",
    ):
        tool.invoke({"content": fact}, config=U1)
    yield s
    s.close()


def test_searcher_writes_queries_and_merges_ranked_results(store: EdgeStore) -> None:
    searcher = create_memory_searcher(store=store, limit=3)
    scripted = lm({"queries": ["the user's dietary restrictions", "the sister's allergies", "the user's diet"]})
    with dspy.context(lm=scripted):
        pred = searcher(messages=CHAT, config=U1)
    assert pred.queries == ["the user's dietary restrictions", "the sister's allergies", "the user's diet"]
    texts = [r.value["text"] for r in pred.memories]
    assert set(texts[:2]) == {"The user is vegetarian", "The user's sister Ana is allergic to peanuts"}
    assert len(texts) == len(set(texts)) <= 3  # found twice, returned once
    assert [r.score for r in pred.memories] == sorted((r.score for r in pred.memories), reverse=True)
    assert pred.usage.calls == 1 and searcher.usage.total.calls == 1
    assert "Keep in mind what you know about us." in scripted.history[-1]["messages"][-1]["content"]


def test_searcher_invoke_returns_store_items_and_honours_the_namespace(store: EdgeStore) -> None:
    searcher = create_memory_searcher(None, "Find memories about food.", store=store)
    with dspy.context(lm=lm({"queries": ["food preferences"]}, {"queries": ["food preferences"]})):
        items = searcher.invoke({"messages": CHAT}, config=U1)
        other = searcher.invoke({"messages": CHAT}, config={"configurable": {"user_id": "u2"}})
    assert isinstance(items[0], SearchItem) and items[0].value["text"] == "The user is vegetarian"
    assert other == []
    assert searcher.generate.signature.instructions == "Find memories about food."


def test_searcher_retries_when_no_query_is_usable_then_fails(store: EdgeStore) -> None:
    searcher = create_memory_searcher(store=store, max_retries=1)
    with dspy.context(lm=lm({"queries": ["  "]}, {"queries": [""]})):
        with pytest.raises(StepError):
            searcher(messages=CHAT, config=U1)


def test_searcher_uses_the_first_max_queries_distinct_queries(store: EdgeStore) -> None:
    searcher = create_memory_searcher(store=store, max_queries=2)
    with dspy.context(lm=lm({"queries": ["diet", "diet", "allergies", "hobbies", "job"]})):
        assert searcher(messages=CHAT, config=U1).queries == ["diet", "allergies"]


def test_thread_extractor_default_and_custom_schema() -> None:
    with dspy.context(lm=lm({"thread": {"title": "Saturday dinner", "summary": "Planning dinner with the sister."}})):
        thread = create_thread_extractor().invoke({"messages": CHAT})
    assert thread == ThreadSummary(title="Saturday dinner", summary="Planning dinner with the sister.")

    class Ticket(BaseModel):
        """A support ticket."""

        topic: str
        urgent: bool

    extractor = create_thread_extractor(None, Ticket, "Describe the thread as a support ticket.")
    scripted = lm({"thread": {"topic": "dinner planning", "urgent": False}})
    with dspy.context(lm=scripted):
        pred = extractor(messages=CHAT)
    assert pred.thread == Ticket(topic="dinner planning", urgent=False) and pred.usage.calls == 1
    assert "support ticket" in scripted.history[-1]["messages"][0]["content"]


def test_whole_programs_save_without_their_store(store: EdgeStore, tmp_path: Path) -> None:
    from memspy.pipelines import SummarizationNode, create_memory_store_manager

    programs = {
        "searcher": create_memory_searcher(store=store),
        "threads": create_thread_extractor(),
        "store_manager": create_memory_store_manager(store=store),
        "summarizer": SummarizationNode(max_tokens=100, max_summary_tokens=20).summarizer,
    }
    for name, program in programs.items():
        program.save(tmp_path / name, save_program=True)
        loaded = dspy.load(str(tmp_path / name), allow_pickle=True)
        assert type(loaded) is type(program)
        assert getattr(loaded, "store", None) is None and getattr(program, "store", store) is store
