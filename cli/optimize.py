"""``memspy optimize``: compile a pipeline with a DSPy optimizer on labeled data and save the program.

    memspy optimize extract --train train.jsonl --dev dev.jsonl --optimizer bootstrap --out compiled.json

Without ``--train`` the pipeline's bundled labeled set is used (``memspy.evals/_data/``: ``semantic_extraction``
for ``extract``, ``episodes`` for ``episode``, ``reflections`` for ``reflection``), or the one ``--dataset`` names
(``semantic_sessions``: 30 long two-person chats, each with its dense facts); without ``--dev`` the records
marked ``"split": "dev"`` in the train file are the dev set (see :func:`memspy.evals.labeled.split_records`).
The dev set is only scored, before and after compiling (MIPROv2 and GEPA select candidates on the train set), so
the two scores are comparable. Load the result with ``create_memory_manager(program="compiled.json",
enable_deletes=True)``, ``EpisodicMemory(store).load("compiled.json")`` (``episode``) or
``memory.reflector.load("compiled.json")`` (``reflection``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import dspy

from memspy.evals.compile import (
    OPTIMIZERS,
    PIPELINES,
    build_pipeline,
    compile_program,
    evaluate_program,
    make_examples,
    make_metric,
)
from memspy.evals.labeled import LabeledDataError, bundled_dataset, load_labeled, split_records
from memspy.evals.metrics_memory import TextMatcher
from memspy.pipelines.errors import LocalModelUnavailableError
from memspy.pipelines.runtime import Usage, build_lm, configure_lm, measure

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``memspy optimize`` argument parser."""
    p = argparse.ArgumentParser(prog="memspy optimize", description="Compile a memspy pipeline with DSPy.")
    p.add_argument("pipeline", choices=sorted(PIPELINES), help="the pipeline to compile")
    p.add_argument("--train", type=Path, help="labeled JSONL (default: the pipeline's bundled set)")
    p.add_argument(
        "--dataset", help="a bundled labeled set by name instead of --train (semantic_sessions: long two-person chats)"
    )
    p.add_argument("--dev", type=Path, help="labeled JSONL to score on (default: the train file's dev split)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="bootstrap")
    p.add_argument("--out", type=Path, default=Path("compiled.json"), help="where to save the compiled program")
    p.add_argument("--lm", default=None, help="model string (default: $MEMSPY_LM or the offline local model)")
    p.add_argument("--reflection-lm", default=None, help="GEPA reflection / MIPROv2 prompt model (default: --lm)")
    p.add_argument("--trials", type=int, default=10, help="MIPROv2 optuna trials; GEPA full evaluations")
    p.add_argument("--max-demos", type=int, default=3, help="most bootstrapped and most labeled demos")
    p.add_argument("--limit", type=int, default=None, help="use N train and N dev records, spread over each set")
    p.add_argument("--threshold", type=float, default=0.75, help="MiniLM cosine for a semantic match")
    p.add_argument(
        "--pass-mark", type=float, default=1.0, help="metric score a bootstrapped trace needs to become a demo (0-1]"
    )
    p.add_argument("--threads", type=int, default=1, help="parallel evaluations (1 for the local LM)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-cache", action="store_true", help="disable DSPy's cache (a re-run then calls the LM again)")
    return p


def _records(args: argparse.Namespace, task: str, dataset: str) -> tuple[list, list]:
    if args.train is not None and args.dataset is not None:
        raise ValueError("give --train (a file) or --dataset (a bundled set), not both")
    train_path = args.train or bundled_dataset(args.dataset or dataset)
    records = load_labeled(train_path, task=task)
    if args.dev is not None:
        train, dev = records, load_labeled(args.dev, task=task)
        train = [r for r in train if r.split != "dev"] if args.dev == train_path else train
    else:
        train, dev = split_records(records)
    if args.limit:
        train, dev = _spread(train, args.limit), _spread(dev, args.limit)
    return train, dev


def _spread(records: list, n: int) -> list:
    """``n`` records spread evenly over the list (labeled files are often grouped by kind of case)."""
    if n >= len(records):
        return records
    return [records[i * len(records) // n] for i in range(n)]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``memspy optimize``; return 0 on success, 2 on bad input or a missing LM."""
    args = build_parser().parse_args(argv)
    try:
        spec = PIPELINES[args.pipeline]
        if not 0 < args.pass_mark <= 1:
            raise ValueError(f"--pass-mark must be in (0, 1], got {args.pass_mark}")
        train_records, dev_records = _records(args, spec.task, spec.dataset)
        if not train_records or not dev_records:
            raise ValueError(f"need train and dev records, got {len(train_records)} and {len(dev_records)}")
        lm = configure_lm(args.lm) if dspy.settings.lm is None or args.lm else dspy.settings.lm
        reflection_lm = build_lm(args.reflection_lm) if args.reflection_lm else None
    except (LabeledDataError, ValueError, FileNotFoundError, LocalModelUnavailableError) as e:
        print(f"memspy optimize: {e}", file=sys.stderr)
        return 2
    if args.no_cache:
        dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=False)
    program = build_pipeline(args.pipeline)
    train = make_examples(args.pipeline, train_records, program)
    dev = make_examples(args.pipeline, dev_records, program)
    metric = make_metric(args.pipeline, TextMatcher(threshold=args.threshold), pass_threshold=args.pass_mark)
    print(f"memspy optimize {args.pipeline} with {args.optimizer} on {getattr(lm, 'model', lm)}: "
          f"{len(train)} train, {len(dev)} dev examples")  # fmt: skip
    usage = Usage()
    start = time.perf_counter()
    with measure(usage, args.pipeline):
        before = evaluate_program(program, dev, metric, threads=args.threads)
        print(f"dev score before: {before:.3f}", flush=True)
        compiled = compile_program(
            program,
            train,
            optimizer=args.optimizer,
            metric=metric,
            max_demos=args.max_demos,
            trials=args.trials,
            reflection_lm=reflection_lm,
            threads=args.threads,
            seed=args.seed,
        )
        after = evaluate_program(compiled, dev, metric, threads=args.threads)
    print(f"dev score after:  {after:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    compiled.save(str(args.out))
    demos = sum(len(p.demos) for p in compiled.predictors())
    print(f"saved {args.out} ({demos} demos) in {time.perf_counter() - start:.0f}s: {usage}")
    if usage.cached_calls:
        print("answers served from DSPy's cache are not new measurements: --no-cache calls the LM again")
    if not demos and args.optimizer == "labeled":
        print(f"no labeled {spec.task!r} record holds a predictor's inputs and answer; use --optimizer bootstrap")
    return 0
