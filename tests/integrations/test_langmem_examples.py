"""LangMem's documentation examples, ported to memspy and run with scripted models (no network).

Each test follows one example of LangMem's docs (guides and quickstarts) in its LangGraph form where the docs
use LangGraph. What changes in the port: the imports (``langmem`` -> ``memspy.pipelines``); the model string
(LangMem's ``"anthropic:claude-..."`` is DSPy/LiteLLM's ``"anthropic/claude-..."``; here ``None`` with a scripted
LM in ``dspy.context``); and the store's embedder (``InMemoryStore(index={"dims": 384, "embed": ...})`` with
MiniLM instead of an OpenAI embedding model). The chat model the examples call (``init_chat_model``) is a
scripted LangChain model.
"""

from __future__ import annotations

import asyncio
from typing import Any

import dspy
import pytest
from langgraph.config import get_config
from langgraph.func import entrypoint
from langgraph.store.memory import InMemoryStore
from pydantic import BaseModel
from scripted import ScriptedLM, alias, chat_model

from memspy.pipelines import (
    Episode,
    RemoveDoc,
    Triple,
    create_memory_manager,
    create_memory_store_manager,
)

pytestmark = pytest.mark.filterwarnings("ignore:create_react_agent has been moved")


def triple(s: str, p: str, o: str) -> dict[str, Any]:
    return {"subject": s, "predicate": p, "object": o, "context": None}


# ---- background_quickstart.md -------------------------------------------------------------------------------


def test_background_quickstart(lg_store: InMemoryStore) -> None:
    store = lg_store
    llm = chat_model("That's nice! Dogs make wonderful companions. What kind of dog is Fido?")
    memory_manager = create_memory_store_manager(None, namespace=("memories",))

    @entrypoint(store=store)
    async def chat(message: str) -> str:
        response = llm.invoke(message)
        to_process = {"messages": [{"role": "user", "content": message}] + [response]}
        await memory_manager.ainvoke(to_process)
        return str(response.content)

    lm = ScriptedLM(facts=[{"facts": ["User likes dogs as pets", "User has a dog named Fido"]}])
    with dspy.context(lm=lm):
        response = asyncio.run(chat.ainvoke("I like dogs. My dog's name is Fido."))
    assert response.startswith("That's nice!")
    found = store.search(("memories",))
    assert sorted(i.value["content"]["content"] for i in found) == [
        "User has a dog named Fido",
        "User likes dogs as pets",
    ]
    assert {i.value["kind"] for i in found} == {"Memory"}
    assert lm.left() == {}


# ---- guides/manage_user_profile.md --------------------------------------------------------------------------


class UserProfile(BaseModel):
    """Represents the full representation of a user."""

    name: str | None = None
    language: str | None = None
    timezone: str | None = None


def test_user_profile_basic_usage() -> None:
    manager = create_memory_manager(
        None, schemas=[UserProfile], instructions="Extract user profile information", enable_inserts=False
    )
    lm = ScriptedLM(
        facts=[
            {"facts": {"name": "Alice", "language": None, "timezone": "America/Los_Angeles"}},
            {"facts": {"name": None, "language": "Spanish", "timezone": None}},
        ]
    )
    with dspy.context(lm=lm):
        memories = manager.invoke({"messages": [{"role": "user", "content": "I'm Alice from California"}]})
        update = manager.invoke(
            {"messages": [{"role": "user", "content": "I speak Spanish too!"}], "existing": memories}
        )
    assert memories[0].content == UserProfile(name="Alice", timezone="America/Los_Angeles")
    assert update[0].id == memories[0].id
    assert update[0].content == UserProfile(name="Alice", language="Spanish", timezone="America/Los_Angeles")
    assert lm.left() == {}


