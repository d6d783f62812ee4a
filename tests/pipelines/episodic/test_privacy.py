"""PII redaction: patterns (emails, phones, Luhn-checked cards, IBANs), the LM's marks, and loud failure."""

from __future__ import annotations

from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM

from memspy.pipelines import EpisodicStepError
from memspy.pipelines.episodic.privacy import PiiRedactor, apply_spans, luhn_valid, redact_patterns


def lm(*answers: Any) -> DummyLM:
    return DummyLM(list(answers), adapter=dspy.JSONAdapter())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jane.doe+trips@mail.example.co.uk today", "write to [EMAIL] today"),
        ("call +49 170 1234567.", "call [PHONE]."),
        ("call +14155552671 now", "call [PHONE] now"),
        ("office (030) 1234-5678", "office [PHONE]"),
        ("cell 555-123-4567", "cell [PHONE]"),
        ("pay with 4111 1111 1111 1111", "pay with [CARD]"),
        ("pay with 4111-1111-1111-1111!", "pay with [CARD]!"),
        ("iban GB82 WEST 1234 5698 7654 32 please", "iban [IBAN] please"),
        ("iban DE89370400440532013000", "iban [IBAN]"),
    ],
)
def test_patterns_replace_personal_data(text: str, expected: str) -> None:
    assert redact_patterns(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "flight on 2025-03-14T09:40, ref ABC123",
        "departs 14.03.2025 at 10.30",
        "order ORD-12345678 costs 1,299.00 EUR",
        "dspy 3.4.1 and TP541",
        "4111 1111 1111 1112 fails the Luhn check",  # not a card number, and too long for a phone
    ],
)
def test_patterns_leave_ordinary_text_alone(text: str) -> None:
    assert redact_patterns(text) == text


def test_luhn() -> None:
    assert luhn_valid("4111111111111111") and luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112") and not luhn_valid("7")


def test_apply_spans_ignores_case_and_spacing() -> None:
    text = "Jane  Doe lives at 12 Rose Street, Leeds. JANE DOE called."
    out = apply_spans(text, [("NAME", "Jane Doe"), ("ADDRESS", "12 Rose Street, Leeds")])
    assert out == "[NAME] lives at [ADDRESS]. [NAME] called."


def test_lm_marks_addresses_and_names_after_the_patterns() -> None:
    spans = [
        {"text": "12 Rose Street, Leeds", "kind": "ADDRESS"},
        {"text": "Jane Doe", "kind": "NAME"},
        {"text": "the user", "kind": "NAME"},  # generic: never replaced
        {"text": "[EMAIL]", "kind": "OTHER"},  # a placeholder: never replaced
    ]
    dummy = lm({"spans": spans})
    texts = ["Jane Doe (jane@example.com) asked", "deliver to 12 Rose Street, Leeds for the user", ""]
    with dspy.context(lm=dummy):
        pred = PiiRedactor()(texts)
    assert pred.texts == ["[NAME] ([EMAIL]) asked", "deliver to [ADDRESS] for the user", ""]
    prompt = dummy.history[0]["messages"][-1]["content"]
    assert "jane@example.com" not in prompt and "[EMAIL]" in prompt  # the LM never sees what patterns caught
    assert pred.usage.by_step["find_pii"]["calls"] == 1


def test_a_single_string_gives_text() -> None:
    with dspy.context(lm=lm({"spans": []})):
        pred = PiiRedactor()("mail a@b.io")
    assert pred.text == "mail [EMAIL]" and pred.texts == ["mail [EMAIL]"]


def test_without_the_lm_only_patterns_run() -> None:
    # No LM is configured here: the call would fail if the redactor tried to use one.
    pred = PiiRedactor(use_lm=False)(["Jane Doe, +49 170 1234567"])
    assert pred.texts == ["Jane Doe, [PHONE]"] and pred.usage.calls == 0


def test_no_lm_call_for_empty_texts() -> None:
    pred = PiiRedactor()(["", "  "])
    assert pred.usage.calls == 0


def test_a_failing_lm_step_raises_instead_of_returning_unredacted_text() -> None:
    garbage = {"spans": "not a list"}
    with dspy.context(lm=lm(garbage, garbage)), pytest.raises(EpisodicStepError) as info:
        PiiRedactor(max_retries=1)(["Jane Doe lives at 12 Rose Street"])
    assert info.value.step == "find_pii" and info.value.attempts == 2


def test_a_failed_lm_answer_is_retried() -> None:
    with dspy.context(lm=lm({"spans": "oops"}, {"spans": [{"text": "Rose Street", "kind": "ADDRESS"}]})):
        pred = PiiRedactor()(["12 Rose Street"])
    assert pred.texts == ["12 [ADDRESS]"] and pred.usage.calls == 2
