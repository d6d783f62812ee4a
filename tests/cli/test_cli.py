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


def _ins(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    return {"operations": [{"action": "insert", "kind": kind, "content": content, "importance": 0.8}]}


def _scripted() -> DummyLM:
    # Keys are substrings of each prompt; the first that matches answers. Later conversations come first
    # because a prompt also shows the memories stored from earlier ones.
    triple = {"subject": "Alice", "predicate": "manages", "object": "ML team", "context": None}
    return DummyLM(
        {
            "bullet points": _ins("Memory", {"content": "Priya wants answers in short bullet points."}),
            "Lisbon half marathon": _ins("Memory", {"content": "Priya trains for the Lisbon half marathon."}),
            "beagle puppy": _ins("Memory", {"content": "Priya has a beagle puppy called Biscuit."}),
            "Alice manages the ML team": _ins("Triple", triple),
            "Bob now leads": {"operations": [{"action": "none", "kind": "Triple"}]},
            "Alice left": {"operations": [{"action": "none", "kind": "Triple"}]},
            "I'm Alice from California": {
                "operations": [
                    {"action": "update", "id": "userprofile", "kind": "UserProfile", "content": {"name": "Alice"}}
                ]
            },
            "N1 exam": {
                "operations": [
                    {
                        "action": "update",
                        "id": "userprofile",
                        "kind": "UserProfile",
                        "content": {"language": "Japanese"},
                    }
                ]
            },
            "allergic to peanuts": _ins("Memory", {"content": "Kai is allergic to peanuts."}),
        },
        adapter=dspy.JSONAdapter(),
    )


def test_demo_runs_every_scripted_part(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert set(load_demo_data()) >= {"semantic", "triples", "profile", "tools", "background"}
    with dspy.context(lm=_scripted()):
        usage = run_demo(tmp_path / "demo", parts=["semantic", "triples", "profile", "background"])
    out = capsys.readouterr().out
    assert "Priya has a beagle puppy called Biscuit." in out
    assert "search 'What pet does the user have?': Priya has a beagle puppy" in out
    assert "Alice manages ML team" in out
    assert "cancelled by debounce: 1" in out
    assert usage.calls == 3 + 3 + 2 + 1  # the debounced background thread ran once
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
