"""The extraction benchmark: how much of what is worth remembering a memory pipeline stores, and at what cost.

For each case (a LoCoMo session or a labeled record, :mod:`memspy.evals.extraction_cases`) and each pipeline
(:mod:`memspy.evals.extraction_pipelines`), a fresh pipeline runs on a fresh ``EdgeStore`` in a temporary
folder, seeded with the case's existing memories; the active memories it leaves are scored
(:mod:`memspy.evals.extraction_score`): fact recall, precision, evidence, outdated facts kept, memories, LM calls,
tokens and seconds per session. The ``raw`` baseline (every turn verbatim) runs in the same run.

    python -m memspy.evals.extraction --split test --pipelines raw --out runs/ext-raw
    python -m memspy.evals.extraction --split dev --pipelines semantic --lm local --limit 3 --out runs/ext-sem
    python -m memspy.evals.extraction --split dev --pipelines mypkg.memory:extract --judge --out runs/ext-mine
    python -m memspy.evals.extraction --split test --pipelines semantic --program runs/bfs.json --lm local

``--program PATH`` adds the ``compiled`` pipeline (the store manager with that saved program) to the run.

The run folder holds ``config.json``, ``sessions.jsonl`` (one row per pipeline per case, appended as it goes,
with the memories, their closest facts and the facts missed), ``summary.json`` and ``summary.md``. ``--resume``
continues a killed run: finished rows are kept and skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memspy.evals.extraction_cases import ExtractionCase, split_cases
from memspy.evals.extraction_match import FactJudge, FactMatcher
from memspy.evals.extraction_pipelines import (
    COMPILED,
    PipelineFactory,
    read_memories,
    resolve_pipeline,
    seed_existing,
)
from memspy.evals.extraction_score import score_case, summarize, summary_markdown
from memspy.evals.harness import RunDir
from memspy.pipelines import Usage
from memspy.stores import EdgeStore, Embedder, MiniLMEmbedder

__all__ = ["ExtractionReport", "build_parser", "evaluate_extraction", "main"]


@dataclass(frozen=True)
class ExtractionReport:
    """The rows of a run (one per pipeline per case), their summary per source and pipeline, and its tables."""

    rows: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    markdown: str


@contextmanager
def _history_usage(usage: Usage) -> Iterator[None]:
    """Add to ``usage`` the LM calls and tokens that DSPy's global history logs inside the block."""
    from dspy.clients.base_lm import GLOBAL_HISTORY

    marker = GLOBAL_HISTORY[-1] if GLOBAL_HISTORY else None
    try:
        yield
    finally:
        idx = next((i for i in range(len(GLOBAL_HISTORY) - 1, -1, -1) if GLOBAL_HISTORY[i] is marker), -1)
        tokens = [e.get("usage") or {} for e in GLOBAL_HISTORY[idx + 1 :]]
        prompt = sum(int(u.get("prompt_tokens") or 0) for u in tokens)
        usage.add("pipeline", len(tokens), prompt, sum(int(u.get("completion_tokens") or 0) for u in tokens))


def _run_case(
    name: str, factory: PipelineFactory, case: ExtractionCase, embedder: Embedder, workdir: str | None
) -> tuple[dict[str, Any], list[Any]]:
    """Run one pipeline on one case in a fresh store: the cost part of the row, and the memories left."""
    with tempfile.TemporaryDirectory(prefix="memspy-extraction-", dir=workdir) as tmp:
        store = EdgeStore(Path(tmp) / "store", embedder=embedder)
        try:
            seeded = seed_existing(store, case.existing)
            pipeline, error, result, usage = factory(), None, None, Usage()
            start = time.perf_counter()
            try:
                with _history_usage(usage):
                    result = pipeline(deepcopy(case.messages), store)
            except Exception as e:  # one failing case must not lose the run: the row records it
                error = f"{type(e).__name__}: {e}"
            seconds = time.perf_counter() - start
            reported = getattr(result, "usage", None)
            usage = reported if isinstance(reported, Usage) else usage
            memories = read_memories(store, seeded)
        finally:
            store.close()
    row: dict[str, Any] = {
        "pipeline": name,
        "case": case.id,
        "source": case.source,
        "split": case.split,
        "kind": case.kind,
    }
    row |= {"calls": usage.calls, "cached_calls": usage.cached_calls, "prompt_tokens": usage.prompt_tokens}
    row |= {"completion_tokens": usage.completion_tokens, "seconds": round(seconds, 3), "error": error}
    return row, memories


