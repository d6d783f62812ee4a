"""LM runtime benchmark (``memspy bench lm``): the local engine's old path against its new one, in the same run.

The old path clears llama.cpp's KV cache before every call, converts the response schema to a grammar on every
call (:class:`ConvertEveryCall`; the same grammar as the new path's) and samples each constrained token over the
whole vocabulary; the new path (the default) keeps the prompt prefix and each recent prompt family's prefix
state, one grammar per schema, checks the greedy token against the grammar first and ends an answer that has
started to repeat itself (``RepeatGuard``). Both load their model before the first call (once per process on
either path, so not timed), then run the same fixed set of real memspy calls (``_bench_lm_calls``), one after the
other per call (alternating which goes first), on two copies of the model with the same threads, DSPy's cache
off. Per call: prompt tokens sent and evaluated, seconds in prompt evaluation and in generation, tokens per
second, and whether both paths parsed the same result. With ``--warm`` the new path's prefix folder is first
filled as ``memspy warm`` does (``make local`` runs it), for the programs the calls use, untimed but reported.

Example:
    $ memspy bench lm --calls 4 --turns 9 --json lm.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import dspy

from memspy.evals._bench_lm_calls import (
    BenchCall,
    extraction_calls,
    locomo_calls,
    reflection_calls,
    turn_episode_calls,
)
from memspy.evals._bench_lm_report import KINDS, PATHS, TARGETS, CallRecord, format_lm_report, summarize
from memspy.evals._timing import machine_facts
from memspy.evals.extraction_cases import default_locomo_path
from memspy.pipelines.runtime import build_lm
from memspy.pipelines.runtime.llama_request import llama_grammar_from_schema
from memspy.pipelines.runtime.llama_warm import warm_prefixes
from memspy.stores.errors import MemspyError

__all__ = [
    "KINDS",
    "PATHS",
    "TARGETS",
    "CallRecord",
    "ConvertEveryCall",
    "format_lm_report",
    "main",
    "run_bench_lm",
    "run_pairs",
    "summarize",
]


def run_pairs(calls: Sequence[BenchCall], lms: dict[str, Any], progress: bool = False) -> list[CallRecord]:
    """Run every call on both paths (``lms["old"]``, ``lms["new"]``), alternating which path goes first.

    Each LM's engine must have an ``on_call`` hook (:class:`~memspy.pipelines.runtime.LlamaEngine`). A call
    that fails with a memspy error is recorded with ``error: <type>`` as its output.
    """
    records: list[CallRecord] = []
    for i, call in enumerate(calls):
        for path in PATHS if i % 2 == 0 else PATHS[::-1]:
            seen: list[Any] = []
            engine = lms[path].engine
            engine.on_call = seen.append
            start = time.perf_counter()
            with dspy.context(lm=lms[path], adapter=dspy.JSONAdapter()):
                try:
                    output = call.run()
                except MemspyError as exc:
                    output = f"error: {type(exc).__name__}"
            engine.on_call = None
            record = CallRecord(call.kind, call.label, path, time.perf_counter() - start, output)
            record.lm_calls = [s.as_dict() for s in seen]
            records.append(record)
            if progress:
                print(
                    f"  {call.kind:<13} {call.label:<24} {path}: {record.seconds:6.1f}s, "
                    f"{record.total('evaluated_tokens'):.0f}/{record.total('prompt_tokens'):.0f} prompt tokens "
                    "evaluated",
                    flush=True,
                )
    return records


class ConvertEveryCall:
    """The old path's grammars: the schema converted again on every call (the same grammar as the new path's)."""

    def get(self, schema: dict[str, Any], *, layout: bool = False) -> Any:
        return llama_grammar_from_schema(json.dumps(schema), layout=layout)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else []


def run_bench_lm(
    *,
    calls: int = 6,
    demos: int = 3,
    episodes: int = 2,
    reflections: int = 2,
    turns: int = 12,
    chunk: int = 3,
    locomo: str | Path | None = None,
    n_threads: int | None = None,
    kinds: Sequence[str] = KINDS,
    prefix_dir: str | Path | None = None,
    warm: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Build both paths on the local model, run the call set on each, and summarize (see module docstring).

    ``prefix_dir`` is the new path's on-disk prefix folder; default an empty temporary one, so that every
    signature's first call starts cold, as in a first run. ``warm`` fills it first (:func:`warm_prefixes`) for
    the programs the calls run, as ``memspy warm`` does after install.
    """
    dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)
    prefix_dir = prefix_dir if prefix_dir is not None else Path(tempfile.mkdtemp(prefix="memspy-bench-prefixes-"))
    lms = {
        "old": build_lm("local", n_threads=n_threads, reset_every_call=True, prefix_states=0, cache=False),
        "new": build_lm("local", n_threads=n_threads, reset_every_call=False, prefix_dir=prefix_dir, cache=False),
    }
    # The old path converts the schema on every call and masks the whole vocabulary per token; the grammar is
    # the same, so that differing answers come from prefix reuse and greedy-first sampling, not another grammar.
    lms["old"].engine.grammars, lms["old"].engine.greedy_grammar = ConvertEveryCall(), False
    load_s = {}
    for name, lm in lms.items():  # loading the model is once per process on either path: not part of a call
        start = time.perf_counter()
        _ = lm.engine.llama
        load_s[name] = round(time.perf_counter() - start, 2)
    todo: list[BenchCall] = []
    if "extract" in kinds:
        todo += extraction_calls(calls)
    if "extract_demos" in kinds:
        todo += extraction_calls(calls, demos=demos)
    if "episode" in kinds:
        todo += turn_episode_calls(episodes)
    if "reflect" in kinds:
        todo += reflection_calls(reflections)
    stores: list[Any] = []
    path = locomo or default_locomo_path()
    if "locomo" in kinds and path is not None:
        session_calls, stores = locomo_calls(path, turns, chunk)
        todo += session_calls
    warm_s: float | None = None
    if warm:
        start = time.perf_counter()
        programs = {id(c.program): c.program for c in todo if c.program is not None}
        with dspy.context(adapter=dspy.JSONAdapter()):
            warm_prefixes(lms["new"], programs.values())
        warm_s = round(time.perf_counter() - start, 2)
    load_before = _load()
    try:
        records = run_pairs(todo, lms, progress=progress)
    finally:
        for store in stores:
            store.close()
        for lm in lms.values():
            lm.engine.close()
    config = {
        "calls": calls,
        "demos": demos,
        "episodes": episodes,
        "reflections": reflections,
        "turns": turns,
        "chunk": chunk,
        "locomo": str(path) if path else None,
        "n_threads": lms["new"].engine.n_threads,
        "dspy_cache": False,
        "prefix_dir": str(prefix_dir),
        "model_load_s": load_s,
        "warm_s": warm_s,
        "load_before": load_before,
        "load_after": _load(),
    }
    records_out = [asdict(r) for r in records]
    return {"config": config, "machine": machine_facts(), "summary": summarize(records), "records": records_out}


