"""``memspy mcp``: memspy's memories as an MCP server (stdio, or streamable HTTP with an optional bearer token).

Five tools, all scoped to one namespace (default ``("memories", "{user_id}")``): ``add_memory``,
``search_memories``, ``update_memory``, ``delete_memory``, ``list_memories``. They write memspy's record
format (the hot-path tools' and the store manager's), so memories added over MCP are found by every other
memspy path and the other way round. No LM runs in the server: the client's model decides what to remember.

Where the namespace values (``user_id``, or any ``{variable}`` of the template) come from, first match wins:

1. the server's configuration: ``memspy mcp --user-id alice`` / ``create_mcp_server(config={"user_id": ...})``;
2. over HTTP, the client's request headers ``X-Memspy-<Variable>`` (``X-Memspy-User-Id: alice``), set in the
   client's MCP configuration. A header is what the client says it is: give each tenant a server (or a
   token) of its own where that matters.

```python
from memspy.cli.mcp import create_mcp_server
server = create_mcp_server(store, config={"user_id": "alice"})
server.run()                                         # stdio
serve_http(server, port=8765, token="s3cret")        # streamable HTTP at http://127.0.0.1:8765/mcp
```
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

try:
    import uvicorn
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from starlette.types import ASGIApp, Receive, Scope, Send
except ImportError as e:  # an optional extra
    raise ImportError(f"memspy's MCP server needs the mcp extra: pip install 'memspy[mcp]' ({e})") from e

from memspy.pipelines import (
    MemoryTool,
    NamespaceTemplate,
    create_manage_memory_tool,
    create_search_memory_tool,
    default_store,
)
from memspy.signatures.tools import MEMORY_SERVER_INSTRUCTIONS
from memspy.stores import EdgeStore, Namespace

__all__ = ["BearerTokenMiddleware", "create_mcp_server", "http_app", "main", "serve_http"]


def _header(var: str) -> str:
    return "x-memspy-" + var.replace("_", "-").lower()


class _Scope:
    """Fills the namespace template from the server's configuration, then from the request's headers."""

    def __init__(self, template: NamespaceTemplate, config: Mapping[str, Any]) -> None:
        self.template, self.config = template, dict(config)

    def configurable(self, ctx: Context | None) -> dict[str, Any]:
        values = {k: v for k, v in self.config.items() if v is not None}
        headers = {k.lower(): v for k, v in ((ctx.headers if ctx is not None else None) or {}).items()}
        for var in self.template.variables:
            if var not in values and _header(var) in headers:
                values[var] = headers[_header(var)]
        missing = [v for v in self.template.variables if v not in values]
        if missing:
            hints = ", ".join(f"--{v.replace('_', '-')} or the {_header(v)} header" for v in missing)
            raise ToolError(f"no value for {missing} in the memory namespace {self.template!r}: give {hints}")
        return {"configurable": values}


def _run(tool: MemoryTool, args: dict[str, Any], config: dict[str, Any]) -> str:
    out = tool.invoke({k: v for k, v in args.items() if v is not None}, config=config)
    text = str(out[0] if isinstance(out, tuple) else out)
    if text.startswith("Error: "):
        raise ToolError(text.removeprefix("Error: "))
    return text


def create_mcp_server(
    store: Any = None,
    *,
    namespace: Namespace | str = ("memories", "{user_id}"),
    config: Mapping[str, Any] | None = None,
    name: str = "memspy",
) -> MCPServer:
    """Build the MCP server (an ``mcp.server.mcpserver.MCPServer``) over a memspy store.

    Args:
        store: A memspy store (default: ``default_store()``, the embedded store at ``.memspy/store``).
        namespace: The namespace template the tools read and write.
        config: Fixed template values (``{"user_id": "alice"}``); missing ones come from request headers.
        name: The server's name as clients see it.
    """
    template = NamespaceTemplate(namespace)
    scope = _Scope(template, config or {})
    backend = store if store is not None else default_store()
    manage = create_manage_memory_tool(namespace, store=backend)
    search = create_search_memory_tool(namespace, store=backend)
    server = MCPServer(name, instructions=MEMORY_SERVER_INSTRUCTIONS)

    @server.tool()
    def add_memory(content: str, importance: float | None = None, ctx: Context | None = None) -> str:
        """Save a durable fact about the user or the work (one fact per memory); returns its id.

        Args:
            content: The fact, as a short self-contained sentence.
            importance: How useful it will be later, from 0.0 to 1.0 (default 0.5).
        """
        args = {"action": "create", "content": content, "importance": importance}
        return _run(manage, args, scope.configurable(ctx))

    @server.tool()
    def search_memories(query: str, limit: int = 10, ctx: Context | None = None) -> list[dict[str, Any]]:
        """Find saved memories relevant to a question or topic, best first, each with its id and score.

        Args:
            query: What to look for, in natural language.
            limit: How many memories to return (1-100).
        """
        return list(json.loads(_run(search, {"query": query, "limit": limit}, scope.configurable(ctx))))

    @server.tool()
    def list_memories(limit: int = 20, offset: int = 0, ctx: Context | None = None) -> list[dict[str, Any]]:
        """List saved memories without a query (most important and recent first), page by page.

        Args:
            limit: How many memories to return (1-100).
            offset: How many to skip.
        """
        return list(json.loads(_run(search, {"query": "", "limit": limit, "offset": offset}, scope.configurable(ctx))))

    @server.tool()
    def update_memory(memory_id: str, content: str, ctx: Context | None = None) -> str:
        """Replace the content of a saved memory (by the id from search or add) when it changed.

        Args:
            memory_id: The memory's id.
            content: The corrected fact.
        """
        return _run(manage, {"action": "update", "id": memory_id, "content": content}, scope.configurable(ctx))

    @server.tool()
    def delete_memory(memory_id: str, ctx: Context | None = None) -> str:
        """Delete a saved memory (by its id) that is no longer true.

        Args:
            memory_id: The memory's id.
        """
        return _run(manage, {"action": "delete", "id": memory_id}, scope.configurable(ctx))

    return server


class BearerTokenMiddleware:
    """ASGI middleware: HTTP requests must carry ``Authorization: Bearer <token>``, else 401."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        if not token:
            raise ValueError("token must be a non-empty string")
        self.app, self._expected = app, f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                body = b'{"error": "unauthorized: send the header Authorization: Bearer <token>"}'
                headers = [(b"content-type", b"application/json"), (b"www-authenticate", b'Bearer realm="memspy"')]
                await send({"type": "http.response.start", "status": 401, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def http_app(server: MCPServer, *, token: str | None = None, host: str = "127.0.0.1") -> ASGIApp:
    """The streamable-HTTP ASGI app (endpoint ``/mcp``), behind a bearer token when one is given."""
    app: ASGIApp = server.streamable_http_app(host=host)
    return BearerTokenMiddleware(app, token) if token else app


def serve_http(server: MCPServer, *, port: int = 8765, host: str = "127.0.0.1", token: str | None = None) -> None:
    """Serve over streamable HTTP with uvicorn until interrupted."""
    uvicorn.run(http_app(server, token=token, host=host), host=host, port=port, log_level="warning")


def _pairs(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--config takes KEY=VALUE, got {item!r}")
        out[key.replace("-", "_")] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``memspy mcp``: stdio by default, streamable HTTP with ``--http PORT``."""
    p = argparse.ArgumentParser(prog="memspy mcp", description="Serve memspy's memories over MCP.")
    p.add_argument("--http", type=int, metavar="PORT", help="serve streamable HTTP on this port (default: stdio)")
    p.add_argument("--host", default="127.0.0.1", help="HTTP interface to bind (default 127.0.0.1)")
    p.add_argument("--token", default=os.environ.get("MEMSPY_MCP_TOKEN"), help="bearer token HTTP clients must send")
    p.add_argument("--path", default=".memspy/store", help="EdgeStore directory (default .memspy/store)")
    p.add_argument("--namespace", default="memories/{user_id}", help="namespace template, parts joined by '/'")
    p.add_argument("--user-id", help="the user every call is scoped to (else the X-Memspy-User-Id header)")
    p.add_argument("--config", action="append", default=[], metavar="KEY=VALUE", help="another template value")
    args = p.parse_args(argv)
    config = {**_pairs(args.config), **({"user_id": args.user_id} if args.user_id else {})}
    with EdgeStore(args.path) as store:
        server = create_mcp_server(store, namespace=tuple(args.namespace.split("/")), config=config)
        if args.http is None:
            server.run("stdio")
        else:
            serve_http(server, port=args.http, host=args.host, token=args.token)
    return 0
