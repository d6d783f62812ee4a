"""The demo's tools part end to end with a scripted LM: the agent saves, searches, answers, and the checks judge it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dspy
import pytest
from dspy.utils.dummies import DummyLM

from memspy.cli.demo import run_demo

__all__: list[str] = []


def _script(recall_answer: str) -> list[dict[str, Any]]:
    """ReAct's steps for the two threads: save then finish, search then finish, each closed by the answer."""
    saved = "The user prefers dark mode in every app."
    return [
        {"next_thought": "Save it.", "next_tool_name": "manage_memory", "next_tool_args": {"content": saved}},
        {"next_thought": "Saved.", "next_tool_name": "finish", "next_tool_args": {}},
        {"reasoning": "It is saved.", "answer": "Saved: you prefer dark mode in every app."},
        {"next_thought": "Look it up.", "next_tool_name": "search_memory", "next_tool_args": {"query": "display mode"}},
        {"next_thought": "Found it.", "next_tool_name": "finish", "next_tool_args": {}},
        {"reasoning": "The memory says dark mode.", "answer": recall_answer},
    ]


@pytest.mark.parametrize(("answer", "passed"), [("You prefer dark mode.", 2), ("I am not sure.", 1)])
def test_the_tools_part_saves_searches_and_checks_the_answer(tmp_path: Path, answer: str, passed: int) -> None:
    lm = DummyLM(_script(answer))
    with dspy.context(lm=lm):
        report = run_demo(tmp_path / "demo", parts=["tools"])
    checks = {c.what: c for c in report.checks}
    saved = checks["the agent stored a memory that mentions ['dark']"]
    assert saved.ok and "dark mode" in saved.detail
    assert checks["the agent's answer mentions ['dark']"].detail == answer
    assert sum(c.ok for c in report.checks) == passed
    assert report.usage.calls == 6
    searched = str(lm.history[4]["messages"])
    assert "search_memory" in searched and "dark mode in every app" in searched
