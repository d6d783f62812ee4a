"""R@k over provenance, LoCoMo's token F1 (with its multi-hop and open-domain variants) and category-5 scoring."""

from __future__ import annotations

import pytest

from memspy.evals.metrics import (
    abstains,
    covered_turns,
    locomo_f1,
    normalize_answer,
    qa_score,
    recall_at_k,
    token_f1,
)

# Each retrieved memory covers the turns in its provenance: the 2nd covers two turns.
RANKED = [["D1:1"], ["D1:2", "D1:3"], ["D2:1"], ["D2:2"], ["D3:1"]]


@pytest.mark.parametrize(
    ("evidence", "k", "expected"),
    [
        (["D1:3"], 1, 0.0),
        (["D1:3"], 2, 1.0),
        (["D1:3", "D2:2"], 2, 0.5),
        (["D1:3", "D2:2"], 4, 1.0),
        (["D1:1", "D9:9"], 25, 0.5),  # k beyond the list: what was retrieved is all there is
        (["D1:1", "D1:1"], 1, 1.0),  # duplicates count once
    ],
)
def test_recall_at_k(evidence: list[str], k: int, expected: float) -> None:
    assert recall_at_k(RANKED, evidence, k) == pytest.approx(expected)


def test_recall_without_evidence_is_none_and_k_must_be_positive() -> None:
    assert recall_at_k(RANKED, [], 5) is None
    with pytest.raises(ValueError):
        recall_at_k(RANKED, ["D1:1"], 0)
    assert recall_at_k([], ["D1:1"], 3) == 0.0


def test_covered_turns_is_the_union_of_provenance() -> None:
    assert covered_turns(RANKED, 2) == {"D1:1", "D1:2", "D1:3"}


def test_normalize_answer_like_locomo() -> None:
    assert normalize_answer("The Sunset, and a Lake!") == "sunset lake"
    assert normalize_answer("  7 May,  2023. ") == "7 may 2023"


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ("Biscuit", "biscuit", 1.0),
        ("the paintings", "painting", 1.0),  # stemmed
        ("She paints sunsets", "painting a sunset", 0.8),
        ("Oslo, Norway", "Oslo", 2 / 3),
        ("chemistry", "biology", 0.0),
        ("", "biology", 0.0),
    ],
)
def test_token_f1(pred: str, gold: str, expected: float) -> None:
    assert token_f1(pred, gold) == pytest.approx(expected)


def test_multi_hop_f1_averages_over_gold_parts() -> None:
    # gold parts: sunset (1.0), horses (1.0 vs "horse"), lake (0.0)
    assert locomo_f1("sunset, horse", "sunset, horses, lake", 1) == pytest.approx(2 / 3)
    assert locomo_f1("sunset horse", "sunset, horses, lake", 4) == pytest.approx(0.8)  # P 1, R 2/3


def test_open_domain_keeps_the_gold_text_before_a_semicolon() -> None:
    assert locomo_f1("likely yes", "Likely yes; she runs and has a dog", 3) == 1.0
    assert locomo_f1("likely yes", "Likely yes; she runs and has a dog", 4) == pytest.approx(0.5)  # R 2/6


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Not mentioned in the conversation", 1.0),
        ("No information available.", 1.0),
        ("That information is not available in the memories", 1.0),
        ("Biscuit", 0.0),
        ("I think it was mentioned: Biscuit", 0.0),
    ],
)
def test_category_5_scores_abstention(answer: str, expected: float) -> None:
    assert qa_score(answer, "", 5) == expected
    assert abstains(answer) is bool(expected)


def test_qa_score_uses_f1_for_other_categories() -> None:
    assert qa_score("Not mentioned in the conversation", "Biscuit", 4) == 0.0
    assert qa_score("Biscuit", "Biscuit", 4) == 1.0
