"""L2: diskcache (SQLite) on local disk, shared by every process of the machine, never pickled.

diskcache pickles anything that is not bytes, str or a number, and unpickles whatever a row says is a pickle: a
cache file anyone else can write to would then run their code. `SafeDisk` accepts bytes (and the integer stats
counters) only and refuses pickled rows on the way out. diskcache is synchronous, so every call runs on one
dedicated thread: the event loop never waits on SQLite, and closing on that same thread closes its one connection.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import diskcache
from diskcache.core import MODE_PICKLE, UNKNOWN

from ..errors import CacheError
from .base import Breaker, Counters, Stored, describe

T = TypeVar("T")
STATS_PREFIX = "__stats__:"
SQLITE_BUSY_TIMEOUT_S = 1.0
# Writers from several processes queue on SQLite's lock; a write gives up (a miss later, never an error to the run)
# only after this long, well past any contention seen in practice (4 processes writing flat out wait < 0.1 s). A
# file that stays locked longer (another program holding it) trips the breaker: the level then sits out a while.
WRITE_DEADLINE_S = 3.0
COOLDOWN_S = 30.0
DEFAULT_MEMORY_BYTES = 16 * 1024 * 1024
SQLITE_PAGE_BYTES = 4096  # SQLite's default page size, which diskcache keeps: cache_size is counted in pages
FILE_VALUES_OVER_BYTES = 256 * 1024  # larger values go to files beside the database, as diskcache does


class SafeDisk(diskcache.Disk):  # type: ignore[misc]  # diskcache ships no type hints
    """diskcache's Disk restricted to str keys and bytes/int values, refusing to unpickle anything."""

    def put(self, key: Any) -> Any:
        if type(key) is not str:
            raise CacheError(f"cache keys must be str, not {type(key).__name__}")
        return super().put(key)

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:
            raise CacheError("refusing to unpickle a cache key")
        return super().get(key, raw)

    def store(self, value: Any, read: bool, key: Any = UNKNOWN) -> Any:
        if type(value) not in (bytes, int) or read:
            raise CacheError(f"cache values must be bytes, not {type(value).__name__}")
        return super().store(value, read, key)

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if mode == MODE_PICKLE:
            raise CacheError("refusing to unpickle a cache value")
        return super().fetch(mode, filename, value, read)


def private_directory(path: Path) -> Path:
    """Create `path` readable by this user only: cached pages and model answers can be private research."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(path, 0o700)
    except OSError as exc:
        raise CacheError(f"cannot make {path} private: {describe(exc)}") from None
    return path


def remove_disk_files(directory: Path) -> int:
    """Delete diskcache's files in `directory` (its database and value files, nothing else); returns the count."""
    if not directory.is_dir():
        return 0
    removed = 0
    candidates = [directory / f"cache.db{suffix}" for suffix in ("", "-wal", "-shm")]
    # Values over FILE_VALUES_OVER_BYTES live in two levels of two-hex-digit folders, as `<hex>.val`.
    candidates += [p for p in directory.glob("??/??/*.val") if p.is_file()]
    for path in candidates:
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise CacheError(f"cannot remove {path}: {describe(exc)}") from None
    return removed


