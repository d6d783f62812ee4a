"""``memspy bench lm``: the per-kind arithmetic, the targets and the report, and the paired runner on fake engines."""

from __future__ import annotations

import json
from typing import Any

import dspy
import pytest

from memspy.evals._bench_lm_calls import BenchCall
from memspy.evals.bench_lm import TARGETS, CallRecord, format_lm_report, run_pairs, summarize
from memspy.pipelines.runtime import AsyncLlamaEngine, LlamaEngine
from memspy.pipelines.runtime.llama_request import GrammarCache

__all__: list[str] = []


def _record(kind: str, label: str, path: str, seconds: float, output: str, **lm: float) -> CallRecord:
    call = {"prompt_tokens": 1000, "evaluated_tokens": 1000, "completion_tokens": 50, "prompt_eval_s": 8.0}
    call |= {"generation_s": 2.0, **lm}
    return CallRecord(kind, label, path, seconds, output, [call])


def test_summary_means_ratios_identity_and_targets() -> None:
    records = [
        _record("extract", "a", "old", 10.0, "x"),
        _record("extract", "a", "new", 2.0, "x", evaluated_tokens=200, prompt_eval_s=1.0),
        _record("extract", "b", "old", 20.0, "y"),
        _record("extract", "b", "new", 3.0, "z", evaluated_tokens=100, prompt_eval_s=0.5),
        _record("locomo", "turns 1-3", "old", 30.0, "[]"),
        _record("locomo", "turns 1-3", "new", 10.0, "[]", evaluated_tokens=500, prompt_eval_s=2.0),
    ]
    s = summarize(records)
    ex = s["kinds"]["extract"]
    assert ex["old"]["mean_s"] == 15.0 and ex["new"]["mean_s"] == 2.5 and ex["speedup"] == pytest.approx(6.0)
    assert ex["new"]["evaluated_tokens"] == 300 and ex["new"]["evaluated_share"] == pytest.approx(0.15)
    assert ex["old"]["evaluated_share"] == 1.0 and ex["prompt_eval_speedup"] == pytest.approx(16 / 1.5)
    assert ex["new"]["generation_tok_per_s"] == pytest.approx(100 / 4.0)
    assert ex["identical"] == 0.5 and s["identical_extraction"] == 0.5
    assert s["all"]["identical"] == pytest.approx(2 / 3)  # the same label in two kinds counts twice
    assert s["targets"]["evaluated_share"] == 0.5 and not s["targets_met"]["evaluated_share"]
    assert s["targets_met"]["extract_speedup"] and s["targets"]["extract_demos_speedup"] is None
    assert not s["targets_met"]["extract_demos_speedup"] and not s["targets_met"]["identical"]
    assert set(s["targets"]) == set(TARGETS)
    cfg = {"n_threads": 1, "load_before": [1.0], "load_after": [2.0], "turns": 3, "chunk": 3}
    report = format_lm_report({"config": cfg, "summary": s})
    assert "6.00" in report and "MISSED" in report and "ok" in report
    assert "LoCoMo session (3 turns, 3 per call): 30.0s old, 10.0s new" in report
    assert "warmed" not in report and "prefix folder warmed first (4.5s)" in format_lm_report(
        {"config": {**cfg, "warm_s": 4.5}, "summary": s}
    )


class _Llama:
    """A stand-in ``Llama`` that keeps the tokens (one per word) of its last prompt, like llama.cpp's KV cache."""

    def __init__(self) -> None:
        self.input_ids: list[int] = []
        self.n_tokens = 0
        self.vocab: dict[str, int] = {}
        self.resets = 0

    def reset(self) -> None:
        self.n_tokens, self.resets = 0, self.resets + 1

    def create_chat_completion(self, messages: list[dict[str, str]], **kwargs: Any) -> dict[str, Any]:
        words = " ".join(m["content"] for m in messages).split()
        self.input_ids = [self.vocab.setdefault(w, len(self.vocab)) for w in words]
        self.n_tokens = len(self.input_ids)
        answer = json.dumps({"answer": "ok"})
        usage = {"prompt_tokens": len(words), "completion_tokens": 3}
        return {"choices": [{"message": {"content": answer}, "finish_reason": "stop"}], "usage": usage}


def test_run_pairs_times_both_paths_with_their_engine_counters() -> None:
    engines = {
        "old": LlamaEngine(llama=_Llama(), name="local/old", reset_every_call=True, grammars=GrammarCache(str)),
        "new": LlamaEngine(llama=_Llama(), name="local/new", grammars=GrammarCache(str)),
    }
    lms = {p: dspy.LM(e.name, engine=e, async_engine=AsyncLlamaEngine(e), cache=False) for p, e in engines.items()}
    predict = dspy.Predict("question -> answer")

    def ask(q: str) -> BenchCall:
        return BenchCall("extract", q, lambda: str(predict(question=q).answer))

    records = run_pairs([ask("what is one"), ask("what is two"), ask("what is three")], lms)
    assert [(r.label, r.path) for r in records][:4] == [
        ("what is one", "old"),
        ("what is one", "new"),
        ("what is two", "new"),  # the order alternates, so neither path always runs second
        ("what is two", "old"),
    ]
    assert all(r.output == "ok" and len(r.lm_calls) == 1 and r.seconds >= 0 for r in records)
    old = [r for r in records if r.path == "old"]
    new = [r for r in records if r.path == "new"]
    assert all(r.total("evaluated_tokens") == r.total("prompt_tokens") for r in old)
    assert all(0 < r.total("evaluated_tokens") < r.total("prompt_tokens") for r in new[1:])
    assert engines["old"].llama.resets == 3 and engines["new"].llama.resets == 0
    s = summarize(records)
    assert s["identical_extraction"] == 1.0 and s["kinds"]["extract"]["new"]["evaluated_share"] < 1.0
    assert engines["old"].on_call is None and engines["new"].on_call is None  # hooks removed after the run


def test_memspy_bench_lm_dispatches_to_the_lm_benchmark(monkeypatch: pytest.MonkeyPatch) -> None:
    from memspy.cli import bench as cli_bench
    from memspy.cli.main import main as memspy
    from memspy.evals import bench, bench_lm

    seen: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(bench_lm, "main", lambda argv: seen.append(("lm", list(argv))) or 0)
    monkeypatch.setattr(bench, "main", lambda argv: seen.append(("store", list(argv))) or 0)
    assert memspy(["bench", "lm", "--calls", "2"]) == 0
    assert cli_bench.main(["--sizes", "100"]) == 0
    assert seen == [("lm", ["--calls", "2"]), ("store", ["--sizes", "100"])]


def test_the_old_path_converts_the_same_grammar_on_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    from memspy.evals import bench_lm

    seen: list[tuple[str, bool]] = []
    monkeypatch.setattr(bench_lm, "llama_grammar_from_schema", lambda text, layout=False: seen.append((text, layout)))
    schema = {"type": "object", "properties": {"facts": {"type": "array", "items": {"type": "string"}}}}
    old = bench_lm.ConvertEveryCall()
    old.get(schema)
    old.get(schema)
    old.get(schema, layout=True)
    # converted again on every call, by the new path's converter, with the same layout choice
    assert seen == [(json.dumps(schema), False), (json.dumps(schema), False), (json.dumps(schema), True)]
