"""``memspy mcp`` answers the MCP SDK's own client: in process, over streamable HTTP with a token, and over stdio."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from memspy.cli.mcp import create_mcp_server, http_app
from memspy.pipelines import create_search_memory_tool
from memspy.stores import EdgeStore, MiniLMEmbedder

TOOLS = {"add_memory", "search_memories", "list_memories", "update_memory", "delete_memory"}


@pytest.fixture
def store(tmp_path: Path, embedder: MiniLMEmbedder) -> Iterator[EdgeStore]:
    s = EdgeStore(tmp_path / "store", embedder=embedder)
    yield s
    s.close()


def _ok(result: Any) -> Any:
    assert not result.is_error, result.content
    sc = result.structured_content
    if sc is not None:
        return sc.get("result", sc) if isinstance(sc, dict) else sc
    return result.content[0].text


def test_tools_are_listed_with_schemas_and_no_context_argument(store: EdgeStore) -> None:
    async def run() -> dict[str, Any]:
        async with Client(create_mcp_server(store, config={"user_id": "alice"})) as client:
            return {t.name: t for t in (await client.list_tools()).tools}

    tools = asyncio.run(run())
    assert set(tools) == TOOLS
    assert tools["search_memories"].input_schema["required"] == ["query"]
    assert set(tools["add_memory"].input_schema["properties"]) == {"content", "importance"}
    assert all(t.description for t in tools.values())


def test_add_search_update_delete_round_trip(store: EdgeStore) -> None:
    async def run() -> None:
        async with Client(create_mcp_server(store, config={"user_id": "alice"})) as client:
            added = _ok(await client.call_tool("add_memory", {"content": "Alice has a beagle called Biscuit"}))
            key = added.split()[-1]
            _ok(await client.call_tool("add_memory", {"content": "Alice works night shifts at the hospital"}))
            hits = _ok(await client.call_tool("search_memories", {"query": "what dog does Alice own?", "limit": 5}))
            assert hits[0]["key"] == key and hits[0]["content"] == {"content": "Alice has a beagle called Biscuit"}
            assert len(_ok(await client.call_tool("list_memories", {}))) == 2
            _ok(await client.call_tool("update_memory", {"memory_id": key, "content": "Alice has two beagles"}))
            hits = _ok(await client.call_tool("search_memories", {"query": "beagles"}))
            assert hits[0]["content"] == {"content": "Alice has two beagles"}
            _ok(await client.call_tool("delete_memory", {"memory_id": key}))
            assert [h["key"] for h in _ok(await client.call_tool("list_memories", {}))] != [key]
            bad = await client.call_tool("delete_memory", {"memory_id": key})
            assert bad.is_error and "no memory with id" in bad.content[0].text

    asyncio.run(run())
    # the same records the hot-path tools read: one memory left, in alice's namespace only
    assert [
        h.value["text"] for h in store.search(("memories", "alice"), filter={"invalid_at": {"$exists": False}})
    ] == ["Alice works night shifts at the hospital"]
    search = create_search_memory_tool(store=store)
    config = {"configurable": {"user_id": "alice"}}
    assert "night shifts" in search.invoke({"query": "What is Alice's job?"}, config=config)
    assert json.loads(search.invoke({"query": "favourite pizza topping"}, config=config)) == []  # nothing related


def test_a_call_without_a_scope_is_a_tool_error_naming_the_fix(store: EdgeStore) -> None:
    async def run() -> Any:
        async with Client(create_mcp_server(store)) as client:
            return await client.call_tool("add_memory", {"content": "x"})

    result = asyncio.run(run())
    assert result.is_error and "--user-id" in result.content[0].text and "x-memspy-user-id" in result.content[0].text
    assert store.count() == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_streamable_http_with_bearer_token_and_header_scope(store: EdgeStore) -> None:
    port = _free_port()
    app = http_app(create_mcp_server(store), token="s3cret")
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not web.started and time.monotonic() < deadline:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}/mcp"

    async def run() -> None:
        async with httpx2.AsyncClient(headers={"Authorization": "Bearer wrong"}) as http:
            assert (await http.post(url, json={})).status_code == 401
        async with httpx2.AsyncClient() as http:
            assert (await http.post(url, json={})).status_code == 401
        for user, fact in (("bob", "Bob drinks oat milk"), ("carol", "Carol drinks black coffee")):
            headers = {"Authorization": "Bearer s3cret", "X-Memspy-User-Id": user}
            async with httpx2.AsyncClient(headers=headers) as http:
                async with Client(streamable_http_client(url, http_client=http)) as client:
                    assert {t.name for t in (await client.list_tools()).tools} == TOOLS
                    _ok(await client.call_tool("add_memory", {"content": fact}))
                    hits = _ok(await client.call_tool("search_memories", {"query": "what does the user drink?"}))
                    assert [h["content"]["content"] for h in hits] == [fact]  # each user sees only their own

    try:
        asyncio.run(run())
    finally:
        web.should_exit = True
        thread.join(10)
    assert {ns for ns in store.list_namespaces()} == {("memories", "bob"), ("memories", "carol")}


def test_memspy_mcp_over_stdio(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "memspy.cli.main", "mcp", "--path", str(tmp_path / "s"), "--user-id", "dana"],
        env={"HF_HUB_OFFLINE": "1", "MEMSPY_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"},
    )

    async def run() -> list[Any]:
        async with Client(params, read_timeout_seconds=120) as client:
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS
            _ok(await client.call_tool("add_memory", {"content": "Dana is allergic to peanuts"}))
            return list(_ok(await client.call_tool("search_memories", {"query": "allergies"})))

    hits = asyncio.run(run())
    assert [h["content"]["content"] for h in hits] == ["Dana is allergic to peanuts"]
    with EdgeStore(tmp_path / "s") as reopened:  # the server wrote to the store at --path and released it
        assert [i.namespace for i in reopened.search(())] == [("memories", "dana")]
