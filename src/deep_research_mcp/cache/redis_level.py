"""L3: Redis, optional, shared by server processes on one or many machines.

A slow Redis must cost a research nothing: each command has a short deadline, and after a failure the level stays
out of the way for `cooldown_s` (answering misses at once, see `Breaker`) before it is tried again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ..errors import CacheError
from .base import Breaker, Stored, describe

T = TypeVar("T")
PREFIX = "deep-research:cache:"  # the run store shares the Redis under "deep-research:"
SCAN_BATCH = 500


class RedisLevel:
    name = "redis"

    def __init__(self, url: str, *, timeout_s: float, cooldown_s: float = 30.0) -> None:
        self.timeout_s = timeout_s
        self.breaker = Breaker("redis", cooldown_s)
        # No connection yet: the pool connects on the first command. Retries are off because a miss is cheaper
        # than waiting for a second attempt.
        self._client = aioredis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )

    async def _run(self, command: Callable[[], Awaitable[T]], *, deadline_s: float | None = None) -> T:
        self.breaker.check()
        try:
            async with asyncio.timeout(deadline_s or self.timeout_s):
                return await command()
        except (RedisError, OSError, TimeoutError) as exc:
            self.breaker.trip()
            raise CacheError(f"redis: {describe(exc)}") from None

    async def ping(self) -> None:
        await self._run(self._client.ping)

    async def get(self, key: str) -> bytes | None:
        value = await self._run(lambda: self._client.get(PREFIX + key))
        return None if value is None else bytes(value)

    async def set(self, key: str, data: bytes, ttl_s: float | None) -> None:
        px = None if ttl_s is None else max(1, int(ttl_s * 1000))
        await self._run(lambda: self._client.set(PREFIX + key, data, px=px))

    async def _keys(self, pattern: str) -> list[bytes]:
        return [key async for key in self._client.scan_iter(match=pattern, count=SCAN_BATCH)]

    async def clear(self, namespace: str | None) -> int:
        pattern = PREFIX + (f"{namespace}:*" if namespace else "*")

        async def unlink_all() -> int:
            keys = await self._keys(pattern)
            for start in range(0, len(keys), SCAN_BATCH):
                await self._client.unlink(*keys[start : start + SCAN_BATCH])
            return len(keys)

        # A whole keyspace scan takes longer than one lookup; it is a maintenance command, not on a research path.
        return await self._run(unlink_all, deadline_s=max(30.0, self.timeout_s))

    async def stored(self) -> dict[str, Stored]:
        async def totals() -> dict[str, Stored]:
            keys = await self._keys(PREFIX + "*")
            sizes: list[int] = []
            for start in range(0, len(keys), SCAN_BATCH):
                pipe = self._client.pipeline(transaction=False)
                for key in keys[start : start + SCAN_BATCH]:
                    pipe.strlen(key)
                sizes += [int(n) for n in await pipe.execute()]
            out: dict[str, list[int]] = {}
            for key, size in zip(keys, sizes, strict=True):
                entry = out.setdefault(key.decode("utf-8", "replace").removeprefix(PREFIX).partition(":")[0], [0, 0])
                entry[0] += 1
                entry[1] += size
            return {ns: Stored(n, size) for ns, (n, size) in out.items()}

        return await self._run(totals, deadline_s=max(30.0, self.timeout_s))

    async def close(self) -> None:
        try:
            await self._client.aclose()
        except (RedisError, OSError) as exc:
            raise CacheError(f"redis: {describe(exc)}") from None
