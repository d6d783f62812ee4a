"""memspy's tools, managers and executor in LangGraph runs: the run's config and store, LangChain tool conversion."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import BaseTool, StructuredTool
from langchain_core.tools import tool as langchain_tool
from langgraph.config import get_store
from langgraph.func import entrypoint
from langgraph.prebuilt import create_react_agent
from langgraph.store.memory import InMemoryStore

from memspy.pipelines import (
    ReflectionExecutor,
    Triple,
    create_manage_memory_tool,
    create_memory_store_manager,
    create_search_memory_tool,
)
from memspy.stores import EdgeStore, MiniLMEmbedder
from memspy.stores.langgraph import LangGraphStore

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore:create_react_agent has been moved")


class ScriptedChatModel(GenericFakeChatModel):
    """A chat model that answers from a script and accepts tools (what ``create_react_agent`` binds)."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:
        return self


def scripted(*replies: AIMessage) -> ScriptedChatModel:
    return ScriptedChatModel(messages=iter(replies))


def call(name: str, args: dict[str, Any], id: str = "c1") -> AIMessage:
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": id}])


@pytest.fixture
def lg_store(embedder: MiniLMEmbedder) -> InMemoryStore:
    return InMemoryStore(index={"dims": 384, "embed": embedder.embed_documents})


@pytest.fixture
def edge(tmp_path: Path, embedder: MiniLMEmbedder) -> Iterator[EdgeStore]:
    s = EdgeStore(tmp_path / "store", embedder=embedder)
    yield s
    s.close()


def test_create_react_agent_takes_memspy_tools_and_they_use_the_graphs_store_and_config(
    lg_store: InMemoryStore,
) -> None:
    tools = [create_manage_memory_tool(("memories", "{user_id}")), create_search_memory_tool(("memories", "{user_id}"))]
    model = scripted(
        call("manage_memory", {"content": "Prefers dark mode"}),
        AIMessage("Saved."),
        call("search_memory", {"query": "display preferences"}, id="c2"),
        AIMessage("You prefer dark mode."),
    )
    agent = create_react_agent(model, tools=tools, store=lg_store)
    config = {"configurable": {"user_id": "user-a", "thread_id": "t1"}}
    agent.invoke({"messages": [{"role": "user", "content": "Remember I prefer dark mode"}]}, config=config)
    (item,) = lg_store.search(("memories", "user-a"))
    assert item.value["content"] == {"content": "Prefers dark mode"}
    assert item.value["provenance"]["thread_id"] == "t1"
    out = agent.invoke({"messages": [{"role": "user", "content": "What are my preferences?"}]}, config=config)
    found = json.loads(out["messages"][-2].content)  # the search tool's message
    assert [r["key"] for r in found] == [item.key]
    assert lg_store.search(("memories", "user-b")) == []


def test_memory_tools_as_langchain_tools(edge: EdgeStore) -> None:
    manage = create_manage_memory_tool(("memories", "{user_id}"), store=edge, actions_permitted=["create", "update"])
    schema = manage.tool_call_schema.model_json_schema()
    assert set(schema["properties"]) == {"content", "action", "id", "importance"}
    assert schema["properties"]["action"]["enum"] == ["create", "update"]
    assert manage.description == manage.desc and manage.__name__ == "manage_memory"
    for converted in (manage.as_langchain_tool(), langchain_tool(manage)):
        assert isinstance(converted, StructuredTool | BaseTool) and converted.name == "manage_memory"
        assert converted.tool_call_schema.model_json_schema()["properties"]["action"]["enum"] == ["create", "update"]
    lc = manage.as_langchain_tool()
    text = lc.invoke({"content": "Has a beagle"}, config={"configurable": {"user_id": "u1"}})
    assert text.startswith("created memory") and edge.get(("memories", "u1"), text.split()[-1]) is not None
    bad = lc.invoke({"action": "delete", "id": "x"}, config={"configurable": {"user_id": "u1"}})
    assert bad.startswith("Error: invalid arguments for manage_memory") and "create" in bad


def test_custom_agent_loop_uses_tool_call_schema_and_invoke(lg_store: InMemoryStore) -> None:
    tools = [
        create_manage_memory_tool(namespace="memories", store=lg_store),
        create_search_memory_tool(namespace="memories", store=lg_store),
    ]
    specs = [
        {"name": t.name, "description": t.description, "input_schema": t.tool_call_schema.model_json_schema()}
        for t in tools
    ]
    assert [s["name"] for s in specs] == ["manage_memory", "search_memory"]
    assert specs[1]["input_schema"]["required"] == ["query"]
    by_name = {t.name: t for t in tools}
    for fact in ("User likes cherry pie", "User dislikes rocky road"):
        by_name["manage_memory"].invoke({"content": fact})
    assert sorted(i.value["text"] for i in lg_store.search(("memories",))) == [
        "User dislikes rocky road",
        "User likes cherry pie",
    ]


def test_managers_inside_an_entrypoint_read_its_config_and_store(edge: EdgeStore) -> None:
    graph_store = LangGraphStore(edge)
    manager = create_memory_store_manager(schemas=[Triple], namespace=("chat", "{user_id}", "triples"))
    tool = create_manage_memory_tool(("chat", "{user_id}", "triples"), schema=Triple)

    @entrypoint(store=graph_store)
    def app(fact: dict[str, Any]) -> list[str]:
        assert get_store() is graph_store
        tool(content=fact)
        return [r.value["text"] for r in manager.search("who leads the team?")]

    found = app.invoke(
        {"subject": "Bob", "predicate": "leads", "object": "ML_team"}, config={"configurable": {"user_id": "u9"}}
    )
    assert found == ["Bob leads ML_team"]
    assert [i.value["kind"] for i in edge.search(("chat", "u9", "triples"))] == [
        "Triple"
    ]  # in the memspy store behind it


def test_executor_submitted_inside_a_graph_writes_to_the_graphs_store(lg_store: InMemoryStore) -> None:
    tool = create_manage_memory_tool(("memories", "{user_id}"))

    def remember(messages: list[dict[str, Any]], config: Any = None) -> None:
        tool(content=messages[-1]["content"])  # runs on the executor's worker, after the graph returned

    executor = ReflectionExecutor(remember)

    @entrypoint(store=lg_store)
    def chat(message: str) -> str:
        executor.submit({"messages": [{"role": "user", "content": message}]}, after_seconds=0.05)
        return "ok"

    assert chat.invoke("I like dolphins", config={"configurable": {"user_id": "user-123"}}) == "ok"
    executor.shutdown(wait=True)
    assert executor.errors == []
    assert [i.value["text"] for i in lg_store.search(("memories", "user-123"))] == ["I like dolphins"]
