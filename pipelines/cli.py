"""The ``memspy`` command line: ``demo``, ``doctor``, ``bench``, ``eval``, ``optimize``, ``tune``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

__all__ = ["doctor", "main"]


def doctor(model: str | None = None, store_path: str = ".memspy/store") -> int:
    """Print one line each for the LM, the embedder and the store; return 0 when all work."""
    from memspy.pipelines.lm import build_lm, check_lm, resolve_model_name
    from memspy.stores import EdgeStore, MiniLMEmbedder, StoreLockedError

    ok = True
    name = resolve_model_name(model)
    try:
        works, detail = check_lm(build_lm(name))
    except Exception as e:  # a missing model is reported, not raised
        works, detail = False, str(e)
    ok &= works
    print(f"LM        {'ok ' if works else 'BAD'} {name}: {detail}")
    try:
        start = time.perf_counter()
        emb = MiniLMEmbedder()
        vec = emb.embed_query("hello")
        works, detail = len(vec) == emb.dim, f"{emb.name}, {emb.dim} dims, loaded in {time.perf_counter() - start:.1f}s"
    except Exception as e:
        works, detail = False, str(e)
    ok &= works
    print(f"embedder  {'ok ' if works else 'BAD'} {detail}")
    try:
        with EdgeStore(store_path) as store:
            works, detail = True, f"EdgeStore at {store_path}: {store.count()} items"
    except StoreLockedError as e:
        works, detail = True, f"EdgeStore at {store_path} is open in another process ({e})"
    except Exception as e:
        works, detail = False, f"EdgeStore at {store_path}: {e}"
    ok &= works
    print(f"store     {'ok ' if works else 'BAD'} {detail}")
    return 0 if ok else 1


def _demo(args: argparse.Namespace) -> int:
    from memspy.pipelines.demo import run_demo
    from memspy.pipelines.lm import LocalModelUnavailableError, configure_lm

    try:
        lm = configure_lm(args.lm)
    except LocalModelUnavailableError as e:
        print(f"memspy demo: {e}", file=sys.stderr)
        return 2
    print(f"memspy demo on LM {lm.model}, store {args.path}")
    run_demo(args.path, parts=args.part or None)
    return 0


_DELEGATED = {
    "bench": "store and embedder benchmarks, ratios against same-run baselines (memspy bench --help)",
    "eval": "LoCoMo / JSONL evaluation: evidence R@k, QA, cost, latency (memspy eval --help)",
    "optimize": "compile a memory pipeline with a DSPy optimizer (memspy optimize --help)",
    "tune": "optuna study over retrieval and pipeline knobs (memspy tune --help)",
}


def _delegate(command: str, rest: list[str]) -> int:
    if command == "bench":
        from memspy.evals.bench import main as run
    elif command == "eval":
        from memspy.evals.cli import main as run
    elif command == "optimize":
        from memspy.pipelines.optimize_cli import main as run
    else:
        from memspy.pipelines.tune_cli import main as run
    return int(run(rest) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``memspy`` command."""
    parser = argparse.ArgumentParser(prog="memspy", description="Long-term memory for LLM agents, on DSPy + Qdrant.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the built-in scenarios offline on the embedded defaults")
    demo.add_argument("--lm", default=None, help="model string (default: $MEMSPY_LM or the offline local model)")
    demo.add_argument("--path", default=".memspy/demo", help="EdgeStore directory (recreated)")
    demo.add_argument("--part", action="append", help="run only this part (repeatable): semantic, triples, ...")
    doc = sub.add_parser("doctor", help="check the configured LM, embedder and store")
    doc.add_argument("--lm", default=None)
    doc.add_argument("--path", default=".memspy/store")
    for name, help_text in _DELEGATED.items():
        sub.add_parser(name, help=help_text, add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command in _DELEGATED:
        return _delegate(args.command, rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "doctor":
        return doctor(args.lm, args.path)
    return _demo(args)


if __name__ == "__main__":
    raise SystemExit(main())