def evaluate_extraction(
    pipelines: Mapping[str, PipelineFactory] | PipelineFactory,
    cases: Sequence[ExtractionCase],
    *,
    matcher: FactMatcher | None = None,
    threshold: float = 0.70,
    judge: FactJudge | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    workdir: str | Path | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> ExtractionReport:
    """Run every pipeline on every case and score the memories each leaves.

    Args:
        pipelines: ``{name: factory}``, a factory returning a fresh ``pipeline(messages, store)`` per case (a
            single factory is named ``"pipeline"``).
        cases: The cases (:func:`memspy.evals.extraction_cases.split_cases`).
        matcher: The fact matcher (default: MiniLM at ``threshold`` after person normalization).
        threshold: The cosine a match needs, when no ``matcher`` is given.
        judge: An optional LM judge; its recall, precision and evidence are reported next to the cosine ones.
        out: A run folder to write (see the module docstring); None writes nothing.
        resume: Keep and skip the rows already in ``out``.
        workdir: Where the temporary stores go (default: the system's temporary folder).
        progress: Called with each new row.

    Raises:
        FileExistsError: ``out`` already holds a run and ``resume`` is False.
        ValueError: Resuming a run made with another threshold.
    """
    named = dict(pipelines) if isinstance(pipelines, Mapping) else {"pipeline": pipelines}
    matcher = matcher or FactMatcher(threshold=threshold)
    if matcher.embedder is None:
        matcher.embedder = MiniLMEmbedder()
    rows: list[dict[str, Any]] = []
    sessions: Path | None = None
    if out is not None:
        folder = Path(out)
        sessions, config = folder / "sessions.jsonl", folder / "config.json"
        if sessions.exists() and not resume:
            raise FileExistsError(f"{folder} already holds a run: pass resume=True (--resume) or another out folder")
        old = json.loads(config.read_text()) if resume and config.exists() else {}
        if old and (old.get("threshold"), old.get("normalize", True)) != (matcher.threshold, matcher.normalize):
            raise ValueError(f"cannot resume {folder}: it was scored at another threshold or normalization")
        folder.mkdir(parents=True, exist_ok=True)
        settings = {"threshold": matcher.threshold, "normalize": matcher.normalize, "pipelines": list(named)}
        settings["judge"] = judge is not None
        config.write_text(json.dumps({**settings, "cases": [c.id for c in cases]}, indent=2))
        rows = RunDir.read(sessions) if resume else []
    done = {(r["pipeline"], r["case"]) for r in rows}
    tmp = str(workdir) if workdir is not None else None
    for case in cases:
        for name, factory in named.items():
            if (name, case.id) in done:
                continue
            row, memories = _run_case(name, factory, case, matcher.embedder, tmp)
            row |= score_case(case, memories, matcher, judge)
            rows.append(row)
            if sessions is not None:
                with open(sessions, "a", encoding="utf-8") as f:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
            if progress is not None:
                progress(row)
    wanted = {c.id for c in cases}
    kept = [r for r in rows if r["case"] in wanted and r["pipeline"] in named]
    summary = summarize(kept)
    markdown = summary_markdown(summary, threshold=matcher.threshold, normalized=matcher.normalize)
    if out is not None:
        (Path(out) / "summary.json").write_text(json.dumps(summary, indent=2))
        (Path(out) / "summary.md").write_text(markdown)
    return ExtractionReport(kept, summary, markdown)


def build_parser() -> argparse.ArgumentParser:
    """The ``memspy eval extraction`` argument parser."""
    p = argparse.ArgumentParser(prog="memspy eval extraction", description=__doc__.split("\n\n")[0])
    p.add_argument("--split", choices=("train", "dev", "test"), default="dev", help="dev (default) or test")
    p.add_argument(
        "--pipelines", default="raw", help="comma list: raw, semantic, semantic-single, compiled or module:attr"
    )
    p.add_argument("--program", default=None, help="a saved compiled program for the 'compiled' pipeline (adds it)")
    p.add_argument("--no-baseline", action="store_true", help="do not add the raw-turns baseline")
    p.add_argument("--sources", default="locomo,labeled", help="locomo and/or labeled (default both)")
    p.add_argument("--data", default=None, help="LoCoMo JSON (default: $MEMSPY_EVAL_DATA or the LoCoMo dev file)")
    p.add_argument("--labeled", default=None, help="labeled JSONL (default: the bundled extraction set)")
    p.add_argument("--dev-conversation", default="conv-26", help="LoCoMo conversation of the dev split")
    p.add_argument("--test-conversation", default="conv-30", help="LoCoMo conversation of the test split")
    p.add_argument("--limit", type=int, default=None, help="at most N cases per source (the first N)")
    p.add_argument("--threshold", type=float, default=0.70, help="MiniLM cosine of a match (default 0.70)")
    p.add_argument("--no-normalize", action="store_true", help="compare texts as written (no person normalization)")
    p.add_argument("--judge", action="store_true", help="also grade matches with an LM judge")
    p.add_argument("--judge-lm", default=None, help="the judge's model (default: --lm)")
    p.add_argument("--lm", default=None, help="model string (default: $MEMSPY_LM or 'local')")
    p.add_argument("--no-cache", action="store_true", help="disable DSPy's cache (honest cost and latency)")
    p.add_argument("--out", default=None, help="run folder (default runs/extraction-<timestamp>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--quiet", action="store_true", help="no line per case")
    return p


def _limited(cases: list[ExtractionCase], limit: int | None) -> list[ExtractionCase]:
    if limit is None:
        return cases
    counts: dict[str, int] = {}
    out = []
    for c in cases:
        counts[c.source] = counts.get(c.source, 0) + 1
        if counts[c.source] <= limit:
            out.append(c)
    return out


def _progress(row: dict[str, Any]) -> None:
    error = f"  ERROR {row['error']}" if row.get("error") else ""
    facts = f"facts {row['facts_recalled']}/{row['facts']}"
    memories = f"memories {row['memories_matched']}/{row['memories']}"
    cost = f"calls {row['calls']}  {row['seconds']:.1f}s"
    print(f"{row['pipeline']:>10} {row['case']:<28} {facts}  {memories}  {cost}{error}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the extraction benchmark; 0 on success, 2 on bad input or a missing LM."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    import dspy

    from memspy.pipelines import LocalModelUnavailableError, build_lm, resolve_model_name

    names = [s.strip() for s in args.pipelines.split(",") if s.strip()]
    if not args.no_baseline and "raw" not in names:
        names.insert(0, "raw")
    if args.program is not None and COMPILED not in names:
        names.append(COMPILED)
    try:
        cases = split_cases(
            args.split,
            locomo_path=args.data,
            labeled_path=args.labeled,
            sources=[s.strip() for s in args.sources.split(",") if s.strip()],
            dev_conversation=args.dev_conversation,
            test_conversation=args.test_conversation,
        )
        needs_lm = args.judge or any(n != "raw" for n in names)
        lm = build_lm(resolve_model_name(args.lm)) if needs_lm else None
        judge = FactJudge(build_lm(args.judge_lm) if args.judge_lm else lm) if args.judge else None
        pipelines = dict(resolve_pipeline(n, lm, program=args.program) for n in names)
        matcher = FactMatcher(threshold=args.threshold, normalize=not args.no_normalize)
    except (ValueError, FileNotFoundError, ImportError, AttributeError, LocalModelUnavailableError) as e:
        print(f"memspy eval extraction: {e}", file=sys.stderr)
        return 2
    if args.no_cache:
        dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)
    out = Path(args.out or f"runs/extraction-{time.strftime('%Y%m%d-%H%M%S')}")
    cases = _limited(cases, args.limit)
    print(f"memspy eval extraction: {len(cases)} cases ({args.split}) x {names} -> {out}", flush=True)
    started = time.perf_counter()
    try:
        with dspy.context(lm=lm):
            report = evaluate_extraction(
                pipelines,
                cases,
                matcher=matcher,
                judge=judge,
                out=out,
                resume=args.resume,
                progress=None if args.quiet else _progress,
            )
    except (FileExistsError, ValueError) as e:
        print(f"memspy eval extraction: {e}", file=sys.stderr)
        return 2
    print("\n" + report.markdown)
    print(f"run folder: {out} (sessions.jsonl, summary.json, summary.md); {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
