"""Hot-path memory tools against a real EdgeStore: namespacing, actions, search, schemas, ReAct, record format."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dspy
import pytest
from pydantic import BaseModel

from memspy.pipelines import NamespaceConfigError
from memspy.pipelines.records.namespaces import configurable
from memspy.pipelines.records.recall import RankedMemory
from memspy.pipelines.semantic.store_manager import MemoryStoreManager
from memspy.pipelines.semantic.tools import MemoryTool, create_manage_memory_tool, create_search_memory_tool
from memspy.stores import EdgeStore, MiniLMEmbedder

__all__: list[str] = []


@pytest.fixture
def store(tmp_path: Path, embedder: MiniLMEmbedder) -> Iterator[EdgeStore]:
    s = EdgeStore(tmp_path / "s", embedder=embedder)
    yield s
    s.close()


def _key(confirmation: str) -> str:
    verb, noun, key = confirmation.split()
    assert verb in ("created", "updated", "deleted") and noun == "memory", confirmation
    return key


def _all(store: EdgeStore, ns: tuple[str, ...]) -> list[Any]:
    return store.search(ns, limit=100)


class Triple(BaseModel):
    """A fact as subject, predicate, object."""

    subject: str
    predicate: str
    object: str


def test_create_update_delete_round_trip_is_scoped_per_user(store: EdgeStore) -> None:
    manage, search = create_manage_memory_tool(store=store), create_search_memory_tool(store=store)
    with configurable(user_id="u1", thread_id="t-1"):
        key = _key(manage(content="User prefers dark mode", action="create"))
    item = store.get(("memories", "u1"), key)
    assert item is not None
    assert item.value["kind"] == "Memory" and item.value["content"] == {"content": "User prefers dark mode"}
    assert item.value["provenance"] == {"source": "tool", "tool": "manage_memory", "thread_id": "t-1"}
    with configurable(user_id="u10"):  # a user id that is a string prefix of another sees nothing of it
        assert json.loads(search(query="dark mode")) == []
        assert "no memory with id" in manage(content="hijack", action="update", id=key)
    assert store.get(("memories", "u10"), key) is None
    with configurable(user_id="u1"):
        assert manage(content="User prefers light mode", action="update", id=key) == f"updated memory {key}"
        value = store.get(("memories", "u1"), key).value
        assert value["content"] == {"content": "User prefers light mode"}
        assert value["history"][-1]["content"] == {"content": "User prefers dark mode"}
        assert manage(action="delete", id=key) == f"deleted memory {key}"
        assert json.loads(search(query="light mode")) == []
    retired = store.get(("memories", "u1"), key)
    assert retired is not None and "invalid_at" in retired.value  # soft delete keeps history
    with configurable(user_id="u1"):
        assert "no memory with id" in manage(action="delete", id=key)  # already deleted


def test_hard_delete_removes_the_record(store: EdgeStore) -> None:
    manage = create_manage_memory_tool(("memories",), store=store, hard_delete=True)
    key = _key(manage(content="User owns a cat"))
    assert manage(action="delete", id=key) == f"deleted memory {key}"
    assert store.get(("memories",), key) is None


def test_forbidden_action_is_refused_and_not_offered(store: EdgeStore) -> None:
    manage = create_manage_memory_tool(("memories",), store=store, actions_permitted=("create",))
    key = _key(manage(content="User likes tea"))
    out = manage(action="delete", id=key)
    assert out.startswith("Error:") and "not permitted" in out
    assert "invalid_at" not in store.get(("memories",), key).value
    props = manage.json_schema()["parameters"]["properties"]
    assert props["action"]["enum"] == ["create"] and "id" not in props
    with pytest.raises(ValueError, match="actions_permitted"):
        create_manage_memory_tool(store=store, actions_permitted=("create", "purge"))


def test_unknown_id_writes_nothing(store: EdgeStore) -> None:
    manage = create_manage_memory_tool(("memories",), store=store)
    _key(manage(content="User likes tea"))
    before = [(i.key, i.value) for i in _all(store, ("memories",))]
    for args in ({"action": "update", "id": "missing", "content": "x"}, {"action": "delete", "id": "missing"}):
        out = manage.invoke(args)
        assert out.startswith("Error:") and "'missing'" in out and "nothing was changed" in out
    assert "needs the id" in manage(action="update", content="x")
    assert [(i.key, i.value) for i in _all(store, ("memories",))] == before


def test_search_ranks_the_matching_memory_first_for_a_paraphrase(store: EdgeStore) -> None:
    manage, search = create_manage_memory_tool(store=store), create_search_memory_tool(store=store)
    with configurable(user_id="u1"):
        for fact in ("User lives in Lisbon", "User has a dog named Fido", "User works as a nurse"):
            manage(content=fact)
        key = _key(manage(content="User prefers dark mode in every app"))
        rows = json.loads(search(query="Which colour scheme should the interface use?"))
        assert rows[0]["key"] == key and rows[0]["kind"] == "Memory"
        assert set(rows[0]) == {"key", "kind", "content", "score"}
        assert len(json.loads(search(query="user", limit=2))) == 2
        assert search(query="user", limit=0).startswith("Error:")
        assert "unknown operator" in search(query="user", filter={"kind": {"$like": "x"}})


def test_content_and_artifact_returns_text_and_ranked_memories(store: EdgeStore) -> None:
    create_manage_memory_tool(("memories",), store=store)(content="User speaks Portuguese")
    search = create_search_memory_tool(("memories",), store=store, response_format="content_and_artifact")
    text, ranked = search(query="languages the user speaks")
    assert isinstance(text, str) and len(ranked) == 1 and isinstance(ranked[0], RankedMemory)
    assert json.loads(text)[0]["key"] == ranked[0].key


def test_schema_exports(store: EdgeStore) -> None:
    manage, search = create_manage_memory_tool(store=store), create_search_memory_tool(store=store)
    assert isinstance(manage, dspy.Tool) and isinstance(manage, MemoryTool)
    spec = search.json_schema()
    assert spec["name"] == "search_memory" and spec["description"]
    assert spec["parameters"]["type"] == "object" and spec["parameters"]["required"] == ["query"]
    assert set(spec["parameters"]["properties"]) == {"query", "limit", "offset", "filter"}
    openai = manage.to_openai()
    assert openai["type"] == "function" and openai["function"]["name"] == "manage_memory"
    assert openai["function"]["parameters"]["properties"]["action"]["enum"] == ["create", "update", "delete"]
    anthropic = manage.to_anthropic()
    assert set(anthropic) == {"name", "description", "input_schema"}
    assert anthropic["input_schema"] == openai["function"]["parameters"]
    with pytest.raises(ValueError, match="tool name"):
        create_search_memory_tool(store=store, name="search memory")


def test_pydantic_schema_validates_content(store: EdgeStore) -> None:
    manage = create_manage_memory_tool(("facts",), store=store, schema=Triple)
    content_schema = manage.json_schema()["parameters"]["properties"]["content"]["anyOf"][0]
    assert content_schema["type"] == "object" and set(content_schema["required"]) == {"subject", "predicate", "object"}
    bad = manage(content={"subject": "Alice", "predicate": "manages"})
    assert bad.startswith("Error:") and "object" in bad
    assert _all(store, ("facts",)) == []
    key = _key(manage(content={"subject": "Alice", "predicate": "manages", "object": "ML team"}, importance=0.9))
    value = store.get(("facts",), key).value
    assert value["kind"] == "Triple" and value["importance"] == 0.9 and value["text"] == "Alice manages ML team"


def test_invoke_takes_json_arguments_and_config(store: EdgeStore) -> None:
    manage = create_manage_memory_tool(store=store)
    out = manage.invoke('{"content": "User likes cherry pie", "action": "create"}', {"configurable": {"user_id": "a"}})
    assert store.get(("memories", "a"), _key(out)) is not None
    assert manage.invoke("{not json", {"configurable": {"user_id": "a"}}).startswith("Error:")
    with pytest.raises(NamespaceConfigError):
        manage.invoke({"content": "no user"})
    out = asyncio.run(manage.ainvoke({"content": "User dislikes rocky road"}, {"configurable": {"user_id": "a"}}))
    assert store.get(("memories", "a"), _key(out)).value["text"] == "User dislikes rocky road"


def test_react_agent_saves_in_one_thread_and_recalls_in_another(store: EdgeStore) -> None:
    tools = [create_manage_memory_tool(store=store), create_search_memory_tool(store=store)]
    agent = dspy.ReAct("question -> answer", tools=tools, max_iters=4)
    save = {"content": "User prefers dark mode", "action": "create"}
    lm = dspy.utils.DummyLM(
        [
            {"next_thought": "Save it.", "next_tool_name": "manage_memory", "next_tool_args": save},
            {"next_thought": "Done.", "next_tool_name": "finish", "next_tool_args": {}},
            {"reasoning": "Saved.", "answer": "I'll remember that."},
            {"next_thought": "Look.", "next_tool_name": "search_memory", "next_tool_args": {"query": "preferences"}},
            {"next_thought": "Found.", "next_tool_name": "finish", "next_tool_args": {}},
            {"reasoning": "Memory says dark.", "answer": "You prefer dark mode."},
        ],
        adapter=dspy.JSONAdapter(),
    )
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        with configurable(user_id="u1", thread_id="thread-a"):
            first = agent(question="dark. Remember that.")
        with configurable(user_id="u1", thread_id="thread-b"):
            second = agent(question="Do you remember my preferences?")
    key = _key(first.trajectory["observation_0"])
    assert store.get(("memories", "u1"), key).value["provenance"]["thread_id"] == "thread-a"
    found = json.loads(second.trajectory["observation_0"])
    assert found[0]["key"] == key and found[0]["content"] == {"content": "User prefers dark mode"}
    assert second.answer == "You prefer dark mode."


def test_tool_and_background_manager_write_the_same_record_format(store: EdgeStore) -> None:
    manage = create_manage_memory_tool(store=store)
    with configurable(user_id="u1"):
        tool_key = _key(manage(content="User prefers dark mode"))
    lm = dspy.utils.DummyLM([{"facts": ["User has a dog"]}], adapter=dspy.JSONAdapter())
    manager = MemoryStoreManager(lm, store=store)
    with dspy.context(adapter=dspy.JSONAdapter()):
        msgs = [{"role": "user", "content": "I have a dog"}]
        events = manager.invoke({"messages": msgs}, {"configurable": {"user_id": "u1"}})
    assert [e["event"] for e in events] == ["insert"]
    tool_value = store.get(("memories", "u1"), tool_key).value
    manager_value = store.get(("memories", "u1"), events[0]["key"]).value
    assert set(tool_value) == set(manager_value)
    assert {k: type(v) for k, v in tool_value.items()} == {k: type(v) for k, v in manager_value.items()}
    assert set(tool_value["content"]) == set(manager_value["content"]) == {"content"}


def test_tools_run_in_async_react(store: EdgeStore) -> None:
    manage = create_manage_memory_tool(("memories",), store=store)
    out = asyncio.run(manage.acall(content="User is vegetarian"))
    assert store.get(("memories",), _key(out)).value["content"] == {"content": "User is vegetarian"}
    assert asyncio.run(manage.acall(action="update", id="nope", content="x")).startswith("Error:")


def test_create_does_not_store_an_exact_duplicate(tmp_path: Path, embedder: MiniLMEmbedder) -> None:
    with EdgeStore(tmp_path / "dup", embedder=embedder) as store:
        tool = create_manage_memory_tool(("memories", "{user_id}"), store=store)
        with configurable(user_id="u1"):
            first = tool.invoke({"content": "prefers dark mode", "action": "create"})
            second = tool.invoke({"content": "prefers dark mode", "action": "create"})
        assert first.startswith("created memory")
        assert "already holds this" in second and first.split()[-1] in second
        assert len(store.search(("memories", "u1"))) == 1


def test_each_tool_describes_when_to_use_it_and_takes_other_instructions(store: EdgeStore) -> None:
    manage = create_manage_memory_tool(("memories",), store=store)
    search = create_search_memory_tool(("memories",), store=store)
    assert "when the user tells you something to remember" in manage.desc
    assert "Search the long-term memories" in search.desc
    own = create_search_memory_tool(("memories",), store=store, instructions="  Look up what the user said before. ")
    assert own.desc == "Look up what the user said before."
    assert own.to_openai()["function"]["description"] == "Look up what the user said before."
