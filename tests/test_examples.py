"""The examples that need no LM run as written."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_store_quickstart_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["store_quickstart.py", str(tmp_path / "store")])
    runpy.run_path(str(EXAMPLES / "store_quickstart.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "'what does Priya eat?'" in out and "Priya is vegetarian" in out.splitlines()[0]
    assert "importance >= 0.7: ['diet']" in out


def test_compile_memory_manager_compiles_saves_and_loads_without_an_lm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "compiled.json"
    monkeypatch.setattr(sys, "argv", ["compile_memory_manager.py", str(out), "--compile-only"])
    runpy.run_path(str(EXAMPLES / "compile_memory_manager.py"), run_name="__main__")
    assert out.is_file() and "as the extract step's demos" in capsys.readouterr().out
    assert '"long-' in out.read_text()  # the demos are the bundled long sessions


@pytest.mark.parametrize("name", ["semantic_memory.py", "hot_path_agent.py", "compile_memory_manager.py"])
def test_lm_examples_compile(name: str) -> None:
    compile((EXAMPLES / name).read_text(), name, "exec")
