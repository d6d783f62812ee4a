"""The facts design: chunked fact extraction, reconciling with shown memories, and what code enforces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM

from memspy.pipelines import Memory, MemoryManager, Triple, UserProfile, create_memory_store_manager
from memspy.pipelines.semantic.facts import chunk_messages, parse_facts, render_dialogue
from memspy.pipelines.semantic.schemas import normalize_schemas
from memspy.stores import EdgeStore, MiniLMEmbedder

U1 = {"configurable": {"user_id": "u1"}}


def lm(*answers: dict[str, Any]) -> DummyLM:
    return DummyLM(list(answers), adapter=dspy.JSONAdapter())


def facts(*items: Any) -> dict[str, Any]:
    return {"facts": list(items)}


def decisions(*items: tuple[int, str, str | None]) -> dict[str, Any]:
    return {"decisions": [{"fact": n, "action": a, "id": i} for n, a, i in items]}


def prompt(dummy: DummyLM, call: int) -> str:
    return str(dummy.history[call]["messages"][-1]["content"])


def msg(role: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"role": role, "content": text, **extra}


def ops(pred: Any) -> list[tuple[str, str, Any]]:
    return [(o.action, o.id, o.content) for o in pred.operations]


def test_chunks_split_at_message_boundaries_and_repeat_system_messages() -> None:
    date = msg("system", "[session date: 1 May 2023]")
    a, b, c, d = (msg("user", t * n) for t, n in (("a", 100), ("b", 100), ("c", 50), ("d", 300)))
    chunks = chunk_messages([date, a, b, c, d], 200)
    # a + b fill the limit exactly; c would pass it; d is longer than the limit and stands alone.
    assert chunks == [[date, a, b], [date, c], [date, d]]
    assert chunk_messages([date], 200) == [[date]]


def test_one_extract_call_per_chunk_with_the_system_line_and_repeats_dropped() -> None:
    manager = MemoryManager(chunk_chars=200)
    date = msg("system", "[session date: 1 May 2023]")
    first, second = msg("user", "I adopted a puppy named Biscuit. " * 5), msg("user", "I run marathons. " * 9)
    dummy = lm(
        facts("The user has a puppy named Biscuit."),
        facts("The user runs marathons.", "the user has a puppy named Biscuit."),
    )
    with dspy.context(lm=dummy):
        pred = manager(messages=[date, first, second])
    assert len(dummy.history) == 2 and pred.usage.calls == 2  # nothing stored: no reconcile call
    assert all("[session date: 1 May 2023]" in prompt(dummy, i) for i in (0, 1))
    assert "Biscuit" in prompt(dummy, 0) and "Biscuit" not in prompt(dummy, 1)
    assert [m.content for m in pred] == [
        Memory(content="The user has a puppy named Biscuit."),
        Memory(content="The user runs marathons."),
    ]
    with dspy.context(lm=lm()):
        assert list(manager(messages=[date])) == []  # only system lines: no call at all


def test_assistant_lines_are_left_out_unless_asked_for() -> None:
    chat = [msg("user", "I passed my exam!", name="Ann"), msg("assistant", "Congratulations!"), msg("tool", "{}")]
    assert render_dialogue(chat, include_assistant=False) == "Ann: I passed my exam!"
    assert render_dialogue(chat, include_assistant=True) == "Ann: I passed my exam!\nassistant: Congratulations!"
    assert render_dialogue(chat[1:], include_assistant=False) == "assistant: Congratulations!"  # no one else speaks
    for include in (False, True):
        dummy = lm(facts())
        with dspy.context(lm=dummy):
            MemoryManager(include_assistant=include)(messages=chat)
        assert ("Congratulations" in prompt(dummy, 0)) is include


def test_a_chunk_of_assistant_replies_in_a_users_conversation_is_not_extracted() -> None:
    manager = MemoryManager(chunk_chars=200)
    reply, result = msg("assistant", "Lyon is lovely! " * 20), msg("tool", '{"city": "Lyon"} ' * 20)
    chat = [msg("system", "[session date: 1 May 2023]"), msg("user", "I moved to Lyon last week."), reply, result]
    dummy = lm(facts("The user lives in Lyon."))
    with dspy.context(lm=dummy):
        pred = manager(messages=chat)
    assert len(dummy.history) == 1 and "Lyon is lovely" not in prompt(dummy, 0)
    assert [m.content for m in pred] == [Memory(content="The user lives in Lyon.")]


def test_unknown_fact_numbers_and_ids_are_sent_back_then_the_valid_part_is_kept() -> None:
    manager = MemoryManager(enable_deletes=True)
    stored = [("real-1", Memory(content="The user lives in Paris.")), ("real-2", Memory(content="The user has a cat."))]
    bad = decisions((3, "add", None), (1, "update", "m9"))
    half = decisions((1, "update", "m1"), (2, "delete", "m7"))
    dummy = lm(facts("The user lives in Lyon.", "The user has a dog."), bad, half)
    with dspy.context(lm=dummy):
        pred = manager(messages=[msg("user", "I moved to Lyon and got a dog.")], existing=stored)
    assert len(dummy.history) == 3 and pred.usage.as_dict()["by_step"]["reconcile"]["calls"] == 2
    shown = prompt(dummy, 1)
    assert "m1: The user lives in Paris." in shown and "m2: The user has a cat." in shown and "real-1" not in shown
    retry = prompt(dummy, 2)
    assert "fact 3 is not one of the numbers 1..2" in retry and "'m9' is not one of the stored ids" in retry
    # The last answer's valid decision is kept; fact 2, which no valid decision mentions, is added.
    assert [(a, i) for a, i, _ in ops(pred)][0] == ("update", "real-1")
    assert ops(pred)[0][2] == Memory(content="The user lives in Lyon.")  # the fact itself, not LM-copied text
    assert [(a, c) for a, _, c in ops(pred)[1:]] == [("insert", Memory(content="The user has a dog."))]


def test_a_retry_that_fixes_the_decisions_is_accepted() -> None:
    manager = MemoryManager()
    dummy = lm(facts("The user lives in Lyon."), decisions((1, "update", "m2")), decisions((1, "update", "m1")))
    with dspy.context(lm=dummy):
        pred = manager(
            messages=[msg("user", "I moved to Lyon.")], existing=[("p", Memory(content="The user lives in Paris."))]
        )
    assert ops(pred) == [("update", "p", Memory(content="The user lives in Lyon."))] and len(dummy.history) == 3


def test_a_memory_is_changed_once() -> None:
    manager = MemoryManager(enable_deletes=True)
    answer = decisions((1, "update", "m1"), (2, "delete", "m1"))
    dummy = lm(facts("The user lives in Lyon.", "The user left Paris."), answer)
    with dspy.context(lm=dummy):
        pred = manager(
            messages=[msg("user", "I left Paris for Lyon.")],
            existing=[("p", Memory(content="The user lives in Paris."))],
        )
    assert ops(pred) == [("update", "p", Memory(content="The user lives in Lyon."))]
    assert [m.id for m in pred] == ["p"]


def test_a_verbatim_stored_fact_is_skipped_without_a_reconcile_call() -> None:
    manager = MemoryManager()
    stored = [("t", Memory(content="The user likes tea."))]
    dummy = lm(facts("the user likes tea."))
    with dspy.context(lm=dummy):
        pred = manager(messages=[msg("user", "I like tea.")], existing=stored)
    assert len(dummy.history) == 1 and pred.operations == [] and [m.id for m in pred] == ["t"]
    # With a new fact too, only the new one is numbered and reconciled.
    dummy = lm(facts("The user likes tea.", "The user has a cat."), decisions((1, "add", None)))
    with dspy.context(lm=dummy):
        pred = manager(messages=[msg("user", "I like tea and I have a cat.")], existing=stored)
    assert "1. The user has a cat." in prompt(dummy, 1) and "likes tea" not in prompt(dummy, 1).split("existing")[0]
    assert [(a, c) for a, _, c in ops(pred)] == [("insert", Memory(content="The user has a cat."))]


def test_a_fact_no_decision_mentions_is_added() -> None:
    manager = MemoryManager()
    dummy = lm(facts("The user likes tea.", "The user has a cat."), decisions((1, "skip", None)))
    with dspy.context(lm=dummy):
        pred = manager(
            messages=[msg("user", "I like tea. I have a cat.")], existing=[("t", Memory(content="User enjoys tea"))]
        )
    assert [(a, c) for a, _, c in ops(pred)] == [("insert", Memory(content="The user has a cat."))]


def test_a_profile_is_merged_in_code_without_a_reconcile_call() -> None:
    manager = MemoryManager(schemas=[UserProfile], enable_inserts=False)
    dummy = lm({"facts": {"name": "Alice", "language": "French", "location": "unknown"}})  # one object to fill
    with dspy.context(lm=dummy):
        first = manager.invoke({"messages": [msg("user", "I'm Alice; I speak French.")]})
    assert [(m.id, m.content) for m in first] == [("userprofile", UserProfile(name="Alice", language="French"))]
    dummy = lm({"facts": {"name": "user", "language": "Japanese"}})  # a vague "user" never overwrites a name
    with dspy.context(lm=dummy):
        second = manager(messages=[msg("user", "I speak Japanese now.")], existing=first)
    assert len(dummy.history) == 1
    assert ops(second) == [("update", "userprofile", UserProfile(name="Alice", language="Japanese"))]
    with dspy.context(lm=lm({"facts": {"name": "Alice"}})):
        assert manager(messages=[msg("user", "I'm Alice.")], existing=second.memories).operations == []
    assert manager.extract.signature.output_fields["facts"].annotation is UserProfile


def test_triple_facts_are_validated_and_retried() -> None:
    manager = MemoryManager(schemas=[Triple], max_retries=1)
    assert manager.extract.signature.output_fields["facts"].annotation == list[Triple]
    assert MemoryManager().extract.signature.output_fields["facts"].annotation == list[str]
    good = {"subject": "Alice", "predicate": "manages", "object": "ML_team", "context": None}
    dummy = lm(facts({"subject": "Alice", "predicate": "manages"}), facts(good))
    with dspy.context(lm=dummy):
        pred = manager(messages=[msg("user", "Alice manages the ML team.")])
    assert [m.content for m in pred] == [Triple(subject="Alice", predicate="manages", object="ML_team")]
    assert "rejected" in prompt(dummy, 1) and len(dummy.history) == 2


def test_several_kinds_come_as_kind_and_content() -> None:
    manager = MemoryManager(schemas=[Triple, Memory])
    triple = {"subject": "Bob", "predicate": "leads", "object": "NLP", "context": None}
    answer = facts({"kind": "Triple", "content": triple}, {"kind": "Memory", "content": {"content": "Bob likes jazz."}})
    with dspy.context(lm=lm(answer)):
        pred = manager(messages=[msg("user", "Bob leads NLP and likes jazz.")])
    assert [(o.action, o.kind, o.content) for o in pred.operations] == [
        ("insert", "Triple", Triple(subject="Bob", predicate="leads", object="NLP")),
        ("insert", "Memory", Memory(content="Bob likes jazz.")),
    ]


def test_the_store_manager_shows_only_each_facts_neighbours(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    with EdgeStore(tmp_path / "s", embedder=embedder) as store:
        manager = create_memory_store_manager(store=store)
        dummy = lm(facts("The user lives in Paris.", "The user has a cat named Tom."))
        with dspy.context(lm=dummy):
            events = manager.invoke({"messages": [msg("user", "I live in Paris with my cat Tom.")]}, config=U1)
        assert len(dummy.history) == 1 and [e["event"] for e in events] == ["insert", "insert"]  # empty store
        paris = next(e["key"] for e in events if "Paris" in store.get(("memories", "u1"), e["key"]).value["text"])  # type: ignore[union-attr]
        dummy = lm(facts("The user lives in Lyon."), decisions((1, "update", "m1")))
        with dspy.context(lm=dummy):
            events = manager.invoke({"messages": [msg("user", "I moved to Lyon.")]}, config=U1)
        shown = prompt(dummy, 1).split("existing_memories")[1]
        assert "m1: The user lives in Paris." in shown and "cat" not in shown  # the cat is no neighbour
        assert [(e["event"], e["key"]) for e in events] == [("update", paris)]
    with pytest.raises(ValueError, match="neighbour_score"):
        create_memory_store_manager(neighbour_score=1.5)


def test_invalid_design_and_chunk_size_are_refused() -> None:
    with pytest.raises(ValueError, match="design"):
        MemoryManager(design="bogus")
    with pytest.raises(ValueError, match="chunk_chars"):
        MemoryManager(chunk_chars=10)


def test_one_fact_is_written_once_and_a_second_memory_it_updates_is_retired() -> None:
    from memspy.pipelines.semantic.facts import Fact, resolve_decisions
    from memspy.pipelines.semantic.validate import ExistingMemory

    fact = Fact("Triple", Triple(subject="Bob", predicate="leads", object="ML team"))
    shown = [
        ExistingMemory("m1", "Triple", Triple(subject="Alice", predicate="manages", object="ML team")),
        ExistingMemory("m2", "Triple", Triple(subject="Alice", predicate="mentors", object="Bob")),
    ]
    decisions = [{"fact": 1, "action": "update", "id": "m1"}, {"fact": 1, "action": "update", "id": "m2"}]
    changes, problems = resolve_decisions(decisions, [fact], shown, ("insert", "update", "delete"))
    assert problems == []
    # m1 now says the fact; m2 would say it too, so it is retired (one write per fact, no copy left behind)
    assert [(c.action, c.id) for c in changes] == [("update", "m1"), ("delete", "m2")]
    changes, _ = resolve_decisions(decisions, [fact], shown, ("insert", "update"))
    assert [(c.action, c.id) for c in changes] == [("update", "m1")]  # without deletes m2 is left as it was
    retire = [{"fact": 1, "action": "update", "id": "m1"}, {"fact": 1, "action": "delete", "id": "m2"}]
    changes, _ = resolve_decisions(retire, [fact], shown, ("insert", "update", "delete"))
    assert [(c.action, c.id) for c in changes] == [("update", "m1"), ("delete", "m2")]  # may still retire others


def test_a_skip_is_believed_only_when_the_cited_memory_restates_the_fact() -> None:
    from memspy.pipelines.semantic.facts import Fact, resolve_decisions
    from memspy.pipelines.semantic.validate import ExistingMemory

    left = Fact("Triple", Triple(subject="Alice", predicate="left", object="the company"))
    shown = [ExistingMemory("m1", "Triple", Triple(subject="Alice", predicate="mentors", object="Bob"))]
    skip = [{"fact": 1, "action": "skip", "id": "m1"}]
    changes, _ = resolve_decisions(skip, [left], shown, ("insert", "update", "delete"))
    assert [(c.action, c.content) for c in changes] == [("insert", left.content)]  # "Alice mentors Bob" != it
    again = Fact("Triple", Triple(subject="Alice", predicate="mentors", object="Bob"))
    assert resolve_decisions(skip, [again], shown, ("insert", "update"))[0] == []
    # With no id, the skip stands when any shown memory restates the fact.
    tea = Fact("Memory", Memory(content="The user likes tea."))
    shown = [ExistingMemory("m1", "Memory", Memory(content="User enjoys tea")), *shown]
    assert resolve_decisions([{"fact": 1, "action": "skip", "id": None}], [tea], shown, ("insert",))[0] == []


def test_a_fact_that_opens_with_a_bare_pronoun_is_dropped() -> None:
    manager = MemoryManager()
    dummy = lm(facts("They look great!", "It's gonna be awesome.", "Jon started a dance studio."))
    with dspy.context(lm=dummy):
        pred = manager(messages=[msg("user", "My studio opened! They look great!", name="Jon")])
    assert [c.content for _, _, c in ops(pred)] == ["Jon started a dance studio."]


def test_facts_about_the_talk_or_a_courtesy_between_speakers_are_dropped() -> None:
    listed = parse_facts(
        [
            "The conversation mentions the kind of words used.",
            "Caroline thanks Melanie for her kind words.",
            "Melanie is congratulating Caroline on her new job.",
            "Caroline thinks the session went well.",  # about a person: kept
            "The user is grateful for the tea their sister sent.",  # about a person: kept
        ],
        normalize_schemas(None),
    )[0]
    assert [f.text for f in listed] == [
        "Caroline thinks the session went well.",
        "The user is grateful for the tea their sister sent.",
    ]


def test_only_the_single_design_is_shown_the_allowed_actions() -> None:
    dummy = lm(facts("The user likes tea."))
    with dspy.context(lm=dummy):
        MemoryManager(enable_deletes=True)(messages=[msg("user", "I like tea.")])
    assert "Memory:" in prompt(dummy, 0) and "Allowed actions" not in prompt(dummy, 0)
    assert (
        MemoryManager(design="single", enable_deletes=True)
        .kinds_text()
        .endswith("Allowed actions: insert, update, delete.")
    )
