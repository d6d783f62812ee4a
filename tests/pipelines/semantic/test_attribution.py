"""Whose fact is it: a fact naming the wrong speaker is given to the one whose words it restates, and only then."""

from __future__ import annotations

from typing import Any

import dspy
from dspy.utils import DummyLM

from memspy.pipelines import MemoryManager
from memspy.pipelines.semantic.attribution import attribute, attribute_all, speakers_of

__all__: list[str] = []


def said(name: str, text: str) -> dict[str, Any]:
    return {"role": "user", "name": name, "content": text}


CHAT = [
    {"role": "system", "content": "[session date: 8 May 2023]"},
    said("Caroline Reyes", "I'm researching adoption agencies for LGBTQ+ folks, it's a big step."),
    said("Melanie", "Wow, that's amazing! I painted a lake sunrise last year, it's special to me."),
    said("Caroline Reyes", "So pretty! I went to a support group yesterday."),
]


def test_a_fact_restating_the_other_speakers_words_is_given_to_them() -> None:
    fixed = attribute("Melanie is researching adoption agencies", CHAT)
    assert fixed == "Caroline Reyes is researching adoption agencies"
    assert attribute("Caroline Reyes painted a lake sunrise", CHAT) == "Melanie painted a lake sunrise"
    assert speakers_of(CHAT) == ["Caroline Reyes", "Melanie"]


def test_a_fact_is_kept_when_its_source_is_not_clear() -> None:
    assert attribute("Caroline is researching adoption agencies", CHAT) == "Caroline is researching adoption agencies"
    assert attribute("Melanie went to a lake", CHAT) == "Melanie went to a lake"  # one shared word only
    assert attribute("Melanie and Caroline are friends", CHAT) == "Melanie and Caroline are friends"  # two named
    assert attribute("The user likes adoption agencies", CHAT) == "The user likes adoption agencies"  # no one named
    asked = [
        said("Caroline", "Hi Mel!"),
        said("Melanie", "Caroline, how are the adoption agencies you're researching?"),
    ]
    # Melanie's message echoes the fact but names Caroline: it is about her, so it is no evidence against her
    assert attribute("Caroline is researching adoption agencies", asked) == "Caroline is researching adoption agencies"


def test_a_conversation_with_one_named_speaker_is_left_alone() -> None:
    chat = [said("Ann", "I'm researching adoption agencies"), {"role": "assistant", "content": "Good luck, Ann!"}]
    assert attribute_all(["Bob is researching adoption agencies", {"name": "Ann"}], chat) == [
        "Bob is researching adoption agencies",
        {"name": "Ann"},
    ]


def test_the_manager_stores_the_fact_under_the_speaker_who_said_it() -> None:
    answer = {"facts": ["Melanie is researching adoption agencies for LGBTQ+ folks.", "Melanie painted a sunrise."]}
    with dspy.context(lm=DummyLM([answer], adapter=dspy.JSONAdapter())):
        pred = MemoryManager()(messages=CHAT)
    assert [o.content.content for o in pred.operations] == [
        "Caroline Reyes is researching adoption agencies for LGBTQ+ folks.",
        "Melanie painted a sunrise.",
    ]


def test_attribution_can_be_turned_off() -> None:
    answer = {"facts": ["Melanie is researching adoption agencies for LGBTQ+ folks."]}
    with dspy.context(lm=DummyLM([answer], adapter=dspy.JSONAdapter())):
        pred = MemoryManager(attribute_speakers=False)(messages=CHAT)
    assert [o.content.content for o in pred.operations] == answer["facts"]
