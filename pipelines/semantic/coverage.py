"""What the facts leave out: a person's statements about themselves that no listed fact covers, kept in their words.

A 1.5B model lists five to ten facts per chunk of a conversation and silently drops the rest, however the prompt
asks. Code can see what it dropped: a sentence a person says about themselves (first person, not a question, a
request or thanks, at least ``min_words`` content words besides words of feeling, pleasantry, time and talk,
``NO_FACT``) that shares at most ``max_shared`` content words with every fact listed for the chunk is lost unless it
is kept.
Each message's uncovered sentences become one more fact, ``"<speaker>: <sentences>"`` (the speaker's name, else
``User``), which then goes through reconciliation like the LM's own facts; bracketed notes such as
``[shares a photo: ...]`` are not the speaker's words and are left out. A message whose uncovered sentences speak
only as "we" ("We can tackle life's challenges together!", "Those milestones are great reminders of how special our
bonds are.") says nothing the speaker told of themselves, and keeps none: measured on the dev split (conv-26
s1-16, stored answers re-scored), 20 such memories, none matching a gold fact; precision 0.479 -> 0.515, recall and
evidence unchanged.

Measured with the local LM (``memspy eval extraction --split dev --limit 16``, conv-26 sessions 1-16, 154 gold
facts): recall 0.49 -> 0.78, precision 0.47 -> 0.45, evidence 0.37 -> 0.71, memories per session 10 -> 20, the same
LM calls and tokens (every turn stored verbatim: 0.72 / 0.31 / 0.62 at 22 per session). Held out (``--split
test --limit 8``): 0.55 / 0.69 / 0.41 -> 0.77 / 0.53 / 0.61 (verbatim turns 0.57 / 0.25 / 0.46). Leaving
``NO_FACT`` words out of the count removed a tenth of the memories and none that matched a gold fact: precision
0.46 -> 0.55 on dev sessions 1-8 and 0.51 -> 0.55 on the test run's answers, recall unchanged (see the README).

Example:
    >>> msgs = [{"role": "user", "name": "Jon", "content": "Hey Gina! Lost my job as a banker yesterday, sadly."}]
    >>> uncovered_statements(["Jon likes dancing"], msgs)
    ['Jon: Lost my job as a banker yesterday, sadly.']
    >>> uncovered_statements(["Jon lost his job as a banker"], msgs)
    []
"""

from __future__ import annotations

import re
from typing import Any

from memspy.pipelines.runtime.messages import content_words

__all__ = ["MAX_SHARED", "MIN_WORDS", "NO_FACT", "statements", "uncovered_statements"]

MIN_WORDS = 4  # content words, besides those of NO_FACT, a sentence needs to state something
MAX_SHARED = 1  # content words a sentence may share with a fact and still be uncovered

# Words of feeling, pleasantry, time and talk: a sentence made of them ("I was so happy and thankful for all the
# support", "A lot's been going on in my life!") tells how someone feels or that they talk, not a fact to keep.
# Preference and intent verbs (love, want, wish, help) are not among them: they carry facts.
NO_FACT = frozenset(
    """
    happy thankful glad proud excited exciting amazing awesome great good nice cool fun special feel felt feeling
    wow hey well yeah gonna sure totally really pretty best way much many lot bit stuff thing things
    journey life going happening come came far long road done doing made make makes important difference
    support friend friends share sharing chat chatted talked think know known hope moments memories
    always never ever since last back now right soon today yesterday tomorrow day days time times week weeks
    month months year years
    """.split()
)

# A sentence that thanks someone ("Thanks, Caroline, for letting me join your journey.") is a courtesy.
_THANKS = re.compile(r"^\W*(?:thanks|thank\s+you|thx|many\s+thanks)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_NOTE = re.compile(r"\s*\[[^\]]*\]")
_SELF_WORDS = r"I|I'm|I've|I'd|I'll|my|me|myself|mine"
_FIRST_PERSON = re.compile(rf"\b(?:{_SELF_WORDS}|we|we're|we've|our|us)\b", re.IGNORECASE)
_SELF = re.compile(rf"\b(?:{_SELF_WORDS})\b", re.IGNORECASE)  # the speaker alone
_REQUEST = re.compile(
    r"^\s*(?:(?:can|could|would|will)\s+you|please|help\s+me|let'?s|tell\s+me|show\s+me|give\s+me|"
    r"I\s+(?:need|want)\s+you|remind\s+me)\b",
    re.IGNORECASE,
)


def statements(text: str, *, min_words: int = MIN_WORDS) -> list[str]:
    """The sentences of ``text`` in which the speaker states something about themselves: first person, not a
    question, a request or thanks, with ``min_words`` content words outside :data:`NO_FACT` (see the module)."""
    out = []
    for sentence in _SENTENCE.split(_NOTE.sub("", text).strip()):
        s = sentence.strip()
        if not s or s.endswith("?") or _REQUEST.search(s) or _THANKS.match(s) or not _FIRST_PERSON.search(s):
            continue
        if len(content_words(s) - NO_FACT) >= min_words:
            out.append(s)
    return out


def _speaker(message: dict[str, Any]) -> str:
    name = message.get("name")
    return str(name) if name else "User"


def uncovered_statements(
    facts: list[str],
    messages: list[dict[str, Any]],
    *,
    include_assistant: bool = False,
    min_words: int = MIN_WORDS,
    max_shared: int = MAX_SHARED,
) -> list[str]:
    """One ``"<speaker>: <sentences>"`` per message whose self-statements no fact of ``facts`` covers.

    Args:
        facts: The facts listed for ``messages`` (free text).
        messages: The chunk of conversation the facts were listed from; system and tool messages are context,
            and the assistant's messages count only with ``include_assistant``.
        include_assistant: Read the assistant's messages too.
        min_words: Content words a sentence needs.
        max_shared: The most content words a sentence may share with any one fact and still be uncovered.
    """
    covered = [content_words(f) for f in facts]
    out = []
    for m in messages:
        role, text = m.get("role"), m.get("content")
        if role in ("system", "tool") or (role == "assistant" and not include_assistant) or not isinstance(text, str):
            continue
        said = [(s, content_words(s)) for s in statements(text, min_words=min_words)]
        kept = [s for s, words in said if not any(len(words & fact) > max_shared for fact in covered)]
        if any(_SELF.search(s) for s in kept):
            out.append(f"{_speaker(m)}: {' '.join(kept)}")
    return out
