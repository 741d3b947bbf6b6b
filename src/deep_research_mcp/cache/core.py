"""`Cache`: levels composed into one namespaced get/set, single-flight, stats, and failures turned into misses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from ..errors import CacheError
from . import envelope
from .base import Counters, Level, Stored, describe, stats_table
from .envelope import Entry, Value
from .keys import SCHEMA_VERSION, cache_key

log = logging.getLogger(__name__)

T = TypeVar("T")
NAMESPACES = ("llm", "tool", "page", "summary")


@dataclass(frozen=True, slots=True)
class Policy:
    enabled: bool = True
    ttl_s: float | None = None  # None: until evicted


class Codec(Protocol[T]):
    """Turns a computed value into what is cached (a JSON value or bytes) and back."""

    def encode(self, value: T) -> Value | None:
        """None: this value must not be cached (it is still returned to the caller)."""

    def decode(self, data: Value) -> T:
        """Any exception means the entry is unusable; it is then treated as a miss."""


@dataclass(frozen=True, slots=True)
class Lookup(Generic[T]):
    value: T
    hit: bool


class Cache:
    """Reads fall through the levels in order (memory, disk, Redis) and back-fill the levels above a hit; writes
    go to every level. A level that fails is logged once and counted, and the lookup carries on as a miss.

    Build it with `open_cache(settings)`; `Cache.disabled()` caches nothing and computes everything.
    """

    def __init__(
        self, levels: Sequence[Level], policies: Mapping[str, Policy], *, version: int = SCHEMA_VERSION
    ) -> None:
        self.levels = list(levels)
        self.policies = dict(policies)
        self.version = version
        self._counters: dict[tuple[str, str], Counters] = {}
        self._warned: set[str] = set()
        self._flights: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    @classmethod
    def disabled(cls) -> Cache:
        return cls([], {})

    def enabled(self, namespace: str) -> bool:
        policy = self.policies.get(namespace)
        return bool(self.levels) and policy is not None and policy.enabled

    def key(self, namespace: str, inputs: Any) -> str:
        return cache_key(namespace, inputs, version=self.version)

    def _count(self, level: str, namespace: str) -> Counters:
        return self._counters.setdefault((level, namespace), Counters())

    def _failed(self, where: str, namespace: str, exc: BaseException) -> None:
        self._count(where, namespace).errors += 1
        if where not in self._warned:
            self._warned.add(where)
            log.warning("cache %s failed (%s); treating it as a miss and carrying on (logged once)", where,
                        describe(exc))

    # --- raw get/set ---

    async def get(self, namespace: str, key: str) -> Entry | None:
        for index, level in enumerate(self.levels):
            counters = self._count(level.name, namespace)
            try:
                data = await level.get(key)
                entry = None if data is None else envelope.decode(data)
            except CacheError as exc:
                self._failed(level.name, namespace, exc)
                continue
            ttl = None if entry is None else entry.ttl_left()
            if data is None or entry is None or (ttl is not None and ttl <= 0):
                counters.misses += 1
                continue
            counters.hits += 1
            counters.bytes_read += len(data)
            for upper in self.levels[:index]:
                await self._put(upper, namespace, key, data, ttl)
            return entry
        return None

    async def set(self, namespace: str, key: str, value: Value) -> None:
        policy = self.policies.get(namespace, Policy())
        try:
            data = envelope.encode(value, envelope.expiry(policy.ttl_s))
        except CacheError as exc:
            self._failed("encoding", namespace, exc)
            return
        if len(self.levels) <= 1:
            for level in self.levels:
                await self._put(level, namespace, key, data, policy.ttl_s)
            return
        # Disk and Redis are written at once; each write catches its own failure, so none cancels another.
        async with asyncio.TaskGroup() as group:
            for level in self.levels:
                group.create_task(self._put(level, namespace, key, data, policy.ttl_s))

    async def _put(self, level: Level, namespace: str, key: str, data: bytes, ttl_s: float | None) -> None:
        try:
            await level.set(key, data, ttl_s)
        except CacheError as exc:
            self._failed(level.name, namespace, exc)
            return
        counters = self._count(level.name, namespace)
        counters.writes += 1
        counters.bytes_written += len(data)

    # --- the usual entry point ---

    async def get_or_compute(
        self, namespace: str, inputs: Any, compute: Callable[[], Awaitable[T]], codec: Codec[T]
    ) -> Lookup[T]:
        """The cached value for `inputs`, or `compute()`'s, cached when the codec encodes it.

        Single-flight: concurrent calls with equal inputs wait for the first; they then find its value cached.
        If it fails, the next one computes (the failure is not shared: it may have been transient)."""
        if not self.enabled(namespace):
            return Lookup(await compute(), hit=False)
        key = self.key(namespace, inputs)
        async with self._flight(key):
            entry = await self.get(namespace, key)
            if entry is not None:
                try:
                    return Lookup(codec.decode(entry.value), hit=True)
                except Exception as exc:  # an entry from another version or damaged: recompute and overwrite
                    self._failed("decoding", namespace, exc)
            value = await compute()
            encoded = codec.encode(value)
            if encoded is not None:
                await self.set(namespace, key, encoded)
            return Lookup(value, hit=False)

    @asynccontextmanager
    async def _flight(self, key: str) -> AsyncIterator[None]:
        lock, users = self._flights.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._flights[key]

    # --- control and stats ---

    async def clear(self, namespace: str | None = None) -> dict[str, int]:
        removed: dict[str, int] = {}
        for level in self.levels:
            try:
                removed[level.name] = await level.clear(namespace)
            except CacheError as exc:
                self._failed(level.name, namespace or "*", exc)
        return removed

    async def stored(self) -> dict[str, dict[str, Stored]]:
        out: dict[str, dict[str, Stored]] = {}
        for level in self.levels:
            try:
                out[level.name] = await level.stored()
            except CacheError as exc:
                self._failed(level.name, "*", exc)
        return out

    def stats(self) -> dict[str, dict[str, Any]]:
        """This process's counters: {level: {namespace: hits, misses, writes, bytes_read, bytes_written, errors}}."""
        return stats_table(self._counters)

    def counters(self) -> dict[tuple[str, str], Counters]:
        return dict(self._counters)

    async def persisted_counters(self) -> dict[tuple[str, str], Counters]:
        """Counters that finished processes left on disk (each adds its own when it closes the cache)."""
        for level in self.levels:
            read = getattr(level, "counters", None)
            if read is not None:
                try:
                    return dict(await read())
                except CacheError as exc:
                    self._failed(level.name, "*", exc)
        return {}

    async def aclose(self) -> None:
        levels, self.levels = self.levels, []
        for level in levels:
            persist = getattr(level, "add_counters", None)
            if persist is not None and self._counters:
                try:
                    await persist(self._counters)
                except CacheError as exc:
                    self._failed(level.name, "*", exc)
        for level in levels:
            try:
                await level.close()
            except CacheError as exc:
                self._failed(level.name, "*", exc)
