"""``memspy eval``: measure memory pipelines on LoCoMo (or your own JSONL), with baselines from the same run.

Examples:
    $ memspy eval --pipelines raw --no-qa --out runs/raw              # R@k only: no LM at all
    $ memspy eval --pipelines raw,semantic --conversations conv-26 --limit 10 --lm local --out runs/sem
    $ memspy eval --pipelines mypkg.memory:MyPipeline --data my.jsonl --no-qa
    $ memspy eval --out runs/sem --resume                              # continue a killed run
    $ memspy eval compare runs/raw runs/sem                            # per-metric deltas B - A
    $ memspy eval extraction --split test --pipelines raw --out runs/ext   # gold-fact recall (memspy.evals.extraction)

``python -m memspy.cli.eval ...`` is the same command.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["build_parser", "main"]

_DATA_CANDIDATES = (
    "data/locomo/locomo-dev.json",
    "shared/data/locomo/locomo-dev.json",
    "../shared/data/locomo/locomo-dev.json",
)


def _ints(text: str) -> list[int]:
    return [int(p) for p in text.split(",") if p.strip()]


def _default_data() -> str | None:
    env = os.environ.get("MEMSPY_EVAL_DATA")
    if env:
        return env
    return next((c for c in _DATA_CANDIDATES if Path(c).is_file()), None)


def build_parser() -> argparse.ArgumentParser:
    """The ``run`` subcommand's parser (``compare`` is parsed separately)."""
    p = argparse.ArgumentParser(prog="memspy eval", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--data", default=None, help="LoCoMo JSON or generic JSONL (default: $MEMSPY_EVAL_DATA or LoCoMo dev)"
    )
    p.add_argument("--pipelines", default="raw", help="comma list: raw, semantic, full, or module:attr (default raw)")
    p.add_argument("--no-baselines", action="store_true", help="skip the dense/BM25/RRF raw-turn baselines")
    p.add_argument("--k", default="1,5,10,25", help="R@k cut-offs (default 1,5,10,25)")
    p.add_argument("--categories", default="1,2,3,4", help="question categories, numbers or names (default 1-4)")
    p.add_argument("--limit", type=int, default=None, help="at most N questions per conversation (seeded sample)")
    p.add_argument("--conversations", default=None, help="comma list of conversation ids, or N for the first N")
    p.add_argument("--max-sessions", type=int, default=None, help="keep the first N sessions (and their questions)")
    p.add_argument("--workers", type=int, default=1, help="parallel LM calls for QA (dspy.Parallel)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--seed", type=int, default=0, help="seed of the --limit sample")
    p.add_argument("--qa", action=argparse.BooleanOptionalAction, default=True, help="answer and score questions")
    p.add_argument("--judge", action=argparse.BooleanOptionalAction, default=True, help="grade answers with an LM")
    p.add_argument("--qa-k", type=int, default=10, help="memories given to the answerer (default 10)")
    p.add_argument("--context-budget", type=int, default=None, help="max context chars (default 24000 local, 400000)")
    p.add_argument("--dates", action=argparse.BooleanOptionalAction, default=True, help="store '[date] ' before turns")
    p.add_argument("--lm", default=None, help="model name (default $MEMSPY_LM or 'local')")
    p.add_argument("--out", default=None, help="run directory (default runs/<timestamp>)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def _compare(argv: Sequence[str]) -> int:
    from memspy.evals.report import compare_summaries, load_summary

    p = argparse.ArgumentParser(prog="memspy eval compare", description="Per-metric deltas of two runs (B - A).")
    p.add_argument("run_a")
    p.add_argument("run_b")
    args = p.parse_args(list(argv))
    try:
        a, b = load_summary(args.run_a), load_summary(args.run_b)
    except (OSError, ValueError) as e:
        print(f"memspy eval compare: {e}", file=sys.stderr)
        return 2
    print(f"A = {args.run_a}\nB = {args.run_b}")
    print(compare_summaries(a, b))
    return 0


def _run(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    import dspy

    from memspy.evals.harness import EvalConfig, run_eval
    from memspy.evals.jsonl import load_dataset, parse_category
    from memspy.evals.report import format_summary
    from memspy.pipelines.runtime.lm import (
        LocalModelUnavailableError,
        build_lm,
        default_adapter,
        is_local_lm,
        resolve_model_name,
    )

    data = args.data or _default_data()
    if not data or not Path(data).is_file():
        print(
            "memspy eval: no dataset: pass --data PATH (LoCoMo JSON or JSONL) or set MEMSPY_EVAL_DATA", file=sys.stderr
        )
        return 2
    convs = load_dataset(data)
    wanted = None
    if args.conversations:
        spec = args.conversations.strip()
        wanted = [c.sample_id for c in convs[: int(spec)]] if spec.isdigit() else [s.strip() for s in spec.split(",")]
    pipelines = [s.strip() for s in args.pipelines.split(",") if s.strip()]
    lm: Any = None
    if args.qa or "semantic" in pipelines:
        try:
            lm = build_lm(resolve_model_name(args.lm))
        except LocalModelUnavailableError as e:
            print(f"memspy eval: {e} (or run R@k alone with --no-qa)", file=sys.stderr)
            return 2
    budget = args.context_budget or (24_000 if lm is not None and is_local_lm(lm) else 400_000)
    cfg = EvalConfig(
        dataset=str(Path(data).resolve()),
        pipelines=pipelines,
        ks=sorted(set(_ints(args.k))),
        categories=sorted({parse_category(c.strip()) for c in args.categories.split(",") if c.strip()}),
        limit=args.limit,
        conversations=wanted,
        max_sessions=args.max_sessions,
        seed=args.seed,
        baselines=not args.no_baselines,
        qa=args.qa,
        judge=args.judge,
        qa_k=args.qa_k,
        workers=args.workers,
        context_budget=budget,
        with_date=args.dates,
        lm=resolve_model_name(args.lm) if lm is not None else None,
    )
    out = Path(args.out or f"runs/{time.strftime('%Y%m%d-%H%M%S')}")
    dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)  # honest cost and latency
    try:
        with dspy.context(lm=lm, adapter=default_adapter(lm) if lm is not None else None):
            summary = run_eval(cfg, out, resume=args.resume, lm=lm, conversations=convs, progress=not args.quiet)
    except (FileExistsError, ValueError) as e:
        print(f"memspy eval: {e}", file=sys.stderr)
        return 2
    print(format_summary(summary))
    print(f"\nrun directory: {out} (results.jsonl, summary.json, report.html); {summary['invocation_seconds']:.1f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``memspy eval``: ``run`` (the default), ``compare RUN_A RUN_B`` or ``extraction ...``.

    Args:
        argv: Arguments after ``eval`` (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 on a usage or data error.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "compare":
        return _compare(args[1:])
    if args and args[0] == "extraction":
        from memspy.evals.extraction import main as extraction

        return extraction(args[1:])
    if args and args[0] == "run":
        args = args[1:]
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
