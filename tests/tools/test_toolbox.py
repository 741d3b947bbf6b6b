from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web

from deep_research_mcp.errors import ToolCallError
from deep_research_mcp.settings import Settings
from deep_research_mcp.tools.toolbox import open_toolbox

DOCS = Path(__file__).resolve().parents[2] / "docs"


async def test_toolbox_builds_tools_from_settings_and_fetch_respects_the_allow_list() -> None:
    async def page(_: web.Request) -> web.Response:
        return web.Response(text="<title>Local</title><p>Hello from loopback.</p>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with open_toolbox(Settings(fetch_allow=["127.0.0.1/32"]), docs=DOCS) as tools:
            by_name = {t.name: t for t in tools}
            assert set(by_name) == {"search_documents", "read_document", "fetch_url"}
            found = await by_name["search_documents"].call({"query": "citation registry"})
            assert found.documents and found.documents[0].locator.endswith("citations.md")
            fetched = await by_name["fetch_url"].call({"url": f"http://127.0.0.1:{port}/"})
            assert fetched.documents[0].title == "Local"
        async with open_toolbox(Settings()) as tools:
            (fetch,) = tools
            with pytest.raises(ToolCallError, match="loopback"):
                await fetch.call({"url": f"http://127.0.0.1:{port}/"})
        async with open_toolbox(Settings(fetch_enabled=False)) as tools:
            assert tools == []
    finally:
        await runner.cleanup()
