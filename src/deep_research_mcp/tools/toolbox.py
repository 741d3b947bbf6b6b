"""Builds the research tools from settings and owns what they hold open (the HTTP pool, document indexes, upstream
MCP sessions).

The MCP server enters a `Toolbox` once per process: it returns at once and opens the tools in the background, so
checking a document index or starting an upstream server (an `npx` download, a server that never answers) never
delays the handshake. A research waits for the opening to finish (each part is bounded: an upstream by its
`startupTimeoutSeconds` and `timeoutSeconds`) and gets a warning for any part that could not be opened. The CLI
uses `open_toolbox`, which waits for everything before the run starts, as a terminal user expects.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import fetch_spec
from .base import ResearchTool, ToolResult

if TYPE_CHECKING:
    from ..cache.core import Cache
    from ..services import ServiceRegistry
    from ..settings import Settings
    from .localdocs import IndexStats

log = logging.getLogger(__name__)

DOCUMENTS, FETCH = "documents", fetch_spec.NAME


def _reason(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return str(exc) or type(exc).__name__


class Toolbox:
    """The configured tools: local documents when `docs` is given (indexed incrementally first), fetch_url unless
    switched off, and the tools of the upstream MCP servers in `settings.mcp_config`.

    `async with Toolbox(...) as box` starts opening them and returns at once; `await box.wait()` gives the tools
    once every part has opened or failed; `box.starting` names the parts still opening, and `box.problems()` says,
    one sentence per part, what could not be opened and why.
    With a cache, fetched pages and upstream tool results are cached; local documents are not (they are local, and
    the index follows the folder). Everything is closed on exit, and an opening still under way is cancelled.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        docs: Path | None = None,
        index_progress: Callable[[IndexStats], None] | None = None,
        cache: Cache | None = None,
        services: ServiceRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.services = services  # where upstream servers register as services (the process's registry)
        self.docs = docs
        self.index_progress = index_progress
        self.cache = cache
        self.failures: dict[str, BaseException] = {}  # part ("documents", "fetch_url", "upstream <name>") -> why
        self._parts: dict[str, list[ResearchTool]] = {}  # opened parts, in the order they are listed to models
        self._order: list[str] = []  # every configured part, in the order their tools are listed to models
        self._pending: set[str] = set()
        self._stack = AsyncExitStack()
        self._opening: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Toolbox:
        docs, upstream = self.docs, self.settings.mcp_config
        openers: dict[str, Callable[[], Awaitable[list[ResearchTool]]]] = {}
        if docs is not None:
            openers[DOCUMENTS] = lambda: self._open_documents(docs)
        if self.settings.fetch_enabled:
            openers[FETCH] = self._open_fetch
        if upstream is not None:
            openers["upstream servers"] = lambda: self._open_upstream(upstream)
        self._order, self._pending = list(openers), set(openers)
        self._opening = asyncio.get_running_loop().create_task(self._open(openers), name="deep-research-toolbox")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        opening = self._opening
        if opening is not None and not opening.done():
            opening.cancel()
        try:
            if opening is not None:
                await asyncio.gather(opening, return_exceptions=True)
        finally:
            await self._stack.aclose()

    @property
    def ready(self) -> bool:
        return self._opening is not None and self._opening.done()

    @property
    def starting(self) -> list[str]:
        return sorted(self._pending)

    @property
    def tools(self) -> list[ResearchTool]:
        """The tools opened so far, in a stable order (documents, fetch, upstream servers as configured)."""
        return [tool for part in self._order for tool in self._parts.get(part, [])]

    async def wait(self) -> list[ResearchTool]:
        """Every tool that could be opened, once the opening has finished (each part bounds its own time)."""
        if self._opening is None:
            raise RuntimeError("enter the toolbox (async with) before waiting for it")
        await asyncio.shield(self._opening)  # one waiter giving up must not cancel the opening for the others
        return self.tools

    def problems(self) -> list[str]:
        """One sentence per part that could not be opened."""
        return [f"{part} is unavailable and left out: {_reason(exc)}" for part, exc in self.failures.items()]

    async def _open(self, openers: dict[str, Callable[[], Awaitable[list[ResearchTool]]]]) -> None:
        async with asyncio.TaskGroup() as group:  # each part catches its own failure: siblings go on
            for part, opener in openers.items():
                group.create_task(self._part(part, opener))

    async def _part(self, part: str, opener: Callable[[], Awaitable[list[ResearchTool]]]) -> None:
        try:
            self._parts[part] = await opener()
        except Exception as exc:
            self.failures[part] = exc
            log.warning("%s is unavailable and left out: %s", part, _reason(exc))
        finally:
            self._pending.discard(part)

    async def _open_documents(self, docs: Path) -> list[ResearchTool]:
        localdocs = await asyncio.to_thread(importlib.import_module, "deep_research_mcp.tools.localdocs")
        local: list[ResearchTool] = await localdocs.open_local_documents(
            docs, localdocs.default_index_path(self.settings.data_dir, docs), self.index_progress,
            include=self.settings.docs_include, exclude=self.settings.docs_exclude,
        )
        self._stack.callback(localdocs.close_local_documents, local)
        return local

    async def _open_fetch(self) -> list[ResearchTool]:
        return [_FetchOnFirstUse(self._build_fetch)]

    async def _build_fetch(self) -> ResearchTool:
        # aiohttp is a fifth of a second to import: on a worker thread, so the event loop keeps answering.
        fetch = await asyncio.to_thread(importlib.import_module, "deep_research_mcp.tools.fetch")
        from .http_pool import HttpPool
        from .ssrf import GuardedResolver, SsrfGuard

        s = self.settings
        pool = HttpPool(limit=s.http_max_connections, limit_per_host=s.http_max_connections_per_host,
                        ttl_dns_cache=s.http_dns_cache_ttl_s, resolver=GuardedResolver(SsrfGuard(s.fetch_allow)))
        self._stack.push_async_callback(pool.close)
        tool: ResearchTool = fetch.FetchUrlTool(
            pool, max_redirects=s.fetch_max_redirects, max_bytes=s.fetch_max_bytes,
            max_decompressed_bytes=s.fetch_max_decompressed_bytes, max_chars=s.fetch_max_chars,
            timeout_s=s.fetch_timeout_s, cache=self.cache, allow=s.fetch_allow)
        return tool

    async def _open_upstream(self, config: Path) -> list[ResearchTool]:
        from .upstream import UpstreamManager

        manager = UpstreamManager.from_config_file(config, services=self.services)
        self._stack.push_async_callback(manager.close)
        upstream = await manager.tools()  # also warms slow starters (npx) before the first research call
        for name, reason in manager.errors.items():
            self.failures[f"upstream MCP server {name!r}"] = RuntimeError(reason)
        cache = self.cache
        if cache is not None and cache.enabled("tool"):
            from ..cache.tools import CachedTool

            return [CachedTool(t, cache, scope={"server": t.server, "tool": t.upstream_name}) for t in upstream]
        return list(upstream)


