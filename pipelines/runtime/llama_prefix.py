"""KV-cache bookkeeping for the llama.cpp engine: per-call token and time counters, and saved prompt prefixes.

llama.cpp keeps the tokens it evaluated last and, on the next call, re-evaluates only what follows the longest
prefix the new prompt shares with them. DSPy puts a signature's fixed text first (the system message with its
instructions and fields, then the demos), so calls of one signature share most of their prompt. Two signatures
called in turn would evict each other's prefix; :class:`PrefixStates` keeps the KV cache of each system
message seen recently and restores it when that signature comes back.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = [
    "CallStats",
    "PrefixState",
    "PrefixStates",
    "common_prefix_length",
    "family_key",
    "fixed_length",
    "held_tokens",
    "prompt_eval_seconds",
    "restore_state",
    "snapshot_state",
    "truncate_state",
]


@dataclass(frozen=True)
class CallStats:
    """What one engine call cost.

    Attributes:
        prompt_tokens: Prompt tokens sent.
        reused_tokens: Prompt tokens whose KV cache was kept from earlier calls (not evaluated again).
        completion_tokens: Tokens generated.
        prompt_eval_s: Seconds llama.cpp spent evaluating the prompt (None when the model reports no timings).
        generation_s: Seconds after prompt evaluation: decoding, sampling, grammar (None likewise).
        total_s: Wall-clock seconds of the call, lock wait excluded.
        restored: Whether a saved prefix state was loaded for this call.
        looped: Whether the answer was ended early because it had started repeating itself.
    """

    prompt_tokens: int
    reused_tokens: int
    completion_tokens: int
    prompt_eval_s: float | None
    generation_s: float | None
    total_s: float
    restored: bool = False
    looped: bool = False

    @property
    def evaluated_tokens(self) -> int:
        """Prompt tokens llama.cpp had to evaluate."""
        return self.prompt_tokens - self.reused_tokens

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready numbers, ``evaluated_tokens`` included."""
        return {**asdict(self), "evaluated_tokens": self.evaluated_tokens}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallStats:
        """Rebuild stats from :meth:`as_dict` (derived numbers are recomputed)."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def family_key(messages: list[dict[str, str]]) -> str | None:
    """The key of a prompt's fixed part: a hash of every message before the last (None without a system message).

    DSPy writes a signature's instructions into the system message and a program's demos as the messages after it;
    only the last message holds the call's inputs. So the uncompiled and a compiled program of one signature are
    two families, each with its own kept state and prefix file, demos included."""
    if not messages or messages[0].get("role") != "system":
        return None
    fixed = json.dumps([[m.get("role"), m.get("content")] for m in messages[:-1] or messages[:1]])
    return hashlib.sha1(fixed.encode("utf-8")).hexdigest()


def fixed_length(llm: Any, messages: list[dict[str, str]], prompt_tokens: int) -> int:
    """How many of a prompt's tokens come before its last message (the caller's inputs), with a margin."""
    last = llm.tokenize(messages[-1]["content"].encode("utf-8"), add_bos=False, special=False)
    return prompt_tokens - len(last) - 8


def held_tokens(llm: Any) -> list[int]:
    """The tokens whose KV cache the model holds now (empty for a stand-in without them)."""
    ids, n = getattr(llm, "input_ids", None), int(getattr(llm, "n_tokens", 0) or 0)
    return [int(t) for t in ids[:n]] if ids is not None and n > 0 else []


def prompt_eval_seconds(llm: Any, reset: bool = False) -> float | None:
    """Seconds llama.cpp spent evaluating prompts since its counters were reset (None for a stand-in model).

    Args:
        llm: The model.
        reset: Reset the counters instead (returns 0.0).
    """
    ctx = getattr(getattr(llm, "_ctx", None), "ctx", None)
    if ctx is None:
        return None
    import llama_cpp

    if reset:
        llama_cpp.llama_perf_context_reset(ctx)
        return 0.0
    return float(llama_cpp.llama_perf_context(ctx).t_p_eval_ms) / 1000.0


@dataclass(frozen=True)
class PrefixState:
    """A saved KV cache: the tokens it holds and llama.cpp's serialized sequence state."""

    tokens: tuple[int, ...]
    data: bytes


def snapshot_state(llm: Any) -> PrefixState:
    """Copy the KV cache of sequence 0 and the tokens it holds out of a ``llama_cpp.Llama``."""
    import llama_cpp

    ctx = llm._ctx.ctx
    size = llama_cpp.llama_state_seq_get_size(ctx, 0)
    buf = (ctypes.c_uint8 * size)()
    got = llama_cpp.llama_state_seq_get_data(ctx, buf, size, 0)
    return PrefixState(tuple(int(t) for t in llm.input_ids[: llm.n_tokens]), bytes(buf)[:got])


