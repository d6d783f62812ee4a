"""Personal-data marking: the LM points at the personal details that patterns cannot catch (addresses,
names of private people, identifiers), so they are replaced before anything is stored."""

from __future__ import annotations

from typing import Literal

import dspy
from pydantic import BaseModel, Field

__all__ = ["FindPersonalData", "PersonalDataSpan"]


class PersonalDataSpan(BaseModel):
    """One piece of personal data found in the text."""

    text: str = Field(description="the personal data, copied exactly from the text")
    kind: Literal["ADDRESS", "NAME", "ID", "OTHER"] = Field(
        description="ADDRESS (postal), NAME (a private person), ID (account, document or customer number), OTHER"
    )


# Emails, phone numbers, card and IBAN numbers are replaced by patterns in code before this step runs,
# so the text may already hold placeholders such as [EMAIL].
class FindPersonalData(dspy.Signature):
    """List the personal data in the text: postal addresses, names of private people, account, document or
    customer numbers, and any other detail that identifies a person. Copy each one exactly as it is written.
    Do not list companies, products, tools, cities or countries, roles such as "the user", or placeholders in
    square brackets. Answer with an empty list when there is none."""

    text: str = dspy.InputField(desc="the text to check")
    corrections: str = dspy.InputField(desc="problems with your previous answer to fix now; empty on the first try")
    spans: list[PersonalDataSpan] = dspy.OutputField(desc="each piece of personal data, copied exactly")
