"""`open_cache(settings)`: the process's cache, entered once by the CLI run or the MCP server's lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import CacheError
from .base import Counters, Level
from .core import NAMESPACES, Cache, Policy
from .memory import MemoryLevel

# The disk (diskcache) and Redis levels are imported when opened: `--help` and a server without Redis skip them.
if TYPE_CHECKING:
    from ..settings import Settings
    from .disk import DiskLevel

log = logging.getLogger(__name__)


def policies(settings: Settings) -> dict[str, Policy]:
    out: dict[str, Policy] = {}
    for namespace in NAMESPACES:
        config = getattr(settings, f"cache_{namespace}")
        out[namespace] = Policy(enabled=config.enabled, ttl_s=config.ttl_s)
    return out


async def open_disk(settings: Settings) -> DiskLevel | None:
    """The disk level, or None (logged) when the cache directory cannot be used: research goes on without it."""
    from .disk import DiskLevel

    directory = settings.cache_path()
    try:
        return await DiskLevel.open(directory, max_bytes=settings.cache_disk_max_bytes,
                                    memory_bytes=settings.cache_disk_memory_max_bytes)
    except CacheError as exc:
        log.warning("%s; running without the disk cache (`deep-research cache clear` resets it)", exc)
        return None


@asynccontextmanager
async def open_cache(settings: Settings, *, memory: bool = True) -> AsyncIterator[Cache]:
    """Yield a Cache built from settings (a disabled one when `cache_enabled` is off) and close it on exit.

    Opening never fails the caller: a disk cache that cannot be opened is logged and left out."""
    if not settings.cache_enabled:
        yield Cache.disabled()
        return
    levels: list[Level] = []
    if memory:
        levels.append(MemoryLevel(settings.cache_memory_max_bytes))
    disk = await open_disk(settings)
    if disk is not None:
        levels.append(disk)
    if settings.cache_redis_url is not None:
        # Not pinged here: a Redis that is down is found (and logged, once) by the first lookup, and tried again
        # after a cool-down, since it may come back while the process lives.
        from .redis_level import RedisLevel

        levels.append(RedisLevel(settings.cache_redis_url.get_secret_value(), timeout_s=settings.cache_redis_timeout_s))
    cache = Cache(levels, policies(settings))
    try:
        yield cache
    finally:
        await cache.aclose()


async def clear_cache(settings: Settings, namespace: str | None = None) -> dict[str, int]:
    """Remove one namespace or everything from the disk and Redis levels. A disk cache too damaged to open is
    deleted outright when clearing everything: that is the way to recover it."""
    async with open_cache(settings.model_copy(update={"cache_enabled": True}), memory=False) as cache:
        opened = any(level.name == "disk" for level in cache.levels)
        removed = await cache.clear(namespace)
    if not opened and namespace is None:
        from .disk import remove_disk_files

        removed["disk"] = remove_disk_files(settings.cache_path())
    return removed


_LEVEL_ORDER = ["memory", "disk", "redis"]


def redis_location(settings: Settings) -> str | None:
    """host:port/db of the Redis level, without credentials, for display."""
    if settings.cache_redis_url is None:
        return None
    parts = urlsplit(settings.cache_redis_url.get_secret_value())
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"


async def cache_report(settings: Settings) -> dict[str, Any]:
    """What `cache stats` shows: per level and namespace, entries and bytes held now plus the persisted counters."""
    async with open_cache(settings.model_copy(update={"cache_enabled": True}), memory=False) as cache:
        stored = await cache.stored()
        counters = await cache.persisted_counters()
    levels: dict[str, dict[str, Any]] = {}
    names = sorted({*stored, *(level for level, _ in counters)}, key=_LEVEL_ORDER.index)
    for level in names:
        spaces = [*NAMESPACES, *sorted({ns for lv, ns in counters if lv == level} - set(NAMESPACES))]
        rows: dict[str, Any] = {}
        for namespace in spaces:
            held = stored.get(level, {}).get(namespace)
            counted = counters.get((level, namespace), Counters())
            if held is None and counted == Counters():
                continue
            rows[namespace] = {"entries": held.entries if held else 0, "bytes": held.bytes if held else 0,
                               "counters": asdict(counted)}
        levels[level] = rows
    return {"enabled": settings.cache_enabled, "directory": str(settings.cache_path()),
            "redis": redis_location(settings), "levels": levels}
