"""A tiny search MCP server of our own, the upstream the upstream-tool tests and the benchmark talk to.

    python tests/tools/upstream/search_server.py                      # stdio
    python tests/tools/upstream/search_server.py --http [--port 0]    # streamable HTTP on 127.0.0.1

In HTTP mode it prints `PORT=<n>` on stdout once the socket listens, so a parent can use port 0. It serves a small
fixed corpus and a handful of tools that each exercise one result shape (structured content, resource links,
embedded resources, plain text, images) or one failure (isError, slow, oversized). Tools that only read are
annotated `readOnlyHint` (as careful servers do) unless `--no-annotations` (as many servers ship).

Switches for the tests that kill it:
    --state-dir DIR    `record` appends its notes to DIR/records.txt, so a test can count how often a call ran;
                       a `search` query or `record` note containing "crash-once" exits the process mid-call the first
                       time any server sharing DIR sees one (after `record` has written its note)
    --latency SECONDS  every `search` waits this long before answering (a slow mirror, for the group benchmark)
    --block-on REGEX   a `search` whose query matches writes "BLOCKED pid=<pid>" to stderr and never answers, so a
                       test can kill the server while that call is in flight
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import sys
from pathlib import Path
from typing import Any

import mcp_types as types
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel

CORPUS: list[dict[str, str]] = [
    {
        "url": "https://corpus.test/tidal-lagoons",
        "title": "Tidal lagoons",
        "content": "Tidal lagoons store energy by impounding sea water behind a sea wall and releasing it through "
        "turbines when the tide turns.",
    },
    {
        "url": "https://corpus.test/pumped-hydro",
        "title": "Pumped hydro storage",
        "content": "Pumped hydro stores energy by pumping water uphill when power is cheap and releasing it "
        "through turbines when it is needed.",
    },
    {
        "url": "https://corpus.test/flywheels",
        "title": "Flywheels",
        "content": "Flywheels store energy as rotational momentum in a heavy spinning rotor.",
    },
    {
        "url": "https://corpus.test/batteries",
        "title": "Grid batteries",
        "content": "Grid batteries store energy chemically and answer demand within milliseconds.",
    },
]


class Hit(BaseModel):
    url: str
    title: str
    snippet: str


class SearchResults(BaseModel):
    results: list[Hit]


def _rank(query: str, k: int) -> list[dict[str, str]]:
    terms = {t for t in query.lower().split() if len(t) > 2}
    scored = [(sum(t in (d["title"] + " " + d["content"]).lower() for t in terms), i) for i, d in enumerate(CORPUS)]
    return [CORPUS[i] for score, i in sorted(scored, key=lambda p: (-p[0], p[1]))[:k] if score > 0]


CRASH_ONCE = "crash-once"


def _crash_once(text: str, state_dir: Path | None) -> None:
    """Exit as a crash would, the first time `text` asks for it among the servers sharing `state_dir`."""
    if CRASH_ONCE not in text:
        return
    if state_dir is None:
        raise ToolError(f"{CRASH_ONCE} needs the server to run with --state-dir")
    try:
        (state_dir / "crashed").touch(exist_ok=False)
    except FileExistsError:
        return
    os._exit(1)


def build_server(
    *, annotate: bool = True, state_dir: Path | None = None, block_on: re.Pattern[str] | None = None,
    latency_s: float = 0.0,
) -> MCPServer:
    server = MCPServer(
        "corpus-search", instructions="Search a small fixed corpus about energy storage.", log_level="WARNING"
    )
    read_only = types.ToolAnnotations(read_only_hint=True) if annotate else None

    @server.tool(description="Search the corpus; results carry url, title and snippet as structured content.",
                 annotations=read_only)
    async def search(query: str, k: int = 3) -> SearchResults:
        if latency_s:
            await asyncio.sleep(latency_s)
        if block_on is not None and block_on.search(query):
            print(f"BLOCKED pid={os.getpid()}", file=sys.stderr, flush=True)
            await asyncio.Event().wait()  # until the test kills the process
        _crash_once(query, state_dir)
        return SearchResults(results=[Hit(url=d["url"], title=d["title"], snippet=d["content"]) for d in
                                      _rank(query, k)])

    @server.tool(description="Append a note to the server's record (not idempotent: each call adds a line).")
    def record(note: str) -> str:
        if state_dir is None:
            raise ToolError("record needs the server to run with --state-dir")
        with (state_dir / "records.txt").open("a", encoding="utf-8") as records:
            records.write(note + "\n")
        _crash_once(note, state_dir)  # after the write: the call took effect, its answer never comes
        return f"recorded {len((state_dir / 'records.txt').read_text(encoding='utf-8').splitlines())}"

    @server.tool(description="Search the corpus; results are resource links.", annotations=read_only)
    def search_links(query: str, k: int = 3) -> types.CallToolResult:
        links: list[types.ContentBlock] = [
            types.ResourceLink(uri=d["url"], name=d["title"].lower().replace(" ", "-"), title=d["title"],
                               description=d["content"])
            for d in _rank(query, k)
        ]
        return types.CallToolResult(content=links)

    @server.tool(description="Read one corpus page as an embedded text resource.", annotations=read_only)
    def read(url: str) -> types.CallToolResult:
        for d in CORPUS:
            if d["url"] == url:
                page = types.TextResourceContents(uri=url, mime_type="text/markdown", text=f"# {d['title']}\n\n"
                                                  f"{d['content']}")
                return types.CallToolResult(content=[types.EmbeddedResource(resource=page)])
        raise ToolError(f"no such page: {url}")

    @server.tool(description="Answer in plain text; mentions a source link when one matches.", structured_output=False,
                 annotations=read_only)
    def plain(query: str) -> str:
        hits = _rank(query, 1)
        if not hits:
            return f"Nothing about {query!r} in the corpus."
        return f"The best match is {hits[0]['title']} at {hits[0]['url']} : {hits[0]['content']}"

    @server.tool(description="Return a chart image, a binary resource and a caption.", annotations=read_only)
    def chart() -> types.CallToolResult:
        blob = types.BlobResourceContents(uri="https://corpus.test/chart.bin", mime_type="application/octet-stream",
                                          blob="AAAA")
        return types.CallToolResult(content=[
            types.ImageContent(data="iVBORw0KGgo=", mime_type="image/png"),
            types.EmbeddedResource(resource=blob),
            types.TextContent(text="Storage capacity by type."),
        ])

    @server.tool(description="Return a text of exactly `chars` characters.", annotations=read_only)
    def big(chars: int) -> str:
        return ("energy storage " * (chars // 15 + 1))[:chars]

    @server.tool(description="Return a text of exactly `chars` characters, as text only (one copy on the wire).",
                 structured_output=False, annotations=read_only)
    def big_text(chars: int) -> str:
        return ("energy storage " * (chars // 15 + 1))[:chars]

    @server.tool(description="Always fails with the given message.", annotations=read_only)
    def fail(message: str) -> str:
        raise ToolError(message)

    @server.tool(description="Sleep, then answer.", annotations=read_only)
    async def slow(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return f"slept {seconds}"

    @server.tool(description="The value of one HTTP request header (empty over stdio).", structured_output=False,
                 annotations=read_only)
    def header(name: str, ctx: Context) -> str:
        return (ctx.headers or {}).get(name.lower(), "")

    @server.tool(description="Exit the server process at once, as a crash would.")
    def crash() -> str:
        os._exit(1)

    @server.tool(description="The server's process id (tests kill it).", annotations=read_only)
    def pid() -> int:
        return os.getpid()

    @server.tool(description="Register a new tool `extra` and tell the client the tool list changed.")
    async def add_tool(ctx: Context) -> str:
        def extra(query: str) -> str:
            return f"extra answer for {query}"

        server.add_tool(extra, description="A tool that appears at run time.")
        # The 2026 wire delivers list changes only on subscriptions/listen streams; older wires send them directly.
        if ctx.request_context.protocol_version in MODERN_PROTOCOL_VERSIONS:
            await ctx.notify_tools_changed()
        else:
            await ctx.request_context.session.send_tool_list_changed()
        return "added"

    return server


def without_content_length(app: Any) -> Any:
    """The ASGI app with Content-Length dropped from every answer, so uvicorn sends each body chunked: a client
    learns an answer's size only by reading it."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        async def sending(message: Any) -> None:
            if message.get("type") == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-length"]
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, sending)

    return wrapped


async def serve_http(server: MCPServer, port: int, chunked: bool = False) -> None:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    # Listening before the port is announced: a client that connects while uvicorn still starts waits in the
    # backlog instead of being refused.
    sock.listen(128)
    print(f"PORT={sock.getsockname()[1]}", flush=True)
    app = server.streamable_http_app()
    config = uvicorn.Config(without_content_length(app) if chunked else app, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve(sockets=[sock])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-annotations", action="store_true", help="no readOnlyHint on any tool")
    parser.add_argument("--state-dir", type=Path, help="where `record` and crash-once keep their state")
    parser.add_argument("--block-on", type=re.compile, help="a search query matching this regex never answers")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds every search waits before answering")
    parser.add_argument("--chunked", action="store_true", help="HTTP answers without Content-Length (chunked)")
    args = parser.parse_args(argv)
    server = build_server(annotate=not args.no_annotations, state_dir=args.state_dir, block_on=args.block_on,
                          latency_s=args.latency)
    if args.http:
        asyncio.run(serve_http(server, args.port, chunked=args.chunked))
    else:
        server.run("stdio")


if __name__ == "__main__":
    main()
