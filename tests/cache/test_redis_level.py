"""The Redis level against a real redis-server on a free loopback port."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from deep_research_mcp.cache import Cache, Policy, open_cache
from deep_research_mcp.cache.memory import MemoryLevel
from deep_research_mcp.cache.redis_level import PREFIX, RedisLevel
from deep_research_mcp.cache.values import TextCodec
from deep_research_mcp.settings import Settings

from .conftest import ALL, RedisServer


def settings(redis_server: RedisServer, directory: Path) -> Settings:
    return Settings(cache_dir=directory, cache_redis_url=redis_server.url)


async def test_a_value_written_by_one_process_is_read_by_another_and_back_filled(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    async with open_cache(settings(redis_server, tmp_path / "one")) as one, \
            open_cache(settings(redis_server, tmp_path / "two")) as two:
        assert [level.name for level in two.levels] == ["memory", "disk", "redis"]
        await one.get_or_compute("page", {"url": "u"}, _compute("page text"), TextCodec())
        lookup = await two.get_or_compute("page", {"url": "u"}, _compute("never"), TextCodec())
        assert (lookup.value, lookup.hit) == ("page text", True)
        stats = two.stats()
        assert stats["memory"]["page"]["misses"] == stats["disk"]["page"]["misses"] == 1
        assert stats["redis"]["page"]["hits"] == 1
        key = two.key("page", {"url": "u"})
        assert await two.levels[0].get(key) is not None and await two.levels[1].get(key) is not None
        assert (await two.stored())["redis"]["page"].entries == 1


async def test_entries_carry_their_ttl_and_clear_touches_only_the_cache(redis_server: RedisServer) -> None:
    level = RedisLevel(redis_server.url, timeout_s=1.0)
    raw = aioredis.Redis.from_url(redis_server.url)
    try:
        cache = Cache([level], {"page": Policy(ttl_s=100.0), "llm": Policy()})
        await cache.set("page", cache.key("page", 1), "p")
        await cache.set("llm", cache.key("llm", 1), "l")
        await raw.set("deep-research:run:abc", "a run record")  # the run store shares this Redis
        assert 0 < await raw.pttl(PREFIX + cache.key("page", 1)) <= 100_000
        assert await raw.pttl(PREFIX + cache.key("llm", 1)) == -1  # no expiry
        assert await cache.clear("page") == {"redis": 1}
        assert await cache.get("page", cache.key("page", 1)) is None
        assert await cache.get("llm", cache.key("llm", 1)) is not None
        assert await cache.clear() == {"redis": 1}
        assert await raw.get("deep-research:run:abc") == b"a run record"
    finally:
        await raw.aclose()
        await level.close()


async def test_a_stopped_redis_is_a_miss_logged_once_and_skipped_while_it_recovers(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    level = RedisLevel(redis_server.url, timeout_s=1.0)
    cache = Cache([MemoryLevel(10**6), level], ALL)
    caplog.set_level(logging.WARNING, "deep_research_mcp.cache")
    try:
        await cache.get_or_compute("tool", 0, _compute("before"), TextCodec())
        redis_server.stop()
        for n in range(1, 6):
            lookup = await cache.get_or_compute("tool", n, _compute(f"after {n}"), TextCodec())
            assert (lookup.value, lookup.hit) == (f"after {n}", False)
        assert (await cache.get_or_compute("tool", 0, _compute("x"), TextCodec())).value == "before"  # L1 still there
    finally:
        await cache.aclose()
    assert cache.stats()["redis"]["tool"]["errors"] == 10  # a get and a set per lookup, none of them waited on
    assert len([r for r in caplog.records if "cache redis failed" in r.getMessage()]) == 1


def _compute(value: str) -> Callable[[], Awaitable[str]]:
    async def compute() -> str:
        return value

    return compute
