"""One shared aiohttp session per process, for every component that speaks HTTP (fetcher, search APIs, cache).

A session owns a connection pool, a DNS cache and keep-alive connections; one per process means those are shared
and bounded instead of multiplied per call. The session is created lazily by the first caller inside the running
loop, because an aiohttp session binds to the loop it was created in and must never be created at import time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType

import aiohttp
from aiohttp.abc import AbstractResolver

DEFAULT_USER_AGENT = "deep-research-mcp/0.1 (research assistant; +https://pypi.org/project/deep-research-mcp/)"


class HttpPool:
    """Lazily creates and owns one `aiohttp.ClientSession`; close it once at shutdown (or use `async with`).

    `resolver` replaces the connector's DNS resolver (the web fetcher installs `ssrf.GuardedResolver` there so
    connections only go to vetted addresses). `trace_configs` are passed to the session (tests count connections).
    Proxies from the environment are ignored on purpose: a proxy would resolve names itself and bypass the resolver.
    """

    def __init__(
        self,
        *,
        limit: int = 50,
        limit_per_host: int = 8,
        ttl_dns_cache: int | None = 60,
        timeout_s: float | None = 60.0,
        user_agent: str = DEFAULT_USER_AGENT,
        resolver: AbstractResolver | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        self.limit = limit
        self.limit_per_host = limit_per_host
        self.ttl_dns_cache = ttl_dns_cache
        self.timeout_s = timeout_s
        self.user_agent = user_agent
        self.resolver = resolver
        self._trace_configs = list(trace_configs)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def session(self) -> aiohttp.ClientSession:
        """The shared session, created on first use. Must be called from inside the running event loop."""
        if self._closed:
            raise RuntimeError("HttpPool is closed")
        loop = asyncio.get_running_loop()  # raises outside a loop, which is the point
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self.limit,
                limit_per_host=self.limit_per_host,
                ttl_dns_cache=self.ttl_dns_cache,
                resolver=self.resolver,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                headers={"User-Agent": self.user_agent},
                # Requests are independent: no cookie may follow the research from one site to the next.
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                trace_configs=self._trace_configs or None,
            )
            self._loop = loop
        elif loop is not self._loop:
            raise RuntimeError("HttpPool's session belongs to another event loop; use one pool per loop")
        return self._session

    async def close(self) -> None:
        """Close the session and its connections. Idempotent; a pool that was never used closes without work."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def __aenter__(self) -> HttpPool:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
