"""What the facts leave out: a person's own statements that no listed fact covers are kept, and nothing else."""

from __future__ import annotations

from typing import Any

import dspy
from dspy.utils import DummyLM

from memspy.pipelines import MemoryManager
from memspy.pipelines.semantic.coverage import statements, uncovered_statements

__all__: list[str] = []


LINES = [
    ("Jon", "Hey Gina! Lost my job as a banker yesterday, so I'm starting my own dance studio."),
    ("Gina", "Sorry Jon! I also lost my job at Door Dash this month. What got you into dance?"),
    ("Jon", "I've loved salsa dancing at the local club since I was a kid. [shares a photo: a trophy on a shelf]"),
]
CHAT: list[dict[str, Any]] = [{"role": "system", "content": "[session date: 20 January 2023]"}]
CHAT += [{"role": "user", "name": name, "content": text} for name, text in LINES]


def test_only_first_person_statements_with_content_count() -> None:
    assert statements("What got you into dance? Can you show me your moves? I love dancing.") == []  # 2 words
    assert statements("Can you remind me to buy fresh milk tomorrow morning please.") == []  # a request
    assert statements("The weather was lovely and sunny all week long.") == []  # not about the speaker
    assert statements("I was so happy and thankful for all the support last week.") == []  # feelings, no fact
    assert statements("Since we last chatted, a lot's been going on in my life!") == []
    assert statements("Thanks, Caroline, for letting me join your journey at the center.") == []  # a courtesy
    assert statements("I thanked my landlord for fixing the boiler in my flat.") != []  # a fact that mentions thanks
    assert statements("Wow! I adopted a beagle puppy named Max last week. [shares a photo: a dog]") == [
        "I adopted a beagle puppy named Max last week."
    ]


def test_sentences_no_fact_covers_are_kept_in_the_speakers_words() -> None:
    facts = ["Jon is starting his own dance studio"]
    assert uncovered_statements(facts, CHAT) == [
        "Gina: I also lost my job at Door Dash this month.",
        "Jon: I've loved salsa dancing at the local club since I was a kid.",
    ]
    facts += ["Gina lost her job at Door Dash", "Jon has loved dancing since he was a kid"]
    assert uncovered_statements(facts, CHAT) == []  # Jon's first message shares "dance", "studio" with a fact


def test_a_message_that_speaks_only_as_we_keeps_nothing() -> None:
    chat = [
        {"role": "user", "name": "Mel", "content": "We can tackle all of life's big challenges together, right!"},
        {"role": "user", "name": "Ann", "content": "We hiked the whole ridge trail. I twisted my ankle near the top."},
    ]
    assert statements(chat[0]["content"]) != []  # a statement, but of "we" only
    assert uncovered_statements([], chat) == [
        "Ann: We hiked the whole ridge trail. I twisted my ankle near the top."  # with one of the speaker's own
    ]


def test_the_assistant_counts_only_when_shown_and_a_nameless_user_is_user() -> None:
    chat = [
        {"role": "user", "content": "I switched my whole team over to Rust last quarter."},
        {"role": "assistant", "content": "I recommend reading my favourite Rust book chapters first."},
    ]
    assert uncovered_statements([], chat) == ["User: I switched my whole team over to Rust last quarter."]
    assert len(uncovered_statements([], chat, include_assistant=True)) == 2


def test_the_manager_adds_uncovered_statements_when_asked() -> None:
    answer = {"facts": ["Jon is starting his own dance studio.", "Jon has loved dancing since he was a kid."]}
    with dspy.context(lm=DummyLM([answer], adapter=dspy.JSONAdapter())):
        kept = MemoryManager(keep_uncovered=True)(messages=CHAT)
    with dspy.context(lm=DummyLM([answer], adapter=dspy.JSONAdapter())):
        plain = MemoryManager()(messages=CHAT)  # not the local LM: off by default
    texts = [o.content.content for o in kept.operations]
    assert texts == [*answer["facts"], "Gina: I also lost my job at Door Dash this month."]
    assert [o.content.content for o in plain.operations] == answer["facts"]
    assert kept.usage.calls == 1  # no extra LM call
