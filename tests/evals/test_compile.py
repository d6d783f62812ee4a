"""Compiling the memory manager on labeled data: examples, evaluation, bootstrap save/reload, the CLIs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM

from memspy.cli.optimize import main as optimize_main
from memspy.cli.tune import main as tune_main
from memspy.evals.compile import build_pipeline, compile_program, evaluate_program, make_examples, make_metric
from memspy.evals.labeled import LabeledRecord, load_labeled
from memspy.evals.metrics_memory import TextMatcher
from memspy.pipelines import create_memory_manager
from memspy.stores import MiniLMEmbedder


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}, {"role": "assistant", "content": "Noted."}]


def ins(text: str) -> dict[str, Any]:
    return {"action": "insert", "content": text}


ROWS = [
    {"task": "extract", "id": "dark", "split": "train", "messages": user("I always use dark mode."),
     "expected": [ins("The user always uses dark mode.")]},
    {"task": "extract", "id": "veg", "split": "train", "messages": user("I'm vegetarian."),
     "expected": [ins("The user is vegetarian.")]},
    {"task": "extract", "id": "move", "split": "train", "messages": user("I moved to Lyon."),
     "existing": [{"id": "m1", "content": "The user lives in Paris."}],
     "expected": [{"action": "update", "id": "m1", "content": "The user lives in Lyon."}]},
    {"task": "extract", "id": "hi", "split": "train", "messages": user("Hi there!"), "expected": []},
    {"task": "extract", "id": "jazz", "split": "dev", "messages": user("I mostly listen to jazz."),
     "expected": [ins("The user mostly listens to jazz.")]},
    {"task": "extract", "id": "trip", "split": "dev", "messages": user("We cancelled the Tokyo trip."),
     "existing": [{"id": "t1", "content": "The user is going to Tokyo."}],
     "expected": [{"action": "delete", "id": "t1"}]},
]  # fmt: skip


def facts(*texts: str) -> dict[str, Any]:
    return {"facts": list(texts)}


def decide(action: str, mid: str | None = None) -> dict[str, Any]:
    return {"decisions": [{"fact": 1, "action": action, "id": mid}]}


# Extract answers are keyed by a phrase of each conversation, reconcile answers by the stored memory they are
# shown (as m1); the "veg" and "trip" answers are wrong (the trip should delete t1).
ANSWERS = {
    "m1: The user lives in Paris.": decide("update", "m1"),
    "m1: The user is going to Tokyo.": decide("add"),
    "always use dark mode": facts("The user always uses dark mode."),
    "vegetarian": facts("The user likes football."),
    "moved to Lyon": facts("The user lives in Lyon."),
    "Hi there": facts(),
    "listen to jazz": facts("The user mostly listens to jazz."),
    "Tokyo trip": facts("The user cancelled a trip."),
}


def dummy() -> DummyLM:
    return DummyLM(ANSWERS, adapter=dspy.JSONAdapter())


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "labeled.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    return path


def records(path: Path, split: str) -> list[LabeledRecord]:
    return load_labeled(path, task="extract", split=split)


def test_examples_carry_the_predictor_fields_as_labels(data: Path) -> None:
    manager = build_pipeline("extract")
    dark, _veg, move, hi = make_examples("extract", records(data, "train"), manager)
    assert set(move.inputs().keys()) == {"messages", "existing"}
    assert move.conversation == "user: I moved to Lyon."  # as the extract step is shown it: no assistant line
    assert "Memory" in move.memory_kinds and move.corrections == ""
    assert move.facts == ["The user lives in Lyon."] and dark.facts == ["The user always uses dark mode."]
    assert hi.facts == []
    trip = make_examples("extract", records(data, "dev"), manager)[1]
    assert trip.get("facts") is None  # the fact behind a delete is not labeled: scored, never a demo
    manager = build_pipeline("extract", design="single")
    move = make_examples("extract", records(data, "train"), manager)[2]
    assert '"id": "m1"' in move.existing_memories and "I moved to Lyon" in move.conversation
    assert move.operations == [
        {
            "action": "update",
            "id": "m1",
            "kind": "Memory",
            "content": {"content": "The user lives in Lyon."},
            "importance": 0.5,
        }
    ]
    hi = make_examples("extract", records(data, "train"), manager)[3]
    assert [o["action"] for o in hi.operations] == ["none"]
    with pytest.raises(ValueError, match="no compilable pipeline"):
        build_pipeline("procedural")


def test_evaluate_scores_the_dev_set(data: Path, embedder: MiniLMEmbedder) -> None:
    manager = build_pipeline("extract")
    dev = make_examples("extract", records(data, "dev"), manager)
    with dspy.context(lm=dummy()):
        assert evaluate_program(manager, dev, make_metric("extract", TextMatcher(embedder))) == pytest.approx(0.5)


def test_bootstrap_compiles_saves_and_reloads_with_its_demos(
    data: Path, tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    manager = build_pipeline("extract")
    train = make_examples("extract", records(data, "train"), manager)
    metric = make_metric("extract", TextMatcher(embedder))
    with dspy.context(lm=dummy()):
        compiled = compile_program(manager, train, optimizer="bootstrap", metric=metric, max_demos=3)
    demos = compiled.extract.demos
    # The wrong "vegetarian" trace failed the metric, so the three passing traces are the demos.
    assert sorted(d["conversation"].split(": ")[1].split("\n")[0] for d in demos) == [
        "Hi there!", "I always use dark mode.", "I moved to Lyon.",
    ]  # fmt: skip
    assert all(d.get("augmented") for d in demos) and manager.extract.demos == []
    path = tmp_path / "compiled.json"
    compiled.save(str(path))
    loaded = create_memory_manager(program=path, enable_deletes=True)
    assert [d["conversation"] for d in loaded.extract.demos] == [d["conversation"] for d in demos]
    move = next(d for d in loaded.extract.demos if "Lyon" in d["conversation"])
    assert move["facts"] == ["The user lives in Lyon."]
    # The move trace also reconciled its fact with the stored memory: a reconcile demo.
    reconciled = [d for d in loaded.reconcile.demos if d.get("augmented")]
    assert len(reconciled) == 1 and "m1: The user lives in Paris." in reconciled[0]["existing_memories"]
    assert [(d["action"], d["id"]) for d in reconciled[0]["decisions"]] == [("update", "m1")]
    lm = dummy()
    with dspy.context(lm=lm):
        pred = loaded(messages=user("I mostly listen to jazz."))
    assert [m.content.model_dump() for m in pred.memories] == [{"content": "The user mostly listens to jazz."}]
    sent = " ".join(str(m["content"]) for m in lm.history[-1]["messages"])
    assert "I always use dark mode." in sent and "I moved to Lyon." in sent  # the demos reach the LM


def test_optimize_cli_reports_scores_and_saves(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out" / "compiled.json"
    with dspy.context(lm=dummy()):
        code = optimize_main(["extract", "--train", str(data), "--optimizer", "bootstrap", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "4 train, 2 dev" in text
    assert "dev score before: 0.500" in text and "dev score after:  0.500" in text
    assert len(create_memory_manager(program=out, enable_deletes=True).extract.demos) == 3


def test_optimize_cli_can_turn_dspys_cache_off_and_reports_its_lm_calls(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, bool]] = []
    monkeypatch.setattr(dspy, "configure_cache", lambda **kw: seen.append(kw))  # global: keep other tests' cache
    out = tmp_path / "compiled.json"
    with dspy.context(lm=dummy()):
        code = optimize_main(
            ["extract", "--train", str(data), "--optimizer", "labeled", "--no-cache", "--out", str(out)]
        )
    text = capsys.readouterr().out
    assert code == 0 and seen == [{"enable_disk_cache": False, "enable_memory_cache": False}]
    assert "LM calls" in text.split("saved", 1)[1] and "served from DSPy's cache" not in text


def test_optimize_cli_rejects_invalid_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**ROWS[0], "expected": [{"action": "upsert"}]}) + "\n")
    with dspy.context(lm=dummy()):
        code = optimize_main(["extract", "--train", str(bad), "--dev", str(bad), "--out", str(tmp_path / "x.json")])
    assert code == 2 and "line 1, field 'expected[0].action'" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_tune_runs_an_optuna_study_and_saves_trials(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "tune.json"
    with dspy.context(lm=dummy()):
        code = tune_main(
            ["--data", str(data), "--split", "train", "--trials", "3", "--out", str(out), "--distractors", "2"]
        )
    results = json.loads(out.read_text())
    assert code == 0 and len(results["trials"]) == 3 and results["examples"] == 4
    values = [t["value"] for t in results["trials"]]
    assert results["best_value"] == max(values) and all(0.0 <= v <= 1.0 for v in values)
    assert max(values) >= 0.75  # three of the four canned answers are right whenever the target is retrieved
    cfg = results["best_config"]
    assert 1 <= cfg["query_limit"] <= 10 and 1 <= cfg["max_steps"] <= 3
    assert set(cfg["weights"]) == {"relevance", "importance", "recency", "frequency"}
    assert all(t["lm_calls"] >= 4 for t in results["trials"])


# The optimizers' own proposal steps, answered by output field; the manager's answers follow by conversation.
PROPOSALS = {
    "`new_instruction`": {"new_instruction": "Keep one memory per lasting fact; answer none for small talk."},
    "`proposed_instruction`": {"proposed_instruction": "Extract lasting facts about the user as memories."},
    "`program_description`": {"program_description": "It turns chats into memory operations."},
    "`module_description`": {"module_description": "It extracts memories."},
    "`summary`": {"summary": "Short chats about a user."},
    "`observations`": {"observations": "COMPLETE"},
}


def test_mipro_searches_instruction_and_demo_candidates(data: Path, embedder: MiniLMEmbedder) -> None:
    manager = build_pipeline("extract")
    train = make_examples("extract", records(data, "train"), manager)
    lm = DummyLM({**PROPOSALS, **ANSWERS}, adapter=dspy.JSONAdapter())
    metric = make_metric("extract", TextMatcher(embedder))
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        compiled = compile_program(manager, train, optimizer="mipro", metric=metric, trials=2, reflection_lm=lm)
    assert len(compiled.trial_logs) >= 2 and compiled.score == pytest.approx(75.0)  # optuna-driven trials ran
    instructions = {c["program"].extract.signature.instructions for c in compiled.candidate_programs}
    assert "Extract lasting facts about the user as memories." in instructions


def test_gepa_reflects_on_the_metric_feedback(data: Path, embedder: MiniLMEmbedder) -> None:
    manager = build_pipeline("extract")
    train = make_examples("extract", records(data, "train"), manager)
    lm, reflection = dummy(), DummyLM(PROPOSALS, adapter=dspy.JSONAdapter())
    metric = make_metric("extract", TextMatcher(embedder))
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        compile_program(manager, train, optimizer="gepa", metric=metric, trials=2, reflection_lm=reflection)
    asked = " ".join(str(m["content"]) for h in reflection.history for m in h["messages"])
    assert (
        "Missed: insert 'The user is vegetarian.'" in asked
        and "Not expected: insert 'The user likes football.'" in asked
    )


def test_optimize_cli_pass_mark_lets_a_partly_right_trace_become_a_demo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The canned answer lists one of the two labeled facts: F1 0.67, a demo only below a pass mark of 1.
    two = {**ROWS[0], "id": "two", "messages": user("I always use dark mode and I am vegetarian."),
           "expected": [ins("The user always uses dark mode."), ins("The user is vegetarian.")]}  # fmt: skip
    path = tmp_path / "two.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (two, ROWS[4])) + "\n")
    bootstrapped = {}
    for mark in ("1", "0.6"):
        out = tmp_path / f"c{mark}.json"
        args = ["extract", "--train", str(path), "--optimizer", "bootstrap", "--max-demos", "1", "--out", str(out)]
        with dspy.context(lm=dummy()):
            assert optimize_main([*args, "--pass-mark", mark]) == 0
        demos = create_memory_manager(program=out, enable_deletes=True).extract.demos
        bootstrapped[mark] = [bool(d.get("augmented")) for d in demos]
    assert bootstrapped == {"1": [False], "0.6": [True]}  # a labeled demo tops up where no trace passed


@pytest.mark.parametrize(
    ("extra", "error"),
    [(["--pass-mark", "0"], "--pass-mark must be in (0, 1]"), (["--dataset", "semantic_sessions"], "not both")],
)
def test_optimize_cli_rejects_a_bad_pass_mark_or_two_sources(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], error: str
) -> None:
    out = tmp_path / "x.json"
    with dspy.context(lm=dummy()):
        code = optimize_main(["extract", "--train", str(data), *extra, "--out", str(out)])
    assert code == 2 and error in capsys.readouterr().err and not out.exists()


def test_optimize_cli_compiles_on_a_bundled_set_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sessions.json"
    with dspy.context(lm=dummy()):  # no canned answer fits these chats: scored 0, labeled demos need no LM
        code = optimize_main(
            ["extract", "--dataset", "semantic_sessions", "--optimizer", "labeled", "--max-demos", "1",
             "--limit", "1", "--out", str(out)]
        )  # fmt: skip
    assert code == 0 and "1 train, 1 dev" in capsys.readouterr().out
    (demo,) = create_memory_manager(program=out).extract.demos
    assert "[session date:" in demo["conversation"] and len(demo["facts"]) >= 7
