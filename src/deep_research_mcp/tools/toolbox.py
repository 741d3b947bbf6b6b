"""Builds the research tools from settings and owns what they hold open (the HTTP pool, document indexes).

The CLI enters it once per run; the MCP server's lifespan enters it once per process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

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
    settings: Settings, *, docs: Path | None = None, index_progress: Callable[[IndexStats], None] | None = None
) -> AsyncIterator[list[ResearchTool]]:
    """Yield the configured tools: local documents when `docs` is given (indexed incrementally first), fetch_url
    unless switched off, and the tools of the upstream MCP servers in `settings.mcp_config`. Everything is closed on
    exit; an upstream server that cannot be reached is logged and left out."""
    async with AsyncExitStack() as stack:
        tools: list[ResearchTool] = []
        if docs is not None:
            local = await open_local_documents(docs, default_index_path(settings.data_dir, docs), index_progress)
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
                )
            )
        if settings.mcp_config is not None:
            manager = UpstreamManager.from_config_file(settings.mcp_config)
            stack.push_async_callback(manager.close)
            tools += await manager.tools()  # also warms slow starters (npx) before the first research call
            for name, reason in manager.errors.items():
                log.warning("upstream MCP server %r is unavailable and left out: %s", name, reason)
        yield tools
