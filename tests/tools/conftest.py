"""Fixtures shared by the tool tests: fixed HTML pages served on 127.0.0.1, for the fetchers to read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

import pytest
from aiohttp import web

PageServer = Callable[[Mapping[str, str]], Awaitable[str]]


@pytest.fixture
async def serve_pages() -> AsyncIterator[PageServer]:
    """`await serve_pages({"/path": html})` serves those pages on 127.0.0.1 and returns "http://127.0.0.1:<port>";
    every server started is stopped at teardown."""
    runners: list[web.AppRunner] = []

    async def start(pages: Mapping[str, str]) -> str:
        app = web.Application()
        for path, html in pages.items():
            # Bound per page: a closure over the loop variable would serve the last page at every path.
            async def page(_: web.Request, html: str = html) -> web.Response:
                return web.Response(text=html, content_type="text/html")

            app.router.add_get(path, page)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield start
    for runner in runners:
        await runner.cleanup()
