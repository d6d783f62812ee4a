"""The LoCoMo loader and the generic JSONL format, on a hand-made LoCoMo-format file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memspy.evals.jsonl import dump_jsonl, load_dataset, load_jsonl, parse_category, parse_conversation
from memspy.evals.locomo import clean_evidence, load_locomo, parse_locomo_sample

TINY = Path(__file__).parent / "data" / "tiny_locomo.json"


def test_sessions_in_numeric_order_with_dates_and_captions() -> None:
    convs = load_locomo(TINY)
    assert [c.sample_id for c in convs] == ["tiny-1", "tiny-2"]
    a = convs[0]
    assert a.speakers == ("Ann", "Ben")
    assert [s.index for s in a.sessions] == [1, 2, 10]  # "session_10" after "session_2", not lexically
    assert [t.dia_id for t in a.turns][:4] == ["D1:1", "D1:2", "D1:3", "D2:1"]
    assert len(a.turns) == 9
    shoes = a.turn_by_id["D1:3"]
    assert shoes.date == "10:00 am on 1 May, 2023" and shoes.session == 1
    assert shoes.render() == (
        "[10:00 am on 1 May, 2023] Ann: Nice. I am training for the Lisbon marathon in October. "
        "[shares a photo: a photo of running shoes on a track]"
    )
    assert a.turn_by_id["D10:2"].render(with_date=False) == "Ben: Amazing! My recital went well, I played Bach."


def test_questions_evidence_answers_and_categories() -> None:
    qs = load_locomo(TINY)[0].questions
    assert [q.qid for q in qs][:2] == ["tiny-1/q0", "tiny-1/q1"]
    assert qs[2].evidence == ("D1:3", "D2:2")  # "D1:3; D2:2" is split
    assert qs[5].evidence == ()  # no evidence: no R@k for it
    assert qs[6].category == 5 and qs[6].answer == "" and qs[6].adversarial_answer == "Biscuit"
    assert qs[6].category_name == "adversarial"
    assert qs[7].answer == "2023"  # an int answer becomes text
    assert qs[7].evidence == ("D2:4",)  # an id naming no turn is dropped
    assert all(q.conversation_id == "tiny-1" for q in qs)


def test_clean_evidence_dedupes_and_keeps_order() -> None:
    known = {"D1:1", "D1:2", "D3:4"}
    assert clean_evidence(["D3:4, D1:1", " D1:1 ", "D9:9"], known) == ("D3:4", "D1:1")
    assert clean_evidence("D1:2", known) == ("D1:2",)
    assert clean_evidence(None, known) == ()


def test_truncated_keeps_questions_inside_the_kept_sessions() -> None:
    a = load_locomo(TINY)[0].truncated(1)
    assert [s.index for s in a.sessions] == [1]
    assert {q.qid for q in a.questions} == {"tiny-1/q0", "tiny-1/q1", "tiny-1/q3", "tiny-1/q6"}


def test_a_sample_without_conversation_is_rejected() -> None:
    with pytest.raises(ValueError, match="sample_id"):
        parse_locomo_sample({"qa": []})


def test_jsonl_round_trip_of_locomo(tmp_path: Path) -> None:
    convs = load_locomo(TINY)
    dump_jsonl(convs, tmp_path / "tiny.jsonl")
    back = load_dataset(tmp_path / "tiny.jsonl")
    assert [c.sample_id for c in back] == ["tiny-1", "tiny-2"]
    assert back[0].turns == convs[0].turns
    assert [(q.question, q.answer, q.evidence, q.category) for q in back[0].questions] == [
        (q.question, q.answer, q.evidence, q.category) for q in convs[0].questions
    ]


def test_jsonl_defaults_ids_speakers_and_categories(tmp_path: Path) -> None:
    obj = {
        "sessions": [
            {"date": "2024-05-01", "messages": [{"role": "user", "content": "I moved to Lisbon."}, {"text": "Nice!"}]},
            {"date": "2024-06-01", "messages": [{"id": "m9", "name": "Alice", "text": "I got a cat called Tom."}]},
        ],
        "questions": [
            {"question": "Where does the user live?", "answer": "Lisbon", "evidence": ["D1:1"]},
            {"question": "What is the cat called?", "answer": "Tom", "evidence": ["m9"], "category": "Single hop"},
            {"question": "What is the dog called?", "answer": None},
            {"question": "When did Alice get a cat?", "answer": "June 2024", "category": "temporal"},
        ],
    }
    (tmp_path / "mine.jsonl").write_text("\n" + json.dumps(obj) + "\n\n")
    conv = load_jsonl(tmp_path / "mine.jsonl")[0]
    assert conv.sample_id == "conv-2"  # default id: the line number
    assert [t.dia_id for t in conv.turns] == ["D1:1", "D1:2", "m9"]
    assert [t.speaker for t in conv.turns] == ["user", "user", "Alice"]
    assert conv.turns[2].date == "2024-06-01"
    assert [q.category for q in conv.questions] == [4, 4, 5, 2]
    assert conv.questions[0].evidence == ("D1:1",) and conv.questions[2].answer == ""


def test_jsonl_errors_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "sessions": []}\n{not json\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        load_jsonl(bad)
    with pytest.raises(ValueError, match="no 'text'"):
        parse_conversation({"sessions": [{"messages": [{"speaker": "a"}]}]})
    with pytest.raises(ValueError, match="unknown category"):
        parse_category("sideways")
    assert parse_category("3") == 3 and parse_category(None, None) == 5 and parse_category("adversarial") == 5
