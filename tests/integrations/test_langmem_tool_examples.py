"""LangMem's documentation examples for the hot path, memory tools and prompt optimizers, ported to memspy.

The port follows the same rules as ``test_langmem_examples.py`` (the extraction and background guides): only the
imports, the model string and the store's embedder change; models are scripted (no network).
"""

from __future__ import annotations

from typing import Any

import dspy
import pytest
from langgraph.checkpoint.memory import MemorySaver
from langgraph.config import get_store
from langgraph.func import entrypoint
from langgraph.prebuilt import create_react_agent
from langgraph.store.memory import InMemoryStore
from scripted import ScriptedLM, chat_model, tool_call

from memspy.pipelines import (
    NamespaceConfigError,
    ReflectionExecutor,
    create_manage_memory_tool,
    create_memory_store_manager,
    create_multi_prompt_optimizer,
    create_prompt_optimizer,
    create_search_memory_tool,
)

pytestmark = pytest.mark.filterwarnings("ignore:create_react_agent has been moved")


# ---- hot_path_quickstart.md ---------------------------------------------------------------------------------


def test_hot_path_quickstart(lg_store: InMemoryStore) -> None:
    store = lg_store
    seen: list[Any] = []

    def prompt(state: dict[str, Any]) -> list[Any]:
        store = get_store()
        memories = store.search(("memories",), query=state["messages"][-1].content)
        seen.append(memories)
        system_msg = f"You are a helpful assistant.\n\n## Memories\n<memories>\n{memories}\n</memories>\n"
        return [{"role": "system", "content": system_msg}, *state["messages"]]

    model = chat_model(
        "I don't seem to have any stored memories about your display mode preferences.",
        tool_call("manage_memory", {"content": "User prefers dark display mode"}),
        "Got it, I'll remember that.",
        "You've previously indicated a preference for dark display mode.",
    )
    agent = create_react_agent(
        model,
        prompt=prompt,
        tools=[create_manage_memory_tool(namespace=("memories",))],
        store=store,
        checkpointer=MemorySaver(),
    )
    config = {"configurable": {"thread_id": "thread-a"}}
    agent.invoke({"messages": [{"role": "user", "content": "Know which display mode I prefer?"}]}, config=config)
    agent.invoke({"messages": [{"role": "user", "content": "dark. Remember that."}]}, config=config)
    new_config = {"configurable": {"thread_id": "thread-b"}}
    response = agent.invoke(
        {"messages": [{"role": "user", "content": "Hey there. Do you remember me? What are my preferences?"}]},
        config=new_config,
    )
    assert "dark display mode" in response["messages"][-1].content
    assert len(response["messages"]) == 2  # thread-b started fresh
    assert seen[0] == [] and [m.value["text"] for m in seen[-1]] == ["User prefers dark display mode"]
    assert seen[-1][0].value["provenance"]["thread_id"] == "thread-a"


# ---- guides/memory_tools.md (and "Shared Storage") ----------------------------------------------------------


def test_memory_tools_basic_usage(lg_store: InMemoryStore) -> None:
    store = lg_store
    model = chat_model(
        tool_call("manage_memory", {"content": "User prefers dark mode"}),
        "Noted.",
        tool_call("search_memory", {"query": "preferences"}, id="call-2"),
        "You prefer dark mode.",
    )
    agent = create_react_agent(
        model,
        tools=[
            create_manage_memory_tool(namespace=("memories", "{user_id}")),
            create_search_memory_tool(namespace=("memories", "{user_id}")),
        ],
        store=store,
    )
    config = {"configurable": {"user_id": "user-1"}}
    agent.invoke({"messages": [{"role": "user", "content": "Remember I prefer dark mode"}]}, config=config)
    response = agent.invoke({"messages": [{"role": "user", "content": "What are my preferences?"}]}, config=config)
    tool_message = response["messages"][-2]
    assert tool_message.name == "search_memory" and "User prefers dark mode" in tool_message.content
    assert [i.namespace for i in store.search(("memories",))] == [("memories", "user-1")]


