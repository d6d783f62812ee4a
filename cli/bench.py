"""``memspy bench``: the store and embedder benchmarks, or with ``lm`` first the LM runtime benchmark.

``memspy bench [options]`` runs :mod:`memspy.evals.bench`; ``memspy bench lm [options]`` runs
:mod:`memspy.evals.bench_lm` (``memspy bench lm --help``).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to the LM benchmark when the first argument is ``lm``, else to the store benchmark."""
    args = list(argv or [])
    if args[:1] == ["lm"]:
        from memspy.evals.bench_lm import main as bench_lm

        return bench_lm(args[1:])
    from memspy.evals.bench import main as bench

    return bench(args)
