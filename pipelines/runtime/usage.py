"""LM cost accounting: every memspy step reports its LM calls and tokens."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dspy
from dspy.utils.callback import BaseCallback
from dspy.utils.usage_tracker import track_usage

__all__ = ["Usage", "UsageMeter", "measure"]


@dataclass
class Usage:
    """LM calls and tokens, in total and per step (predictor name).

    ``reused_prompt_tokens`` are prompt tokens the model did not evaluate again (the local engine's kept KV
    prefix, or a provider's prompt cache); ``prompt_eval_s`` and ``generation_s`` are the local engine's seconds
    evaluating prompts and generating (0 for LMs that do not report them).
    """

    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    by_step: dict[str, dict[str, float]] = field(default_factory=dict)
    reused_prompt_tokens: int = 0
    prompt_eval_s: float = 0.0
    generation_s: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(
        self,
        step: str,
        calls: int,
        prompt: int,
        completion: int,
        cached: int = 0,
        *,
        reused: int = 0,
        prompt_eval_s: float = 0.0,
        generation_s: float = 0.0,
    ) -> None:
        self.calls += calls
        self.cached_calls += cached
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self.reused_prompt_tokens += reused
        self.prompt_eval_s += prompt_eval_s
        self.generation_s += generation_s
        s = self.by_step.setdefault(step, {"calls": 0, "cached_calls": 0, "prompt_tokens": 0, "completion_tokens": 0})
        s["calls"] += calls
        s["cached_calls"] = s.get("cached_calls", 0) + cached
        s["prompt_tokens"] += prompt
        s["completion_tokens"] += completion
        for key, value in (
            ("reused_prompt_tokens", reused),
            ("prompt_eval_s", prompt_eval_s),
            ("generation_s", generation_s),
        ):
            if value or key in s:
                s[key] = s.get(key, 0) + value

    def merge(self, other: Usage) -> None:
        for step, s in other.by_step.items():
            self.add(
                step,
                int(s["calls"]),
                int(s["prompt_tokens"]),
                int(s["completion_tokens"]),
                int(s.get("cached_calls", 0)),
                reused=int(s.get("reused_prompt_tokens", 0)),
                prompt_eval_s=s.get("prompt_eval_s", 0.0),
                generation_s=s.get("generation_s", 0.0),
            )

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "cached_calls": self.cached_calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "reused_prompt_tokens": self.reused_prompt_tokens,
            "prompt_eval_s": self.prompt_eval_s,
            "generation_s": self.generation_s,
            "by_step": self.by_step,
        }

    def __str__(self) -> str:
        cached = f" ({self.cached_calls} served from DSPy's cache, no tokens spent)" if self.cached_calls else ""
        reused = f" ({self.reused_prompt_tokens} prompt tokens reused)" if self.reused_prompt_tokens else ""
        timed = self.prompt_eval_s + self.generation_s
        seconds = f"; {self.prompt_eval_s:.1f}s prompt eval + {self.generation_s:.1f}s generation" if timed else ""
        return (
            f"{self.calls} LM calls{cached}, {self.prompt_tokens} prompt{reused} + {self.completion_tokens} "
            f"completion tokens{seconds}"
        )


class UsageMeter:
    """Accumulates :class:`Usage` across calls of a module; thread-safe."""

    def __init__(self) -> None:
        self.total = Usage()
        self._lock = threading.Lock()

    def record(self, usage: Usage) -> None:
        with self._lock:
            self.total.merge(usage)

    def reset(self) -> None:
        with self._lock:
            self.total = Usage()

    def __deepcopy__(self, memo: dict[int, Any]) -> UsageMeter:
        # Optimizers deep-copy programs; a copy counts its own calls from zero.
        return UsageMeter()

    def __reduce__(self) -> tuple[type[UsageMeter], tuple[()]]:
        # save(save_program=True) pickles the program: a lock cannot be pickled, and a loaded copy counts afresh.
        return (UsageMeter, ())


class _CallMeter(BaseCallback):
    """Counts each LM call made while it is an active DSPy callback, in any thread and for any LM.

    A call's tokens are what it added to the calling thread's usage tracker; a call that added nothing to a
    caching LM was served from DSPy's cache (DSPy logs cache hits with no usage).
    """

    def __init__(self) -> None:
        self.calls = self.cached = self.prompt = self.completion = self.reused = 0
        self.prompt_eval_s = self.generation_s = 0.0
        self._open: dict[str, tuple[Any, int, bool, Any, int | None]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _entries(tracker: Any) -> list[dict[str, Any]]:
        return [e for es in tracker.usage_data.values() for e in es] if tracker is not None else []

    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        tracker = dspy.settings.usage_tracker
        # DSPy's own rule for whether an LM's answers are cached.
        caching = bool(getattr(instance, "cache", False)) and getattr(instance, "_cache_responses", True)
        # An engine that times its calls (the local llama.cpp one) keeps the last call of each thread.
        engine: Any = getattr(instance, "engine", None)
        mark = engine.thread_stats()[0] if hasattr(engine, "thread_stats") else None
        with self._lock:
            self._open[call_id] = (tracker, len(self._entries(tracker)), caching, engine, mark)

    def on_lm_end(self, call_id: str, outputs: Any, exception: Exception | None = None) -> None:
        with self._lock:
            opened = self._open.pop(call_id, None)
        if opened is None or exception is not None:
            return
        tracker, start, caching, engine, mark = opened
        new = self._entries(tracker)[start:]
        seq, stats = engine.thread_stats() if mark is not None else (mark, None)
        with self._lock:
            self.calls += 1
            self.cached += int(caching and not new)
            self.prompt += sum(int(e.get("prompt_tokens") or 0) for e in new)
            self.completion += sum(int(e.get("completion_tokens") or 0) for e in new)
            self.reused += sum(int((e.get("prompt_tokens_details") or {}).get("cached_tokens") or 0) for e in new)
            if stats is not None and seq != mark:
                self.prompt_eval_s += stats.prompt_eval_s or 0.0
                self.generation_s += stats.generation_s or 0.0


@contextmanager
def measure(usage: Usage, step: str) -> Iterator[None]:
    """Count the LM calls and tokens of the code inside the block under ``step``: THE usage meter.

    Every LM call counts (adapter retries too), whichever LM makes it (the configured one or a predictor's own)
    and in whichever thread (``dspy.Parallel`` workers included); nested blocks each count what runs inside
    them. Cache hits are counted as calls and, separately, as ``cached_calls``, with no tokens. Tokens come
    from DSPy's usage tracker (LMs that report no usage count zero tokens), reused prompt tokens from its
    ``cached_tokens``; seconds from an engine with ``thread_stats()`` (the local llama.cpp engine).
    """
    meter = _CallMeter()
    callbacks = [*(dspy.settings.get("callbacks") or []), meter]
    with dspy.settings.context(track_usage=True, callbacks=callbacks), track_usage():
        try:
            yield
        finally:
            usage.add(
                step,
                meter.calls,
                meter.prompt,
                meter.completion,
                meter.cached,
                reused=meter.reused,
                prompt_eval_s=meter.prompt_eval_s,
                generation_s=meter.generation_s,
            )
