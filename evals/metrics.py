"""Per-question metrics: evidence recall at k, LoCoMo's token F1, and LoCoMo's category-5 (adversarial) rule.

- R@k: the share of a question's evidence turns covered by the source turns of the top ``k`` retrieved
  memories (a memory covers every turn in its provenance).
- F1: LoCoMo's ``f1_score``: lowercase, drop commas, punctuation and the words a/an/the/and, stem each
  token (Snowball English from ``py_rust_stemmers``, where LoCoMo uses NLTK's Porter stemmer), then
  token-overlap F1. Category 1 (multi-hop) splits prediction and gold on commas and averages, over gold
  parts, the best F1 against any predicted part; category 3 keeps the gold answer's text before the
  first ``;``.
- Category 5: the answer scores 1 when it says the information is not available (LoCoMo checks for
  "no information available" and "not mentioned"; "not available" is accepted too), else 0.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

__all__ = [
    "ABSTENTION_PHRASES",
    "abstains",
    "covered_turns",
    "locomo_f1",
    "normalize_answer",
    "qa_score",
    "recall_at_k",
    "token_f1",
]

ABSTENTION_PHRASES = ("no information available", "not mentioned", "not available")
_ARTICLES = re.compile(r"\b(a|an|the|and)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def covered_turns(ranked: Sequence[Iterable[str]], k: int) -> set[str]:
    """The source turn ids of the top ``k`` retrieved items."""
    out: set[str] = set()
    for ids in ranked[:k]:
        out.update(ids)
    return out


def recall_at_k(ranked: Sequence[Iterable[str]], evidence: Iterable[str], k: int) -> float | None:
    """Share of ``evidence`` covered by the top ``k`` items of ``ranked`` (each item: its source turn ids).

    Returns:
        A number in [0, 1], or None when the question has no evidence.

    Example:
        >>> recall_at_k([["D1:1"], ["D1:2", "D1:3"], ["D2:1"]], ["D1:3", "D2:1"], 2)
        0.5
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    gold = set(evidence)
    if not gold:
        return None
    return len(gold & covered_turns(ranked, k)) / len(gold)


def normalize_answer(text: str) -> str:
    """LoCoMo's normalization: drop commas, lowercase, drop punctuation and a/an/the/and, squeeze spaces."""
    text = str(text).replace(",", "").lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


@lru_cache(maxsize=1)
def _stemmer() -> object:
    from py_rust_stemmers import SnowballStemmer

    return SnowballStemmer("english")


def _tokens(text: str) -> list[str]:
    stem = _stemmer().stem_word  # type: ignore[attr-defined]
    return [stem(w) for w in normalize_answer(text).split()]


def token_f1(prediction: str, gold: str) -> float:
    """Token-overlap F1 of two answers after LoCoMo normalization and stemming.

    Example:
        >>> token_f1("She paints sunsets", "painting a sunset")
        0.8
    """
    pred, ref = _tokens(prediction), _tokens(gold)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def locomo_f1(prediction: str, gold: str, category: int) -> float:
    """F1 as LoCoMo computes it for ``category`` 1-4 (multi-hop: per comma-separated part)."""
    if category == 3:
        gold = gold.split(";")[0].strip()
    if category == 1:
        preds = [p.strip() for p in prediction.split(",")]
        golds = [g.strip() for g in gold.split(",")]
        return sum(max(token_f1(p, g) for p in preds) for g in golds) / len(golds)
    return token_f1(prediction, gold)


def abstains(answer: str) -> bool:
    """Whether ``answer`` says the information is not available (LoCoMo's category-5 check)."""
    low = str(answer).lower()
    return any(p in low for p in ABSTENTION_PHRASES)


def qa_score(prediction: str, gold: str, category: int) -> float:
    """The LoCoMo QA score of one answer: F1 for categories 1-4, the abstention rule (0 or 1) for 5."""
    if category == 5:
        return 1.0 if abstains(prediction) else 0.0
    return locomo_f1(prediction, gold, category)
