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
from langgraph.checkpoint.memory import MemorySaver
from langgraph.config import get_config, get_store
from langgraph.func import entrypoint
from langgraph.prebuilt import create_react_agent
from langgraph.store.memory import InMemoryStore
from pydantic import BaseModel
from scripted import ScriptedLM, alias, chat_model, tool_call

from memspy.pipelines import (
    Episode,
    NamespaceConfigError,
    ReflectionExecutor,
    RemoveDoc,
    Triple,
    create_manage_memory_tool,
    create_memory_manager,
    create_memory_store_manager,
    create_multi_prompt_optimizer,
    create_prompt_optimizer,
    create_search_memory_tool,
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
