"""Research never fails because of the cache: a corrupt database file or Redis stopping mid-run are misses."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from deep_research_mcp.cache import Cache, CachedTool, open_cache
from deep_research_mcp.engine.config import EngineConfig, ResearchResult
from deep_research_mcp.engine.events import Event
from deep_research_mcp.engine.run import ResearchEngine
from deep_research_mcp.llm.factory import ModelHub
from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer
from deep_research_mcp.settings import Settings
from deep_research_mcp.tools.base import Document
from deep_research_mcp.tools.memory import InMemoryDocuments

from .conftest import RedisServer

QUESTION = "How do tidal power plants store energy?"
CALLS = 16  # the default scenario with clarification off


@pytest.fixture
async def llm() -> AsyncIterator[ScriptedLLMServer]:
    async with ScriptedLLMServer(Scenario(latency_s=0.01)) as server:
        yield server


def settings_for(llm: ScriptedLLMServer, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"research_model": "openai:scripted", "openai_base_url": llm.openai_base_url,
                                 "allow_clarification": False, "call_timeout_s": 5.0, "max_retries": 0,
                                 "cache_dir": tmp_path / "cache"}
    values.update(overrides)
    return Settings(**values)


def corpus() -> InMemoryDocuments:
    return InMemoryDocuments([Document(f"https://docs.example/{i}", f"Note {i}", f"Tidal plants store energy {i}.")
                              for i in range(6)])


async def research(settings: Settings, cache: Cache, on_event: object = None) -> ResearchResult:
    tool = CachedTool(corpus(), cache, scope={"corpus": "tidal"})
    async with ModelHub(settings, cache=cache) as hub:
        engine = ResearchEngine(hub.stage_models(), [tool], EngineConfig.from_settings(settings))
        return await engine.run(QUESTION, on_event=on_event)  # type: ignore[arg-type]


def completed(result: ResearchResult) -> bool:
    return result.status == "completed" and "## Sources" in result.report and all(u.ok for u in result.units)


async def test_a_database_corrupted_mid_run_and_at_open_never_fails_the_research(
    llm: ScriptedLLMServer, tmp_path: Path
) -> None:
    settings = settings_for(llm, tmp_path)
    database = tmp_path / "cache" / "cache.db"

    def vandal(event: Event) -> None:
        if event.kind == "researcher_started" and database.read_bytes()[:6] == b"SQLite":
            for path in database.parent.glob("cache.db*"):
                path.write_bytes(b"\x00garbage" * 4096)

    async with open_cache(settings) as cache:
        assert completed(await research(settings, cache, vandal))
        assert cache.stats()["disk"]["llm"]["errors"] > 0  # the damage was felt, and cost only misses
    assert llm.stats.calls == CALLS
    async with open_cache(settings) as cache:
        assert [level.name for level in cache.levels] == ["memory"]  # the damaged file is left out
        assert completed(await research(settings, cache))
    assert llm.stats.calls == 2 * CALLS


async def test_redis_stopped_mid_run_is_logged_once_and_the_run_completes(
    llm: ScriptedLLMServer, tmp_path: Path, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "deep_research_mcp.cache")
    settings = settings_for(llm, tmp_path, cache_redis_url=redis_server.url)

    def stop_redis(event: Event) -> None:
        if event.kind == "researcher_started":
            redis_server.stop()

    async with open_cache(settings) as cache:
        result = await research(settings, cache, stop_redis)
        stats = cache.stats()
    assert completed(result) and llm.stats.calls == CALLS
    assert stats["redis"]["llm"]["writes"] >= 1 and stats["redis"]["llm"]["errors"] >= 1
    assert len([r for r in caplog.records if "cache redis failed" in r.getMessage()]) == 1
    async with open_cache(settings.model_copy(update={"cache_redis_url": None})) as cache:
        rerun = await research(settings, cache)  # the disk level kept everything Redis missed
    assert completed(rerun) and llm.stats.calls == CALLS and rerun.usage["cache_hits"] == CALLS
    assert rerun.report == result.report
