"""The scripted LLM server on 127.0.0.1, as the engine tests use it; a researcher's calls recorded by hand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from deep_research_mcp.errors import ProviderHTTPError
from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer
from deep_research_mcp.monitor.timeline import RunRecorder


async def record_one_researcher(recorder: RunRecorder, *, tool_s: float = 0.01) -> dict[str, object]:
    """Through the hooks the engine calls: a researcher's lane with a model call refused with 429 and a tool call;
    returns the finished timeline."""
    lane = recorder.open_lane("topic one")
    recorder.lane_started(lane)
    with pytest.raises(ProviderHTTPError):
        async with recorder.model("openai:gpt-4.1", "", "researcher"):
            raise ProviderHTTPError("slow down", status=429)
    async with recorder.tool("search_documents", "search_documents"):
        await asyncio.sleep(tool_s)
    recorder.lane_finished(lane, True)
    return recorder.finish()


@pytest.fixture
async def server() -> AsyncIterator[ScriptedLLMServer]:
    async with ScriptedLLMServer(Scenario()) as srv:
        yield srv
