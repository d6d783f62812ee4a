"""The run loop over real EdgeStores: R@k on known cases, pipelines, resume after a crash, QA with DummyLM."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM

from memspy.evals.harness import EvalConfig, RunDir, run_eval
from memspy.evals.locomo import load_locomo
from memspy.evals.pipelines import Hit, PipelineContext, as_hit, load_pipeline
from memspy.stores import MiniLMEmbedder

TINY = Path(__file__).parent / "data" / "tiny_locomo.json"
ALL = [1, 2, 3, 4, 5]


def cfg(**kw: Any) -> EvalConfig:
    kw.setdefault("baselines", False)
    kw.setdefault("pipelines", ["fixed"])
    kw.setdefault("categories", ALL)
    return EvalConfig(dataset=str(TINY), **kw)


def rows(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]


class Oracle:
    """Returns each question's evidence first, one turn per item, then the other turns in order."""

    def __init__(self, ctx: PipelineContext) -> None:
        self.conv = ctx.conversation

    def ingest(self, conversation: Any) -> None:
        self.by_text = {q.question: q for q in conversation.questions}

    def retrieve(self, question: str, k: int) -> list[Any]:
        ev = list(self.by_text[question].evidence)
        return [[e] for e in ev] + [t.dia_id for t in self.conv.turns if t.dia_id not in ev]


def fixed(ctx: PipelineContext) -> Any:
    class Fixed:
        def ingest(self, conversation: Any) -> None:
            pass

        def retrieve(self, question: str, k: int) -> list[Any]:  # the multi-hop question's evidence at ranks 2 and 4
            return [["D1:1"], {"dia_ids": ["D1:2", "D1:3"], "text": "x"}, Hit(("D2:1",)), "D2:2", ["D10:1"]][:k]

    return Fixed()