def main(argv: Sequence[str] | None = None) -> int:
    """``memspy bench lm``: run the LM runtime benchmark, print the tables, optionally write JSON."""
    p = argparse.ArgumentParser(prog="memspy bench lm", description=(__doc__ or "").splitlines()[0])
    p.add_argument("--calls", type=int, default=6, help="extraction calls, uncompiled and with demos (default 6)")
    p.add_argument("--demos", type=int, default=3, help="LabeledFewShot demos of the compiled program (default 3)")
    p.add_argument("--episodes", type=int, default=2, help="turn-episode calls (default 2)")
    p.add_argument("--reflections", type=int, default=2, help="reflection calls (default 2)")
    p.add_argument("--turns", type=int, default=12, help="LoCoMo session turns ingested (default 12)")
    p.add_argument("--chunk", type=int, default=3, help="turns per store-manager call (default 3)")
    p.add_argument("--locomo", help="LoCoMo JSON (default: $MEMSPY_EVAL_DATA or data/locomo/locomo-dev.json)")
    p.add_argument("--threads", type=int, dest="n_threads", help="llama.cpp threads (default: MEMSPY_LM_THREADS)")
    p.add_argument("--prefix-dir", help="the new path's on-disk prefixes (default: a new empty temporary folder)")
    p.add_argument("--warm", action="store_true", help="fill the prefix folder first, as `memspy warm` does")
    p.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated subset of {','.join(KINDS)}")
    p.add_argument("--quiet", dest="progress", action="store_false", help="no per-call lines")
    p.add_argument("--json", metavar="PATH", help="also write every number to this JSON file")
    args = vars(p.parse_args(argv))
    json_path = args.pop("json")
    kinds = [k.strip() for k in args.pop("kinds").split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        p.error(f"--kinds: unknown {unknown}; choose from {list(KINDS)}")
    result = run_bench_lm(kinds=kinds, **args)
    print(format_lm_report(result))
    if json_path:
        Path(json_path).write_text(json.dumps(result, indent=2))
        print(f"\nnumbers written to {json_path}")
    return 0
