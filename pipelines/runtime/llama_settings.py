"""Runtime settings of the local llama.cpp engine and where their defaults come from.

Threads, measured on a 2-core machine shared with other work (``memspy bench lm`` and the README's table):
generating with 2 threads collapsed to 1-3 tokens/s whenever anything else ran, because llama.cpp's threads wait
for each other at every layer; 1 thread kept 4-11 tokens/s. Prompt evaluation is batched (many tokens per
synchronization) and keeps 2 threads. So on 1-2 cores generation uses 1 thread and prompt evaluation 2; on more
cores, 2 and 2, the measured-safe value (llama.cpp's own default is half the cores).
"""

from __future__ import annotations

import os

__all__ = ["default_batch_threads", "default_n_threads", "default_reset_every_call"]

_TRUE = {"1", "true", "yes", "on"}


def _env_threads() -> int | None:
    raw = os.environ.get("MEMSPY_LM_THREADS", "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"MEMSPY_LM_THREADS must be a positive integer, got {raw!r}") from exc


def _checked(n_threads: int) -> int:
    if n_threads < 1:
        raise ValueError(f"n_threads must be a positive integer, got {n_threads}")
    return n_threads


def default_n_threads(n_threads: int | None = None) -> int:
    """Threads for generation: the argument, else env ``MEMSPY_LM_THREADS``, else 1 on up to 2 cores, else 2.

    Raises:
        ValueError: The argument or ``MEMSPY_LM_THREADS`` is not a positive integer.
    """
    if n_threads is None:
        n_threads = _env_threads()
    if n_threads is None:
        return 1 if (os.cpu_count() or 1) <= 2 else 2
    return _checked(n_threads)


def default_batch_threads(n_threads: int | None = None) -> int:
    """Threads for prompt evaluation: the argument, else ``MEMSPY_LM_THREADS``, else ``min(2, cpus)``."""
    if n_threads is None:
        n_threads = _env_threads()
    if n_threads is None:
        return max(1, min(2, os.cpu_count() or 1))
    return _checked(n_threads)


def default_reset_every_call(reset_every_call: bool | None = None) -> bool:
    """Whether to clear the KV cache before every call: the argument, else env ``MEMSPY_LM_RESET`` (1/true/yes)."""
    if reset_every_call is not None:
        return reset_every_call
    return os.environ.get("MEMSPY_LM_RESET", "").strip().lower() in _TRUE
