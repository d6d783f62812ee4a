"""``memspy eval extraction``: the extraction benchmark through the memspy command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memspy.cli.main import main


def test_memspy_eval_extraction_runs_the_raw_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cat = {"action": "insert", "content": "Ana has a cat."}
    rows = [
        {"task": "extract", "id": "pet", "split": "dev", "expected": [cat],
         "messages": [{"role": "user", "name": "Ana", "content": "I have a cat."},
                      {"role": "assistant", "content": "Lovely! What is its name?"}]},
        {"task": "extract", "id": "hi", "split": "dev", "expected": [],
         "messages": [{"role": "user", "content": "Good morning!"}]},
        {"task": "extract", "id": "train-only", "split": "train", "expected": [],
         "messages": [{"role": "user", "content": "Hello."}]},
    ]  # fmt: skip
    data = tmp_path / "set.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "run"
    argv = ["eval", "extraction", "--sources", "labeled", "--labeled", str(data), "--out", str(out), "--quiet"]
    assert main(argv) == 0
    assert "| raw | 1.00 | 0.33 | - | - | 1.5 | 0.00 | 0 |" in capsys.readouterr().out  # 1 of 3 turns is the fact
    sessions = [json.loads(line) for line in (out / "sessions.jsonl").read_text().splitlines()]
    assert [(r["pipeline"], r["case"]) for r in sessions] == [("raw", "pet"), ("raw", "hi")]  # dev split only
    assert main([*argv, "--resume"]) == 0  # nothing left to run
    assert len((out / "sessions.jsonl").read_text().splitlines()) == 2
    with pytest.raises(SystemExit) as bad:
        main(["eval", "extraction", "--split", "holdout"])
    assert bad.value.code == 2


def test_the_compiled_pipeline_names_the_program_it_needs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["eval", "extraction", "--sources", "labeled", "--lm", "openai/gpt-4o-mini", "--out", str(tmp_path / "r")]
    assert main([*base, "--pipelines", "compiled"]) == 2
    assert "needs a saved program: pass --program PATH" in capsys.readouterr().err
    assert main([*base, "--program", str(tmp_path / "missing.json")]) == 2  # --program adds 'compiled'
    assert "missing.json: no such file" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # nothing ran
