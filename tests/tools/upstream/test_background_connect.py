"""Upstream servers and the document index open in the background: entering the toolbox returns before they are up,
a research waits for them, and one that never answers is a warning on the run instead of a failure or a hang."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from deep_research_mcp.engine.config import EngineConfig
from deep_research_mcp.engine.run import ResearchEngine
from deep_research_mcp.llm.factory import ModelHub
from deep_research_mcp.settings import Settings
from deep_research_mcp.tools.toolbox import Toolbox

from ...server.conftest import FACT, QUESTION, write_corpus

HERE = Path(__file__).resolve().parent


def upstreams(tmp_path: Path, *, silent_startup_s: float) -> Path:
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {
        "corpus": {"command": sys.executable, "args": [str(HERE / "search_server.py")], "allowTools": ["search"]},
        "silent": {"command": sys.executable, "args": [str(HERE / "silent_server.py"), str(tmp_path / "silent")],
                   "startupTimeoutSeconds": silent_startup_s},
    }}))
    return config


async def test_the_toolbox_returns_at_once_and_reports_what_is_still_starting_or_failed(tmp_path: Path) -> None:
    docs = write_corpus(tmp_path / "docs")
    settings = Settings(mcp_config=upstreams(tmp_path, silent_startup_s=1), fetch_enabled=False)
    async with Toolbox(settings, docs=docs) as box:
        assert not box.ready and box.tools == []  # nothing was awaited on the way in
        assert box.starting == ["documents", "upstream servers"] and box.problems() == []
        tools = await box.wait()
        assert [t.name for t in tools] == ["search_documents", "read_document", "corpus__search"]
        (problem,) = box.problems()
        assert box.ready and box.starting == []
    assert problem.startswith("upstream MCP server 'silent' is unavailable and left out:"), problem
    assert "1 s" in problem  # the reason names the bound it missed
    assert (tmp_path / "silent").read_text() == "closed"  # given up on and shut down with the toolbox


async def test_a_research_waits_for_the_tools_and_warns_about_the_server_that_never_answered(tmp_path: Path) -> None:
    docs = write_corpus(tmp_path / "docs")
    settings = Settings(mcp_config=upstreams(tmp_path, silent_startup_s=1), fetch_enabled=False,
                        allow_clarification=False)
    async with ModelHub(settings) as hub, Toolbox(settings, docs=docs) as box:
        engine = ResearchEngine(hub.stage_models(), [], EngineConfig.from_settings(settings), opening=box)
        assert engine.tools == {}
        result = await engine.run(QUESTION)
    assert result.status == "completed"
    assert FACT in result.report  # found through the document index that opened while the run waited
    assert any("'silent' is unavailable" in warning for warning in result.warnings), result.warnings


async def test_leaving_while_an_upstream_is_still_starting_stops_it(tmp_path: Path) -> None:
    settings = Settings(mcp_config=upstreams(tmp_path, silent_startup_s=60), fetch_enabled=False)
    async with Toolbox(settings) as box:
        while not (tmp_path / "silent").exists():  # until the server has been asked to initialize
            await asyncio.sleep(0.05)
        assert not box.ready
    assert (tmp_path / "silent").read_text() == "closed"
