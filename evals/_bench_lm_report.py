"""Arithmetic and tables of ``memspy bench lm``: per-call records, per-kind means and ratios, the targets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from memspy.evals._timing import format_table, ratio

__all__ = ["KINDS", "PATHS", "TARGETS", "CallRecord", "format_lm_report", "summarize", "summarize_identical"]

PATHS = ("old", "new")
KINDS = ("extract", "extract_demos", "episode", "reflect", "locomo")
# Old/new latency ratios (>=), share of identical parsed outputs (>=), new-path prompt tokens evaluated/sent (<=).
TARGETS = {"extract_speedup": 2.0, "extract_demos_speedup": 3.0, "identical": 0.9, "evaluated_share": 0.4}


@dataclass
class CallRecord:
    """One benchmark call on one path: wall seconds, the engine's counters of each LM call in it, the output."""

    kind: str
    label: str
    path: str
    seconds: float
    output: str
    lm_calls: list[dict[str, Any]] = field(default_factory=list)

    def total(self, key: str) -> float:
        return float(sum(c.get(key) or 0 for c in self.lm_calls))


def _side(records: list[CallRecord]) -> dict[str, Any]:
    n = len(records)
    sent, evaluated = sum(r.total("prompt_tokens") for r in records), sum(r.total("evaluated_tokens") for r in records)
    prompt_s, gen_s = sum(r.total("prompt_eval_s") for r in records), sum(r.total("generation_s") for r in records)
    completion = sum(r.total("completion_tokens") for r in records)
    return {
        "calls": n,
        "lm_calls": sum(len(r.lm_calls) for r in records),
        "mean_s": sum(r.seconds for r in records) / n if n else None,
        "prompt_tokens": sent,
        "evaluated_tokens": evaluated,
        "evaluated_share": evaluated / sent if sent else None,
        "prompt_eval_s": prompt_s,
        "generation_s": gen_s,
        "prompt_tok_per_s": ratio(evaluated, prompt_s),
        "generation_tok_per_s": ratio(completion, gen_s),
        "completion_tokens": completion,
    }


def summarize(records: Sequence[CallRecord]) -> dict[str, Any]:
    """Per kind and over everything: each path's means and totals, the old/new ratios, identical outputs."""
    out: dict[str, Any] = {"kinds": {}}
    groups = [(k, [r for r in records if r.kind == k]) for k in KINDS] + [("all", list(records))]
    for kind, rs in groups:
        if not rs:
            continue
        sides = {p: _side([r for r in rs if r.path == p]) for p in PATHS}
        entry = {
            **sides,
            "speedup": ratio(sides["old"]["mean_s"], sides["new"]["mean_s"]),
            "prompt_eval_speedup": ratio(sides["old"]["prompt_eval_s"], sides["new"]["prompt_eval_s"]),
            "identical": summarize_identical(rs),
        }
        if kind == "all":
            out["all"] = entry
        else:
            out["kinds"][kind] = entry
    extraction = [r for r in records if r.kind in ("extract", "extract_demos")]
    out["identical_extraction"] = summarize_identical(extraction)
    kinds = out["kinds"]
    out["targets"] = {
        "extract_speedup": kinds.get("extract", {}).get("speedup"),
        "extract_demos_speedup": kinds.get("extract_demos", {}).get("speedup"),
        "identical": out["identical_extraction"],
        "evaluated_share": kinds.get("locomo", {}).get("new", {}).get("evaluated_share"),
    }
    out["targets_met"] = {
        k: (v is not None and (v <= TARGETS[k] if k == "evaluated_share" else v >= TARGETS[k]))
        for k, v in out["targets"].items()
    }
    return out


def summarize_identical(records: Sequence[CallRecord]) -> float | None:
    """Share of calls whose old and new outputs are the same."""
    outputs = {(r.kind, r.label, r.path): r.output for r in records}
    keys = sorted({(r.kind, r.label) for r in records})
    same = [outputs.get((*k, "old")) == outputs.get((*k, "new")) for k in keys]
    return sum(same) / len(same) if same else None


def format_lm_report(result: dict[str, Any]) -> str:
    """The report as plain-text tables: per kind, then the targets."""
    s = result["summary"]
    rows = []
    for kind, e in [*s["kinds"].items(), ("all", s["all"])]:
        o, n = e["old"], e["new"]
        rows.append(
            [
                kind,
                n["calls"],
                o["mean_s"],
                n["mean_s"],
                e["speedup"],
                o["prompt_tokens"] / max(1, o["lm_calls"]),
                o["evaluated_tokens"] / max(1, o["lm_calls"]),
                n["evaluated_tokens"] / max(1, n["lm_calls"]),
                n["evaluated_share"],
                o["prompt_eval_s"] / max(1, o["lm_calls"]),
                n["prompt_eval_s"] / max(1, n["lm_calls"]),
                o["generation_s"] / max(1, o["lm_calls"]),
                n["generation_s"] / max(1, n["lm_calls"]),
                o["generation_tok_per_s"],
                n["generation_tok_per_s"],
                e["identical"],
            ]
        )
    headers = [
        "kind",
        "calls",
        "old s",
        "new s",
        "speedup",
        "sent/LM call",
        "eval old",
        "eval new",
        "eval share",
        "prompt s old",
        "prompt s new",
        "gen s old",
        "gen s new",
        "gen tok/s old",
        "gen tok/s new",
        "identical",
    ]
    cfg = result["config"]
    title = (
        f"memspy bench lm: old path (reset every call) vs new (prefix kept), threads={cfg['n_threads']}, "
        f"DSPy cache off, load avg {cfg['load_before']} -> {cfg['load_after']}"
    )
    if cfg.get("warm_s") is not None:
        title += f", prefix folder warmed first ({cfg['warm_s']}s)"
    out = [format_table(headers, rows, title=title), ""]
    for key, value in s["targets"].items():
        mark = "not run" if value is None else "ok" if s["targets_met"][key] else "MISSED"
        bound = f"<= {TARGETS[key]}" if key == "evaluated_share" else f">= {TARGETS[key]}"
        out.append(f"  {key:<22} {value if value is None else round(value, 3)!s:>8}  (target {bound}) {mark}")
    if "locomo" in s["kinds"]:
        lo = s["kinds"]["locomo"]
        out.append(
            f"  LoCoMo session ({cfg['turns']} turns, {cfg['chunk']} per call): "
            f"{lo['old']['mean_s'] * lo['old']['calls']:.1f}s old, {lo['new']['mean_s'] * lo['new']['calls']:.1f}s new"
        )
    return "\n".join(out)