def test_recall_at_k_on_a_constructed_case(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    c = cfg(ks=[1, 2, 4], conversations=["tiny-1"])
    summary = run_eval(c, tmp_path / "run", embedder=embedder, factories={"fixed": fixed}, progress=False)
    by_q = {r["question"]: r for r in rows(tmp_path / "run")}
    assert by_q["What did Biscuit chew, and what did Ann train for?"]["recall"] == {"1": 0.0, "2": 0.5, "4": 1.0}
    assert by_q["What is the name of Ann's puppy?"]["recall"] == {"1": 1.0, "2": 1.0, "4": 1.0}
    assert by_q["Which composer did Ben play at his recital?"]["recall"] == {"1": 0.0, "2": 0.0, "4": 0.0}
    assert by_q["Would Ann enjoy a dog-friendly running event?"]["recall"] is None  # no evidence
    assert by_q["What is the name of Ann's puppy?"]["turns_at_k"] == {"1": 1, "2": 3, "4": 5}
    rec = summary["pipelines"]["fixed"]["recall"]
    assert rec["n"] == 7 and rec["by_category"]["1"]["2"] == 0.5
    assert rec["1"] == pytest.approx(sum(r["recall"]["1"] for r in by_q.values() if r["recall"]) / 7)


def test_baselines_and_raw_store_find_a_paraphrased_turn(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    c = cfg(pipelines=["raw"], baselines=True, ks=[1, 3], conversations=["tiny-2"])
    summary = run_eval(c, tmp_path / "run", embedder=embedder, progress=False)
    for name in ("dense", "bm25", "rrf", "raw"):
        assert summary["pipelines"][name]["recall"]["3"] == 1.0, name  # 3 turns: every evidence turn is in the top 3
        assert summary["pipelines"][name]["ingest"]["memories"] == {"tiny-2": 3}
    got = {(r["pipeline"], r["question"]): r["retrieved"][0] for r in rows(tmp_path / "run")}
    assert got[("rrf", "Where did Cara move for her new job?")] == ["D1:1"]
    assert got[("raw", "What subject does Dev teach?")] == ["D1:2"]
    assert (
        summary["pipelines"]["raw"]["latency"]["search_p95_ms"]
        >= summary["pipelines"]["raw"]["latency"]["search_p50_ms"]
    )


def test_resume_after_a_crash_runs_each_question_once(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    calls: list[str] = []
    ingests: list[str] = []
    state: dict[str, int | None] = {"fail_after": 3}

    def flaky(ctx: PipelineContext) -> Any:
        class Flaky:
            def ingest(self, conversation: Any) -> None:
                ingests.append(conversation.sample_id)

            def retrieve(self, question: str, k: int) -> list[Any]:
                if state["fail_after"] is not None and len(calls) >= state["fail_after"]:
                    raise RuntimeError("killed")
                calls.append(question)
                return [t.dia_id for t in ctx.conversation.turns][:k]

        return Flaky()

    c = cfg(pipelines=["flaky"], baselines=True)
    run = tmp_path / "run"
    with pytest.raises(RuntimeError, match="killed"):
        run_eval(c, run, embedder=embedder, factories={"flaky": flaky}, progress=False)
    first = rows(run)
    assert [r["pipeline"] for r in first].count("flaky") == 3
    assert len(first) == 3 * 10 + 3  # the baselines finished before the flaky pipeline started
    with open(run / "results.jsonl", "a") as f:
        f.write('{"pipeline": "flaky", "qid": "tiny-1/q5", "rec')  # a row torn by the kill
    with pytest.raises(FileExistsError):
        run_eval(c, run, embedder=embedder, factories={"flaky": flaky}, progress=False)
    state["fail_after"] = None
    summary = run_eval(c, run, resume=True, embedder=embedder, factories={"flaky": flaky}, progress=False)
    final = rows(run)
    keys = [(r["pipeline"], r["qid"]) for r in final]
    assert len(keys) == len(set(keys)) == 4 * 10
    assert len(calls) == 10 and len(set(calls)) == 10  # each question retrieved once over both runs
    assert final[: len(first)] == first  # nothing rewritten
    assert {n: p["questions"] for n, p in summary["pipelines"].items()} == {
        n: 10 for n in ("dense", "bm25", "rrf", "flaky")
    }
    ingest = RunDir.read(run / "ingest.jsonl")
    assert sorted((r["pipeline"], r["conversation"]) for r in ingest if r["pipeline"] == "flaky") == [
        ("flaky", "tiny-1"),
        ("flaky", "tiny-2"),
    ]
    assert ingests == ["tiny-1", "tiny-2", "tiny-1", "tiny-2"]  # in-memory state rebuilt, cost recorded once
    with pytest.raises(ValueError, match="ks"):
        run_eval(cfg(pipelines=["flaky"], ks=[3]), run, resume=True, embedder=embedder, factories={"flaky": flaky})


def answer(text: str) -> dict[str, Any]:
    return {"answer": text}


def verdict(ok: bool) -> dict[str, Any]:
    return {"verdict": "CORRECT" if ok else "WRONG"}


def test_qa_scores_judge_and_cost_with_full_context_baseline(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    c = cfg(pipelines=["oracle"], qa=True, conversations=["tiny-2"], ks=[1])
    script = [answer("Oslo"), verdict(True), answer("biology"), verdict(False)]  # oracle
    script += [answer("Oslo, Norway"), verdict(True), answer("chemistry"), verdict(True)]  # full context
    lm = DummyLM(script, adapter=dspy.JSONAdapter())
    with dspy.context(lm=lm):
        summary = run_eval(c, tmp_path / "run", embedder=embedder, factories={"oracle": Oracle}, progress=False)
    got = {(r["pipeline"], r["gold"]): r for r in rows(tmp_path / "run")}
    assert got[("oracle", "Oslo")]["f1"] == 1.0 and got[("oracle", "Oslo")]["judge"] == 1.0
    assert got[("oracle", "chemistry")]["score"] == 0.0 and got[("oracle", "chemistry")]["judge"] == 0.0
    assert got[("full", "Oslo")]["f1"] == pytest.approx(2 / 3)
    assert got[("full", "Oslo")]["recall"] is None  # the full context baseline has no R@k
    assert all(r["qa_usage"]["calls"] == 2 for r in got.values())
    qa = summary["pipelines"]
    assert qa["oracle"]["qa"]["score"] == 0.5 and qa["oracle"]["qa"]["judge"] == 0.5
    assert qa["full"]["qa"]["score"] == pytest.approx((2 / 3 + 1) / 2) and qa["full"]["qa"]["judge"] == 1.0
    assert qa["oracle"]["qa"]["per_question"]["calls"] == 2
    first_prompt = lm.history[0]["messages"][-1]["content"]
    assert "[1:00 pm on 5 March, 2024] Cara: I moved to Oslo" in first_prompt  # oracle's top turn, dated


def test_category_5_and_the_context_budget(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    c = cfg(pipelines=["oracle"], qa=True, conversations=["tiny-1"], categories=[5], context_budget=200, qa_k=1)
    c.baselines = True
    lm = DummyLM([answer("Not mentioned in the conversation"), verdict(True)], adapter=dspy.JSONAdapter())
    with dspy.context(lm=lm):
        summary = run_eval(c, tmp_path / "run", embedder=embedder, factories={"oracle": Oracle}, progress=False)
    got = {r["pipeline"]: r for r in rows(tmp_path / "run")}
    assert got["oracle"]["score"] == 1.0 and got["oracle"]["f1"] is None
    assert "Not mentioned in the conversation" in lm.history[1]["messages"][-1]["content"]  # the judge's gold
    assert "over the budget" in got["full"]["qa_skipped"] and "answer" not in got["full"]
    assert summary["pipelines"]["full"]["qa"]["skipped"] == 1 and summary["pipelines"]["full"]["qa"]["answered"] == 0
    assert len(lm.history) == 2  # nothing was asked for the skipped question, nor for the R@k-only baselines
    assert got["rrf"]["recall"] is not None and "answer" not in got["rrf"]


def test_parallel_qa_counts_each_questions_calls(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    script: dict[str, dict[str, Any]] = {}
    for key in ("puppy", "instrument", "composer"):
        script[f"ANS-{key}"] = verdict(key != "composer")  # judge prompts contain the answer
    script |= {"Ann's puppy": answer("ANS-puppy Biscuit"), "Ben learning": answer("ANS-instrument cello")}
    script["composer"] = answer("ANS-composer Mozart")
    results = {}
    for workers in (1, 3):
        c = cfg(pipelines=["oracle"], qa=True, conversations=["tiny-1"], categories=[4], workers=workers)
        with dspy.context(lm=DummyLM(script, adapter=dspy.JSONAdapter())):
            run_eval(c, tmp_path / f"w{workers}", embedder=embedder, factories={"oracle": Oracle}, progress=False)
        results[workers] = [
            (r["pipeline"], r["qid"], r["f1"], r["judge"], r["qa_usage"]["calls"])
            for r in rows(tmp_path / f"w{workers}")
        ]
    assert results[1] == results[3]
    assert [r[3] for r in results[3]] == [1.0, 1.0, 0.0] * 2 and {r[4] for r in results[3]} == {2}


def test_semantic_pipeline_maps_memories_to_source_turns(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    # Extract answers keyed by a phrase of each session; session 10's fact is near session 2's memory (the
    # recital), so it is reconciled with it (and added), keyed by the numbered new fact.
    script = {
        "1. Ben played Bach at his recital.": {"decisions": [{"fact": 1, "action": "add", "id": None}]},
        "golden retriever puppy": {"facts": ["Ann adopted a golden retriever puppy named Biscuit."]},
        "ready for my first recital": {"facts": ["Ben has a cello recital next month."]},
        "I played Bach": {"facts": ["Ben played Bach at his recital."]},
    }
    lm = DummyLM(script, adapter=dspy.JSONAdapter())
    c = cfg(pipelines=["semantic"], conversations=["tiny-1"], ks=[1, 25])
    with dspy.context(lm=lm):
        summary = run_eval(c, tmp_path / "run", embedder=embedder, progress=False)
    assert "10:00 am on 1 May, 2023" in lm.history[0]["messages"][-1]["content"]  # the session date reached the LM
    assert "Ben: My cello teacher" not in lm.history[0]["messages"][-1]["content"]  # fed session by session
    assert "Ben: My cello teacher" in lm.history[1]["messages"][-1]["content"]
    sem = summary["pipelines"]["semantic"]
    # One extract call per session; one reconcile call, for the only fact with a stored neighbour.
    assert sem["ingest"]["calls"] == 3 + 1 and sem["ingest"]["memories"] == {"tiny-1": 3}
    assert "m1: Ben has a cello recital next month." in lm.history[-1]["messages"][-1]["content"]
    assert sem["turns_at_k"]["25"] == 3  # each memory points at the one turn that supports it
    for r in rows(tmp_path / "run"):
        assert {tuple(ids) for ids in r["retrieved"]} == {("D1:1",), ("D10:2",), ("D2:1",)}
    assert sem["recall"]["25"] == pytest.approx(4 / 7)  # D1:1, D2:1, D10:2 cover 4 of the 7 scored questions


def test_import_path_pipelines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: MiniLMEmbedder) -> None:
    (tmp_path / "evalplug.py").write_text(
        "class Pipe:\n"
        "    name = 'plug'\n"
        "    def __init__(self, ctx):\n"
        "        self.first = ctx.conversation.turns[0].dia_id\n"
        "    def ingest(self, conversation):\n"
        "        pass\n"
        "    def retrieve(self, question, k):\n"
        "        return [{'text': 'a memory', 'provenance': {'message_ids': [self.first]}}]\n"
        "def make():\n"
        "    return Pipe.__new__(Pipe)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    name, factory = load_pipeline("evalplug:Pipe")
    assert name == "plug" and load_pipeline("evalplug:make")[0] == "make"
    conv = load_locomo(TINY)[1]
    pipe = factory(PipelineContext(tmp_path, conv, embedder))
    assert as_hit(pipe.retrieve("q", 5)[0]) == Hit(("D1:1",), "a memory")
    with pytest.raises(ValueError, match="unknown pipeline"):
        load_pipeline("nope")
    summary = run_eval(cfg(pipelines=["evalplug:Pipe"], conversations=["tiny-2"]), tmp_path / "r", embedder=embedder)
    assert summary["pipelines"]["plug"]["recall"]["1"] == 0.5  # D1:1 is the evidence of one of the two questions
    with pytest.raises(TypeError):
        as_hit(3.5)
