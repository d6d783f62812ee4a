"""ReflectionExecutor: debouncing per thread, flushing on shutdown, error capture, async use, DSPy context."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import Any

import dspy
import pytest

from memspy.pipelines.records.namespaces import configurable
from memspy.pipelines.semantic.executor import ReflectionExecutor, ReflectionFuture
from memspy.pipelines.semantic.store_manager import MemoryStoreManager
from memspy.stores import EdgeStore, MiniLMEmbedder

__all__: list[str] = []


class Recorder:
    """A small manager: records each call; raises for a message saying "boom"; can block until released."""

    def __init__(self) -> None:
        self.calls: list[tuple[str | None, list[dict[str, Any]]]] = []
        self.lock = threading.Lock()
        self.gates: dict[str, threading.Event] = {}
        self.active: dict[str | None, int] = {}
        self.max_active: dict[str | None, int] = {}

    def __call__(self, messages: list[dict[str, Any]], config: Any = None, thread_id: str | None = None) -> int:
        with self.lock:
            self.active[thread_id] = self.active.get(thread_id, 0) + 1
            self.max_active[thread_id] = max(self.max_active.get(thread_id, 0), self.active[thread_id])
        try:
            gate = self.gates.get(messages[-1]["content"])
            if gate is not None:
                assert gate.wait(10), "gate never opened"
            if messages[-1]["content"] == "boom":
                raise RuntimeError("the LM is down")
            with self.lock:
                self.calls.append((thread_id, messages))
                return len(self.calls)
        finally:
            with self.lock:
                self.active[thread_id] -= 1


def _msgs(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def test_quick_submits_for_one_thread_run_once_with_the_last_payload() -> None:
    rec = Recorder()
    with ReflectionExecutor(rec) as ex:
        handles = [ex.submit(_msgs(f"m{i}"), thread_id="t", after_seconds=1.0) for i in range(3)]
        assert list(ex.pending()) == ["t"] and 0 < ex.pending()["t"] <= 1.0
        assert handles[2].result(timeout=10) == 1
    assert handles[0].cancelled() and handles[1].cancelled() and not handles[2].cancelled()
    assert rec.calls == [("t", _msgs("m2")["messages"])]


def test_two_threads_both_run() -> None:
    rec = Recorder()
    with ReflectionExecutor(rec) as ex:
        a = ex.submit(_msgs("a"), thread_id="thread-a", after_seconds=0.2)
        b = ex.submit(_msgs("b"), config={"configurable": {"thread_id": "thread-b"}}, after_seconds=0.2)
        assert a.thread_key == "thread-a" and b.thread_key == "thread-b"
        assert {a.result(timeout=10), b.result(timeout=10)} == {1, 2}
    assert sorted(t for t, _ in rec.calls) == ["thread-a", "thread-b"]


def test_shutdown_with_wait_flushes_a_long_delayed_task() -> None:
    rec = Recorder()
    ex = ReflectionExecutor(rec)
    handle = ex.submit(_msgs("later"), thread_id="t", after_seconds=3600)
    start = time.monotonic()
    ex.shutdown(wait=True)
    assert time.monotonic() - start < 30
    assert handle.done() and handle.result() == 1 and rec.calls == [("t", _msgs("later")["messages"])]
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.submit(_msgs("too late"))


def test_shutdown_can_cancel_pending_tasks_instead() -> None:
    rec = Recorder()
    ex = ReflectionExecutor(rec)
    handle = ex.submit(_msgs("later"), after_seconds=3600)
    ex.shutdown(wait=True, cancel_futures=True)
    assert handle.cancelled() and rec.calls == []


def test_flush_runs_pending_tasks_now() -> None:
    rec = Recorder()
    with ReflectionExecutor(rec) as ex:
        ex.submit(_msgs("x"), thread_id="a", after_seconds=3600)
        ex.submit(_msgs("y"), thread_id="b", after_seconds=3600)
        assert ex.flush(timeout=10) is True
        assert ex.pending() == {} and len(rec.calls) == 2


def test_a_failing_task_is_logged_and_kept_and_the_worker_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder()
    with caplog.at_level(logging.ERROR, logger="memspy.executor"), ReflectionExecutor(rec) as ex:
        bad = ex.submit(_msgs("boom"), thread_id="t1")
        with pytest.raises(RuntimeError, match="LM is down"):
            bad.result(timeout=10)
        good = ex.submit(_msgs("fine"), thread_id="t1")
        assert good.result(timeout=10) == 1
    assert len(ex.errors) == 1
    err = ex.errors[0]
    assert err.thread_key == "t1" and err.payload == _msgs("boom") and isinstance(err.exception, RuntimeError)
    assert any(r.name == "memspy.executor" and "t1" in r.getMessage() for r in caplog.records)


def test_one_thread_never_runs_twice_at_once_but_threads_run_in_parallel() -> None:
    rec = Recorder()
    rec.gates["slow"] = gate = threading.Event()
    with ReflectionExecutor(rec, max_workers=2) as ex:
        slow = ex.submit(_msgs("slow"), thread_id="a")
        other = ex.submit(_msgs("other"), thread_id="b")
        assert other.result(timeout=10) == 1  # ran while "a" was blocked
        deadline = time.monotonic() + 10
        while not slow.running() and time.monotonic() < deadline:
            time.sleep(0.01)
        follow = ex.submit(_msgs("follow"), thread_id="a")
        time.sleep(0.3)
        assert not follow.done()  # waits for the running task of its thread
        gate.set()
        assert slow.result(timeout=10) == 2 and follow.result(timeout=10) == 3
    assert rec.max_active["a"] == 1


def test_asyncio_submit_and_await() -> None:
    rec = Recorder()
    rec.gates["hold"] = gate = threading.Event()

    async def main(ex: ReflectionExecutor) -> tuple[bool, int]:
        handle = await ex.asubmit(_msgs("hold"), thread_id="t")
        assert isinstance(handle, ReflectionFuture)
        started_done = handle.done()  # submit returned while the manager is still blocked
        gate.set()
        return started_done, await asyncio.wait_for(handle, timeout=10)

    with ReflectionExecutor(rec) as ex:
        assert asyncio.run(main(ex)) == (False, 1)


def test_plain_function_taking_only_messages() -> None:
    seen: list[str] = []

    def manager(messages: list[dict[str, Any]]) -> str:
        seen.append(messages[0]["content"])
        return "ok"

    with ReflectionExecutor(manager) as ex:
        assert ex.submit(_msgs("hi")).result(timeout=10) == "ok"
    assert seen == ["hi"]
    with pytest.raises(TypeError, match="messages"):
        ReflectionExecutor(lambda text: text)


def test_store_manager_sees_dspy_context_and_configurable(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    store = EdgeStore(tmp_path / "s", embedder=embedder)
    lm = dspy.utils.DummyLM([{"facts": ["User likes dogs"]}], adapter=dspy.JSONAdapter())
    manager = MemoryStoreManager()
    assert manager.store is None
    with ReflectionExecutor(manager, store=store) as ex:
        assert manager.store is store
        with dspy.context(lm=lm, adapter=dspy.JSONAdapter()), configurable(user_id="u1", thread_id="c1"):
            handle = ex.submit(_msgs("I like dogs"), after_seconds=0.1)
        pred = handle.result(timeout=30)
    assert ex.errors == [] and [e["event"] for e in pred.events] == ["insert"]
    item = store.get(("memories", "u1"), pred.events[0]["key"])
    assert item is not None and item.value["content"] == {"content": "User likes dogs"}
    assert item.value["provenance"]["thread_id"] == "c1" and handle.thread_key == "c1"
    store.close()