def restore_state(llm: Any, state: PrefixState) -> None:
    """Load a :class:`PrefixState` into sequence 0; the next prompt is matched against its tokens."""
    import llama_cpp

    llm._ctx.kv_cache_seq_rm(-1, 0, -1)
    buf = (ctypes.c_uint8 * len(state.data)).from_buffer_copy(state.data)
    if llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, buf, len(state.data), 0) == 0:
        llm.reset()
        raise RuntimeError("llama.cpp refused a saved prefix state; the context was reset")
    llm.input_ids[: len(state.tokens)] = state.tokens
    llm.n_tokens = len(state.tokens)
    llm._requires_eval = True  # the saved logits are not restored: at least one token is evaluated again


def truncate_state(llm: Any, n: int) -> None:
    """Drop the KV cache after the first ``n`` tokens."""
    llm._ctx.kv_cache_seq_rm(-1, n, -1)
    llm.n_tokens = n
    llm._requires_eval = True


_MIN_DISK_PREFIX = 64  # a shorter shared prefix is not worth a file
_MAX_PENDING = 32  # families waiting for their second call before their prefix is saved


class PrefixStates:
    """The KV cache of the last few prompt families (:func:`family_key`), least recently used dropped first,
    optionally backed by a :class:`~memspy.pipelines.runtime.llama_prefix_disk.PrefixDisk`.

    Args:
        capacity: How many families to keep besides the one loaded (0: none, prefixes are only reused in turn).
        snapshot: Reads a state out of the model (default :func:`snapshot_state`).
        restore: Writes a state into the model (default :func:`restore_state`).
        disk: Where each family's shared prefix is kept across processes (None: memory only).
        truncate: Cuts the model's KV cache to its first n tokens (default :func:`truncate_state`).
    """

    def __init__(
        self,
        capacity: int = 4,
        snapshot: Callable[[Any], PrefixState] = snapshot_state,
        restore: Callable[[Any, PrefixState], None] = restore_state,
        disk: Any = None,
        truncate: Callable[[Any, int], None] = truncate_state,
    ) -> None:
        if capacity < 0:
            raise ValueError(f"prefix_states must be >= 0, got {capacity}")
        self.capacity = capacity
        self.snapshot, self.restore, self.truncate, self.disk = snapshot, restore, truncate, disk
        self.loaded: str | None = None  # the family whose tokens the model holds now
        self._saved: OrderedDict[str, PrefixState] = OrderedDict()
        self._first: dict[str, list[int]] = {}  # the first prompt of each family not yet on disk
        self._on_disk: set[str] = set()

    def switch(self, llm: Any, family: str | None) -> bool:
        """Before a call of ``family``: save the loaded family's state, load ``family``'s if kept.

        Returns:
            Whether a saved state was loaded.
        """
        if self.capacity == 0 or family == self.loaded:
            return False
        if self.loaded is not None and getattr(llm, "n_tokens", 0) > 0:
            self._saved[self.loaded] = self.snapshot(llm)
            self._saved.move_to_end(self.loaded)
        state = self._saved.pop(family, None) if family is not None else None
        while len(self._saved) > self.capacity:
            self._saved.popitem(last=False)
        self.loaded = family
        from_disk = state is None and family is not None and self.disk is not None
        if from_disk:
            state = self.disk.load(family)
        if state is None:
            return False
        try:
            self.restore(llm, state)
        except RuntimeError:  # a file from another model build: evaluate the prefix again
            if from_disk:
                self.disk.drop(family)
            return False
        if from_disk:
            self._on_disk.add(str(family))
        return True

    def learn(self, llm: Any, family: str | None, prompt: list[int], limit: int) -> bool:
        """After a call: once two calls of ``family`` have run, save the prefix they share to disk.

        Args:
            llm: The model, holding ``prompt`` and the completion.
            family: The call's family.
            prompt: The call's prompt tokens.
            limit: The longest prefix that may be saved (the tokens before the last message).

        Returns:
            Whether a file was written.
        """
        if self.disk is None or family is None or family in self._on_disk or not prompt:
            return False
        first = self._first.setdefault(family, prompt)
        while len(self._first) > _MAX_PENDING:  # families seen once (a compile run's many demo sets) are dropped
            del self._first[next(iter(self._first))]
        shared = min(common_prefix_length(first, prompt), limit)
        if first is prompt or shared < _MIN_DISK_PREFIX:
            return False
        self._first.pop(family, None)
        return self.save(llm, family, shared)

    def save(self, llm: Any, family: str, n: int) -> bool:
        """Save the first ``n`` tokens the model holds as ``family``'s prefix file, leaving the model as it was.

        Returns:
            Whether a file was written (not without a disk, nor for a prefix under 64 tokens).
        """
        if self.disk is None or n < _MIN_DISK_PREFIX:
            return False
        full = self.snapshot(llm)
        self.truncate(llm, n)
        try:
            cut = self.snapshot(llm)
        finally:
            self.restore(llm, full)
        self.disk.save(family, cut)
        self._on_disk.add(family)
        return True

    def on_disk(self, family: str) -> bool:
        """Whether ``family``'s prefix file exists (saved by this process or an earlier one)."""
        return family in self._on_disk or (self.disk is not None and self.disk.exists(family))

    def forget(self) -> None:
        """Drop every saved state (after a reset the loaded tokens are gone too)."""
        self._saved.clear()
        self.loaded = None

    def __len__(self) -> int:
        return len(self._saved)
