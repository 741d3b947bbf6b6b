from __future__ import annotations

import pytest

from deep_research_mcp.cache import memory
from deep_research_mcp.cache.memory import ENTRY_OVERHEAD, MemoryLevel


def size(key: str, data: bytes) -> int:
    return len(key) + len(data) + ENTRY_OVERHEAD


async def test_evicts_least_recently_used_entries_to_stay_under_the_byte_bound() -> None:
    one = size("t:a", b"x" * 100)
    level = MemoryLevel(max_bytes=3 * one)
    for key in ("t:a", "t:b", "t:c"):
        await level.set(key, b"x" * 100, None)
    assert await level.get("t:a") is not None  # a is now the most recently used
    await level.set("t:d", b"x" * 100, None)
    assert await level.get("t:b") is None  # the least recently used went
    assert [await level.get(k) is not None for k in ("t:a", "t:c", "t:d")] == [True, True, True]
    assert level.bytes == 3 * one <= level.max_bytes
    await level.set("t:big", b"x" * 1000, None)  # larger than everything allowed: not kept, nothing evicted for it
    assert await level.get("t:big") is None and len(level) == 3


async def test_entries_expire_after_their_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(memory.time, "monotonic", lambda: clock[0])
    level = MemoryLevel(max_bytes=10_000)
    await level.set("t:short", b"1", 5.0)
    await level.set("t:forever", b"2", None)
    clock[0] += 4.9
    assert await level.get("t:short") == b"1"
    clock[0] += 0.2
    assert await level.get("t:short") is None and await level.get("t:forever") == b"2"
    assert level.bytes == size("t:forever", b"2")


async def test_clear_and_stored_by_namespace() -> None:
    level = MemoryLevel(max_bytes=10_000)
    await level.set("llm:1", b"ab", None)
    await level.set("page:1", b"abc", None)
    assert {ns: (s.entries, s.bytes) for ns, s in (await level.stored()).items()} == {"llm": (1, 2), "page": (1, 3)}
    assert await level.clear("llm") == 1
    assert await level.get("llm:1") is None and await level.get("page:1") == b"abc"
