"""Builds the research tools from settings and owns what they hold open (the HTTP pool, document indexes).

The CLI enters it once per run; the MCP server's lifespan enters it once per process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from ..cache.core import Cache
from ..cache.tools import CachedTool
from ..settings import Settings
from .base import ResearchTool
from .fetch import FetchUrlTool
from .http_pool import HttpPool
from .localdocs import IndexStats, close_local_documents, default_index_path, open_local_documents
from .ssrf import GuardedResolver, SsrfGuard
from .upstream import UpstreamManager

log = logging.getLogger(__name__)


@asynccontextmanager
async def open_toolbox(
    settings: Settings,
    *,
    docs: Path | None = None,
    index_progress: Callable[[IndexStats], None] | None = None,
    cache: Cache | None = None,
) -> AsyncIterator[list[ResearchTool]]:
    """Yield the configured tools: local documents when `docs` is given (indexed incrementally first), fetch_url
    unless switched off, and the tools of the upstream MCP servers in `settings.mcp_config`. Everything is closed on
    exit; an upstream server that cannot be reached is logged and left out.

    With a cache, fetched pages and upstream tool results are cached; local documents are not (they are local, and
    the index follows the folder)."""
    async with AsyncExitStack() as stack:
        tools: list[ResearchTool] = []
        if docs is not None:
            local = await open_local_documents(
                docs, default_index_path(settings.data_dir, docs), index_progress,
                include=settings.docs_include, exclude=settings.docs_exclude,
            )
            stack.callback(close_local_documents, local)
            tools += local
        if settings.fetch_enabled:
            pool = HttpPool(
                limit=settings.http_max_connections,
                limit_per_host=settings.http_max_connections_per_host,
                ttl_dns_cache=settings.http_dns_cache_ttl_s,
                resolver=GuardedResolver(SsrfGuard(settings.fetch_allow)),
            )
            stack.push_async_callback(pool.close)
            tools.append(
                FetchUrlTool(
                    pool,
                    max_redirects=settings.fetch_max_redirects,
                    max_bytes=settings.fetch_max_bytes,
                    max_decompressed_bytes=settings.fetch_max_decompressed_bytes,
                    max_chars=settings.fetch_max_chars,
                    timeout_s=settings.fetch_timeout_s,
                    cache=cache,
                    allow=settings.fetch_allow,
                )
            )
        if settings.mcp_config is not None:
            manager = UpstreamManager.from_config_file(settings.mcp_config)
            stack.push_async_callback(manager.close)
            upstream = await manager.tools()  # also warms slow starters (npx) before the first research call
            if cache is not None and cache.enabled("tool"):
                tools += [CachedTool(t, cache, scope={"server": t.server, "tool": t.upstream_name}) for t in upstream]
            else:
                tools += upstream
            for name, reason in manager.errors.items():
                log.warning("upstream MCP server %r is unavailable and left out: %s", name, reason)
        yield tools
