from __future__ import annotations

from pathlib import Path

import pytest

from deep_research_mcp.errors import ToolCallError
from deep_research_mcp.settings import Settings
from deep_research_mcp.tools.toolbox import open_toolbox

from .conftest import PageServer

DOCS = Path(__file__).resolve().parents[2] / "docs"


async def test_toolbox_builds_tools_from_settings_and_fetch_respects_the_allow_list(
    serve_pages: PageServer,
) -> None:
    base = await serve_pages({"/": "<title>Local</title><p>Hello from loopback.</p>"})
    async with open_toolbox(Settings(fetch_allow=["127.0.0.1/32"]), docs=DOCS) as tools:
        by_name = {t.name: t for t in tools}
        assert set(by_name) == {"search_documents", "read_document", "fetch_url"}
        found = await by_name["search_documents"].call({"query": "citation registry"})
        assert found.documents and found.documents[0].locator.endswith("citations.md")
        fetched = await by_name["fetch_url"].call({"url": f"{base}/"})
        assert fetched.documents[0].title == "Local"
    async with open_toolbox(Settings()) as tools:
        (fetch,) = tools
        with pytest.raises(ToolCallError, match="loopback"):
            await fetch.call({"url": f"{base}/"})
    async with open_toolbox(Settings(fetch_enabled=False)) as tools:
        assert tools == []
