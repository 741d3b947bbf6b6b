"""An upstream MCP server that refuses every call: the researchers are told why, and the run says so.

The real `mcp-server-fetch` (PyPI), started without `--allow-private-ips`, is asked for a page on 127.0.0.1 and
refuses it; the whole run goes through the real SDK against the scripted LLM server.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from deep_research_mcp.engine.config import EngineConfig
from deep_research_mcp.engine.events import Event
from deep_research_mcp.engine.run import ResearchEngine
from deep_research_mcp.llm.base import ToolCall
from deep_research_mcp.llm.factory import ModelHub
from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer
from deep_research_mcp.llm.scripted.policy import Answer, ScriptedPolicy, ScriptedRequest
from deep_research_mcp.settings import Settings
from deep_research_mcp.tools.upstream import StdioServerConfig, UpstreamManager
from tests.engine.conftest import QUESTION, test_settings
from tests.tools.conftest import PageServer, serve_pages  # noqa: F401  (a fixture this module uses)

FETCH_SERVER = Path(sys.executable).with_name("mcp-server-fetch")
PAGE = "<html><head><title>Tidal notes</title></head><body><p>Tidal lagoons store energy.</p></body></html>"


@pytest.fixture
async def server() -> AsyncIterator[ScriptedLLMServer]:
    async with ScriptedLLMServer(Scenario(topics=2, tool_calls_per_researcher=2)) as srv:
        yield srv


async def test_refused_upstream_calls_reach_the_researcher_the_warnings_and_the_counters(
    server: ScriptedLLMServer, serve_pages: PageServer, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    if not FETCH_SERVER.exists():
        pytest.skip("mcp-server-fetch is not installed in this environment (it is a dev dependency)")
    page_url = await serve_pages({"/tidal": PAGE}) + "/tidal"
    researcher_requests: list[ScriptedRequest] = []
    answer = ScriptedPolicy.answer

    def scripted(policy: ScriptedPolicy, stage: str, req: ScriptedRequest) -> Answer:
        reply = answer(policy, stage, req)
        if stage == "researcher":
            researcher_requests.append(req)
            # The scripted researcher fills `url` with its topic; ask for the loopback page instead.
            reply.tool_calls = [ToolCall(c.id, c.name, {"url": page_url}) if c.name == "fetch__fetch" else c
                                for c in reply.tool_calls]
        return reply

    monkeypatch.setattr(ScriptedPolicy, "answer", scripted)
    # No --allow-private-ips: the server refuses 127.0.0.1. PATH holds only the venv (no node: see test_third_party).
    config = StdioServerConfig(command=str(FETCH_SERVER), env={"PATH": str(FETCH_SERVER.parent)}, timeoutSeconds=20)
    events: list[Event] = []
    settings: Settings = test_settings(server)
    async with UpstreamManager({"fetch": config}) as manager, ModelHub(settings) as hub:
        engine = ResearchEngine(hub.stage_models(), await manager.tools(), EngineConfig.from_settings(settings))
        result = await engine.run(QUESTION, on_event=events.append)

    # Each researcher saw the upstream's own reason as the result of each call.
    final = [req for req in researcher_requests if len([m for m in req.messages if m.role == "tool"]) == 2]
    assert len(final) == 2
    for req in final:
        for message in (m for m in req.messages if m.role == "tool"):
            reason = message.content.removeprefix("Error: fetch__fetch failed: fetch/fetch returned an error: ")
            assert reason.startswith("Refused to fetch http://127.0.0.1:")
            assert "not a public address" in message.content and "--allow-private-ips" in message.content

    # The run finished, but says what went wrong: once, with the count and the reason.
    assert result.status == "completed"
    failures = [w for w in result.warnings if w.startswith("upstream 'fetch'")]
    assert len(failures) == 1, result.warnings
    assert failures[0].startswith("upstream 'fetch': 4 calls failed: fetch/fetch returned an error: Refused to fetch")
    assert failures[0].count("not a public address") == 1  # deduplicated
    assert result.failed_tool_calls == {"fetch": 4}
    progress = events[-1].progress
    assert progress.failed_tool_calls == 4 and progress.failed_tool_calls_by == {"fetch": 4}
    assert "4 tool calls failed (fetch 4)" in progress.describe()
    assert sum(e.kind == "tool_error" for e in events) == 4
    assert "> Note: upstream 'fetch': 4 calls failed" in result.report
