"""The functional memory manager: insert/update/delete semantics, validation and retries, profiles.

Tests of the one-call operations (``design="single"``) say so; the others run the default facts design
(its own rules are tested in test_facts.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import dspy
import pytest
from dspy.utils import DummyLM
from pydantic import BaseModel

from memspy.pipelines import (
    ExtractedMemory,
    Memory,
    MemoryExtractionError,
    RemoveDoc,
    SchemaError,
    Triple,
    UserProfile,
    create_memory_manager,
)


def lm(*answers: dict[str, Any]) -> DummyLM:
    return DummyLM(list(answers), adapter=dspy.JSONAdapter())


def ins(kind: str, content: dict[str, Any], importance: float = 0.5) -> dict[str, Any]:
    return {"action": "insert", "id": None, "kind": kind, "content": content, "importance": importance}


def triple(s: str, p: str, o: str) -> dict[str, Any]:
    return ins("Triple", {"subject": s, "predicate": p, "object": o, "context": None}, 0.7)


def fact(s: str, p: str, o: str) -> dict[str, Any]:
    return {"subject": s, "predicate": p, "object": o, "context": None}


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_alice_bob_insert_and_delete_with_facts() -> None:
    manager = create_memory_manager(schemas=[Triple], enable_deletes=True)
    dummy = lm({"facts": [fact("Alice", "manages", "ML_team"), fact("Alice", "mentors", "Bob")]})
    with dspy.context(lm=dummy):
        first = manager.invoke({"messages": user("Alice manages the ML team and mentors Bob.")})
    assert [m.content.predicate for m in first] == ["manages", "mentors"]  # type: ignore[attr-defined]
    assert len(dummy.history) == 1  # nothing stored: no reconcile call
    manages = first[0].id
    # Stored memories are shown as m1, m2 in order; m1 (manages) is deleted, the fact is added.
    decisions = [{"fact": 1, "action": "delete", "id": "m1"}, {"fact": 1, "action": "add", "id": None}]
    dummy = lm({"facts": [fact("Bob", "leads", "ML_team")]}, {"decisions": decisions})
    with dspy.context(lm=dummy):
        second = manager.invoke({"messages": user("Bob now leads the ML team."), "existing": first})
    assert "m1: Alice manages ML_team" in dummy.history[1]["messages"][-1]["content"]
    assert manages not in dummy.history[1]["messages"][-1]["content"]  # real ids stay in code
    assert isinstance(second[0].content, RemoveDoc) and second[0].content.json_doc_id == manages
    assert second[1].content == Triple(subject="Bob", predicate="leads", object="ML_team")
    assert [m.id for m in second[2:]] == [first[1].id]  # unchanged memories follow, LangMem's order


def test_alice_bob_insert_update_delete() -> None:
    manager = create_memory_manager(schemas=[Triple], enable_deletes=True, design="single")
    with dspy.context(
        lm=lm({"operations": [triple("Alice", "manages", "ML_team"), triple("Alice", "mentors", "Bob")]})
    ):
        first = manager.invoke({"messages": user("Alice manages the ML team and mentors Bob.")})
    assert [m.content.predicate for m in first] == ["manages", "mentors"]  # type: ignore[attr-defined]
    manages = first[0].id
    answer = {
        "operations": [
            {"action": "delete", "id": manages, "kind": "Triple", "content": None, "importance": 0.5},
            triple("Bob", "leads", "ML_team"),
        ]
    }
    with dspy.context(lm=lm(answer)):
        second = manager.invoke({"messages": user("Bob now leads the ML team."), "existing": first})
    assert isinstance(second[0].content, RemoveDoc) and second[0].content.json_doc_id == manages
    assert second[1].content == Triple(subject="Bob", predicate="leads", object="ML_team")
    assert [m.id for m in second[2:]] == [first[1].id]  # unchanged memories follow, LangMem's order


def test_invented_id_is_rejected_then_retried() -> None:
    manager = create_memory_manager(enable_deletes=True, design="single")
    bad = {"operations": [{"action": "update", "id": "made-up", "kind": "Memory", "content": {"content": "x"}}]}
    good = {"operations": [{"action": "update", "id": "m1", "kind": "Memory", "content": {"content": "likes tea"}}]}
    dummy = lm(bad, good)
    with dspy.context(lm=dummy):
        pred = manager(messages=user("I like tea now"), existing=[("m1", Memory(content="likes coffee"))])
    assert list(pred) == [ExtractedMemory("m1", Memory(content="likes tea"))]
    assert pred.usage.calls == 2
    retry_prompt = dummy.history[-1]["messages"][-1]["content"]
    assert "made-up" in retry_prompt and "not one of the existing memory ids" in retry_prompt


def test_persistently_invalid_output_fails_loudly() -> None:
    manager = create_memory_manager(schemas=[Triple], max_retries=1, design="single")
    missing_field = {"operations": [ins("Triple", {"subject": "Alice", "predicate": "likes"})]}
    with dspy.context(lm=lm(missing_field, missing_field)), pytest.raises(MemoryExtractionError) as info:
        manager(messages=user("Alice likes tea"))
    assert info.value.attempts == 2 and "object" in str(info.value)


def test_forbidden_action_is_rejected() -> None:
    manager = create_memory_manager(enable_deletes=False, max_retries=0, design="single")
    answer = {"operations": [{"action": "delete", "id": "m1", "kind": "Memory", "content": None}]}
    with (
        dspy.context(lm=lm(answer)),
        pytest.raises(MemoryExtractionError, match="should be .insert., .update. or .none."),
    ):
        manager(messages=user("forget that"), existing=[("m1", Memory(content="likes coffee"))])


def test_none_action_and_duplicates_change_nothing() -> None:
    manager = create_memory_manager(design="single")
    answer = {"operations": [{"action": "none", "kind": "Memory"}, ins("Memory", {"content": "Likes coffee"})]}
    with dspy.context(lm=lm(answer)):
        out = manager.invoke({"messages": user("hello"), "existing": [("m1", Memory(content="likes coffee"))]})
    assert out == [ExtractedMemory("m1", Memory(content="likes coffee"))]


def test_profile_stays_one_document_updated_in_place() -> None:
    manager = create_memory_manager(schemas=[UserProfile], enable_inserts=False, design="single")
    first_answer = {
        "operations": [
            {"action": "update", "id": "userprofile", "kind": "UserProfile", "content": {"name": "Alice"}},
        ]
    }
    with dspy.context(lm=lm(first_answer)):
        first = manager.invoke({"messages": user("I'm Alice from California")})
    assert first == [ExtractedMemory("userprofile", UserProfile(name="Alice"))]
    second_answer = {
        "operations": [
            {"action": "update", "id": "userprofile", "kind": "UserProfile", "content": {"language": "Japanese"}},
        ]
    }
    with dspy.context(lm=lm(second_answer)):
        second = manager.invoke({"messages": user("I speak Japanese now"), "existing": first})
    assert second == [ExtractedMemory("userprofile", UserProfile(name="Alice", language="Japanese"))]
    grammar = manager.extract.signature.output_fields["operations"].annotation
    assert grammar.__args__[0].model_json_schema()["properties"]["action"]["enum"] == ["update", "none"]


def test_max_steps_stops_when_a_pass_changes_nothing() -> None:
    manager = create_memory_manager(max_steps=3, design="single")
    answers = [{"operations": [ins("Memory", {"content": "has a dog named Fido"})]}, {"operations": []}]
    with dspy.context(lm=lm(*answers)):
        pred = manager(messages=user("My dog is Fido"))
    assert [m.content.content for m in pred] == ["has a dog named Fido"]  # type: ignore[attr-defined]
    assert pred.usage.calls == 2


def test_json_schema_dict_schemas_validate_content() -> None:
    pref = {
        "title": "Preference",
        "description": "A user preference.",
        "properties": {"topic": {"type": "string"}, "liked": {"type": "boolean"}},
        "required": ["topic", "liked"],
    }
    manager = create_memory_manager(schemas=[pref, Memory], max_retries=1)
    # Several kinds: each fact is {kind, content}; a content that fits no kind is sent back and retried.
    bad = {"facts": [{"kind": "Preference", "content": {"topic": "tea", "liked": "very much"}}]}
    good = {"facts": [{"kind": "Preference", "content": {"topic": "tea", "liked": True}}]}
    dummy = lm(bad, good)
    with dspy.context(lm=dummy):
        out = manager.invoke({"messages": user("I love tea")})
    assert out[0].content.model_dump() == {"topic": "tea", "liked": True}
    assert len(dummy.history) == 2 and "rejected" in dummy.history[1]["messages"][-1]["content"]
    with pytest.raises(SchemaError, match="title"):
        create_memory_manager(schemas=[{"properties": {"a": {"type": "string"}}}])


def test_async_and_prediction_shapes() -> None:
    manager = create_memory_manager()
    answer = {"facts": ["prefers dark mode"]}

    async def run() -> tuple[Any, Any]:
        with dspy.context(lm=lm(answer, answer)):
            return await manager.ainvoke({"messages": user("dark mode please")}), await manager.acall(
                messages=user("dark mode please")
            )

    listed, pred = asyncio.run(run())
    assert [m.content for m in listed] == [Memory(content="prefers dark mode")]
    assert isinstance(pred, dspy.Prediction) and len(pred) == 1 and pred[0].content == listed[0].content
    assert pred.operations[0].action == "insert" and manager.usage.total.calls == 2


def test_save_and_load_keeps_demos(tmp_path: Any) -> None:
    manager = create_memory_manager()
    manager.extract.demos = [dspy.Example(conversation="c", memory_kinds="k", facts=["f"]).with_inputs("conversation")]
    manager.reconcile.demos = [
        dspy.Example(new_facts="1. f", existing_memories="m1: g", decisions=[]).with_inputs("new_facts"),
        dspy.Example(new_facts="1. h", existing_memories="m1: h", decisions=[]).with_inputs("new_facts"),
    ]
    path = tmp_path / "program.json"
    manager.save(str(path))
    loaded = create_memory_manager(program=path)
    assert len(loaded.extract.demos) == 1 and loaded.extract.demos[0]["facts"] == ["f"]
    assert len(loaded.reconcile.demos) == 2
    assert sorted(name for name, _ in loaded.named_predictors()) == ["extract", "reconcile"]
    single = create_memory_manager(design="single")
    assert [name for name, _ in single.named_predictors()] == ["extract"]


class Note(BaseModel):
    """A short note."""

    text: str


def test_existing_memories_in_many_shapes() -> None:
    manager = create_memory_manager(schemas=[Note, Memory])
    dummy = lm({"facts": []})
    with dspy.context(lm=dummy):
        out = manager.invoke(
            {
                "messages": user("ok"),
                "existing": [
                    ("a", Note(text="n1")),
                    ("b", "Memory", {"content": "m1"}),
                    {"id": "c", "kind": "Note", "content": {"text": "n2"}},
                    "plain string memory",
                ],
            }
        )
    assert [(m.id, type(m.content).__name__) for m in out] == [
        ("a", "Note"),
        ("b", "Memory"),
        ("c", "Note"),
        ("3", "Note"),
    ]
    assert len(dummy.history) == 1  # no fact: nothing to reconcile
