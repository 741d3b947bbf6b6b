"""Tools behind the cache: upstream tool calls, fetched pages and page summaries."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from deep_research_mcp.cache import Cache, CachedTool
from deep_research_mcp.cache.memory import MemoryLevel
from deep_research_mcp.engine.reading import Reader, ReadingLimits
from deep_research_mcp.errors import ToolCallError
from deep_research_mcp.llm.base import ChatResponse
from deep_research_mcp.llm.usage import UsageMeter
from deep_research_mcp.settings import Settings
from deep_research_mcp.tools.base import Document, ToolResult
from deep_research_mcp.tools.toolbox import open_toolbox

from ..llm.test_client import FakeModel, caller
from .conftest import ALL

SEARCH_SERVER = Path(__file__).resolve().parents[1] / "tools" / "upstream" / "search_server.py"


def memory_cache() -> Cache:
    return Cache([MemoryLevel(10**7)], ALL)


class CountingTool:
    name, description, parameters = "search", "Search.", {"type": "object", "properties": {}}

    def __init__(self) -> None:
        self.calls = 0

    async def call(self, arguments: dict[str, object]) -> ToolResult:
        self.calls += 1
        if arguments.get("fail"):
            raise ToolCallError("upstream said no")
        return ToolResult([Document("https://x.test/1", "One", f"about {arguments['q']}")], text="1 result")


async def test_a_cached_tool_answers_each_distinct_call_once_and_never_caches_failures() -> None:
    tool = CountingTool()
    cached = CachedTool(tool, memory_cache(), scope={"server": "s", "tool": "search"})
    first = await cached.call({"q": "tides"})
    assert await cached.call({"q": "tides"}) == first and tool.calls == 1
    await cached.call({"q": "lagoons"})
    for _ in range(2):
        with pytest.raises(ToolCallError):
            await cached.call({"q": "x", "fail": True})
    assert tool.calls == 4 and cached.name == "search"


async def test_the_toolbox_caches_upstream_mcp_tool_calls(tmp_path: Path) -> None:
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"corpus": {"command": sys.executable, "args": [str(SEARCH_SERVER)],
                                                            "allowTools": ["search"]}}}))
    cache = memory_cache()
    async with open_toolbox(Settings(mcp_config=config, fetch_enabled=False), cache=cache) as tools:
        (search,) = tools
        results = [await search.call({"query": "tidal lagoons"}) for _ in range(2)]
    assert results[0] == results[1] and results[0].documents
    counted = cache.stats()["memory"]["tool"]
    assert (counted["hits"], counted["misses"], counted["writes"]) == (1, 1, 1)


@pytest.fixture
async def site() -> AsyncIterator[tuple[str, list[str]]]:
    requests: list[str] = []

    async def page(request: web.Request) -> web.Response:
        requests.append(request.path)
        if request.path == "/missing":
            return web.Response(status=404, text="gone")
        return web.Response(text="<title>Tides</title><p>The moon moves the sea.</p>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/{name}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", requests
    finally:
        await runner.cleanup()


async def test_fetched_pages_are_cached_per_policy_and_failures_are_not(site: tuple[str, list[str]]) -> None:
    base, requests = site
    cache = memory_cache()
    async with open_toolbox(Settings(fetch_allow=["127.0.0.1/32"]), cache=cache) as (fetch,):
        pages = [await fetch.call({"url": f"{base}/tides"}) for _ in range(2)]
        for _ in range(2):
            with pytest.raises(ToolCallError, match="404"):
                await fetch.call({"url": f"{base}/missing"})
    assert pages[0] == pages[1] and pages[0].documents[0].title == "Tides"
    assert requests == ["/tides", "/missing", "/missing"]
    async with open_toolbox(Settings(), cache=cache) as (fetch,):  # loopback no longer allowed
        with pytest.raises(ToolCallError, match="loopback"):
            await fetch.call({"url": f"{base}/tides"})
    async with open_toolbox(Settings(fetch_allow=["127.0.0.0/8"]), cache=cache) as (fetch,):
        await fetch.call({"url": f"{base}/tides"})  # another allow-list: its own entries
    assert requests == ["/tides", "/missing", "/missing", "/tides"]


async def test_page_summaries_are_reused_across_runs_whatever_the_focus() -> None:
    cache = memory_cache()
    model = FakeModel(ChatResponse(text="A summary of the long page."))
    long_page = Document("https://x.test/long", "Long", "The tide turns. " * 1000)
    meters = []
    for focus in ("first run's focus", "another researcher's focus"):
        meter = UsageMeter()
        meters.append(meter)
        reader = Reader(caller(model, cache=cache, meter=meter), ReadingLimits(summarize_over_chars=100))
        assert await reader.digest("S1:k", long_page, focus) == "A summary of the long page."
    assert len(model.requests) == 1
    assert (meters[0].summary()["calls"], meters[1].summary()["cache_hits"]) == (1, 1)
