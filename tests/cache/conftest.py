"""Cache fixtures: caches on temp dirs, a fake level that fails on demand, and a real redis-server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from deep_research_mcp.cache import Cache, Policy
from deep_research_mcp.cache.disk import DiskLevel
from deep_research_mcp.cache.memory import MemoryLevel
from deep_research_mcp.errors import CacheError

from ..redis_server import RedisServer, redis_server  # noqa: F401  # the fixture

ALL = {ns: Policy() for ns in ("llm", "tool", "page", "summary", "t")}


class BrokenLevel:
    """A level whose every operation fails, as a full disk or a dead Redis would."""

    name = "broken"

    def __init__(self) -> None:
        self.calls = 0

    async def _fail(self, *_: Any) -> Any:
        self.calls += 1
        raise CacheError("no space left on device")

    get = set = clear = stored = _fail

    async def close(self) -> None:
        return None


@pytest.fixture
async def disk(tmp_path: Path) -> AsyncIterator[DiskLevel]:
    level = await DiskLevel.open(tmp_path / "cache", max_bytes=10**8)
    try:
        yield level
    finally:
        await level.close()


@pytest.fixture
async def cache(disk: DiskLevel) -> AsyncIterator[Cache]:
    cache = Cache([MemoryLevel(10**6), disk], ALL)
    yield cache
    cache.levels = []  # the disk fixture closes its own level


__all__ = ["ALL", "BrokenLevel", "RedisServer", "redis_server"]