def test_shared_storage_between_agents(lg_store: InMemoryStore) -> None:
    store = lg_store
    agent_a_tools = [
        create_manage_memory_tool(namespace=("memories", "team_a", "agent_a")),
        create_search_memory_tool(namespace=("memories", "team_a")),
    ]
    agent_a = create_react_agent(
        chat_model(tool_call("manage_memory", {"content": "The Q3 survey found 40% churn"}), "Saved."),
        tools=agent_a_tools,
        store=store,
        prompt="You are a research assistant",
    )
    agent_b_tools = [
        create_manage_memory_tool(namespace=("memories", "team_a", "agent_b")),
        create_search_memory_tool(namespace=("memories", "team_a")),
    ]
    agent_b = create_react_agent(
        chat_model(tool_call("search_memory", {"query": "survey churn"}), "The survey found 40% churn."),
        tools=agent_b_tools,
        store=store,
        prompt="You are a report writer.",
    )
    agent_a.invoke({"messages": [{"role": "user", "content": "Note the survey result."}]})
    response = agent_b.invoke({"messages": [{"role": "user", "content": "Hi"}]})
    assert "40% churn" in response["messages"][-2].content  # agent B reads what agent A wrote
    assert [i.namespace for i in store.search(("memories", "team_a"))] == [("memories", "team_a", "agent_a")]


# ---- guides/dynamically_configure_namespaces.md -------------------------------------------------------------


def test_dynamic_namespaces(lg_store: InMemoryStore) -> None:
    tool = create_manage_memory_tool(namespace=("memories", "{user_id}"))
    app = create_react_agent(
        chat_model(tool_call("manage_memory", {"content": "Likes dolphins"}), "Noted."), tools=[tool], store=lg_store
    )
    app.invoke(
        {"messages": [{"role": "user", "content": "I like dolphins"}]}, config={"configurable": {"user_id": "user-123"}}
    )
    assert [i.namespace for i in lg_store.search(("memories",))] == [("memories", "user-123")]

    tool = create_manage_memory_tool(namespace=("memories", "{org_id}", "{user_id}"))
    app = create_react_agent(
        chat_model(tool_call("manage_memory", {"content": "Dogs welcome on Fridays"}), "Ok."),
        tools=[tool],
        store=lg_store,
    )
    app.invoke(
        {"messages": [{"role": "user", "content": "What's our policy on dogs at work?"}]},
        config={"configurable": {"org_id": "acme", "user_id": "alice"}},
    )
    assert lg_store.search(("memories", "acme", "alice"))[0].value["text"] == "Dogs welcome on Fridays"

    app = create_react_agent(
        chat_model(tool_call("manage_memory", {"content": "x"}), "?"), tools=[tool], store=lg_store
    )
    with pytest.raises(NamespaceConfigError, match="user_id"):  # a template value must be in the config
        app.invoke({"messages": [{"role": "user", "content": "hi"}]}, config={"configurable": {"org_id": "acme"}})


# ---- guides/use_tools_in_custom_agent.md (the Anthropic and OpenAI loops, with scripted clients) -------------


def _run_openai_style_agent(tools: list[Any], replies: list[dict[str, Any]]) -> str:
    tools_by_name = {tool.name: tool for tool in tools}
    openai_tools = [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.tool_call_schema.model_json_schema(),
            },
        }
        for tool in tools
    ]
    assert [t["function"]["name"] for t in openai_tools] == ["manage_memory", "search_memory"]
    for message in replies:  # what the chat completions API would answer, step by step
        if not message.get("tool_calls"):
            return str(message["content"])
        for call in message["tool_calls"]:
            tools_by_name[call["function"]["name"]].invoke(call["function"]["arguments"])
    return "Reached maximum number of steps"


def test_custom_agent_openai_loop(lg_store: InMemoryStore) -> None:
    store = lg_store
    memory_tools = [
        create_manage_memory_tool(namespace="memories", store=store),
        create_search_memory_tool(namespace="memories", store=store),
    ]
    calls = [
        {"id": "1", "function": {"name": "manage_memory", "arguments": '{"content": "User likes cherry pie"}'}},
        {"id": "2", "function": {"name": "manage_memory", "arguments": '{"content": "User dislikes rocky road"}'}},
    ]
    result = _run_openai_style_agent(
        memory_tools, [{"content": None, "tool_calls": calls}, {"content": "Remembered both."}]
    )
    assert result == "Remembered both."
    assert sorted(i.value["content"]["content"] for i in store.search(("memories",))) == [
        "User dislikes rocky road",
        "User likes cherry pie",
    ]


