"""A compiled copy keeps its LM, and the local LM's managers load the shipped program only where it fits."""

from __future__ import annotations

from pathlib import Path

import dspy
import pytest
from dspy.utils import DummyLM

from memspy.pipelines import Triple, create_memory_manager
from memspy.pipelines.semantic import programs
from memspy.pipelines.semantic.programs import load_program, shipped_program


def _lm(*answers: dict) -> DummyLM:
    return DummyLM(list(answers), adapter=dspy.JSONAdapter())


def test_labeled_few_shot_copy_still_runs_on_the_managers_own_lm() -> None:
    manager = create_memory_manager(_lm({"facts": ["The user likes tea."]}))
    demo = dspy.Example(conversation="user: I like tea.", memory_kinds="", corrections="", facts=["I like tea."])
    compiled = dspy.LabeledFewShot(k=1).compile(manager, trainset=[demo.with_inputs("conversation")])
    assert compiled.extract.lm is None  # DSPy's reset_copy() cleared the predictor's LM ...
    assert dspy.settings.lm is None
    memories = compiled.invoke({"messages": [{"role": "user", "content": "I like tea."}]})  # ... yet it runs
    assert [m.content.content for m in memories] == ["The user likes tea."]  # type: ignore[attr-defined]
    assert len(compiled.extract.demos) == 1


class _LocalEngine:  # is_local_lm() only looks at the engine's type
    pass


def test_shipped_program_fits_only_the_local_facts_manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    saved = create_memory_manager()  # no LM of its own: a shipped program carries demos, never an LM
    saved.extract.demos = [dspy.Example(conversation="user: hi", facts=["x"])]
    folder = tmp_path / "_programs"
    folder.mkdir()
    saved.save(str(folder / programs.SHIPPED_PROGRAM))
    monkeypatch.setattr(programs, "files", lambda _pkg: tmp_path)
    monkeypatch.setattr(programs, "is_local_lm", lambda lm: lm is not None and getattr(lm, "local", False))
    local = _lm()
    local.local = True  # type: ignore[attr-defined]
    assert shipped_program(create_memory_manager(_lm())) is None  # not the local LM
    assert shipped_program(create_memory_manager(local, schemas=[Triple])) is None  # another kind
    assert shipped_program(create_memory_manager(local, design="single")) is None
    fits = create_memory_manager(local, compiled=False)
    assert fits.extract.demos == []  # compiled=False keeps it uncompiled
    assert shipped_program(fits) == folder / programs.SHIPPED_PROGRAM
    load_program(fits)
    assert len(fits.extract.demos) == 1
    assert len(create_memory_manager(local).extract.demos) == 1  # loaded by default
