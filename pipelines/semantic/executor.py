"""Debounced background memory processing on local worker threads (LangMem's ``ReflectionExecutor``).

Each conversation thread has at most one pending task: a newer submit for the same thread replaces (cancels)
the one still waiting, so a burst of messages is processed once, with the latest conversation. Tasks run in a
copy of the submitter's context, so ``dspy.context(lm=...)`` and ``configurable(user_id=...)`` reach them.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import threading
import time
from collections.abc import Callable, Generator, Mapping
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from typing import Any

import dspy

from memspy.pipelines.errors import ReflectionError
from memspy.pipelines.records.context import as_store
from memspy.pipelines.records.namespaces import get_config
from memspy.stores import BaseStore

__all__ = ["DEFAULT_THREAD", "ReflectionExecutor", "ReflectionFuture"]

DEFAULT_THREAD = "default"
_POLL_S = 0.25  # how often idle workers check that the interpreter is still running
_IDLE_EXIT_S = 5.0  # idle workers exit after this long; the next submit starts new ones


class ReflectionFuture(Future[Any]):
    """The handle of one submitted task: a ``concurrent.futures.Future`` that can also be awaited.

    ``cancelled()`` is True once a newer submit for the same thread replaced it before it started.
    """

    def __init__(self, thread_key: str) -> None:
        super().__init__()
        self.thread_key = thread_key

    def __await__(self) -> Generator[Any, None, Any]:
        return asyncio.wrap_future(self).__await__()


@dataclass(eq=False)
class _Task:
    key: str
    payload: dict[str, Any]
    kwargs: dict[str, Any]
    ctx: contextvars.Context
    run_at: float
    future: ReflectionFuture


def _accepted(manager: Callable[..., Any]) -> set[str] | None:
    """The keyword names ``manager`` accepts (None: any)."""
    # type(manager).forward: reading `.forward` on a dspy.Module instance logs a warning.
    target = type(manager).forward if isinstance(manager, dspy.Module) else manager
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


class ReflectionExecutor:
    """Runs a memory manager in the background, debounced per conversation thread.

    Args:
        manager: A ``MemoryStoreManager`` or any callable (or ``dspy.Module``) taking ``messages=`` and
            optionally ``config=`` and ``thread_id=``.
        store: Given to the manager when it has a ``store`` attribute that is None.
        max_workers: Worker threads; tasks for one conversation thread never run at the same time.
        logger: Where task failures are logged (default: ``logging.getLogger("memspy.executor")``).

    Example:
        >>> with ReflectionExecutor(manager) as executor:  # doctest: +SKIP
        ...     executor.submit({"messages": msgs}, config={"configurable": {"user_id": "u1"}}, after_seconds=60)
    """

    def __init__(
        self,
        manager: Callable[..., Any],
        *,
        store: BaseStore | None = None,
        max_workers: int = 1,
        logger: logging.Logger | None = None,
    ) -> None:
        if not callable(manager):
            raise TypeError(f"manager must be callable (a MemoryStoreManager or a function), got {manager!r}")
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        self._accepts = _accepted(manager)
        if self._accepts is not None and "messages" not in self._accepts:
            raise TypeError("manager must accept a messages= keyword argument")
        if store is not None and getattr(manager, "store", store) is None:
            manager.store = as_store(store)  # type: ignore[attr-defined]
        self.manager, self.max_workers = manager, max_workers
        self.logger = logger or logging.getLogger("memspy.executor")
        self.errors: list[ReflectionError] = []
        self._cv = threading.Condition()
        self._pending: dict[str, _Task] = {}
        self._running: dict[str, ReflectionFuture] = {}
        self._workers: list[threading.Thread] = []
        self._closing = False

    def submit(
        self,
        payload: Mapping[str, Any],
        *,
        config: Mapping[str, Any] | None = None,
        after_seconds: float = 0.0,
        thread_id: str | None = None,
    ) -> ReflectionFuture:
        """Schedule ``manager(messages=payload["messages"], config=config, thread_id=...)`` after a delay.

        Never blocks on the manager. The thread key is ``thread_id``, else ``config["configurable"]["thread_id"]``,
        else the active ``configurable(thread_id=...)``, else ``"default"``.

        Raises:
            RuntimeError: after :meth:`shutdown`.
        """
        if not isinstance(payload, Mapping) or "messages" not in payload:
            raise TypeError('payload must be a mapping like {"messages": [...]}')
        if isinstance(after_seconds, bool) or not isinstance(after_seconds, int | float) or after_seconds < 0:
            raise ValueError(f"after_seconds must be a number >= 0, got {after_seconds!r}")
        configurable = dict((config or {}).get("configurable") or {})
        tid = thread_id or configurable.get("thread_id") or get_config()["configurable"].get("thread_id")
        key = str(tid) if tid else DEFAULT_THREAD
        kwargs = {"messages": payload["messages"], "config": dict(config) if config else None, "thread_id": tid}
        if self._accepts is not None:
            kwargs = {k: v for k, v in kwargs.items() if k in self._accepts}
        future = ReflectionFuture(key)
        task = _Task(key, dict(payload), kwargs, contextvars.copy_context(), time.monotonic() + after_seconds, future)
        with self._cv:
            if self._closing:
                raise RuntimeError("cannot submit to a ReflectionExecutor after shutdown()")
            replaced = self._pending.pop(key, None)
            self._pending[key] = task
            self._start_workers()
            self._cv.notify_all()
        if replaced is not None:
            replaced.future.cancel()
        return future

    async def asubmit(self, payload: Mapping[str, Any], **kwargs: Any) -> ReflectionFuture:
        """:meth:`submit` from async code; ``await`` the returned handle for the manager's result."""
        return self.submit(payload, **kwargs)

    def pending(self) -> dict[str, float]:
        """Thread keys with a task not started yet, and the seconds until each is due."""
        now = time.monotonic()
        with self._cv:
            return {k: max(0.0, t.run_at - now) for k, t in self._pending.items() if not t.future.cancelled()}

    def flush(self, timeout: float | None = None) -> bool:
        """Run every pending task now and wait for them and the running ones; True if all finished in time."""
        with self._cv:
            for t in self._pending.values():
                t.run_at = float("-inf")
            futures = [t.future for t in self._pending.values()] + list(self._running.values())
            if self._pending:
                self._start_workers()
            self._cv.notify_all()
        return not wait_futures(futures, timeout).not_done

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting tasks. Pending delayed tasks run now (unless ``cancel_futures``), then workers exit.

        Args:
            wait: Block until every task has finished and the workers have stopped.
            cancel_futures: Cancel the tasks not started yet instead of running them.
        """
        with self._cv:
            self._closing = True
            dropped = list(self._pending.values()) if cancel_futures else []
            if cancel_futures:
                self._pending.clear()
            for t in self._pending.values():
                t.run_at = float("-inf")
            if self._pending:
                self._start_workers()
            workers = list(self._workers)
            self._cv.notify_all()
        for t in dropped:
            t.future.cancel()
        if wait:
            for w in workers:
                if w is not threading.current_thread():
                    w.join()

    def __enter__(self) -> ReflectionExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(wait=True)

    def _start_workers(self) -> None:  # with self._cv held
        self._workers = [w for w in self._workers if w.is_alive()]
        while len(self._workers) < self.max_workers:
            w = threading.Thread(target=self._work, name=f"memspy-reflection-{len(self._workers)}")
            self._workers.append(w)
            w.start()

    def _next(self) -> _Task | None:
        idle_since = time.monotonic()
        with self._cv:
            while True:
                if not self._closing and not threading.main_thread().is_alive():
                    self._closing = True  # the interpreter is exiting: run what is pending rather than lose it
                    for t in self._pending.values():
                        t.run_at = float("-inf")
                now = time.monotonic()
                ready = [t for t in self._pending.values() if t.key not in self._running]
                due = [t for t in ready if t.run_at <= now]
                if due:
                    task = min(due, key=lambda t: t.run_at)
                    del self._pending[task.key]
                    if task.future.cancelled():
                        continue
                    self._running[task.key] = task.future
                    return task
                if not self._pending and (self._closing or now - idle_since > _IDLE_EXIT_S):
                    self._workers = [w for w in self._workers if w is not threading.current_thread()]
                    return None
                self._cv.wait(min([_POLL_S, *(t.run_at - now for t in ready)]))

    def _work(self) -> None:
        while (task := self._next()) is not None:
            try:
                if task.future.set_running_or_notify_cancel():
                    self._execute(task)
            finally:
                with self._cv:
                    self._running.pop(task.key, None)
                    self._cv.notify_all()

    def _call(self, task: _Task) -> Any:
        result = self.manager(**task.kwargs)
        if inspect.isawaitable(result):

            async def _await() -> Any:
                return await result

            result = asyncio.run(_await())
        return result

    def _execute(self, task: _Task) -> None:
        try:
            result = task.ctx.run(self._call, task)
        except BaseException as exc:  # recorded, logged and set on the handle: never lost, the worker goes on
            self.logger.error("memory task for thread %r failed: %r", task.key, exc, exc_info=exc)
            with self._cv:
                self.errors.append(ReflectionError(task.key, task.payload, task.kwargs.get("config"), exc))
            task.future.set_exception(exc)
        else:
            task.future.set_result(result)
