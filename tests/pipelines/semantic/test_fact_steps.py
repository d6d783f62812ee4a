"""The facts design's steps: one call per chunk, deduplicated facts, reconciliation only when memories are shown."""

from __future__ import annotations

from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM
from scripted_engine import scripted

from memspy.pipelines import MemoryExtractionError, MemoryManager, Triple
from memspy.pipelines.runtime.usage import Usage
from memspy.pipelines.semantic.fact_steps import apply_facts, chunk_facts, extract_facts
from memspy.pipelines.semantic.validate import parse_existing

__all__: list[str] = []

CHAT: list[dict[str, Any]] = [
    {"role": "user", "name": "Jon", "content": "I lost my job as a banker yesterday, so I'm opening a dance studio."},
    {"role": "user", "name": "Gina", "content": "Oh no! I adopted two cats from the shelter last month."},
]


def test_a_chunks_facts_are_attributed_then_completed_with_uncovered_statements() -> None:
    manager = MemoryManager(keep_uncovered=True)
    pred = dspy.Prediction(facts=["Gina is opening a dance studio"])  # Jon's words, given to Gina
    facts, problems = chunk_facts(manager, pred, CHAT)
    assert problems == []
    assert [f.text for f in facts] == [
        "Jon is opening a dance studio",
        "Gina: I adopted two cats from the shelter last month.",
    ]
    plain, _ = chunk_facts(MemoryManager(attribute_speakers=False, keep_uncovered=False), pred, CHAT)
    assert [f.text for f in plain] == ["Gina is opening a dance studio"]


def test_a_fact_of_nothing_but_the_speakers_names_is_dropped() -> None:
    pred = dspy.Prediction(facts=["The user is Jon.", "Gina", "Jon is a banker."])
    facts, _ = chunk_facts(MemoryManager(keep_uncovered=False), pred, CHAT)
    assert [f.text for f in facts] == ["Jon is a banker."]


def test_each_chunk_is_one_call_and_repeated_facts_are_kept_once() -> None:
    long_chat = [{"role": "user", "content": f"Message {i}: " + "I like green tea a lot. " * 12} for i in range(4)]
    answers = [{"facts": ["The user likes green tea."]}, {"facts": ["the user likes green tea.", "The user is calm."]}]
    manager = MemoryManager(chunk_chars=700, keep_uncovered=False)
    usage = Usage()
    with dspy.context(lm=DummyLM(answers, adapter=dspy.JSONAdapter())):
        facts = extract_facts(manager, long_chat, usage)
    assert usage.calls == 2
    assert [f.text for f in facts] == ["The user likes green tea.", "The user is calm."]


def test_new_facts_with_no_memory_shown_insert_without_a_call() -> None:
    manager = MemoryManager()
    facts, _ = chunk_facts(manager, dspy.Prediction(facts=["Jon lost his job as a banker"]), CHAT[:1])
    usage = Usage()
    with dspy.context(lm=DummyLM([], adapter=dspy.JSONAdapter())):  # any call would fail: no answers
        applied = apply_facts(manager, facts, [], usage)
    assert usage.calls == 0
    assert [(a.action, a.content.content) for a in applied] == [("insert", "Jon lost his job as a banker")]
    shown = parse_existing([("k1", "Jon lost his job as a banker")], manager.schemas)
    assert apply_facts(manager, facts, shown, usage) == []  # already stored: skipped before any call
    assert usage.calls == 0


def test_a_cut_off_answer_keeps_the_facts_it_finished_and_the_uncovered_words_in_one_call() -> None:
    cut = '{"facts": ["Jon lost his job as a banker", "Jon is opening a dance studio", "Gina adopted two'
    lm, engine = scripted((cut, "length"), ('{"facts": []}', "stop"))
    with dspy.context(lm=lm):
        facts = extract_facts(MemoryManager(keep_uncovered=True), CHAT, Usage())
    assert engine.calls == 1  # not asked again: the same chunk would get the same long list
    assert [f.text for f in facts] == [
        "Jon lost his job as a banker",
        "Jon is opening a dance studio",
        "Gina: I adopted two cats from the shelter last month.",  # the fact the cut fell in, in Gina's words
    ]


def test_a_chunk_whose_answer_is_cut_off_before_any_fact_is_read_again_in_halves() -> None:
    cut = '{"facts": ["Jon lost his job as a banker and then he lost his job and then he lost'
    lm, engine = scripted(
        (cut, "length"),
        ('{"facts": ["Jon lost his job as a banker"]}', "stop"),
        ('{"facts": ["Gina adopted two cats from the shelter"]}', "stop"),
    )
    with dspy.context(lm=lm):
        facts = extract_facts(MemoryManager(keep_uncovered=False), CHAT, Usage())
    assert engine.calls == 3  # the cut-off answer, then one call per half: no retry spent on the whole chunk
    assert [f.text for f in facts] == ["Jon lost his job as a banker", "Gina adopted two cats from the shelter"]


def test_a_cut_off_answer_whose_finished_items_say_nothing_is_read_in_halves() -> None:
    cut = '{"facts": ["", "Jon is opening'  # the one finished item is empty: nothing to keep
    lm, engine = scripted((cut, "length"), ('{"facts": ["Jon lost his job"]}', "stop"), ('{"facts": []}', "stop"))
    with dspy.context(lm=lm):
        facts = extract_facts(MemoryManager(keep_uncovered=False), CHAT, Usage())
    assert engine.calls == 3
    assert [f.text for f in facts] == ["Jon lost his job"]


def test_a_single_message_cut_off_every_time_fails_loudly() -> None:
    lm, engine = scripted(('{"facts": ["Jon lost his', "length"))
    with dspy.context(lm=lm), pytest.raises(MemoryExtractionError, match="cut off"):
        extract_facts(MemoryManager(max_retries=1), CHAT[:1], Usage())
    assert engine.calls == 2  # nothing left to split: the usual retry, then the typed error


def test_a_cut_off_answer_of_triples_keeps_the_finished_triples() -> None:
    cut = (
        '{"facts": [{"subject": "Jon", "predicate": "lost", "object": "his job as a banker", "context": null}, '
        '{"subject": "Gina", "predicate": "adopted", "object": "two ca'
    )
    lm, engine = scripted((cut, "length"))
    with dspy.context(lm=lm):
        facts = extract_facts(MemoryManager(schemas=[Triple]), CHAT, Usage())
    assert engine.calls == 1
    assert [(f.kind, f.content.subject, f.content.object) for f in facts] == [("Triple", "Jon", "his job as a banker")]
