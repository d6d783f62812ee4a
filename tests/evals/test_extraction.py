"""The extraction benchmark over real EdgeStores: matching, the counts, the raw baseline, outdated facts, cost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM

from memspy.evals.extraction import evaluate_extraction, main
from memspy.evals.extraction_cases import ExtractionCase, GoldFact
from memspy.evals.extraction_match import FactJudge, FactMatcher, mentioned_people, normalize_person
from memspy.evals.extraction_pipelines import NAMESPACE, raw_turns, resolve_pipeline, store_manager_pipeline
from memspy.pipelines import Usage, create_memory_manager
from memspy.stores import BaseStore, MiniLMEmbedder

ACTIVE = {"invalid_at": {"$exists": False}}


@pytest.fixture
def matcher(embedder: MiniLMEmbedder) -> FactMatcher:
    return FactMatcher(embedder)


def session() -> ExtractionCase:
    msgs = [
        {"role": "system", "content": "[session date: 8 May, 2023]", "id": "S1"},
        {"role": "user", "name": "Maya", "content": "I adopted a kitten called Pixel last week!", "id": "D1:1"},
        {"role": "user", "name": "Leo", "content": "Cute! I started pottery classes on Tuesdays.", "id": "D1:2"},
        {"role": "user", "name": "Maya", "content": "I'm also training for the Lisbon half marathon.", "id": "D1:3"},
        {"role": "user", "name": "Leo", "content": "Good luck with that!", "id": "D1:4"},
    ]
    facts = (
        GoldFact("Maya adopted a kitten named Pixel.", ("D1:1",), "Maya"),
        GoldFact("Leo takes pottery classes on Tuesdays.", ("D1:2",), "Leo"),
        GoldFact("Maya is training for the Lisbon half marathon.", ("D1:3",), "Maya"),
    )
    return ExtractionCase("conv/s1", "locomo", "dev", "session", msgs, facts, speakers=("Maya", "Leo"))


def update_case() -> ExtractionCase:
    msgs = [{"role": "user", "name": "Sam", "content": "Big news: I moved from Paris to Lyon last month."}]
    existing = (
        {"id": "m1", "kind": "Memory", "content": "Sam lives in Paris.", "importance": 0.6},
        {"id": "m2", "kind": "Memory", "content": "Sam has a beagle named Biscuit.", "importance": 0.5},
    )
    facts = (GoldFact("Sam lives in Lyon."),)
    return ExtractionCase("upd", "labeled", "dev", "update", msgs, facts, existing, ("m1",), ("Sam",))


def write(store: BaseStore, key: str, text: str, ids: list[str], **extra: Any) -> None:
    value = {"kind": "Memory", "content": {"content": text}, "text": text, "provenance": {"message_ids": ids}}
    store.put(NAMESPACE, key, {**value, **extra}, index=["text"])


def test_person_normalization_makes_names_user_and_first_person_read_alike(embedder: MiniLMEmbedder) -> None:
    plain, normalized = FactMatcher(embedder, normalize=False), FactMatcher(embedder)
    before = plain.similarity(["Priya is vegetarian"], ["User is vegetarian"])[0, 0]
    after = normalized.similarity(["Priya is vegetarian"], ["User is vegetarian"], ["Priya"])[0, 0]
    assert before < 0.70 <= after and after == pytest.approx(1.0)
    assert normalize_person("The user is vegetarian") == normalize_person("Priya is vegetarian", ["Priya"])
    assert normalize_person("I'm vegetarian") == normalize_person("Priya is vegetarian", ["Priya Shah"])
    assert normalize_person("Priya: my dog is called Rex", ["Priya"]) == "Alex's dog is called Rex"
    raw = "Maya: I adopted a kitten called Pixel last week!"
    assert (
        plain.similarity([raw], ["Maya adopted a kitten named Pixel."])[0, 0]
        < normalized.similarity([raw], ["Maya adopted a kitten named Pixel."], ["Maya"])[0, 0]
    )
    assert mentioned_people("Leo told Maya Chen about it", ["Maya Chen", "Leo", "Ann"]) == {"Maya Chen", "Leo"}


def test_a_memory_about_the_other_speaker_does_not_match(matcher: FactMatcher) -> None:
    names = ["Maya", "Leo"]
    ok, sims = matcher.matches(["Leo adopted a kitten named Pixel."], ["Maya adopted a kitten named Pixel."], names)
    assert sims[0, 0] >= 0.70 and not ok[0, 0]
    ok, _ = FactMatcher(matcher.embedder, speaker_check=False).matches(
        ["Leo adopted a kitten named Pixel."], ["Maya adopted a kitten named Pixel."], names
    )
    assert ok[0, 0]


def test_recall_precision_and_evidence_on_a_hand_made_case(matcher: FactMatcher) -> None:
    def scripted(messages: list[dict[str, Any]], store: BaseStore) -> None:
        write(store, "a", "The user adopted a kitten named Pixel.", ["D1:1"])  # fact 0, right evidence
        write(store, "b", "Maya is training for the Lisbon half marathon.", ["D1:4"])  # fact 2, wrong evidence
        write(store, "c", "Leo said good luck.", ["D1:4"])  # matches nothing
        write(store, "d", "Maya likes volcanoes.", ["D1:1"], invalid_at="2024-01-01")  # retired: not counted

    report = evaluate_extraction({"scripted": lambda: scripted}, [session()], matcher=matcher)
    (row,) = report.rows
    assert (row["facts"], row["facts_recalled"], row["memories"], row["memories_matched"]) == (3, 2, 3, 2)
    assert (row["evidence_facts"], row["evidence_hits"]) == (3, 1)
    assert row["details"]["missed"] == ["Leo takes pottery classes on Tuesdays."]
    (g,) = report.summary
    assert g["recall"] == pytest.approx(2 / 3) and g["precision"] == pytest.approx(2 / 3)
    assert g["evidence"] == pytest.approx(1 / 3) and g["memories_per_session"] == 3
    assert "| scripted | 0.67 | 0.67 | 0.33 |" in report.markdown


def test_the_raw_turns_baseline_stores_every_turn_with_its_id(matcher: FactMatcher) -> None:
    report = evaluate_extraction({"raw": lambda: raw_turns}, [session()], matcher=matcher)
    (row,) = report.rows
    texts = [m["text"] for m in row["details"]["memories"]]
    assert texts[0] == "Maya: I adopted a kitten called Pixel last week!" and len(texts) == 4  # no system message
    assert [m["ids"] for m in row["details"]["memories"]] == [["D1:1"], ["D1:2"], ["D1:3"], ["D1:4"]]
    assert row["facts_recalled"] == 3 and row["evidence_hits"] == 3 and row["memories_matched"] == 3
    assert row["calls"] == 0 and row["error"] is None


def test_outdated_facts_surviving_an_update_are_counted(matcher: FactMatcher) -> None:
    def nothing(messages: list[dict[str, Any]], store: BaseStore) -> None:
        pass

    def updates(messages: list[dict[str, Any]], store: BaseStore) -> None:
        write(store, "m1", "Sam lives in Lyon.", ["0"])

    def adds_only(messages: list[dict[str, Any]], store: BaseStore) -> None:
        write(store, "new", "Sam lives in Lyon.", ["0"])

    def retires(messages: list[dict[str, Any]], store: BaseStore) -> None:
        write(store, "m1", "Sam lives in Paris.", [], invalid_at="2024-01-01")
        write(store, "new", "Sam moved to Lyon.", ["0"])

    def restates(messages: list[dict[str, Any]], store: BaseStore) -> None:
        write(store, "m1", "Sam lives in Lyon.", ["0"])
        write(store, "dup", "Sam lives in Paris", ["0"])

    pipelines = {"nothing": nothing, "updates": updates, "adds_only": adds_only, "retires": retires,
                 "restates": restates}  # fmt: skip
    report = evaluate_extraction({k: (lambda f=f: f) for k, f in pipelines.items()}, [update_case()], matcher=matcher)
    kept = {r["pipeline"]: (r["outdated_kept"], r["facts_recalled"], r["memories"]) for r in report.rows}
    assert kept == {
        "nothing": (1, 0, 0),  # the untouched beagle memory is not the pipeline's output
        "updates": (0, 1, 1),
        "adds_only": (1, 1, 1),
        "retires": (0, 1, 1),
        "restates": (1, 1, 2),
    }
    assert "| nothing | 0.00 | - | - | 1/1 |" in report.markdown


def test_the_store_manager_pipeline_runs_on_the_seeded_store(matcher: FactMatcher) -> None:
    # Whatever the manager's design, an LM that never answers in its format makes it fail without writing:
    # the row keeps the error and the calls it spent, and the seeded memories stay as they were.
    lm = DummyLM([{"answer": "?"}] * 12, adapter=dspy.JSONAdapter())
    with dspy.context(lm=lm):
        report = evaluate_extraction({"semantic": store_manager_pipeline()}, [update_case()], matcher=matcher)
    (row,) = report.rows
    assert row["error"] and row["error"].startswith("MemoryExtractionError")
    assert row["calls"] >= 1 and row["calls"] == len(lm.history)
    assert (row["memories"], row["outdated_kept"], row["facts_recalled"]) == (0, 1, 0)


def test_cost_comes_from_the_usage_a_pipeline_reports(matcher: FactMatcher) -> None:
    def reporting(messages: list[dict[str, Any]], store: BaseStore) -> dspy.Prediction:
        usage = Usage()
        usage.add("extract", 2, 900, 40)
        write(store, "m1", "Sam lives in Lyon.", ["0"])
        return dspy.Prediction(usage=usage)

    def calling(messages: list[dict[str, Any]], store: BaseStore) -> None:
        dspy.Predict("conversation -> facts: list[str]")(conversation=messages[0]["content"])

    lm = DummyLM([{"facts": ["Sam lives in Lyon."]}], adapter=dspy.JSONAdapter())
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        report = evaluate_extraction({"reporting": lambda: reporting, "calling": lambda: calling}, [update_case()],
                                     matcher=matcher)  # fmt: skip
    cost = {r["pipeline"]: (r["calls"], r["prompt_tokens"], r["completion_tokens"]) for r in report.rows}
    assert cost == {"reporting": (2, 900, 40), "calling": (1, 0, 0)}  # DummyLM reports no tokens
    assert "| reporting | 1.00 | 1.00 | - | 0/1 | 1.0 | 2.00 | 940 |" in report.markdown


def test_a_failing_pipeline_is_a_row_with_its_error(matcher: FactMatcher) -> None:
    def broken(messages: list[dict[str, Any]], store: BaseStore) -> None:
        raise RuntimeError("boom")

    report = evaluate_extraction(lambda: broken, [session()], matcher=matcher)
    assert report.rows[0]["error"] == "RuntimeError: boom" and report.summary[0]["errors"] == 1
    assert report.rows[0]["pipeline"] == "pipeline" and report.summary[0]["recall"] == 0.0


def test_the_lm_judge_reports_its_own_recall(matcher: FactMatcher) -> None:
    def one(messages: list[dict[str, Any]], store: BaseStore) -> None:
        write(store, "a", "Maya got a cat.", ["D1:1"])

    lm = DummyLM([{"matching": [1]}, {"matching": []}, {"matching": [7]}], adapter=dspy.JSONAdapter())
    with dspy.context(lm=lm):
        report = evaluate_extraction({"one": lambda: one}, [session()], matcher=matcher, judge=FactJudge())
    (row,) = report.rows
    assert (row["judge_facts_recalled"], row["judge_memories_matched"], row["judge_evidence_hits"]) == (1, 1, 1)
    assert report.summary[0]["judge_recall"] == pytest.approx(1 / 3) and "judge recall" in report.markdown


def test_a_run_folder_is_written_and_resumed(tmp_path: Path, matcher: FactMatcher) -> None:
    calls: list[int] = []

    def counting(messages: list[dict[str, Any]], store: BaseStore) -> None:
        calls.append(len(messages))
        raw_turns(messages, store)

    out = tmp_path / "run"
    evaluate_extraction({"raw": lambda: counting}, [session()], matcher=matcher, out=out)
    assert calls == [5] and (out / "summary.md").read_text().startswith("### locomo")
    with pytest.raises(FileExistsError):
        evaluate_extraction({"raw": lambda: counting}, [session()], matcher=matcher, out=out)
    with open(out / "sessions.jsonl", "a") as f:
        f.write('{"pipeline": "raw", "case": "half')  # a killed run's last line
    report = evaluate_extraction({"raw": lambda: counting}, [session(), update_case()], matcher=matcher, out=out,
                                 resume=True)  # fmt: skip
    assert calls == [5, 1] and [r["case"] for r in report.rows] == ["conv/s1", "upd"]
    assert len((out / "sessions.jsonl").read_text().splitlines()) == 2
    with pytest.raises(ValueError, match="another threshold"):
        evaluate_extraction({"raw": lambda: counting}, [session()], matcher=FactMatcher(matcher.embedder,
                            threshold=0.8), out=out, resume=True)  # fmt: skip


def test_pipelines_resolve_by_name_or_import_path() -> None:
    assert resolve_pipeline("raw")[1]() is raw_turns
    name, factory = resolve_pipeline("memspy.evals.extraction_pipelines:raw_turns")
    assert name == "raw_turns" and factory() is raw_turns
    with pytest.raises(ValueError, match="unknown pipeline"):
        resolve_pipeline("nope")


def test_a_saved_program_runs_as_the_compiled_pipeline_next_to_the_uncompiled_one(
    tmp_path: Path, matcher: FactMatcher
) -> None:
    # Both pipelines run on the same case in the same run; only the compiled one shows the program's demo.
    demo = dspy.Example(conversation="MARKER-7 Ana: I have a cat.", memory_kinds="k", facts=["Ana has a cat."])
    manager = create_memory_manager()
    manager.extract.demos = [demo.with_inputs("conversation")]
    program = tmp_path / "program.json"
    manager.save(str(program))
    lm = DummyLM([{"facts": ["Sam lives in Lyon."]}] * 2, adapter=dspy.JSONAdapter())
    pipelines = dict(resolve_pipeline(n, program=program) for n in ("semantic", "compiled"))
    case = ExtractionCase("new", "labeled", "dev", "insert", update_case().messages, update_case().facts)
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        report = evaluate_extraction(pipelines, [case], matcher=matcher)
    recalled = {r["pipeline"]: (r["facts_recalled"], r["calls"], r["error"]) for r in report.rows}
    assert recalled == {"semantic": (1, 1, None), "compiled": (1, 1, None)}
    shown = ["MARKER-7" in json.dumps(entry["messages"]) for entry in lm.history]
    assert shown == [False, True]
    with pytest.raises(ValueError, match="--program PATH"):
        resolve_pipeline("compiled")
    with pytest.raises(FileNotFoundError, match="no such file"):
        resolve_pipeline("compiled", program=tmp_path / "missing.json")


def test_main_runs_the_raw_baseline_on_a_labeled_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "set.jsonl"
    insert = {"action": "insert", "content": "Ana has a cat."}
    row = {"task": "extract", "id": "pet", "split": "dev", "expected": [insert],
           "messages": [{"role": "user", "name": "Ana", "content": "I have a cat."}]}  # fmt: skip
    path.write_text(json.dumps(row) + "\n")
    out = tmp_path / "run"
    argv = ["--split", "dev", "--sources", "labeled", "--labeled", str(path), "--out", str(out), "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| raw | 1.00 | 1.00 | - | - | 1.0 |" in printed
    assert json.loads((out / "summary.json").read_text())[0]["recall"] == 1.0
    assert main([*argv[:-1], "--split", "test"]) == 2  # the folder holds a run: --resume or another --out
    assert main(["--split", "dev", "--sources", "nowhere", "--out", str(tmp_path / "x")]) == 2
