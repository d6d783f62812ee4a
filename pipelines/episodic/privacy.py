"""Personal-data redaction before anything episodic is stored: patterns in code always, then the LM's marks.

Patterns replace emails (``[EMAIL]``), IBANs passing the mod-97 check (``[IBAN]``), 13-19 digit runs passing
the Luhn check (``[CARD]``) and phone numbers (``[PHONE]``). The LM step (:class:`PiiRedactor`, predictor
``find_pii``) then marks what patterns cannot see: addresses (``[ADDRESS]``), names of private people
(``[NAME]``), identifiers (``[ID]``) and other personal details (``[PERSONAL]``). If the LM step keeps failing it
raises :class:`~memspy.pipelines.errors.EpisodicStepError`, so unredacted text is never returned.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import dspy

from memspy.pipelines.runtime.steps import predictor, run_step
from memspy.pipelines.runtime.usage import Usage, UsageMeter
from memspy.signatures.privacy import FindPersonalData

__all__ = ["PLACEHOLDERS", "PiiRedactor", "apply_spans", "luhn_valid", "redact_patterns"]

PLACEHOLDERS: dict[str, str] = {
    "EMAIL": "[EMAIL]",
    "PHONE": "[PHONE]",
    "CARD": "[CARD]",
    "IBAN": "[IBAN]",
    "ADDRESS": "[ADDRESS]",
    "NAME": "[NAME]",
    "ID": "[ID]",
    "OTHER": "[PERSONAL]",
}

_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
_PHONE = re.compile(r"(?<![\w+])(?:\+\d[\d ().-]{5,}\d|\(?\d{2,5}\)?(?:[ .-]\d{2,5}){1,5})(?!\w)")
_DATE = re.compile(r"\d{4}[./-]\d{1,2}[./-]\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")
_PLACEHOLDER = re.compile(r"^\[[A-Z]+\]$")
# Spans the LM sometimes marks that are never personal on their own.
_GENERIC = frozenset({"user", "the user", "assistant", "the assistant", "customer", "the customer", "agent"})


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn checksum used by payment card numbers."""
    nums = [int(c) for c in digits if c.isdigit()]
    if len(nums) < 2:
        return False
    total = 0
    for i, n in enumerate(reversed(nums)):
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _iban_valid(text: str) -> bool:
    code = text.replace(" ", "")
    if not 15 <= len(code) <= 34:
        return False
    moved = code[4:] + code[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _sub_checked(pattern: re.Pattern[str], text: str, placeholder: str, ok: Any) -> str:
    return pattern.sub(lambda m: placeholder if ok(m.group(0)) else m.group(0), text)


def _phone_like(s: str) -> bool:
    digits = sum(c.isdigit() for c in s)
    return 7 <= digits <= 15 and not _DATE.fullmatch(s.strip())


def redact_patterns(text: str) -> str:
    """Replace emails, IBANs, card numbers (Luhn-checked) and phone numbers with typed placeholders.

    Example:
        >>> redact_patterns("Mail jane@example.com or call +49 170 1234567.")
        'Mail [EMAIL] or call [PHONE].'
    """
    text = _EMAIL.sub(PLACEHOLDERS["EMAIL"], text)
    text = _sub_checked(_IBAN, text, PLACEHOLDERS["IBAN"], _iban_valid)
    text = _sub_checked(_CARD, text, PLACEHOLDERS["CARD"], luhn_valid)
    return _sub_checked(_PHONE, text, PLACEHOLDERS["PHONE"], _phone_like)


def apply_spans(text: str, spans: list[tuple[str, str]]) -> str:
    """Replace each ``(kind, span)`` found in ``text`` (any case, any whitespace) with its kind's placeholder."""
    for kind, span in sorted(spans, key=lambda s: len(s[1]), reverse=True):
        words = span.split()
        if not words:
            continue
        pattern = re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE)
        text = pattern.sub(PLACEHOLDERS.get(kind, PLACEHOLDERS["OTHER"]), text)
    return text


def _usable(span: str) -> bool:
    s = span.strip()
    return len(s) >= 3 and not _PLACEHOLDER.match(s) and s.lower() not in _GENERIC


class PiiRedactor(dspy.Module):
    """Removes personal data from texts before they are stored. The predictor is ``self.find_pii``.

    Args:
        lm: A ``dspy.LM``, a model string, or None for the configured LM.
        use_lm: Also ask the LM to mark addresses, names and identifiers (patterns always run).
        max_retries: Extra LM attempts when its answer cannot be parsed.
    """

    def __init__(self, lm: Any = None, *, use_lm: bool = True, max_retries: int = 2) -> None:
        super().__init__()
        self.use_lm = use_lm
        self.max_retries = max_retries
        self.find_pii = predictor(FindPersonalData, lm)
        self.usage = UsageMeter()

    def forward(self, texts: list[str] | str) -> dspy.Prediction:
        """Redact ``texts`` with one LM call for all of them.

        Args:
            texts: One text or a list of texts.

        Returns:
            ``Prediction(texts=[...], spans=[(kind, span)...], usage=Usage)``; ``text`` holds the single result
            when one string was given.

        Raises:
            EpisodicStepError: the LM step kept failing (nothing unredacted is returned).
        """
        single = isinstance(texts, str)
        items = [texts] if isinstance(texts, str) else [str(t) for t in texts]
        cleaned = [redact_patterns(t) for t in items]
        usage = Usage()
        spans: list[tuple[str, str]] = []
        joined = "\n\n".join(t for t in cleaned if t.strip())
        if self.use_lm and joined:
            marked: list[tuple[str, str]] = run_step(
                self.find_pii, "find_pii", usage, _accept, self.max_retries, text=joined
            )
            spans = [(kind, span) for kind, span in marked if _usable(span)]
            cleaned = [apply_spans(t, spans) for t in cleaned]
        self.usage.record(usage)
        return dspy.Prediction(texts=cleaned, text=cleaned[0] if single else None, spans=spans, usage=usage)

    async def aforward(self, texts: list[str] | str) -> dspy.Prediction:
        return await asyncio.to_thread(self.forward, texts)


def _accept(pred: dspy.Prediction) -> tuple[list[tuple[str, str]], list[str]]:
    spans = []
    for s in pred.spans or []:
        d = s.model_dump() if hasattr(s, "model_dump") else dict(s)
        spans.append((str(d.get("kind") or "OTHER"), str(d.get("text") or "")))
    return spans, []