def test_user_profile_with_langgraph_store(lg_store: InMemoryStore) -> None:
    store = lg_store
    my_llm = chat_model("Nice to meet you, Alice!", "Congratulations on passing the N1!")
    manager = create_memory_store_manager(
        None, namespace=("users", "{user_id}", "profile"), schemas=[UserProfile], enable_inserts=False
    )
    prompts: list[str] = []

    @entrypoint(store=store)
    def chat(messages: list[dict[str, Any]]) -> Any:
        configurable = get_config()["configurable"]
        results = store.search(("users", configurable["user_id"], "profile"))
        profile = f"<User Profile>:\n\n{results[0].value}\n</User Profile>\n" if results else ""
        prompts.append(f"You are a helpful assistant.{profile}")
        response = my_llm.invoke([{"role": "system", "content": prompts[-1]}, *messages])
        manager.invoke({"messages": messages})
        return response

    lm = ScriptedLM(
        facts=[
            {"facts": {"name": "Alice", "language": None, "timezone": "America/Los_Angeles"}},
            {"facts": {"name": None, "language": "Japanese", "timezone": None}},
        ]
    )
    config = {"configurable": {"user_id": "user-123"}}
    with dspy.context(lm=lm):
        asyncio.run(chat.ainvoke([{"role": "user", "content": "I'm Alice from California"}], config=config))
        asyncio.run(chat.ainvoke([{"role": "user", "content": "I just passed the N1 exam!"}], config=config))
    (item,) = store.search(("users", "user-123", "profile"))
    assert item.value["kind"] == "UserProfile"
    assert item.value["content"] == {"name": "Alice", "language": "Japanese", "timezone": "America/Los_Angeles"}
    assert "Alice" in prompts[1] and "Alice" not in prompts[0]  # the second reply saw the stored profile


# ---- guides/extract_semantic_memories.md --------------------------------------------------------------------


def test_semantic_memories_without_storage() -> None:
    manager = create_memory_manager(
        None,
        schemas=[Triple],
        instructions="Extract user preferences and any other useful information",
        enable_inserts=True,
        enable_deletes=True,
    )
    conversation1 = [{"role": "user", "content": "Alice manages the ML team and mentors Bob, who is also on the team."}]
    first = [
        triple("Alice", "manages", "ML_team"),
        triple("Alice", "mentors", "Bob"),
        triple("Bob", "is_member_of", "ML_team"),
    ]
    with dspy.context(lm=ScriptedLM(facts=[{"facts": first}])):
        memories = manager.invoke({"messages": conversation1})
    assert [(m.content.subject, m.content.predicate) for m in memories] == [  # type: ignore[union-attr]
        ("Alice", "manages"),
        ("Alice", "mentors"),
        ("Bob", "is_member_of"),
    ]
    ids = {m.content.predicate: m.id for m in memories}  # type: ignore[union-attr]
    conversation2 = [{"role": "user", "content": "Bob now leads the ML team and the NLP project."}]
    lm = ScriptedLM(
        facts=[{"facts": [triple("Bob", "leads", "ML_team"), triple("Bob", "leads", "NLP_project")]}],
        decisions=[
            {"decisions": [{"fact": 1, "action": "update", "id": ids["manages"]}, {"fact": 2, "action": "add"}]}
        ],
    )
    with dspy.context(lm=lm):
        update = manager.invoke({"messages": conversation2, "existing": memories})
    assert lm.left() == {}
    leads = [m for m in update if not isinstance(m.content, RemoveDoc) and m.content.predicate == "leads"]  # type: ignore[union-attr]
    assert sorted(m.content.object for m in leads) == ["ML_team", "NLP_project"]  # type: ignore[union-attr]
    assert ids["mentors"] in {m.id for m in update}  # unchanged memories come back too
    existing = [m for m in update if not isinstance(m.content, RemoveDoc)]
    conversation3 = [{"role": "user", "content": "Alice left the company."}]
    lm = ScriptedLM(
        facts=[{"facts": [triple("Alice", "employment_status", "left_company")]}],
        decisions=[lambda p: {"decisions": [{"fact": 1, "action": "delete", "id": alias(p, "Alice mentors Bob")}]}],
    )
    with dspy.context(lm=lm):
        final = manager.invoke({"messages": conversation3, "existing": existing})
    removed = [m.content.json_doc_id for m in final if isinstance(m.content, RemoveDoc)]
    assert removed == [ids["mentors"]]