class _FetchOnFirstUse:
    """`fetch_url` as listed to models, with the fetcher (aiohttp, its connection pool) built on the first call: a
    research that never fetches a URL, like the offline engine's over local documents, never loads it."""

    name = fetch_spec.NAME
    description = fetch_spec.DESCRIPTION
    parameters = fetch_spec.PARAMETERS

    def __init__(self, build: Callable[[], Awaitable[ResearchTool]]) -> None:
        self._build = build
        self._tool: ResearchTool | None = None
        self._lock = asyncio.Lock()

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        if self._tool is None:
            async with self._lock:
                if self._tool is None:
                    self._tool = await self._build()
        return await self._tool.call(arguments)


@asynccontextmanager
async def open_toolbox(
    settings: Settings,
    *,
    docs: Path | None = None,
    index_progress: Callable[[IndexStats], None] | None = None,
    cache: Cache | None = None,
) -> AsyncIterator[list[ResearchTool]]:
    """Yield the configured tools once all are open (see `Toolbox`). A document folder that cannot be indexed
    raises; an upstream server that cannot be reached is logged and left out."""
    async with Toolbox(settings, docs=docs, index_progress=index_progress, cache=cache) as box:
        tools = await box.wait()
        if DOCUMENTS in box.failures:
            raise box.failures[DOCUMENTS]
        yield tools
