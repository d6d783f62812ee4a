"""The demo and the CLI run end to end on a real EdgeStore with a scripted LM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM

from memspy.cli.demo import load_demo_data, run_demo
from memspy.cli.main import main
from memspy.stores import EdgeStore


def _facts(*facts: Any) -> dict[str, Any]:
    return {"facts": list(facts)}


def _add(fact: int = 1) -> dict[str, Any]:
    return {"decisions": [{"fact": fact, "action": "add", "id": None}]}


def _scripted() -> DummyLM:
    # Keys are substrings of each prompt; the first that matches answers. An extract prompt shows one
    # conversation; a reconcile prompt shows the numbered new facts and their stored neighbours, so the
    # reconcile keys (a numbered fact) come first.
    return DummyLM(
        {
            # t3's fact is near both stored memories (cosine >= 0.45): it is reconciled, and added.
            "1. Priya wants answers in short bullet points.": _add(),
            # Bob's fact is near "Alice manages ML team" (shown as m1), which it replaces.
            "1. Bob leads ML team": {"decisions": [{"fact": 1, "action": "update", "id": "m1"}]},
            "bullet points": _facts("Priya wants answers in short bullet points."),
            "Lisbon half marathon": _facts("Priya trains for the Lisbon half marathon."),
            "beagle puppy": _facts("Priya has a beagle puppy called Biscuit."),
            "Alice manages the ML team": _facts(_triple("Alice", "manages", "ML team")),
            "Bob now leads": _facts(_triple("Bob", "leads", "ML team")),
            "Alice left": _facts(),
            "I'm Alice from California": {"facts": {"name": "Alice", "location": "California"}},
            "N1 exam": {"facts": {"name": "user", "language": "Japanese"}},  # a profile is one object
            "allergic to peanuts": _facts("Kai is allergic to peanuts."),
        },
        adapter=dspy.JSONAdapter(),
    )


def _triple(s: str, p: str, o: str) -> dict[str, Any]:
    return {"subject": s, "predicate": p, "object": o, "context": None}


def test_demo_runs_every_scripted_part(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert set(load_demo_data()) >= {"semantic", "triples", "profile", "tools", "background"}
    with dspy.context(lm=_scripted()):
        usage = run_demo(tmp_path / "demo", parts=["semantic", "triples", "profile", "background"]).usage
    out = capsys.readouterr().out
    assert "Priya has a beagle puppy called Biscuit." in out
    assert "search 'What pet does the user have?': Priya has a beagle puppy" in out
    assert "Alice manages ML team" in out
    assert "cancelled by debounce: 1" in out
    assert "conversation 2: 'Bob now leads the ML team and the NLP project.' -> update" in out
    assert "Bob leads ML team" in out
    # One extract call per conversation (3 semantic, 3 triples, 2 profile, 1 for the debounced background
    # thread), and a reconcile call only where a new fact had stored neighbours (t3's, Bob's); profiles merge
    # in code.
    assert usage.calls == 3 + 3 + 2 + 1 + 2
    assert usage.as_dict()["by_step"]["reconcile"]["calls"] == 2
    with EdgeStore(tmp_path / "demo") as store:
        profile = store.search(("demo", "users", "alice", "profile"))
        assert [p.value["content"]["language"] for p in profile] == ["Japanese"]
        assert len(store.search(("demo", "memories", "priya"))) == 3


def test_demo_rejects_unknown_part(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown demo part"):
        run_demo(tmp_path / "d", parts=["nope"])


def test_doctor_reports_each_component(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["doctor", "--lm", "local", "--path", str(tmp_path / "store")])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["LM", "embedder", "store"]
    assert "BAD" in lines[0] and "make local" in lines[0]  # no model under the test's MEMSPY_HOME
    assert lines[1].split()[1] == "ok" and lines[2].split()[1] == "ok"
    assert code == 1


def test_warm_has_nothing_to_do_for_a_model_without_a_prefix_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["warm", "--lm", "openai/gpt-4o-mini"]) == 0
    assert "keeps no prompt prefixes; nothing to do" in capsys.readouterr().out


def test_every_built_in_prompt_can_be_laid_out_for_warming() -> None:
    from memspy.cli.warm import builtin_programs
    from memspy.pipelines.runtime.llama_warm import PLACEHOLDER, prompt_messages

    predictors = [p for program in builtin_programs(DummyLM([])) for _, p in program.named_predictors()]
    prompts = {tuple(m["content"] for m in prompt_messages(p, dspy.JSONAdapter())) for p in predictors}
    assert len(predictors) >= 8 and len(prompts) >= 6
    assert all(PLACEHOLDER in prompt[-1] and PLACEHOLDER not in prompt[0] for prompt in prompts)
