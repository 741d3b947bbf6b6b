"""Hostile HTML (and reStructuredText): markup that made the old reader (the standard library's `html.parser`, on
the event loop) run for tens of seconds and freeze the server. Each case must come back as text or a clear error,
and the event loop must keep running while it is read: a ticker task counts its turns, and every read has to let it
tick."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web
from yarl import URL

from deep_research_mcp.errors import ToolCallError
from deep_research_mcp.tools import html_text
from deep_research_mcp.tools.fetch import FetchUrlTool
from deep_research_mcp.tools.html_text import html_to_text_async
from deep_research_mcp.tools.http_pool import HttpPool
from deep_research_mcp.tools.localdocs import DocumentIndex
from deep_research_mcp.tools.localdocs.parsing import parse_document
from deep_research_mcp.tools.ssrf import GuardedResolver, SsrfGuard

HOSTILE: dict[str, Callable[[], str]] = {
    "unclosed <a x 100k": lambda: "<a" * 100_000,
    "unclosed <a, 4 MB": lambda: "<a" * 2_000_000,
    "200k nested <div>": lambda: "<div>" * 200_000 + "deep",
    "50k nested <ul><li>": lambda: "<ul><li>" * 50_000 + "deep",
    "30k nested tables": lambda: "<table><tr><td>" * 30_000 + "deep",
    "100k nested <b>": lambda: "<b>" * 100_000 + "deep",
    "1 MB of tiny paragraphs": lambda: "<p>x" * 250_000,
    "attribute soup": lambda: "<div " + 'a="' * 500_000,
    "intro then garbage": lambda: "<p>Readable intro.</p>" + "<a" * 500_000,
    "6 MB over the cap": lambda: "<a" * 3_000_000,
}


class Ticker:
    """Counts event-loop turns: it ticks once every time the loop gets control back, so a read that yields to the
    loop at all lets it tick, and one that holds the loop (a parse on the loop) does not."""

    def __init__(self) -> None:
        self.ticks = 0

    async def run(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0)


@pytest.fixture
async def ticker() -> AsyncIterator[Ticker]:
    counter = Ticker()
    async with asyncio.TaskGroup() as group:
        task = group.create_task(counter.run())
        await asyncio.sleep(0)
        yield counter
        task.cancel()


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_hostile_markup_is_read_off_the_loop_in_bounded_time(name: str, ticker: Ticker) -> None:
    markup = HOSTILE[name]()
    before = ticker.ticks
    # A generous wait: this test is about the loop staying free and the read ending (the bounded wait has its own
    # test below), and the ticker itself competes for the CPU on a loaded machine.
    page = await html_to_text_async(markup, source=name, timeout_s=60)
    # Read on a worker thread: the loop ran the ticker meanwhile. A parse on the loop would leave it at `before`.
    assert ticker.ticks > before
    assert len(page.text) <= html_text.MAX_HTML_CHARS
    if name == "intro then garbage":
        assert page.text == "Readable intro."
    if name in ("1 MB of tiny paragraphs", "6 MB over the cap"):
        assert page.truncated  # the element or markup cap cut it, and says so


async def test_a_parse_that_overruns_is_a_clear_error_and_the_loop_keeps_ticking(
    monkeypatch: pytest.MonkeyPatch, ticker: Ticker
) -> None:
    def stuck(markup: str) -> html_text.HtmlText:  # stands in for a parser that runs for minutes
        time.sleep(0.5)
        return html_text.HtmlText("", "late")

    monkeypatch.setattr(html_text, "html_to_text", stuck)
    before = ticker.ticks
    with pytest.raises(ToolCallError, match=r"^the page at http://x\.test/ could not be read within 0\.2 s$"):
        await html_to_text_async("<p>x</p>", source="http://x.test/", timeout_s=0.2)
    assert ticker.ticks - before >= 20  # thousands of turns if the loop is free; 0 if the parse held it


def bomb() -> bytes:
    body = gzip.compress(b"<a" * 2_000_000, compresslevel=9)
    assert len(body) < 4_500  # 4 MB of markup in a few KB on the wire: every byte cap lets it through
    return body


@pytest.fixture
async def hostile_site() -> AsyncIterator[URL]:
    pages = {
        "/bomb": bomb(),
        "/nested": gzip.compress(b"<p>Kept.</p>" + b"<div>" * 800_000, compresslevel=9),
        "/ok": b"<title>Fine</title><p>A normal page.</p>",
    }

    async def serve(request: web.Request) -> web.Response:
        body = pages[request.path]
        headers = {"Content-Type": "text/html"}
        if request.path != "/ok":
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield URL.build(scheme="http", host="127.0.0.1", port=runner.addresses[0][1])
    await runner.cleanup()


async def test_a_gzip_of_hostile_markup_through_fetch_url(hostile_site: URL, ticker: Ticker) -> None:
    async with HttpPool(resolver=GuardedResolver(SsrfGuard(["127.0.0.1/32"]))) as pool:
        tool = FetchUrlTool(pool)  # the default caps: 5 MB on the wire, 10 MB inflated
        before = ticker.ticks
        # The bomb and an ordinary page at once: the ordinary one is served while the bomb is read.
        results = await asyncio.gather(
            tool.call({"url": str(hostile_site / "bomb")}),
            tool.call({"url": str(hostile_site / "nested")}),
            tool.call({"url": str(hostile_site / "ok")}),
            return_exceptions=True,
        )
        assert ticker.ticks > before
    bombed, nested, ok = results
    assert isinstance(bombed, ToolCallError) and "has no readable text" in str(bombed)
    assert not isinstance(nested, BaseException) and nested.documents[0].content == "Kept."
    assert not isinstance(ok, BaseException) and ok.documents[0].content == "A normal page."


def test_hostile_files_in_a_local_index(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    for n, make in enumerate(HOSTILE.values()):
        (root / f"hostile{n}.html").write_text(make()[:300_000])  # the index's own cap is 5 MB per file
    (root / "fine.html").write_text("<title>Fine</title><h1>Fine</h1><p>Searchable tidal words.</p>")
    with DocumentIndex(tmp_path / "index.sqlite") as index:
        stats = index.index_directory(root)
        assert stats.errors == 0 and stats.indexed + stats.skipped_duplicate == len(HOSTILE) + 1  # two cut alike
        assert index.search("tidal")[0].title == "Fine"


@pytest.mark.parametrize("markup", [
    "".join(" " * n + ".. note::\n\n" for n in range(2_000)),  # directives nested 2,000 deep
    "`" + " a" * 200_000,  # an interpreted-text opener that never closes
    ".. note::\n" * 50_000,
    "x::\n" * 50_000,
    ":a:`" * 100_000,
])
def test_hostile_restructuredtext_parses_without_error(markup: str) -> None:
    parsed = parse_document("hostile.rst", markup)
    assert parsed.title  # the file name at least
