"""ModelCaller with a cache: hits are replayed and counted honestly; fallbacks and the offline engine never cached."""

from __future__ import annotations

from dataclasses import replace

from deep_research_mcp.cache import Cache
from deep_research_mcp.cache.memory import MemoryLevel
from deep_research_mcp.errors import ProviderHTTPError
from deep_research_mcp.llm.base import Message
from deep_research_mcp.llm.factory import ModelHub
from deep_research_mcp.llm.usage import UsageMeter
from deep_research_mcp.settings import Settings

from ..llm.test_client import FakeModel, caller, text
from .conftest import ALL

QUESTION = [Message.system("Be brief."), Message.user("What is a tidal lagoon?")]
OTHER = [Message.system("Be brief."), Message.user("What is a barrage?")]


async def test_a_repeated_call_is_a_recorded_hit_that_costs_nothing() -> None:
    model = FakeModel(text("lagoon", tokens=50))
    meter = UsageMeter(prices={"fake:m": (1.0, 1.0)})
    cached = caller(model, cache=Cache([MemoryLevel(10**6)], ALL), meter=meter)
    first = await cached.chat(QUESTION, stage="brief")
    again = await cached.chat(list(QUESTION), stage="brief")
    assert len(model.requests) == 1 and first.text == again.text == "lagoon"
    summary = meter.summary()
    assert (summary["calls"], summary["cache_hits"], summary["input_tokens"]) == (1, 1, 50)
    assert summary["by_stage"]["brief"] == {"calls": 1, "cache_hits": 1, "input_tokens": 50, "output_tokens": 50}
    assert summary["cost_usd"] == 100 / 1e6


async def test_a_fallback_answer_is_never_cached_as_the_models_own() -> None:
    failure = ProviderHTTPError("overloaded", status=503)
    model = FakeModel(text("lagoon"), failure, failure, failure, text("barrage, from the model"))
    fallback = FakeModel(text("barrage, from the fallback"))
    meter = UsageMeter()
    cached = caller(model, cache=Cache([MemoryLevel(10**6)], ALL), meter=meter, fallback=fallback)
    await cached.chat(QUESTION, stage="brief")
    assert (await cached.chat(OTHER, stage="brief")).text == "barrage, from the fallback"
    assert (await cached.chat(OTHER, stage="brief")).text == "barrage, from the model"
    assert len(model.requests) == 5 and meter.cache_hits == 0


async def test_the_offline_engine_is_not_cached() -> None:
    cache = Cache([MemoryLevel(10**6)], ALL)
    offline = replace(caller(FakeModel(text("one"), text("two")), cache=cache), name="offline:extractive")
    assert [(await offline.chat(QUESTION, stage="brief")).text for _ in range(2)] == ["one", "two"]
    assert cache.stats() == {}


def test_a_model_served_elsewhere_is_a_different_cache_identity() -> None:
    hub = ModelHub(Settings(research_model="openai:gpt-4.1", openai_api_key="k",
                            compatible_base_url="http://127.0.0.1:11434/v1/"))
    assert hub.cache_identity("openai:gpt-4.1") == "openai:gpt-4.1"
    assert hub.cache_identity("compatible:llama") == "compatible:llama@http://127.0.0.1:11434/v1"
