from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from deep_research_mcp.cache import Cache, Policy
from deep_research_mcp.cache import envelope as envelope_module
from deep_research_mcp.cache.memory import MemoryLevel
from deep_research_mcp.cache.values import TextCodec

from .conftest import ALL, BrokenLevel


class JsonCodec:
    def encode(self, value: Any) -> Any:
        return value

    def decode(self, data: Any) -> Any:
        return data


async def test_ten_concurrent_identical_requests_make_one_upstream_call() -> None:
    cache = Cache([MemoryLevel(10**6)], ALL)
    calls = 0
    release = asyncio.Event()

    async def upstream() -> str:
        nonlocal calls
        calls += 1
        await release.wait()  # every caller is queued behind the first before it answers
        return "answer"

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(cache.get_or_compute("t", {"q": 1}, upstream, TextCodec())) for _ in range(10)]
        while len(cache._flights) == 0 or cache._flights[cache.key("t", {"q": 1})][1][0] < 10:
            await asyncio.sleep(0)
        release.set()
    lookups = [t.result() for t in tasks]
    assert calls == 1 and {lk.value for lk in lookups} == {"answer"}
    assert sorted(lk.hit for lk in lookups) == [False] + [True] * 9
    assert cache._flights == {}


async def test_a_failed_computation_is_not_shared_or_cached() -> None:
    cache = Cache([MemoryLevel(10**6)], ALL)
    attempts = 0

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("transient")
        return "second time lucky"

    with pytest.raises(RuntimeError):
        await cache.get_or_compute("t", "x", flaky, TextCodec())
    lookup = await cache.get_or_compute("t", "x", flaky, TextCodec())
    assert (lookup.value, lookup.hit, attempts) == ("second time lucky", False, 2)


async def test_reads_fall_through_and_back_fill_writes_go_through() -> None:
    upper, lower = MemoryLevel(10**6), MemoryLevel(10**6)
    cache = Cache([upper, lower], ALL)
    key = cache.key("t", "k")
    await cache.set("t", key, {"v": 1})
    assert await upper.get(key) is not None and await lower.get(key) is not None  # write-through
    await upper.clear(None)
    entry = await cache.get("t", key)
    assert entry is not None and entry.value == {"v": 1}
    assert await upper.get(key) is not None  # back-filled from the lower level
    stats = cache.stats()
    assert stats["memory"]["t"]["misses"] == 1 and stats["memory"]["t"]["hits"] == 1


async def test_back_fill_keeps_the_time_left_not_a_fresh_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [10_000.0]
    monkeypatch.setattr(envelope_module.time, "time", lambda: now[0])
    upper, lower = MemoryLevel(10**6), MemoryLevel(10**6)
    cache = Cache([upper, lower], {"t": Policy(ttl_s=100.0)})
    key = cache.key("t", "k")
    await cache.set("t", key, "v")
    await upper.clear(None)
    seen: list[float | None] = []
    original = upper.set

    async def spy(k: str, data: bytes, ttl_s: float | None) -> None:
        seen.append(ttl_s)
        await original(k, data, ttl_s)

    monkeypatch.setattr(upper, "set", spy)
    now[0] += 60.0
    assert (await cache.get("t", key)) is not None and seen == [pytest.approx(40.0)]
    now[0] += 41.0  # past the expiry written in the envelope: every level treats it as gone
    assert await cache.get("t", key) is None


async def test_a_failing_level_is_a_miss_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    broken = BrokenLevel()
    cache = Cache([MemoryLevel(10**6), broken], ALL)
    caplog.set_level(logging.WARNING, "deep_research_mcp.cache")
    for n in range(3):
        lookup = await cache.get_or_compute("t", n, lambda: asyncio.sleep(0, "computed"), TextCodec())
        assert lookup.value == "computed" and not lookup.hit
    assert broken.calls == 6  # tried each time: a level may come back
    assert cache.stats()["broken"]["t"]["errors"] == 6
    warnings = [r for r in caplog.records if "broken" in r.getMessage()]
    assert len(warnings) == 1 and "no space left" in warnings[0].getMessage()


async def test_an_undecodable_entry_is_recomputed_and_replaced() -> None:
    cache = Cache([MemoryLevel(10**6)], ALL)
    await cache.set("t", cache.key("t", "k"), {"not": "text"})
    lookup = await cache.get_or_compute("t", "k", lambda: asyncio.sleep(0, "fresh"), TextCodec())
    assert (lookup.value, lookup.hit) == ("fresh", False)
    again = await cache.get_or_compute("t", "k", lambda: asyncio.sleep(0, "never"), TextCodec())
    assert (again.value, again.hit) == ("fresh", True)


async def test_disabled_namespaces_and_the_disabled_cache_compute_every_time() -> None:
    counted = 0

    async def compute() -> dict[str, int]:
        nonlocal counted
        counted += 1
        return {"n": counted}

    off = Cache([MemoryLevel(10**6)], {"t": Policy(enabled=False)})
    for cache in (Cache.disabled(), off):
        for _ in range(2):
            assert not (await cache.get_or_compute("t", "same", compute, JsonCodec())).hit
    assert counted == 4 and off.stats() == {}
