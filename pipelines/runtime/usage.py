"""LM cost accounting: every memspy step reports its LM calls and tokens."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dspy
from dspy.utils.usage_tracker import track_usage

__all__ = ["Usage", "UsageMeter", "measure"]


@dataclass
class Usage:
    """LM calls and tokens, in total and per step (predictor name)."""

    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    by_step: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, step: str, calls: int, prompt: int, completion: int, cached: int = 0) -> None:
        self.calls += calls
        self.cached_calls += cached
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        s = self.by_step.setdefault(step, {"calls": 0, "cached_calls": 0, "prompt_tokens": 0, "completion_tokens": 0})
        s["calls"] += calls
        s["cached_calls"] = s.get("cached_calls", 0) + cached
        s["prompt_tokens"] += prompt
        s["completion_tokens"] += completion

    def merge(self, other: Usage) -> None:
        for step, s in other.by_step.items():
            self.add(step, s["calls"], s["prompt_tokens"], s["completion_tokens"], s.get("cached_calls", 0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "cached_calls": self.cached_calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "by_step": self.by_step,
        }

    def __str__(self) -> str:
        cached = f" ({self.cached_calls} served from DSPy's cache, no tokens spent)" if self.cached_calls else ""
        return (
            f"{self.calls} LM calls{cached}, {self.prompt_tokens} prompt + {self.completion_tokens} completion tokens"
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


def _lm_history() -> list[dict[str, Any]]:
    lm = dspy.settings.lm
    history: list[dict[str, Any]] = getattr(lm, "history", []) if lm is not None else []
    return history


@contextmanager
def measure(usage: Usage, step: str) -> Iterator[None]:
    """Count the LM calls and tokens of the code inside the block under ``step``.

    Calls are counted from the LM's history (so adapter retries count), cache hits (logged with no usage by a
    caching LM) separately; tokens come
    from DSPy's usage tracker, which skips cache hits (LMs that report no usage, such as ``DummyLM``, count
    zero tokens).
    """
    start = len(_lm_history())
    with dspy.settings.context(track_usage=True), track_usage() as tracker:
        try:
            yield
        finally:
            new = _lm_history()[start:]
            lm = dspy.settings.lm
            # DSPy's own rule for whether an LM's answers are cached; a cache hit is logged with empty usage.
            caching = bool(getattr(lm, "cache", False)) and getattr(lm, "_cache_responses", True)
            cached = sum(1 for e in new if not e.get("usage")) if caching else 0
            entries = [e for es in tracker.usage_data.values() for e in es]
            calls = max(len(new), len(entries))
            prompt = sum(int(e.get("prompt_tokens") or 0) for e in entries)
            completion = sum(int(e.get("completion_tokens") or 0) for e in entries)
            usage.add(step, calls, prompt, completion, cached)
