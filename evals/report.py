"""Summaries of a run: aggregate its rows, print tables, write ``report.html`` with plots, compare two runs.

``summary.json`` has one entry per pipeline: ``recall`` (mean R@k over questions with evidence, overall and
per category), ``turns_at_k`` (mean number of source turns the top k items cover: the evidence budget),
``qa`` (answered, skipped, errors, LoCoMo ``score``, ``f1`` over categories 1-4, ``judge``, per category,
and LM cost per question), ``ingest`` (seconds and LM cost in total and per turn, memories per
conversation) and ``latency`` (ingest ms per turn, search p50/p95).
Plots need matplotlib (``memspy[plots]``); without it the HTML says so and has the tables only.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from memspy.evals._timing import format_table, percentile
from memspy.evals.locomo import CATEGORY_NAMES

__all__ = ["compare_summaries", "flatten_summary", "format_summary", "load_summary", "summarize", "write_report"]


def _mean(xs: Iterable[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return sum(vals) / len(vals) if vals else None


def _recall(rows: list[dict[str, Any]], ks: list[int]) -> dict[str, Any]:
    with_ev = [r for r in rows if r.get("recall")]
    by_cat: dict[str, Any] = {}
    for cat in sorted({r["category"] for r in with_ev}):
        sub = [r for r in with_ev if r["category"] == cat]
        by_cat[str(cat)] = {"n": len(sub), **{str(k): _mean(r["recall"][str(k)] for r in sub) for k in ks}}
    return {
        "n": len(with_ev),
        **{str(k): _mean(r["recall"][str(k)] for r in with_ev) for k in ks},
        "by_category": by_cat,
    }


def _qa(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    asked = [r for r in rows if "answer" in r or "qa_skipped" in r]
    if not asked:
        return None
    done = [r for r in asked if r.get("answer") is not None]
    cost = {
        f: _mean(r["qa_usage"][f] for r in asked if "qa_usage" in r)
        for f in ("calls", "prompt_tokens", "completion_tokens")
    }
    by_cat = {
        str(c): {
            "n": len([r for r in done if r["category"] == c]),
            "score": _mean(r["score"] for r in done if r["category"] == c),
            "judge": _mean(r.get("judge") for r in done if r["category"] == c),
        }
        for c in sorted({r["category"] for r in done})
    }
    return {
        "answered": len(done),
        "skipped": sum(1 for r in asked if "qa_skipped" in r),
        "errors": sum(1 for r in asked if r.get("qa_error")),
        "score": _mean(r["score"] for r in done),
        "f1": _mean(r.get("f1") for r in done),
        "judge": _mean(r.get("judge") for r in done),
        "per_question": cost,
        "by_category": by_cat,
    }


def summarize(rows: list[dict[str, Any]], ingest_rows: list[dict[str, Any]], ks: list[int]) -> dict[str, Any]:
    """Aggregate result and ingest rows per pipeline (see the module docstring)."""
    names = list(dict.fromkeys([r["pipeline"] for r in ingest_rows] + [r["pipeline"] for r in rows]))
    out: dict[str, Any] = {}
    for name in names:
        prow = [r for r in rows if r["pipeline"] == name]
        ing = [r for r in ingest_rows if r["pipeline"] == name]
        turns = sum(r["turns"] for r in ing)
        usage = {f: sum(r["usage"][f] for r in ing) for f in ("calls", "prompt_tokens", "completion_tokens")}
        search = [r["search_ms"] for r in prow]
        has_recall = any(r.get("recall") for r in prow)
        out[name] = {
            "questions": len(prow),
            "recall": _recall(prow, ks) if has_recall else None,
            "turns_at_k": {str(k): _mean(r["turns_at_k"][str(k)] for r in prow if r.get("turns_at_k")) for k in ks}
            if has_recall
            else None,
            "qa": _qa(prow),
            "ingest": {
                "turns": turns,
                "seconds": sum(r["seconds"] for r in ing),
                **usage,
                "per_turn": {f: v / turns for f, v in usage.items()} if turns else None,
                "memories": {r["conversation"]: r["memories"] for r in ing},
            },
            "latency": {
                "ingest_ms_per_turn": 1000 * sum(r["seconds"] for r in ing) / turns if turns else None,
                "search_p50_ms": percentile(search, 50) if search else None,
                "search_p95_ms": percentile(search, 95) if search else None,
            },
        }
    return {"pipelines": out, "ks": ks}


def _r(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def format_summary(summary: dict[str, Any]) -> str:
    """The terminal tables: R@k (overall and per category), QA, cost and latency."""
    ks, pipes = summary["ks"], summary["pipelines"]
    rec = [(n, p) for n, p in pipes.items() if p["recall"]]
    parts = []
    if rec:
        rows = [[n, p["recall"]["n"], *(_r(p["recall"][str(k)]) for k in ks), _fmt_turns(p, ks)] for n, p in rec]
        parts.append(format_table(["pipeline", "n", *(f"R@{k}" for k in ks), "turns@k"], rows, title="Evidence recall"))
        cats = sorted({c for _, p in rec for c in p["recall"]["by_category"]})
        k = ks[len(ks) // 2] if len(ks) > 1 else ks[0]
        rows = [[n, *(_r(p["recall"]["by_category"].get(c, {}).get(str(k))) for c in cats)] for n, p in rec]
        heads = [f"{c} {CATEGORY_NAMES.get(int(c), '')}" for c in cats]
        parts.append(format_table(["pipeline", *heads], rows, title=f"R@{k} by category"))
    qa = [(n, p["qa"]) for n, p in pipes.items() if p["qa"]]
    if qa:
        rows = [
            [
                n,
                q["answered"],
                q["skipped"],
                q["errors"],
                _r(q["score"]),
                _r(q["f1"]),
                _r(q["judge"]),
                q["per_question"]["calls"],
                q["per_question"]["prompt_tokens"],
                q["per_question"]["completion_tokens"],
            ]
            for n, q in qa
        ]
        heads = ["pipeline", "answered", "skipped", "errors", "score", "F1", "judge", "calls/q", "prompt/q", "compl/q"]
        parts.append(format_table(heads, rows, title="QA (score: LoCoMo F1, category 5 by abstention)"))
    rows = []
    for n, p in pipes.items():
        ing, lat = p["ingest"], p["latency"]
        per = ing["per_turn"] or {}
        counts = [v for v in ing["memories"].values() if v is not None]
        mems = sum(counts) if counts else None
        rows.append(
            [
                n,
                mems,
                lat["ingest_ms_per_turn"],
                per.get("calls"),
                per.get("prompt_tokens"),
                per.get("completion_tokens"),
                lat["search_p50_ms"],
                lat["search_p95_ms"],
            ]
        )
    heads = ["pipeline", "memories", "ingest ms/turn", "calls/turn", "prompt/turn", "compl/turn", "p50 ms", "p95 ms"]
    parts.append(format_table(heads, rows, title="Cost and latency"))
    return "\n\n".join(parts)


def _fmt_turns(p: dict[str, Any], ks: list[int]) -> str:
    t = p.get("turns_at_k") or {}
    return "/".join("-" if t.get(str(k)) is None else f"{t[str(k)]:.0f}" for k in ks)


def load_summary(run: str | Path) -> dict[str, Any]:
    """The ``summary.json`` of a run directory (or the file itself)."""
    path = Path(run)
    return dict(json.loads((path / "summary.json" if path.is_dir() else path).read_text()))


def flatten_summary(summary: dict[str, Any]) -> dict[str, float]:
    """Every numeric metric as ``pipeline.path.to.metric`` (memories per conversation summed)."""
    flat: dict[str, float] = {}

    def walk(prefix: str, obj: Any) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(f"{prefix}.{k}", v)
        elif isinstance(obj, int | float) and not isinstance(obj, bool):
            flat[prefix] = float(obj)

    for name, p in summary["pipelines"].items():
        walk(name, {k: v for k, v in p.items() if k != "ingest"})
        walk(f"{name}.ingest", {k: v for k, v in p["ingest"].items() if k != "memories"})
        flat[f"{name}.ingest.memories"] = float(sum(v or 0 for v in p["ingest"]["memories"].values()))
    return flat


def compare_summaries(a: dict[str, Any], b: dict[str, Any]) -> str:
    """A table of every metric of run A and run B and the delta B - A (metrics in one run only show ``-``)."""
    fa, fb = flatten_summary(a), flatten_summary(b)
    rows = []
    for key in sorted(set(fa) | set(fb)):
        va, vb = fa.get(key), fb.get(key)
        delta = vb - va if va is not None and vb is not None else None
        rows.append([key, _num(va), _num(vb), "-" if delta is None else f"{delta:+.4g}"])
    return format_table(["metric", "A", "B", "B - A"], rows)


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def _plots(run_dir: Path, rows: list[dict[str, Any]], summary: dict[str, Any]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks, pipes, out = summary["ks"], summary["pipelines"], []
    rec = {n: p["recall"] for n, p in pipes.items() if p["recall"]}
    if rec:
        cats = ["all", *sorted({c for r in rec.values() for c in r["by_category"]})]
        fig, axes = plt.subplots(1, len(cats), figsize=(3.2 * len(cats), 3.2), sharey=True, squeeze=False)
        for ax, cat in zip(axes[0], cats, strict=True):
            for n, r in rec.items():
                src = r if cat == "all" else r["by_category"].get(cat)
                if src:
                    ax.plot(ks, [src[str(k)] for k in ks], marker="o", label=n)
            ax.set_title("all" if cat == "all" else f"{cat} {CATEGORY_NAMES.get(int(cat), '')}")
            ax.set_xscale("log")
            ax.set_xticks(ks, [str(k) for k in ks])
            ax.set_xlabel("k")
        axes[0][0].set_ylabel("R@k")
        axes[0][0].legend(fontsize=7)
        out.append(("Evidence recall R@k per pipeline and category", _save(fig, run_dir / "recall_at_k.png")))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.5))
    for n in pipes:
        ms = [r["search_ms"] for r in rows if r["pipeline"] == n]
        if ms:
            a1.hist(ms, bins=30, alpha=0.5, label=n)
    a1.set_xlabel("search latency (ms)")
    a1.set_ylabel("questions")
    a1.legend(fontsize=7)
    per_turn = {n: p["latency"]["ingest_ms_per_turn"] or 0.0 for n, p in pipes.items()}
    a2.bar(list(per_turn), list(per_turn.values()))
    a2.set_ylabel("ingest ms per turn")
    a2.set_yscale("symlog")
    out.append(("Latency: search per question, ingest per turn", _save(fig, run_dir / "latency.png")))
    qa = {n: p["qa"]["per_question"] for n, p in pipes.items() if p["qa"]}
    if qa:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        prompt = [q["prompt_tokens"] or 0 for q in qa.values()]
        ax.bar(list(qa), prompt, label="prompt")
        ax.bar(list(qa), [q["completion_tokens"] or 0 for q in qa.values()], bottom=prompt, label="completion")
        ax.set_ylabel("LM tokens per question (answer + judge)")
        ax.legend(fontsize=7)
        out.append(("Tokens per question", _save(fig, run_dir / "tokens_per_question.png")))
    return out


def _save(fig: Any, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.name


def write_report(run_dir: str | Path, rows: list[dict[str, Any]], summary: dict[str, Any]) -> Path:
    """Write ``report.html`` (tables, plus PNG plots when matplotlib is installed) into ``run_dir``."""
    run_dir = Path(run_dir)
    try:
        images = _plots(run_dir, rows, summary)
        note = ""
    except ImportError:
        images, note = [], "<p><b>matplotlib is not installed: no plots (pip install 'memspy[plots]').</b></p>"
    body = "".join(f'<h2>{html.escape(t)}</h2><img src="{html.escape(f)}" alt="{html.escape(t)}">' for t, f in images)
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>memspy eval</title>"
        "<style>body{font-family:sans-serif;margin:2em} img{max-width:100%} pre{background:#f6f6f6;padding:1em}</style>"
        f"</head><body><h1>memspy eval: {html.escape(run_dir.name)}</h1>{note}"
        f"<pre>{html.escape(format_summary(summary))}</pre>{body}"
        f"<h2>Configuration</h2><pre>{html.escape(json.dumps(summary.get('config', {}), indent=2))}</pre>"
        "</body></html>"
    )
    path = run_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
