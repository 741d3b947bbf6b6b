"""Engine fixtures: the scripted LLM server on 127.0.0.1 and engines built on it through the real SDKs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from deep_research_mcp.engine.config import EngineConfig
from deep_research_mcp.engine.run import ResearchEngine
from deep_research_mcp.llm.factory import ModelHub
from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer
from deep_research_mcp.settings import Settings
from deep_research_mcp.tools.base import Document, ResearchTool
from deep_research_mcp.tools.memory import InMemoryDocuments

QUESTION = "How do tidal power plants store energy?"


def corpus(latency_s: float = 0.0) -> InMemoryDocuments:
    documents = [
        Document(f"https://docs.example/tidal/{i}", f"Tidal storage note {i}",
                 f"Tidal power plants store energy using lagoon {i}. Topic aspect detail {i}.")
        for i in range(1, 9)
    ]
    return InMemoryDocuments(documents, latency_s=latency_s)


EngineFactory = Callable[..., AbstractAsyncContextManager[ResearchEngine]]


@pytest.fixture
async def server() -> AsyncIterator[ScriptedLLMServer]:
    async with ScriptedLLMServer(Scenario()) as srv:
        yield srv


def test_settings(server: ScriptedLLMServer, wire: str = "openai", **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "research_model": f"{wire}:scripted",
        "openai_base_url": server.openai_base_url,
        "anthropic_base_url": server.anthropic_base_url,
        "call_timeout_s": 5.0,
        "retry_base_delay_s": 0.01,
        "max_retries": 2,
        "allow_clarification": False,
    }
    values.update(overrides)
    return Settings(**values)


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.fixture
def make_engine(server: ScriptedLLMServer) -> EngineFactory:
    @asynccontextmanager
    async def factory(
        *, wire: str = "openai", tools: list[ResearchTool] | None = None, **overrides: Any
    ) -> AsyncIterator[ResearchEngine]:
        settings = test_settings(server, wire, **overrides)
        async with ModelHub(settings) as hub:
            yield ResearchEngine(hub.stage_models(), [corpus()] if tools is None else tools,
                                 EngineConfig.from_settings(settings))

    return factory
