"""No acknowledged change vanishes when writers race: background workers, hot-path tools, access bookkeeping.

Real threads on a real EdgeStore. The LM is a scripted engine, so a test can hold two workers inside their LM
calls at once (both have read the record by then) or run a tool's update while a manager waits for its LM.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dspy
import pytest
from dspy.lm15 import Message, Response, TextPart, Usage

from memspy.pipelines import create_manage_memory_tool, create_memory_store_manager, search_memories
from memspy.stores import EdgeStore, MiniLMEmbedder

U1 = {"configurable": {"user_id": "u1"}}
NS = ("memories", "u1")


class Engine:
    """Answers every call with ``answer``, after running ``before`` (e.g. waiting for the other worker)."""

    supports_response_schema = False
    supports_function_calling = False
    supports_reasoning = False

    def __init__(self, answer: str, before: Callable[[], None] = lambda: None) -> None:
        self.answer, self.before = answer, before

    def complete(self, request: Any) -> Response:
        self.before()
        usage = Usage(input_tokens=10, output_tokens=5, total_tokens=15)
        return Response(
            id=None,
            model="scripted",
            message=Message.assistant([TextPart(self.answer)]),
            finish_reason="stop",
            usage=usage,
        )


def update(key: str, text: str) -> str:
    op = {"action": "update", "id": key, "kind": "Memory", "content": {"content": text}, "importance": 0.5}
    return json.dumps({"operations": [op]})


def lm(answer: str, before: Callable[[], None] = lambda: None) -> dspy.LM:
    return dspy.LM("scripted/test", engine=Engine(answer, before), cache=False, num_retries=0)


@pytest.fixture
def store(tmp_path: Path, embedder: MiniLMEmbedder) -> Iterator[EdgeStore]:
    s = EdgeStore(tmp_path / "store", embedder=embedder)
    yield s
    s.close()


def _seed(store: EdgeStore) -> str:
    tool = create_manage_memory_tool(store=store)
    reply = tool.invoke({"action": "create", "content": "The user drinks coffee every morning"}, config=U1)
    return str(reply).split()[-1]


def _versions(store: EdgeStore, key: str) -> list[str]:
    item = store.get(NS, key)
    assert item is not None
    return [h["content"]["content"] for h in item.value["history"]] + [item.value["content"]["content"]]


def _run(manager: Any, text: str, lm_: dspy.LM, errors: list[BaseException]) -> None:
    try:
        with dspy.context(lm=lm_):
            manager.invoke({"messages": [{"role": "user", "content": text}]}, config=U1)
    except BaseException as e:  # pragma: no cover - reported by the test
        errors.append(e)


def test_two_background_workers_updating_one_memory_keep_both_versions(store: EdgeStore) -> None:
    key = _seed(store)
    both_read = threading.Barrier(2, timeout=60)  # each worker has read the record before either writes
    manager = create_memory_store_manager(store=store, design="single", max_retries=0)
    errors: list[BaseException] = []
    workers = [
        threading.Thread(target=_run, args=(manager, text, lm(update(key, text), both_read.wait), errors))
        for text in ("The user drinks green tea every morning", "The user drinks black coffee every evening")
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    versions = _versions(store, key)
    assert "The user drinks green tea every morning" in versions
    assert "The user drinks black coffee every evening" in versions
    assert versions[0] == "The user drinks coffee every morning"


def test_a_tool_update_during_a_background_call_is_not_overwritten(store: EdgeStore) -> None:
    key = _seed(store)
    tool = create_manage_memory_tool(store=store)

    def hot_path() -> None:  # the agent revises the memory while the background manager waits for its LM
        reply = tool.invoke({"action": "update", "id": key, "content": "The user drinks tea every morning"}, config=U1)
        assert reply.startswith("updated"), reply

    manager = create_memory_store_manager(store=store, design="single", max_retries=0)
    answer = update(key, "The user drinks coffee with oat milk every morning")
    with dspy.context(lm=lm(answer, hot_path)):
        manager.invoke({"messages": [{"role": "user", "content": "I take oat milk in my morning coffee"}]}, config=U1)
    versions = _versions(store, key)
    assert versions[-1] == "The user drinks coffee with oat milk every morning"
    assert "The user drinks tea every morning" in versions  # acknowledged to the agent, so kept in history


def test_concurrent_searches_count_every_access(store: EdgeStore) -> None:
    key = _seed(store)
    errors: list[BaseException] = []

    def searches() -> None:
        try:
            for _ in range(25):
                hits = search_memories(store, NS, "what does the user drink in the morning?")
                assert [h.key for h in hits] == [key]
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=searches) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    item = store.get(NS, key)
    assert item is not None and item.value["access_count"] == 200
