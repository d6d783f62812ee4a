"""``memspy tune``: an optuna study over the store-backed extraction pipeline's non-prompt knobs.

    memspy tune --data dev.jsonl --trials 20 --out tune.json

The study itself is :func:`memspy.evals.tune.tune`; this module parses the flags, loads the labeled records,
configures the LM and writes the results.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import dspy

from memspy.evals.labeled import LabeledDataError, bundled_dataset, load_labeled
from memspy.evals.tune import tune
from memspy.pipelines.errors import LocalModelUnavailableError
from memspy.pipelines.runtime import configure_lm

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``memspy tune``; return 0 on success, 2 on bad input or a missing LM."""
    p = argparse.ArgumentParser(prog="memspy tune", description="Tune retrieval and step knobs with optuna.")
    p.add_argument("--data", type=Path, help="labeled JSONL (default: the bundled set's dev split)")
    p.add_argument("--split", default=None, help="use only records of this split (default: dev for bundled data)")
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--out", type=Path, default=Path("tune.json"))
    p.add_argument("--lm", default=None, help="model string (default: $MEMSPY_LM or the offline local model)")
    p.add_argument("--program", type=Path, default=None, help="a compiled memory-manager program to use")
    p.add_argument("--distractors", type=int, default=0, help="other records' memories added to each namespace")
    p.add_argument("--limit", type=int, default=None, help="use only the first N records")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        split = args.split or (None if args.data else "dev")
        records = load_labeled(args.data or bundled_dataset(), task="extract", split=split)[: args.limit]
        if dspy.settings.lm is None or args.lm:
            configure_lm(args.lm)
        results = tune(records, trials=args.trials, seed=args.seed, program=args.program, distractors=args.distractors)
    except (LabeledDataError, ValueError, FileNotFoundError, LocalModelUnavailableError) as e:
        print(f"memspy tune: {e}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"best {results['metric']} {results['best_value']:.3f} with {json.dumps(results['best_config'])}")
    print(f"{len(results['trials'])} trials saved to {args.out}")
    return 0
