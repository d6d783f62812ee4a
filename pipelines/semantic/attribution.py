"""Whose fact is it: a fact that names one speaker but restates another speaker's own words is given to that speaker.

In a conversation between two named people, a small model often writes one person's fact about the other
("Melanie is researching adoption agencies" when Caroline said "I'm researching adoption agencies"). People state
their own facts, so code checks each free-text fact that names exactly one speaker against the speakers' messages
by content-word overlap (names left out). When another speaker has a message that shares at least two of the
fact's words and at least twice as many as any message of the named person, and that message does not name the
person (a question about someone else's plans would), the name is replaced by the other speaker's.
Conversations with fewer than two named speakers (a user and an assistant) are left as they are.

Measured with the local LM on the LoCoMo dev conversation (``memspy eval extraction --split dev``): sessions 1-8
recall 0.51 -> 0.58, precision 0.44 -> 0.48; sessions 1-16 0.45 / 0.43 / 0.33 -> 0.49 / 0.47 / 0.37 (recall,
precision, evidence; the same LM answers, ``attribute_speakers=False`` for the first).

Example:
    >>> msgs = [{"role": "user", "name": "Caroline", "content": "I'm researching adoption agencies"},
    ...         {"role": "user", "name": "Melanie", "content": "Wow, good luck!"}]
    >>> attribute("Melanie is researching adoption agencies", msgs)
    'Caroline is researching adoption agencies'
"""

from __future__ import annotations

import re
from typing import Any

from memspy.pipelines.runtime.messages import content_words
from memspy.pipelines.semantic.provenance import named_speaker

__all__ = ["attribute", "attribute_all", "speakers_of"]

MIN_SHARED = 2  # content words a message must share with the fact to be its source
MIN_RATIO = 2.0  # how many times more than the named person's best message


def speakers_of(messages: list[dict[str, Any]]) -> list[str]:
    """The names of the people who speak in ``messages`` (named, non-system, non-assistant messages)."""
    names = [str(m["name"]) for m in messages if m.get("name") and m.get("role") not in ("system", "assistant")]
    return list(dict.fromkeys(names))


def _forms(name: str) -> list[str]:
    return sorted({name, name.split()[0]}, key=len, reverse=True)


def attribute(fact: str, messages: list[dict[str, Any]], speakers: list[str] | None = None) -> str:
    """``fact`` with its one named speaker replaced by the speaker whose message it restates (see the module
    docstring); ``fact`` unchanged when that is not clear."""
    people = speakers if speakers is not None else speakers_of(messages)
    person = named_speaker(fact, people) if len(people) > 1 else None
    if person is None:
        return fact
    every_form = "|".join(re.escape(f) for p in people for f in _forms(p))
    core = content_words(re.sub(rf"\b(?:{every_form})\b", " ", fact))
    if not core:
        return fact
    best: dict[str, int] = {}
    for m in messages:
        text, name = m.get("content"), m.get("name")
        if not isinstance(text, str) or not name or m.get("role") == "system" or named_speaker(text, [person]):
            continue
        best[str(name)] = max(best.get(str(name), 0), len(core & content_words(text)))
    own = best.get(person, 0)
    other, shared = max(((n, v) for n, v in best.items() if n != person and n in people), key=lambda x: x[1],
                        default=("", 0))  # fmt: skip
    if not other or shared < MIN_SHARED or shared < MIN_RATIO * max(own, 1):
        return fact
    out = fact
    for form in _forms(person):
        out = re.sub(rf"\b{re.escape(form)}\b", other if form == person else other.split()[0], out)
    return out


def attribute_all(items: list[Any], messages: list[dict[str, Any]]) -> list[Any]:
    """:func:`attribute` applied to every free-text item of an LM's answer (other items are kept as they are)."""
    people = speakers_of(messages)
    if len(people) < 2:
        return items
    return [attribute(item, messages, people) if isinstance(item, str) else item for item in items]