class DiskLevel:
    name = "disk"

    def __init__(
        self, cache: diskcache.Cache, executor: ThreadPoolExecutor, *, write_deadline_s: float = WRITE_DEADLINE_S
    ) -> None:
        self._cache = cache
        self._executor = executor
        self.write_deadline_s = write_deadline_s
        self.breaker = Breaker("disk cache", COOLDOWN_S)

    @classmethod
    async def open(
        cls, directory: Path, *, max_bytes: int, memory_bytes: int = DEFAULT_MEMORY_BYTES,
        busy_timeout_s: float = SQLITE_BUSY_TIMEOUT_S, write_deadline_s: float = WRITE_DEADLINE_S,
    ) -> DiskLevel:
        """Open (creating) the cache in `directory`; CacheError when it cannot be used (corrupt, unwritable).
        `memory_bytes` bounds SQLite's page cache and its memory map each, so RSS stops growing with the database."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cache-disk")

        def create() -> diskcache.Cache:
            private_directory(directory)
            cache = diskcache.Cache(
                str(directory), timeout=busy_timeout_s, disk=SafeDisk, size_limit=max_bytes,
                disk_min_file_size=FILE_VALUES_OVER_BYTES, tag_index=True,
                eviction_policy="least-recently-stored",  # "-used" would turn every read into a write
                sqlite_cache_size=max(1, memory_bytes // SQLITE_PAGE_BYTES), sqlite_mmap_size=memory_bytes,
            )
            try:
                cache.get("__probe__")  # a damaged database can open and still fail on the first query
            except BaseException:
                cache.close()
                raise
            return cache

        try:
            cache = await asyncio.get_running_loop().run_in_executor(executor, create)
        except (CacheError, diskcache.Timeout, sqlite3.Error, OSError) as exc:
            executor.shutdown(wait=True)
            raise CacheError(f"cannot open the disk cache in {directory}: {describe(exc)}") from None
        return cls(cache, executor, write_deadline_s=write_deadline_s)

    async def _run(self, fn: Callable[[], T]) -> T:
        self.breaker.check()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
        except (diskcache.Timeout, sqlite3.Error, OSError) as exc:
            self.breaker.trip()
            raise CacheError(f"disk cache: {describe(exc)}") from None
        except RuntimeError as exc:  # the executor was shut down by close()
            raise CacheError(f"disk cache is closed ({exc})") from None

    async def get(self, key: str) -> bytes | None:
        value = await self._run(lambda: self._cache.get(key, default=None, retry=False))
        if value is None:
            return None
        if not isinstance(value, bytes):
            raise CacheError(f"disk cache: unexpected {type(value).__name__} under {key}")
        return value

    async def set(self, key: str, data: bytes, ttl_s: float | None) -> None:
        namespace = key.partition(":")[0]

        def write() -> None:
            deadline = time.monotonic() + self.write_deadline_s
            while True:
                try:
                    self._cache.set(key, data, expire=ttl_s, tag=namespace, retry=False)
                    return
                except diskcache.Timeout:
                    # Bounded, unlike retry=True: a file locked for good must become a miss, not a hung research.
                    if time.monotonic() >= deadline:
                        raise

        await self._run(write)

    async def clear(self, namespace: str | None) -> int:
        if namespace is None:
            return int(await self._run(lambda: self._cache.clear(retry=True)))
        return int(await self._run(lambda: self._cache.evict(namespace, retry=True)))

    async def stored(self) -> dict[str, Stored]:
        def query() -> list[tuple[str, int, int]]:
            rows = self._cache._sql(  # diskcache has no per-tag totals; its table layout is stable since v4
                "SELECT tag, COUNT(*), SUM(size + COALESCE(LENGTH(value), 0)) FROM Cache"
                " WHERE tag IS NOT NULL AND (expire_time IS NULL OR expire_time > ?) GROUP BY tag",
                (time.time(),),
            ).fetchall()
            return [(str(tag), int(n), int(size or 0)) for tag, n, size in rows]

        return {tag: Stored(n, size) for tag, n, size in await self._run(query)}

    async def add_counters(self, counters: dict[tuple[str, str], Counters]) -> None:
        """Add this process's counters to the totals kept on disk (atomic per counter across processes)."""

        def write() -> None:
            for (level, namespace), c in counters.items():
                for field, value in c.as_dict().items():
                    if value:
                        self._cache.incr(f"{STATS_PREFIX}{level}:{namespace}:{field}", value, retry=True)

        await self._run(write)

    async def counters(self) -> dict[tuple[str, str], Counters]:
        def read() -> list[tuple[str, Any]]:
            return list(self._cache._sql(
                "SELECT key, value FROM Cache WHERE raw = 1 AND key LIKE ?", (STATS_PREFIX + "%",)
            ).fetchall())

        out: dict[tuple[str, str], Counters] = {}
        for key, value in await self._run(read):
            level, namespace, field = str(key).removeprefix(STATS_PREFIX).split(":", 2)
            out.setdefault((level, namespace), Counters()).add({field: int(value)})
        return out

    async def close(self) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._cache.close)
        finally:
            self._executor.shutdown(wait=True)