def test_custom_agent_anthropic_loop(lg_store: InMemoryStore) -> None:
    store = lg_store
    memory_tools = [
        create_manage_memory_tool(namespace="memories", store=store),
        create_search_memory_tool(namespace="memories", store=store),
    ]
    anthropic_tools = [
        {"name": t.name, "description": t.description, "input_schema": t.tool_call_schema.model_json_schema()}
        for t in memory_tools
    ]
    assert anthropic_tools[1]["input_schema"]["required"] == ["query"]
    tools_by_name = {tool.name: tool for tool in memory_tools}
    results = [tools_by_name["manage_memory"].invoke({"content": "User likes cherry pie"})]
    results.append(tools_by_name["search_memory"].invoke({"query": "pie"}))
    assert results[0].startswith("created memory") and "cherry pie" in results[1]


# ---- guides/delayed_processing.md ---------------------------------------------------------------------------


def test_delayed_background_processing(lg_store: InMemoryStore) -> None:
    memory_manager = create_memory_store_manager(None, namespace=("memories",))
    executor = ReflectionExecutor(memory_manager)
    store = lg_store
    llm = chat_model("Hi Sam!", "Sourdough, nice.")

    @entrypoint(store=store)
    def chat(message: str) -> str:
        response = llm.invoke(message)
        to_process = {"messages": [{"role": "user", "content": message}] + [response]}
        executor.submit(to_process, after_seconds=0.5, thread_id="t1")
        return str(response.content)

    lm = ScriptedLM(facts=[{"facts": ["The user is called Sam and bakes sourdough bread"]}])
    with dspy.context(lm=lm):
        chat.invoke("I'm Sam.")
        chat.invoke("I'm Sam. I bake sourdough bread.")  # replaces the pending task: one LM call in the end
        executor.shutdown(wait=True)
    assert executor.errors == [] and lm.left() == {}
    assert [i.value["text"] for i in store.search(("memories",))] == [
        "The user is called Sam and bakes sourdough bread"
    ]


# ---- guides/optimize_memory_prompt.md and optimize_compound_prompts.md --------------------------------------


TRAJECTORIES = [
    (
        [
            {"role": "user", "content": "Tell me about Mars"},
            {"role": "assistant", "content": "Mars is the fourth planet..."},
            {"role": "user", "content": "I wanted more about its moons"},
        ],
        None,
    ),
    (
        [{"role": "user", "content": "Compare Mars and Earth"}, {"role": "assistant", "content": "They differ..."}],
        {"revised": "Earth and Mars have many similarities and differences..."},
    ),
]


def test_prompt_optimizer_prompt_memory() -> None:
    optimizer = create_prompt_optimizer(None, kind="prompt_memory")
    new = "You are a planetary science expert. Cover moons when asked about a planet; start with similarities."
    lm = ScriptedLM(updated_prompt=[{"updated_prompt": new}])
    with dspy.context(lm=lm):
        updated = optimizer.invoke({"trajectories": TRAJECTORIES, "prompt": "You are a planetary science expert"})
    assert updated == new and "I wanted more about its moons" in lm.prompt


def test_multi_prompt_optimizer() -> None:
    conversations = [
        (
            [
                {"role": "user", "content": "Research quantum computing advances"},
                {"role": "assistant", "content": "Found several papers on quantum supremacy..."},
                {"role": "user", "content": "The report is missing implementation details"},
            ],
            None,
        )
    ]
    prompts = [
        {"name": "researcher", "prompt": "You analyze technical papers and extract key findings"},
        {"name": "writer", "prompt": "You write clear reports based on research findings"},
    ]
    optimizer = create_multi_prompt_optimizer(None, kind="prompt_memory")
    better = "You analyze technical papers and extract key findings, including implementation details."
    lm = ScriptedLM(
        prompts_to_update=[
            {"analysis": "Details were missing from the research.", "prompts_to_update": ["researcher"]}
        ],
        updated_prompt=[{"updated_prompt": better}],
    )
    with dspy.context(lm=lm):
        updated = optimizer.invoke({"trajectories": conversations, "prompts": prompts})
    assert [p["name"] for p in updated] == ["researcher", "writer"]
    assert updated[0]["prompt"] == better and updated[1]["prompt"] == prompts[1]["prompt"]
