"""What a fact's sentence must not be, and a small model's loop inside one, in code over the LM's answer.

A sentence that opens with a bare pronoun ("They look great!") cannot be read without the conversation; one about
the talk itself ("The conversation mentions the kind of words used.") or a courtesy one named speaker pays another
("Caroline thanks Melanie for her kind words.") or one that says someone shared a photo ("Mel shared a photo of the
blue vase.": an act in the chat, mostly the photo's caption retold; what the person did, their words tell) has
nothing to remember (:func:`says_nothing`), nor has one made of nothing but the speakers' names ("The user is
Caroline.", :func:`names_only`). A phrase said three times or more back to back is kept once (:func:`unloop`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from memspy.pipelines.runtime.messages import content_words

__all__ = ["names_only", "says_nothing", "unloop"]


_NAME = r"[A-Z][\w'-]*"  # a capitalised word: a person's name
# A sentence that opens with one of these names no one: it cannot be read without the conversation.
_UNNAMED = re.compile(r"^\s*(?:they|it|this|that|these|those|we|you|he|she|there|gonna)\b", re.IGNORECASE)
# A sentence about the talk itself, or a courtesy one named speaker pays another: nothing to remember.
_ABOUT_TALK = re.compile(
    r"^\s*(?:the\s+)?(?:conversation|dialogue|chat|session|transcript|discussion|speakers?)\b", re.IGNORECASE
)
_COURTESY = re.compile(rf"^\s*{_NAME}\s+(?:is\s+|was\s+)?(?:thank|congratulat|compliment|greet|apologi[sz])\w*\b")
# "<someone> shared a photo of ...": most often a photo's caption retold. Measured on the dev split (conv-26 s1-16,
# stored answers re-scored): 16 such facts, 3 matching a gold fact; dropping them took precision 0.479 -> 0.496 at
# recall 0.779 -> 0.773 (one fact).
_SHARED_PHOTO = re.compile(
    rf"^\s*(?:(?i:the\s+user)|{_NAME}(?:\s+and\s+{_NAME})?)\s+(?i:(?:has\s+|is\s+)?"
    r"(?:shared|shares|sharing|showed|shows|showing|sent|sends|posted|posts)\s+"
    r"(?:(?:a|an|the|this|some|his|her|their|a\s+few)\s+)?(?:photo|picture|pic|image|snapshot|selfie)s?)\b"
)


# A phrase of two to six words said three times or more back to back ("at the beach with their family with their
# family with their family"): a small model's loop inside one sentence, kept once.
_REPEATED = re.compile(r"\b(\w+(?:\W+\w+){1,5}?)(?:[\s,]+\1\b){2,}", re.IGNORECASE)


def says_nothing(text: str) -> bool:
    """Whether a fact's sentence is no memory: empty, opening with a bare pronoun, about the talk, a courtesy, a
    photo shared."""
    return not text.strip() or any(p.match(text) for p in (_UNNAMED, _ABOUT_TALK, _COURTESY, _SHARED_PHOTO))


def unloop(text: str) -> str:
    """``text`` with each phrase repeated back to back kept once (see ``_REPEATED``), and without the start of
    one more repeat at its end (a loop cut off mid-phrase)."""
    parts, pos = [], 0
    for m in _REPEATED.finditer(text):
        parts.append(text[pos : m.start()] + m.group(1))
        pos = m.end()
        tail = text[pos:].split()
        if tail and m.group(1).lower().split()[: len(tail)] == [w.lower() for w in tail]:
            pos = len(text)
    return "".join(parts) + text[pos:]


def names_only(text: str, speakers: Sequence[str]) -> bool:
    """Whether ``text``'s content words are all words of the ``speakers``' names (or "user"): it says only what
    the messages' names already do."""
    names = {w for name in speakers for w in content_words(name)} | {"user"}
    return content_words(text) <= names
