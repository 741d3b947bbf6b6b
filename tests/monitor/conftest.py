"""The scripted LLM server on 127.0.0.1, as the engine tests use it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer


@pytest.fixture
async def server() -> AsyncIterator[ScriptedLLMServer]:
    async with ScriptedLLMServer(Scenario()) as srv:
        yield srv
