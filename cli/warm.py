"""``memspy warm``: evaluate the prompt prefixes of memspy's built-in programs into the local LM's prefix folder.

``make local`` runs it once after assembling the model, so the first call of each built-in signature in a fresh
environment starts with its instructions (and a shipped program's demos) already evaluated, as every later call
does. Models other than the local one have nothing to warm.

Example:
    $ memspy warm
    memspy warm: 9 prompt prefixes saved to ~/.cache/memspy/prefix-cache/... in 31.0s (0 already there)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import dspy

from memspy.pipelines import Triple, UserProfile, create_memory_manager, create_memory_searcher
from memspy.pipelines.episodic.episodes import EpisodeConsolidator, TurnEpisodeExtractor
from memspy.pipelines.episodic.privacy import PiiRedactor
from memspy.pipelines.episodic.reflection import Reflector
from memspy.pipelines.runtime import build_lm
from memspy.pipelines.runtime.llama_warm import warm_prefixes

__all__ = ["builtin_programs", "main"]


def builtin_programs(lm: Any) -> list[dspy.Module]:
    """The programs the demo and the default pipelines run: memory managers (default kind, triples, a profile),
    the searcher, and the episodic steps."""
    return [
        create_memory_manager(lm, enable_deletes=True),
        create_memory_manager(lm, schemas=[Triple], enable_deletes=True),
        create_memory_manager(lm, schemas=[UserProfile], enable_inserts=False),
        create_memory_searcher(lm),
        TurnEpisodeExtractor(lm),
        EpisodeConsolidator(lm),
        Reflector(lm),
        PiiRedactor(lm),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Warm the local LM's prefix folder for the built-in programs; print what was saved."""
    p = argparse.ArgumentParser(prog="memspy warm", description=(__doc__ or "").splitlines()[0])
    p.add_argument("--lm", default="local", help="the model (only the local one keeps prefixes; default local)")
    args = p.parse_args(argv)
    lm = build_lm(args.lm)
    folder = getattr(getattr(lm, "engine", None), "prefix_dir", None)
    if folder is None:
        print(f"memspy warm: {args.lm} keeps no prompt prefixes; nothing to do")
        return 0
    start = time.perf_counter()
    programs = builtin_programs(lm)
    total = sum(1 for program in programs for _ in program.named_predictors())
    written = warm_prefixes(lm, programs)
    print(
        f"memspy warm: {written} prompt prefixes saved to {folder} in {time.perf_counter() - start:.1f}s "
        f"({total} predictors)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
