"""A provider that takes only so many calls at once, through the real OpenAI SDK: the service absorbs its 429s."""

from __future__ import annotations

import asyncio

import httpx2

from deep_research_mcp.engine.config import EngineConfig
from deep_research_mcp.engine.run import ResearchEngine
from deep_research_mcp.llm.factory import ModelHub
from deep_research_mcp.llm.scripted import Limits, Scenario, ScriptedLLMServer

from ..engine.conftest import QUESTION, corpus, test_settings

REQUEST = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}


async def test_a_429_storm_is_absorbed_with_no_failed_step() -> None:
    limits = Limits(capacity=2, retry_after_s=0.02)
    scenario = Scenario(topics=4, tool_calls_per_researcher=1, latency_s=0.05)
    async with ScriptedLLMServer(scenario, limits=limits) as server:
        # No retries at all: every refused call is paced by the service's queue and pause instead.
        settings = test_settings(server, max_retries=0, offline_fallback=False, max_concurrent_research_units=4)
        async with ModelHub(settings) as hub:
            engine = ResearchEngine(hub.stage_models(), [corpus()], EngineConfig.from_settings(settings))
            result = await engine.run(QUESTION)
            openai = hub.services.snapshot()["openai"]
    assert result.status == "completed" and [u.ok for u in result.units] == [True] * 4
    assert not result.warnings
    assert server.stats.rejected_capacity > 0 and server.stats.peak_in_flight <= 2
    assert openai["overloaded"] == server.stats.rejected_capacity
    assert openai["limit"] < openai["max"]


async def test_the_server_limits_answer_as_a_provider_would() -> None:
    async with ScriptedLLMServer(Scenario(latency_s=0.2), limits=Limits(capacity=1, retry_after_s=2)) as server, \
            httpx2.AsyncClient() as http:
        url = server.openai_base_url + "/chat/completions"
        first, second = await asyncio.gather(http.post(url, json=REQUEST), http.post(url, json=REQUEST))
        statuses = sorted([first.status_code, second.status_code])
        refused = first if first.status_code == 429 else second
        assert statuses == [200, 429] and refused.headers["retry-after"] == "2"
    async with ScriptedLLMServer(limits=Limits(requests_per_minute=2)) as server, httpx2.AsyncClient() as http:
        url = server.openai_base_url + "/chat/completions"
        codes = [(await http.post(url, json=REQUEST)).status_code for _ in range(3)]
        assert codes == [200, 200, 429] and server.stats.rejected_rate == 1
    async with ScriptedLLMServer(limits=Limits(error_rate=1.0)) as server, httpx2.AsyncClient() as http:
        response = await http.post(server.openai_base_url + "/chat/completions", json=REQUEST)
        assert response.status_code == 500 and server.stats.random_errors == 1 and server.stats.calls == 0
