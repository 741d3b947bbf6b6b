"""A research whose researchers search through an upstream MCP server configured the way hosts configure them."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer
from deep_research_mcp.settings import Settings
from deep_research_mcp.tools.toolbox import open_toolbox

from .conftest import EngineFactory

SEARCH_SERVER = Path(__file__).resolve().parents[1] / "tools" / "upstream" / "search_server.py"


async def test_research_through_a_stdio_upstream_cites_its_urls(
    server: ScriptedLLMServer, make_engine: EngineFactory, tmp_path: Path
) -> None:
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"corpus": {
        "command": sys.executable, "args": [str(SEARCH_SERVER)], "allowTools": ["search"],
    }}}))
    server.scenario = Scenario(topics=3, tool_calls_per_researcher=2)
    async with open_toolbox(Settings(mcp_config=config, fetch_enabled=False)) as tools:
        assert [t.name for t in tools] == ["corpus__search"]
        async with make_engine(tools=tools) as engine:
            result = await engine.run("How do tidal lagoons and flywheels store energy?")
    assert all(u.ok and u.tool_calls == 2 for u in result.units)
    listed = re.findall(r"\]\((https?://[^)]+)\)", result.report.split("## Sources", 1)[1])
    assert listed and all(url.startswith("https://corpus.test/") for url in listed)
