"""Run directory files, the terminal summary, report.html with and without matplotlib, and `compare`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from memspy.cli.eval import main
from memspy.evals.harness import EvalConfig, run_eval
from memspy.evals.report import compare_summaries, flatten_summary, format_summary, summarize
from memspy.stores import MiniLMEmbedder

TINY = Path(__file__).parent / "data" / "tiny_locomo.json"


def _row(pipeline: str, qid: str, cat: int, r1: float, search_ms: float) -> dict[str, Any]:
    return {
        "pipeline": pipeline,
        "qid": qid,
        "category": cat,
        "recall": {"1": r1, "5": 1.0},
        "turns_at_k": {"1": 1, "5": 5},
        "search_ms": search_ms,
    }


def _ingest(pipeline: str, seconds: float, calls: int) -> dict[str, Any]:
    usage = {"calls": calls, "prompt_tokens": 10 * calls, "completion_tokens": calls, "by_step": {}}
    return {"pipeline": pipeline, "conversation": "c1", "turns": 4, "seconds": seconds, "usage": usage, "memories": 2}


def test_summarize_aggregates_recall_cost_and_latency() -> None:
    rows = [_row("p", "q1", 1, 0.0, 2.0), _row("p", "q2", 4, 1.0, 4.0), _row("p", "q3", 4, 0.5, 6.0)]
    s = summarize(rows, [_ingest("p", 2.0, 8)], [1, 5])["pipelines"]["p"]
    assert s["recall"]["1"] == 0.5 and s["recall"]["by_category"]["4"] == {"n": 2, "1": 0.75, "5": 1.0}
    assert s["latency"]["search_p50_ms"] == 4.0 and s["latency"]["ingest_ms_per_turn"] == 500.0
    assert s["ingest"]["per_turn"]["calls"] == 2.0 and s["ingest"]["memories"] == {"c1": 2}
    assert s["qa"] is None
    table = format_summary(summarize(rows, [_ingest("p", 2.0, 8)], [1, 5]))
    assert "R@1" in table and "0.500" in table and "4 single-hop" in table


def test_compare_prints_per_metric_deltas() -> None:
    a = summarize([_row("raw", "q1", 4, 0.0, 2.0)], [_ingest("raw", 1.0, 0)], [1, 5])
    b = summarize([_row("raw", "q1", 4, 1.0, 3.0)], [_ingest("raw", 1.0, 4)], [1, 5])
    flat = flatten_summary(b)
    assert flat["raw.recall.1"] == 1.0 and flat["raw.ingest.calls"] == 4.0 and flat["raw.ingest.memories"] == 2.0
    lines = {line.split()[0]: line.split() for line in compare_summaries(a, b).splitlines()[2:]}
    assert lines["raw.recall.1"][1:] == ["0", "1", "+1"]
    assert lines["raw.latency.search_p50_ms"][-1] == "+1"
    assert lines["raw.recall.5"][-1] == "+0"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, embedder: MiniLMEmbedder) -> Path:
    out = tmp_path_factory.mktemp("report") / "run"
    run_eval(EvalConfig(dataset=str(TINY), pipelines=["raw"], ks=[1, 5]), out, embedder=embedder, progress=False)
    return out


def test_run_directory_files(run_dir: Path) -> None:
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.json", "results.jsonl", "ingest.jsonl", "summary.json", "report.html"} <= names
    assert {"recall_at_k.png", "latency.png"} <= names
    assert (run_dir / "recall_at_k.png").read_bytes()[:4] == b"\x89PNG"
    results = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert len(results) == 4 * 9  # dense, bm25, rrf, raw x 9 questions of categories 1-4
    page = (run_dir / "report.html").read_text()
    assert '<img src="recall_at_k.png"' in page and "Evidence recall" in page and "raw" in page
    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary["pipelines"]) == {"dense", "bm25", "rrf", "raw"} and summary["config"]["ks"] == [1, 5]


def test_report_without_matplotlib(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: MiniLMEmbedder
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    out = tmp_path / "noplots"
    cfg = EvalConfig(dataset=str(TINY), pipelines=["raw"], ks=[1], baselines=False, conversations=["tiny-2"])
    run_eval(cfg, out, embedder=embedder, progress=False)
    page = (out / "report.html").read_text()
    assert "matplotlib is not installed" in page and "<img" not in page
    assert not list(out.glob("*.png"))


def test_cli_run_and_compare(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    args = ["--data", str(TINY), "--pipelines", "raw", "--no-qa", "--k", "1,5", "--out", str(out), "--quiet"]
    assert main(["run", *args, "--no-dates", "--conversations", "1"]) == 0
    printed = capsys.readouterr().out
    assert "Evidence recall" in printed and "rrf" in printed and str(out) in printed
    assert json.loads((out / "config.json").read_text())["conversations"] == ["tiny-1"]
    assert main(args) == 2  # the run directory exists: refuse without --resume
    assert "--resume" in capsys.readouterr().err
    assert main(["compare", str(run_dir), str(out)]) == 0
    table = capsys.readouterr().out
    assert "raw.recall.1" in table and "B - A" in table
    assert main(["compare", str(run_dir), str(tmp_path / "missing")]) == 2
    assert main(["--data", str(tmp_path / "none.json"), "--no-qa"]) == 2
