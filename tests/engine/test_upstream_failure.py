"""Kill an upstream MCP server mid-research: the researcher whose call it cut off is told, the next call starts a
new server, and the run still ends with a cited report."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TextIO

import pytest

from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer
from deep_research_mcp.llm.scripted.policy import Answer, ScriptedPolicy, ScriptedRequest
from deep_research_mcp.tools.upstream import StdioServerConfig, UpstreamManager

from .conftest import QUESTION, EngineFactory

SEARCH_SERVER = Path(__file__).resolve().parents[1] / "tools" / "upstream" / "search_server.py"
BLOCKED = re.compile(rb"^BLOCKED pid=(\d+)$")
# The scripted researcher of topic 2 sends "Topic 2: ... (query 1)" first: that call is the one in flight at the kill.
BLOCK_ON = r"^Topic 2:.*\(query 1\)$"


@contextlib.asynccontextmanager
async def stderr_pipe() -> AsyncIterator[tuple[TextIO, asyncio.StreamReader]]:
    """A pipe for the upstream servers' stderr (write end) and its lines as they come (read end)."""
    read_fd, write_fd = os.pipe()
    reader = asyncio.StreamReader()
    transport, _ = await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb")
    )
    try:
        with os.fdopen(write_fd, "w") as errlog:
            yield errlog, reader
    finally:
        transport.close()


async def kill_when_blocked(lines: asyncio.StreamReader) -> int:
    """SIGKILL the server as soon as it says it holds the blocked call; return its pid."""
    while line := await lines.readline():
        match = BLOCKED.match(line.strip())
        if match:
            pid = int(match.group(1))
            os.kill(pid, signal.SIGKILL)
            return pid
    raise AssertionError("the upstream's stderr ended before the blocked search arrived")


async def test_killing_the_upstream_mid_research(
    server: ScriptedLLMServer, make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    researcher_requests: list[ScriptedRequest] = []
    answer = ScriptedPolicy.answer

    def recording(policy: ScriptedPolicy, stage: str, req: ScriptedRequest) -> Answer:
        if stage == "researcher":
            researcher_requests.append(req)  # what the researcher model was shown, tool results included
        return answer(policy, stage, req)

    monkeypatch.setattr(ScriptedPolicy, "answer", recording)
    server.scenario = Scenario(topics=3, tool_calls_per_researcher=2)
    # No annotations: `search` is then not known to be safe to repeat, so the cut-off call reaches the model as an
    # error instead of being re-sent. The timeout only bounds a broken test; nothing waits for it to pass.
    config = StdioServerConfig(
        command=sys.executable, args=[str(SEARCH_SERVER), "--no-annotations", "--block-on", BLOCK_ON], allow_write=True,
        allow_tools=["search"], timeout_seconds=20,
    )
    async with stderr_pipe() as (errlog, lines), UpstreamManager({"corpus": config}, errlog=errlog) as manager:
        tools = await manager.tools()
        killer = asyncio.create_task(kill_when_blocked(lines))
        try:
            async with make_engine(tools=tools) as engine:
                result = await engine.run(QUESTION)
        finally:
            if not killer.done():
                killer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await killer
        assert not killer.cancelled(), "the blocked search never reached the upstream"
        killed = killer.result()
        pid = await manager.sessions["corpus"].call_tool("pid", {})
        assert pid.structured_content is not None and pid.structured_content["result"] != killed
        assert manager.sessions_opened == 2

    # The researcher of topic 2 saw its first search fail as a tool error, and its second one answered.
    topic_2 = [req for req in researcher_requests if req.user_texts()[0].startswith("Topic to research:\nTopic 2:")]
    results = [m.content for m in topic_2[-1].messages if m.role == "tool"]
    assert len(results) == 2
    assert results[0].startswith("Error: corpus__search failed: corpus/search: the connection to the server was lost")
    assert "may or may not have taken effect" in results[0]
    assert '<document id="S' in results[1]

    assert result.status == "completed" and len(result.units) == 3
    assert all(unit.ok and unit.tool_calls == 2 for unit in result.units)
    listed = re.findall(r"\]\((https?://[^)]+)\)", result.report.split("## Sources", 1)[1])
    assert listed and all(url.startswith("https://corpus.test/") for url in listed)
