"""Extraction cases: LoCoMo sessions with gold facts and evidence, labeled records, and the honest split."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from memspy.evals.extraction_cases import case_kind, labeled_cases, locomo_cases, split_cases
from memspy.evals.labeled import bundled_dataset, load_labeled


def sample(sid: str, a: str, b: str) -> dict[str, Any]:
    turns1 = [
        {"speaker": a, "dia_id": "D1:1", "text": "I adopted a kitten called Pixel last week!"},
        {"speaker": b, "dia_id": "D1:2", "text": "Aww! I started pottery classes.", "blip_caption": "a clay bowl"},
        {"speaker": a, "dia_id": "D1:3", "text": "Nice, send pictures."},
    ]
    turns2 = [{"speaker": b, "dia_id": "D2:1", "text": "My pottery teacher is moving away."}]
    return {
        "sample_id": sid,
        "conversation": {
            "speaker_a": a,
            "speaker_b": b,
            "session_1_date_time": "1:00 pm on 8 May, 2023",
            "session_1": turns1,
            "session_2_date_time": "2:00 pm on 20 May, 2023",
            "session_2": turns2,
            "session_3_date_time": "3:00 pm on 1 June, 2023",
            "session_3": [],
        },
        "observation": {
            "session_1_observation": {
                a: [[f"{a} adopted a kitten named Pixel.", "D1:1"]],
                b: [[f"{b} started pottery classes.", "D1:2; D9:9"]],
            },
            "session_2_observation": {b: [[f"{b}'s pottery teacher is moving away.", ["D2:1"]]]},
            "session_3_observation": {a: [["Nothing here.", "D3:1"]]},  # a session without turns: dropped
        },
        "qa": [],
    }


@pytest.fixture
def locomo(tmp_path: Path) -> Path:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([sample("conv-26", "Maya", "Leo"), sample("conv-30", "Jon", "Gina")]))
    return path


def test_a_locomo_session_becomes_a_case_with_ids_names_date_and_evidence(locomo: Path) -> None:
    cases = locomo_cases(locomo, conversations=["conv-26"])
    assert [c.id for c in cases] == ["conv-26/s1", "conv-26/s2"]
    first = cases[0]
    assert first.kind == "session" and first.speakers == ("Maya", "Leo") and first.date == "1:00 pm on 8 May, 2023"
    assert first.messages[0] == {"role": "system", "content": "[session date: 1:00 pm on 8 May, 2023]", "id": "S1"}
    assert [(m["id"], m["name"]) for m in first.messages[1:]] == [("D1:1", "Maya"), ("D1:2", "Leo"), ("D1:3", "Maya")]
    assert first.messages[2]["content"].endswith("[shares a photo: a clay bowl]")
    assert [(f.text, f.evidence, f.speaker) for f in first.facts] == [
        ("Maya adopted a kitten named Pixel.", ("D1:1",), "Maya"),
        ("Leo started pottery classes.", ("D1:2",), "Leo"),  # "D9:9" names no turn of the session
    ]
    assert cases[1].facts[0].evidence == ("D2:1",)


def test_the_split_is_by_conversation_and_never_mixes_dev_and_test(locomo: Path) -> None:
    dev = split_cases("dev", locomo_path=locomo, sources=["locomo"])
    test = split_cases("test", locomo_path=locomo, sources=["locomo"])
    assert dev and test
    assert all(c.id.startswith("conv-26/") and c.split == "dev" for c in dev)
    assert all(c.id.startswith("conv-30/") and c.split == "test" for c in test)
    swapped = split_cases("dev", locomo_path=locomo, sources=["locomo"], dev_conversation="conv-30",
                          test_conversation="conv-26")  # fmt: skip
    assert {c.id.split("/")[0] for c in swapped} == {"conv-30"}
    assert split_cases("train", locomo_path=locomo, sources=["locomo"]) == []  # LoCoMo is never training data
    with pytest.raises(ValueError, match="both 'conv-26'"):
        split_cases("dev", locomo_path=locomo, test_conversation="conv-26")
    with pytest.raises(ValueError, match=r"\['conv-99'\]"):
        locomo_cases(locomo, conversations=["conv-99"])
    with pytest.raises(ValueError, match="split must be one of"):
        split_cases("holdout", locomo_path=locomo)


def test_labeled_records_carry_facts_and_outdated_ids(tmp_path: Path) -> None:
    rows = [
        {"task": "extract", "id": "upd", "split": "dev",
         "messages": [{"role": "user", "name": "Sam", "content": "I moved to Lyon."}],
         "existing": [{"id": "m1", "content": "Sam lives in Paris."}, {"id": "m2", "content": "Sam has a dog."}],
         "expected": [{"action": "update", "id": "m1", "content": "Sam lives in Lyon."}]},
        {"task": "extract", "id": "none", "split": "train", "messages": [{"role": "user", "content": "Hi!"}],
         "expected": []},
        {"task": "extract", "id": "mix", "split": "dev", "messages": [{"role": "user", "content": "x"}],
         "existing": [{"id": "a", "content": "Old."}],
         "expected": [{"action": "delete", "id": "a"}, {"action": "insert", "content": "New."}]},
    ]  # fmt: skip
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    cases = labeled_cases(path)
    upd, none, mix = cases
    assert upd.kind == "update" and upd.outdated == ("m1",) and upd.outdated_texts() == ["Sam lives in Paris."]
    assert [f.text for f in upd.facts] == ["Sam lives in Lyon."] and upd.speakers == ("Sam",)
    assert none.kind == "nothing" and none.facts == () and none.source == "set"
    assert mix.kind == "mixed" and mix.outdated == ("a",) and [f.text for f in mix.facts] == ["New."]
    assert [c.id for c in labeled_cases(path, split="dev")] == ["upd", "mix"]
    assert [c.id for c in split_cases("train", labeled_path=path, sources=["labeled"])] == ["none"]


def test_the_bundled_training_set_is_large_varied_and_stratified() -> None:
    records = load_labeled(bundled_dataset(), task="extract")
    assert len(records) >= 150
    by = Counter((case_kind(r), r.split) for r in records)
    for kind, least in {"insert": 40, "update": 16, "delete": 8, "nothing": 16, "mixed": 12}.items():
        total = by[(kind, "train")] + by[(kind, "dev")]
        assert total >= least, (kind, total)
        assert by[(kind, "dev")] >= max(2, total // 6), (kind, by)  # every case type is held out too
        assert by[(kind, "train")] >= total // 2, (kind, by)
    dev_share = sum(n for (_, split), n in by.items() if split == "dev") / len(records)
    assert 0.2 <= dev_share <= 0.32
    sessions = [r for r in records if len(r.fields["messages"]) >= 8]
    named = [r for r in sessions if len({m.get("name") for m in r.fields["messages"] if m.get("name")}) >= 2]
    assert len(sessions) >= 20 and len(named) >= 15  # multi-speaker sessions like LoCoMo's
    assert {r.split for r in named} == {"train", "dev"}
    ids = [r.id for r in records]
    assert len(ids) == len(set(ids))


def test_the_bundled_kinds_set_uses_other_schemas() -> None:
    records = load_labeled(bundled_dataset("semantic_extraction_kinds"), task="extract")
    kinds = Counter(op["kind"] for r in records for op in r.fields["expected"])
    assert kinds["Triple"] >= 5 and kinds["UserProfile"] >= 3
    assert {r.split for r in records} == {"train", "dev"}