def test_semantic_memories_with_storage(lg_store: InMemoryStore) -> None:
    store = lg_store
    manager = create_memory_store_manager(
        None,
        namespace=("chat", "{user_id}", "triples"),
        schemas=[Triple],
        instructions="Extract all user information and events as triples.",
        enable_inserts=True,
        enable_deletes=True,
    )
    my_llm = chat_model("Got it.", "Noted.", "I see.")

    @entrypoint(store=store)
    def app(messages: list[dict[str, Any]]) -> Any:
        response = my_llm.invoke([{"role": "system", "content": "You are a helpful assistant."}, *messages])
        manager.invoke({"messages": messages})
        return response

    config = {"configurable": {"user_id": "user123"}}
    first = [
        triple("Alice", "manages", "ML_team"),
        triple("Alice", "mentors", "Bob"),
        triple("Bob", "is_member_of", "ML_team"),
    ]
    with dspy.context(lm=ScriptedLM(facts=[{"facts": first}])):
        app.invoke(
            [{"role": "user", "content": "Alice manages the ML team and mentors Bob, who is also on the team."}],
            config=config,
        )
    lm = ScriptedLM(
        facts=[{"facts": [triple("Bob", "leads", "ML_team"), triple("Bob", "leads", "NLP_project")]}],
        decisions=[
            lambda p: {
                "decisions": [
                    {"fact": 1, "action": "update", "id": alias(p, "Alice manages ML_team")},
                    {"fact": 2, "action": "add"},
                ]
            }
        ],
    )
    with dspy.context(lm=lm):
        app.invoke([{"role": "user", "content": "Bob now leads the ML team and the NLP project."}], config=config)
    lm = ScriptedLM(
        facts=[{"facts": [triple("Alice", "employment_status", "left_company")]}],
        decisions=[{"decisions": [{"fact": 1, "action": "add"}]}],
    )
    with dspy.context(lm=lm):
        app.invoke([{"role": "user", "content": "Alice left the company."}], config=config)
    active = [i for i in store.search(("chat", "user123"), limit=20) if "invalid_at" not in i.value]
    assert {i.namespace for i in active} == {("chat", "user123", "triples")}
    assert sorted(i.value["text"] for i in active) == [
        "Alice employment_status left_company",
        "Alice mentors Bob",
        "Bob is_member_of ML_team",
        "Bob leads ML_team",
        "Bob leads NLP_project",
    ]


# ---- guides/extract_episodic_memories.md --------------------------------------------------------------------


EPISODE = {
    "observation": "The user knew family trees and asked what a binary tree is.",
    "thoughts": "A familiar hierarchy makes the new structure easy to picture.",
    "action": "Explained binary trees as family trees where each parent has at most two children.",
    "result": "The user understood at once; familiar analogies work for data structures.",
}


def test_episodic_memories_with_storage(lg_store: InMemoryStore) -> None:
    store = lg_store
    manager = create_memory_store_manager(
        None,
        namespace=("memories", "episodes"),
        schemas=[Episode],
        instructions=(
            "Extract exceptional examples of noteworthy problem-solving scenarios, including what made them effective."
        ),
        enable_inserts=True,
    )
    llm = chat_model("A binary tree is like a family tree where each parent has at most two children.")
    systems: list[str] = []

    @entrypoint(store=store)
    def app(messages: list[dict[str, Any]]) -> Any:
        similar = store.search(("memories", "episodes"), query=messages[-1]["content"], limit=1)
        system_message = "You are a helpful assistant."
        if similar:
            system_message += "\n\n### EPISODIC MEMORY:"
            for i, item in enumerate(similar, start=1):
                episode = item.value["content"]
                system_message += f"\nEpisode {i}:\nWhen: {episode['observation']}\nDid: {episode['action']}"
        systems.append(system_message)
        response = llm.invoke([{"role": "system", "content": system_message}, *messages])
        manager.invoke({"messages": messages})
        return response

    with dspy.context(lm=ScriptedLM(facts=[{"facts": [EPISODE]}])):
        app.invoke([{"role": "user", "content": "What's a binary tree? I work with family trees if that helps"}])
    (hit,) = store.search(("memories", "episodes"), query="Trees")
    assert hit.value["kind"] == "Episode" and hit.value["content"] == EPISODE
    assert hit.score is not None and hit.score > 0.2
    assert systems == ["You are a helpful assistant."]
