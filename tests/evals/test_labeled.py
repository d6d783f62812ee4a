"""Labeled-data loader: the three task formats, validation errors with line and field, splits, the bundled set."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from memspy.evals.labeled import LabeledDataError, bundled_dataset, load_labeled, split_records

MSGS = [{"role": "user", "content": "I moved to Lyon."}]
EXTRACT = {
    "task": "extract",
    "id": "move",
    "split": "train",
    "messages": MSGS,
    "existing": [{"id": "m1", "content": "Sam lives in Paris."}],
    "expected": [{"action": "update", "id": "m1", "content": "Sam lives in Lyon."}],
}
EPISODE = {"task": "episode", "messages": MSGS, "expected": {"observation": "user moved", "result": "noted"}}
REFLECTION = {"task": "reflection", "episodes": [{"observation": "o", "action": "a"}], "expected": ["Ask first."]}


def write(tmp_path: Path, *rows: Any) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def problems(tmp_path: Path, *rows: Any) -> LabeledDataError:
    with pytest.raises(LabeledDataError) as info:
        load_labeled(write(tmp_path, *rows))
    return info.value


def test_all_three_tasks_load_with_normalized_fields(tmp_path: Path) -> None:
    records = load_labeled(write(tmp_path, EXTRACT, "", EPISODE, REFLECTION))
    assert [(r.task, r.line) for r in records] == [("extract", 1), ("episode", 3), ("reflection", 4)]
    assert records[0].fields["expected"] == [
        {"action": "update", "id": "m1", "kind": "Memory", "content": "Sam lives in Lyon."}
    ]
    assert records[1].id == "line-3"
    ex = records[0].to_example()
    assert set(ex.inputs().keys()) == {"messages", "existing"} and ex.expected[0]["id"] == "m1"
    assert set(records[2].to_example().inputs().keys()) == {"episodes"}
    assert [r.task for r in load_labeled(write(tmp_path, EXTRACT, EPISODE), task="episode")] == ["episode"]


def test_bad_json_names_the_line(tmp_path: Path) -> None:
    err = problems(tmp_path, EXTRACT, "{not json")
    assert err.problems[0][0] == 2 and "line 2: not valid JSON" in str(err)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"expected": [{"action": "upsert", "content": "x"}]}, "expected[0].action", "must be one of"),
        ({"expected": [{"action": "update", "id": "m9", "content": "x"}]}, "expected[0].id", "'m9'"),
        ({"expected": [{"action": "insert", "id": "m1", "content": "x"}]}, "expected[0].id", "an insert has no id"),
        ({"expected": [{"action": "insert"}]}, "expected[0].content", "needs a non-empty"),
        ({"messages": []}, "messages", "non-empty list"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role", "must be one of"),
        ({"existing": [{"id": "m1", "content": "a"}, {"id": "m1", "content": "b"}]}, "existing[1].id", "used twice"),
        ({"existing": [{"id": "m1", "content": "a", "importance": 3}]}, "existing[0].importance", "0 to 1"),
        ({"expected_memories": ["x"]}, "expected", "exactly one"),
        ({"split": "test"}, "split", "'train' or 'dev'"),
        ({"task": "summarize"}, "task", "must be one of"),
    ],
)
def test_extract_errors_name_line_and_field(tmp_path: Path, change: dict[str, Any], field: str, words: str) -> None:
    err = problems(tmp_path, EPISODE, {**EXTRACT, **change})
    assert any(line == 2 and fld == field and words in msg for line, fld, msg in err.problems), err.problems
    assert f"line 2, field {field!r}" in str(err)


@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        ({**EPISODE, "expected": {"mood": "happy"}}, "expected", "unknown keys ['mood']"),
        ({**EPISODE, "expected": {"result": " "}}, "expected.result", "must be a non-empty string"),
        ({**EPISODE, "expected": {}}, "expected", "must be an object with some of"),
        ({"task": "episode", "messages": MSGS}, "expected", "is required"),
        ({**REFLECTION, "episodes": []}, "episodes", "non-empty list"),
        ({**REFLECTION, "episodes": [{"thought": "x"}]}, "episodes[0]", "unknown keys"),
        ({**REFLECTION, "expected": "Ask first."}, "expected", "must be a list of lessons"),
        ({**REFLECTION, "expected": [{"tip": "x"}]}, "expected[0]", "an object of ['title', 'use_cases', 'hints']"),
        ({**EPISODE, "expected": {"goal_achieved": "yes"}}, "expected.goal_achieved", "true or false"),
        ({**REFLECTION, "extra": 1}, "", "unknown keys ['extra']"),
    ],
)
def test_episode_and_reflection_errors(tmp_path: Path, row: dict[str, Any], field: str, words: str) -> None:
    err = problems(tmp_path, row)
    assert any(line == 1 and fld == field and words in msg for line, fld, msg in err.problems), err.problems


def test_every_problem_in_the_file_is_reported(tmp_path: Path) -> None:
    err = problems(tmp_path, {**EXTRACT, "split": "x"}, {**EXTRACT, "id": "other", "messages": 5}, {**EXTRACT})
    lines = sorted({line for line, _, _ in err.problems})
    assert lines == [1, 2, 3]  # line 3 repeats line 1's id
    assert "'move' is also the id on line 1" in str(err)


def test_expected_memories_and_null_episode_are_valid(tmp_path: Path) -> None:
    rows = [
        {"task": "extract", "messages": MSGS, "expected_memories": ["Sam lives in Lyon.", {"content": "x"}]},
        {"task": "episode", "messages": MSGS, "expected": None},
    ]
    records = load_labeled(write(tmp_path, *rows))
    assert records[0].fields["expected_memories"][0] == "Sam lives in Lyon." and records[1].fields["expected"] is None


def test_split_records_uses_marks_or_falls_back_to_a_tail(tmp_path: Path) -> None:
    marked = [{**EXTRACT, "id": str(i), "split": "dev" if i % 3 == 0 else "train"} for i in range(6)]
    train, dev = split_records(load_labeled(write(tmp_path, *marked)))
    assert [r.id for r in dev] == ["0", "3"] and len(train) == 4
    unmarked = [{k: v for k, v in {**EXTRACT, "id": str(i)}.items() if k != "split"} for i in range(10)]
    train, dev = split_records(load_labeled(write(tmp_path, *unmarked)))
    assert [r.id for r in dev] == ["7", "8", "9"] and len(train) == 7
    assert [r.id for r in load_labeled(write(tmp_path, *marked), split="dev")] == ["0", "3"]


def test_bundled_semantic_extraction_set_is_valid_and_varied() -> None:
    records = load_labeled(bundled_dataset(), task="extract")
    assert len(records) >= 30
    splits = Counter(r.split for r in records)
    assert splits["train"] >= 20 and splits["dev"] >= 10
    actions = Counter(op["action"] for r in records for op in r.fields["expected"])
    assert actions["insert"] >= 15 and actions["update"] >= 5 and actions["delete"] >= 4
    assert sum(1 for r in records if not r.fields["expected"]) >= 5  # small talk: nothing to remember
    assert sum(1 for r in records if r.fields["existing"]) >= 10
    with pytest.raises(FileNotFoundError):
        bundled_dataset("no_such_set")


def test_bundled_sessions_are_long_two_person_chats_with_dense_facts() -> None:
    records = load_labeled(bundled_dataset("semantic_sessions"), task="extract")
    assert len(records) == 30 and Counter(r.split for r in records) == {"train": 21, "dev": 9}
    ids = {r.id for r in load_labeled(bundled_dataset(), task="extract")}
    assert not ids & {r.id for r in records}  # records of their own, not copies of the short set
    pairs = set()
    for r in records:
        first, *turns = r.fields["messages"]
        assert first["role"] == "system" and first["content"].startswith("[session date: ")
        names = [m["name"] for m in turns]
        assert len(turns) >= 16 and len(set(names)) == 2 and all(a != b for a, b in itertools.pairwise(names))
        pairs.add(frozenset(names))
        facts = r.fields["expected"]
        assert 7 <= len(facts) and all(op["action"] == "insert" for op in facts)
        # Standalone, third person, most naming a speaker: the shape of the memories the extract step writes.
        assert not any(set(op["content"].lower().replace(".", " ").split()) & {"i", "me", "my", "we"} for op in facts)
        assert sum(any(n in op["content"] for n in names) for op in facts) >= 0.6 * len(facts)
    assert len(pairs) == 3
