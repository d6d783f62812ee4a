"""A DSPy 3.4 custom engine that runs a local GGUF model through llama-cpp-python.

Pass it as ``dspy.LM(engine.name, engine=engine, async_engine=AsyncLlamaEngine(engine))``. The engine takes one
canonical ``dspy.lm15.Request`` and returns one ``Response``; DSPy keeps caching, retries and history. With
``supports_response_schema`` DSPy's JSONAdapter sends the signature's JSON schema, which becomes a llama.cpp
grammar (arrays capped with ``maxItems``), compiled once per schema.

The KV cache is kept across calls: llama.cpp evaluates only what follows the prefix a prompt shares with the
previous call; :class:`~memspy.pipelines.runtime.llama_prefix.PrefixStates` keeps each recent signature's prefix
(in memory, and on disk for the next process). ``reset_every_call=True`` (or
``MEMSPY_LM_RESET=1``) starts every call from an empty cache instead, for bit-identical greedy output across
runs. Each call's token and time counters are on ``Response.usage.cache_read_tokens`` (prompt tokens reused)
and ``Response.provider_data["llama_cpp"]``. ``llama_cpp`` is imported lazily: this module imports without it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dspy.lm15 import ContextLengthError, Request, Response, response_to_events

from memspy.pipelines.runtime.llama_async import AsyncLlamaEngine
from memspy.pipelines.runtime.llama_build import check_build
from memspy.pipelines.runtime.llama_prefix import (
    CallStats,
    PrefixStates,
    common_prefix_length,
    family_key,
    fixed_length,
    held_tokens,
    prompt_eval_seconds,
)
from memspy.pipelines.runtime.llama_prefix_disk import PrefixDisk, default_prefix_dir
from memspy.pipelines.runtime.llama_request import (
    DEFAULT_MAX_ITEMS,
    OPTIONAL_PARAMS,
    GrammarCache,
    add_max_items,
    chat_messages,
    chat_response,
    completion_kwargs,
)
from memspy.pipelines.runtime.llama_sampling import install as install_greedy_grammar
from memspy.pipelines.runtime.llama_sampling import looped
from memspy.pipelines.runtime.llama_settings import (
    default_batch_threads,
    default_n_threads,
    default_reset_every_call,
)
from memspy.pipelines.runtime.model_files import local_lm_name

__all__ = [
    "DEFAULT_MAX_ITEMS",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_N_CTX",
    "DEFAULT_PREFIX_STATES",
    "AsyncLlamaEngine",
    "LlamaEngine",
    "add_max_items",
    "default_batch_threads",
    "default_n_threads",
    "default_reset_every_call",
]

DEFAULT_N_CTX = 8192
DEFAULT_MAX_TOKENS = 1024
DEFAULT_PREFIX_STATES = 4


class LlamaEngine:
    """Synchronous DSPy engine over one lazily created ``llama_cpp.Llama``; one lock serializes all calls."""

    supports_response_schema = True
    supports_function_calling = False
    supports_reasoning = False
    supported_params = frozenset({"temperature", "max_tokens", "stop", "response_format", *OPTIONAL_PARAMS})

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        llama: Any = None,
        name: str | None = None,
        n_threads: int | None = None,
        n_threads_batch: int | None = None,
        n_ctx: int = DEFAULT_N_CTX,
        max_items: int = DEFAULT_MAX_ITEMS,
        temperature: float = 0.0,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        reset_every_call: bool | None = None,
        prefix_states: int | PrefixStates = DEFAULT_PREFIX_STATES,
        grammars: GrammarCache | None = None,
        greedy_grammar: bool = True,
        prefix_dir: str | Path | bool = True,
    ) -> None:
        """Create the engine; the model is loaded on first use.

        Args:
            model_path: The GGUF file (needed unless ``llama`` is given).
            llama: A ready ``llama_cpp.Llama`` (or a stand-in with ``reset`` and ``create_chat_completion``).
            name: The LM name; default :func:`local_lm_name` of ``model_path``, or ``local/custom``.
            n_threads: llama.cpp threads for generation; default :func:`default_n_threads`.
            n_threads_batch: Threads for prompt evaluation; default :func:`default_batch_threads`.
            n_ctx: Context window in tokens.
            max_items: ``maxItems`` added to uncapped arrays of a response schema.
            temperature: Temperature when the request gives none.
            max_tokens: Completion cap when the request gives none.
            reset_every_call: Clear the KV cache before every call (bit-identical greedy output, every prompt
                evaluated whole); default :func:`default_reset_every_call`.
            prefix_states: How many other signatures' prompt prefixes to keep (0: only the last one), or a
                ready :class:`PrefixStates`.
            grammars: The compiled-grammar cache; default one per engine when llama-cpp-python is installed,
                else the schema is passed to llama.cpp as ``response_format`` on each call.
            prefix_dir: Where each signature's shared prompt prefix is kept across processes: True for
                :func:`default_prefix_dir` when the engine loads the model itself, False for none, or a folder.
            greedy_grammar: Sample greedy constrained calls with
                :class:`~memspy.pipelines.runtime.llama_sampling.GreedyGrammarSampler` (same tokens, less time).
        """
        if model_path is None and llama is None:
            raise ValueError("LlamaEngine needs model_path or llama")
        self.model_path = Path(model_path) if model_path is not None else None
        self.n_threads = default_n_threads(n_threads)
        self.n_threads_batch = default_batch_threads(n_threads_batch if n_threads_batch is not None else n_threads)
        self.greedy_grammar = greedy_grammar
        self.n_ctx, self.max_items, self.temperature, self.max_tokens = n_ctx, max_items, temperature, max_tokens
        self.reset_every_call = default_reset_every_call(reset_every_call)
        self.name = name or (local_lm_name(self.model_path) if self.model_path is not None else "local/custom")
        folder = default_prefix_dir(self.name) if prefix_dir is True and llama is None else prefix_dir
        disk = PrefixDisk(folder) if isinstance(folder, str | Path) else None
        self.prefix_dir, self._prefix_arg = (disk.directory if disk is not None else None), prefix_dir
        if not isinstance(prefix_states, PrefixStates):
            prefix_states = PrefixStates(prefix_states, disk=disk)
        self.prefixes = prefix_states
        if grammars is None and importlib.util.find_spec("llama_cpp") is not None:
            grammars = GrammarCache()
        self.grammars = grammars
        self.last_stats: CallStats | None = None
        self.on_call: Callable[[CallStats], None] | None = None  # e.g. a benchmark collecting every call
        self._thread = threading.local()  # each thread's last call, for usage meters (see thread_stats)
        self._explicit = {
            "n_threads": n_threads,
            "n_threads_batch": n_threads_batch,
            "reset_every_call": reset_every_call,
        }
        self._llama = llama
        if llama is not None and greedy_grammar and hasattr(llama, "_init_sampler"):
            install_greedy_grammar(llama)
        self._owns_llama = llama is None
        self._lock = threading.RLock()

    @property
    def llama(self) -> Any:
        """The ``Llama`` object, created from ``model_path`` on first access."""
        with self._lock:
            if self._llama is None:
                from llama_cpp import Llama

                check_build()
                llm = Llama(
                    model_path=str(self.model_path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads_batch,
                    verbose=False,
                )
                if self.greedy_grammar:
                    install_greedy_grammar(llm)
                self._llama = llm
            return self._llama

    def to_messages(self, request: Request) -> list[dict[str, str]]:
        """Turn ``request.system`` and ``request.messages`` into llama.cpp chat messages."""
        return chat_messages(request)

    def completion_kwargs(self, request: Request) -> dict[str, Any]:
        """Map ``request.config`` to ``create_chat_completion`` keyword arguments (a schema becomes ``grammar``)."""
        return completion_kwargs(
            request,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            max_items=self.max_items,
            grammars=self.grammars,
        )

    def to_response(self, raw: dict[str, Any], model: str, stats: CallStats | None = None) -> Response:
        """Turn a llama.cpp chat-completion dict into a canonical ``Response`` with token usage."""
        return chat_response(raw, model, stats)

    def _measure(self, llm: Any, raw: dict[str, Any], before: list[int], fresh: bool, start: float) -> CallStats:
        total = time.perf_counter() - start
        prompt_s = prompt_eval_seconds(llm)
        usage = raw.get("usage") or {}
        sent, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        reused = common_prefix_length(before, held_tokens(llm)[:sent])
        if reused >= sent and (len(before) != sent or not fresh):
            reused = sent - 1  # llama.cpp evaluates the last prompt token again for fresh logits
        generation_s = max(0.0, total - prompt_s) if prompt_s is not None else None
        return CallStats(sent, max(0, reused), completion, prompt_s, generation_s, total)

    def complete(self, request: Request) -> Response:
        """Run one chat completion (greedy unless the request sets a temperature)."""
        messages = self.to_messages(request)
        kwargs = self.completion_kwargs(request)
        with self._lock:
            llm = self.llama
            if self.reset_every_call:
                llm.reset()
                self.prefixes.forget()
                restored = False
            else:
                restored = self.prefixes.switch(llm, family_key(messages))
            before, fresh = held_tokens(llm), not getattr(llm, "_requires_eval", True)
            prompt_eval_seconds(llm, reset=True)
            start = time.perf_counter()
            try:
                raw = llm.create_chat_completion(messages=messages, **kwargs)
            except ValueError as exc:  # llama.cpp's way of saying the prompt does not fit
                if "context window" in str(exc):
                    raise ContextLengthError(str(exc), provider="llama.cpp") from exc
                raise
            stats = self._measure(llm, raw, before, fresh, start)
            if looped(llm):  # ended early as a loop: as unusable as an answer cut off at max_tokens
                raw["choices"][0]["finish_reason"] = "length"
                stats = dataclasses.replace(stats, looped=True)
            if not self.reset_every_call and self.prefixes.disk is not None and hasattr(llm, "tokenize"):
                limit = fixed_length(llm, messages, stats.prompt_tokens)
                self.prefixes.learn(llm, family_key(messages), held_tokens(llm)[: stats.prompt_tokens], limit)
            if restored:
                stats = dataclasses.replace(stats, restored=True)
            self.last_stats = stats
            if self.on_call is not None:
                self.on_call(stats)
        self.remember(stats)
        return self.to_response(raw, request.model, stats)

    def warm(self, messages: list[dict[str, str]]) -> bool:
        """Evaluate a prompt's fixed part (every message before the last) and save it to the prefix folder.

        ``messages`` is a prompt as the adapter writes it, with a placeholder for the call's inputs as its last
        message; one token is generated and thrown away. So the first call of a signature in a new process starts
        from its instructions and demos already evaluated, as every later one does.

        Returns:
            Whether a file was written: not for a family already on disk, nor without a prefix folder.
        """
        family = family_key(messages)
        if family is None or self.reset_every_call or self.prefixes.disk is None or self.prefixes.on_disk(family):
            return False
        with self._lock:
            llm = self.llama
            self.prefixes.switch(llm, family)
            raw = llm.create_chat_completion(messages=messages, max_tokens=1, temperature=0.0)
            sent = int((raw.get("usage") or {}).get("prompt_tokens") or 0)
            return self.prefixes.save(llm, family, fixed_length(llm, messages, sent))

    def remember(self, stats: CallStats) -> None:
        """Record ``stats`` as the calling thread's last call (:meth:`thread_stats`)."""
        self._thread.seq = getattr(self._thread, "seq", 0) + 1
        self._thread.stats = stats

    def thread_stats(self) -> tuple[int, CallStats | None]:
        """How many calls this thread has made, and the counters of its last one (a usage meter reads these)."""
        return getattr(self._thread, "seq", 0), getattr(self._thread, "stats", None)

    def stream(self, request: Request) -> Iterator[Any]:
        """Stream events of one completion (computed whole, then replayed as events)."""
        return response_to_events(self.complete(request))

    def close(self) -> None:
        """Free the llama.cpp model if this engine loaded it; the next call loads it again."""
        with self._lock:
            self.prefixes.forget()
            if not self._owns_llama or self._llama is None:
                return
            llm, self._llama = self._llama, None
            if hasattr(llm, "close"):
                llm.close()

    def __deepcopy__(self, memo: dict[int, Any]) -> LlamaEngine:
        # An engine is a shared resource (one model, one lock): copies of a program share it.
        return self

    def dump_state(self) -> dict[str, Any]:
        """JSON state for saving a program with this LM (no secrets)."""
        path = str(self.model_path) if self.model_path is not None else None
        state = {key: getattr(self, key) for key in ("name", "n_ctx", "max_items", "temperature", "max_tokens")}
        extra: dict[str, Any] = {"prefix_states": self.prefixes.capacity, "greedy_grammar": self.greedy_grammar}
        extra["prefix_dir"] = str(self._prefix_arg) if isinstance(self._prefix_arg, Path) else self._prefix_arg
        return {"model_path": path, **self._explicit, **extra, **state}

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> LlamaEngine:
        """Rebuild an engine saved with :meth:`dump_state`."""
        return cls(**state)
