"""The ``memspy`` command line: one entry point over a table of subcommands.

Each subcommand is a module with ``main(argv) -> int``; the top-level parser only picks the subcommand and
hands it the rest of the arguments, so ``memspy <command> --help`` is the subcommand's own help and a module
is imported only when its command runs. To add a command, add one row to :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

__all__ = ["COMMANDS", "Command", "main"]


@dataclass(frozen=True)
class Command:
    """A subcommand: the module whose ``main(argv)`` runs it, and its one-line help."""

    module: str
    help: str


COMMANDS: dict[str, Command] = {
    "demo": Command("memspy.cli.demo", "run the built-in scenarios offline on the embedded defaults"),
    "doctor": Command("memspy.cli.doctor", "check the configured LM, embedder and store"),
    "bench": Command(
        "memspy.cli.bench",
        "store and embedder benchmarks, ratios against same-run baselines (memspy bench --help); "
        "memspy bench lm: the local LM runtime, old path vs new",
    ),
    "eval": Command(
        "memspy.cli.eval", "LoCoMo / JSONL evaluation: evidence R@k, QA, cost, latency (memspy eval --help)"
    ),
    "optimize": Command(
        "memspy.cli.optimize", "compile a memory pipeline with a DSPy optimizer (memspy optimize --help)"
    ),
    "tune": Command("memspy.cli.tune", "optuna study over retrieval and pipeline knobs (memspy tune --help)"),
    "warm": Command("memspy.cli.warm", "evaluate the built-in prompts' fixed prefixes into the local LM's cache"),
    "mcp": Command("memspy.cli.mcp", "serve memories over MCP: stdio, or streamable HTTP with --http PORT"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``memspy`` command."""
    parser = argparse.ArgumentParser(prog="memspy", description="Long-term memory for LLM agents, on DSPy + Qdrant.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        sub.add_parser(name, help=command.help, add_help=False)
    args, rest = parser.parse_known_args(argv)
    run = importlib.import_module(COMMANDS[args.command].module).main
    return int(run(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
