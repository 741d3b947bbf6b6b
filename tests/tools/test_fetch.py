"""fetch_url against a real aiohttp server on 127.0.0.1 (allow-listed); every other address stays refused."""

from __future__ import annotations

import asyncio
import gc
import gzip
import socket
import time
import warnings
import zlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from deep_research_mcp.errors import ToolCallError
from deep_research_mcp.tools import fetch as fetch_module
from deep_research_mcp.tools import html_text
from deep_research_mcp.tools.fetch import FetchUrlTool
from deep_research_mcp.tools.http_pool import HttpPool
from deep_research_mcp.tools.ssrf import GuardedResolver, SsrfGuard

PAGE = "<html><head><title>Rate limits</title></head><body><h1>Limits</h1><p>Ten requests a second.</p></body></html>"
FAKE_DNS = {
    "intranet.test": ["127.0.0.1"],
    "metadata.test": ["169.254.169.254"],
    "mixed.test": ["127.0.0.1", "10.0.0.1"],
}
DEFLATE = {"Content-Encoding": "deflate"}


@cache
def gzip_bomb() -> bytes:
    return gzip.compress(b"a" * 50_000_000, compresslevel=9)  # ~50 KB on the wire


async def page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def redirect(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    raise web.HTTPFound(f"{n - 1}" if n > 0 else "../page")  # relative Locations, resolved against the hop


async def redirect_to(request: web.Request) -> web.Response:
    raise web.HTTPFound(request.query["target"])


async def stream_forever(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    for _ in range(1000):
        await response.write(b"x" * 65536)
    return response


async def trickle(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    while True:
        await response.write(b"tick\n")
        await asyncio.sleep(0.05)


async def bomb(request: web.Request) -> web.Response:
    return web.Response(body=gzip_bomb(), headers={"Content-Type": "text/plain", "Content-Encoding": "gzip"})


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(30)
    return web.Response(text="late")


def fixed(body: bytes | str, content_type: str, status: int = 200, **headers: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        data = body.encode() if isinstance(body, str) else body
        return web.Response(body=data, status=status, headers={"Content-Type": content_type, **headers})

    return handler


# aiohttp's server always sends a Content-Type, so responses without one come from a bare socket server.
UNTYPED = {"/untyped-binary": b"\x00\x01\x02binary", "/untyped-html": b"<!DOCTYPE html><title>Sniffed</title><p>ok</p>"}


async def untyped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    path = (await reader.readline()).split()[1].decode()
    while (await reader.readline()) not in (b"\r\n", b""):
        pass
    body = UNTYPED[path]
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%b" % (len(body), body))
    await writer.drain()
    writer.close()
    await writer.wait_closed()


def app() -> web.Application:
    application = web.Application()
    application.add_routes([
        web.get("/page", page),
        web.get("/text", fixed("  plain words\n", "text/plain")),
        web.get("/code", fixed("<p>Intro.</p><pre>" + "\n".join(f"line {n}" for n in range(5000)) + "</pre>",
                               "text/html")),
        web.get("/markdown", fixed("intro\n\n# Guide\nbody", "text/markdown; charset=utf-8")),
        web.get("/json", fixed('{"answer": 42}', "application/json")),
        web.get("/latin1", fixed("<title>Café</title><p>crème</p>".encode("latin-1"), "text/html; charset=ISO-8859-1")),
        web.get("/meta", fixed('<meta charset="windows-1252"><p>\x93quoted\x94</p>'.encode("latin-1"), "text/html")),
        web.get("/gzip", fixed(gzip.compress(PAGE.encode()), "text/html", **{"Content-Encoding": "gzip"})),
        web.get("/deflate-raw", fixed(zlib.compress(b"raw deflate")[2:-4], "text/plain", **DEFLATE)),
        web.get("/deflate", fixed(zlib.compress(b"zlib deflate"), "text/plain", **DEFLATE)),
        web.get("/brotli", fixed(b"\x0b\x02\x80", "text/plain", **{"Content-Encoding": "br"})),
        web.get("/bomb", bomb),
        web.get("/big", fixed(b"a" * 300_000, "text/plain")),
        web.get("/long", fixed("word " * 30_000, "text/plain")),
        web.get("/stream", stream_forever),
        web.get("/trickle", trickle),
        web.get("/slow", slow),
        web.get("/png", fixed(b"\x89PNG\r\n\x1a\n\x00\x00", "image/png")),
        web.get("/script-only", fixed("<html><script>render()</script></html>", "text/html")),
        web.get("/error", fixed("<h1>Internal</h1>" + "secret stack trace " * 500, "text/html", status=500)),
        web.get("/redirect/{n}", redirect),
        web.get("/to", redirect_to),
        web.get("/no-location", fixed("", "text/plain", status=302)),
    ])
    return application


@pytest.fixture
async def base() -> AsyncIterator[URL]:
    runner = web.AppRunner(app(), handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield URL.build(scheme="http", host="127.0.0.1", port=port)
    await runner.cleanup()


@pytest.fixture
async def untyped_base() -> AsyncIterator[URL]:
    server = await asyncio.start_server(untyped, "127.0.0.1", 0)
    yield URL.build(scheme="http", host="127.0.0.1", port=server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()


@dataclass
class Seen:
    requests: list[str] = field(default_factory=list)
    created: int = 0
    reused: int = 0


def tracing(seen: Seen) -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()

    async def on_request(session: object, context: object, params: aiohttp.TraceRequestStartParams) -> None:
        seen.requests.append(str(params.url))

    async def on_created(session: object, context: object, params: object) -> None:
        seen.created += 1

    async def on_reused(session: object, context: object, params: object) -> None:
        seen.reused += 1

    trace.on_request_start.append(on_request)
    trace.on_connection_create_end.append(on_created)
    trace.on_connection_reuseconn.append(on_reused)
    return trace


async def fake_resolve(host: str, port: int) -> Sequence[str]:
    if host not in FAKE_DNS:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return FAKE_DNS[host]


@pytest.fixture
async def env() -> AsyncIterator[SimpleNamespace]:
    seen = Seen()
    guard = SsrfGuard(["127.0.0.1/32"], resolver=fake_resolve)
    async with HttpPool(resolver=GuardedResolver(guard), trace_configs=[tracing(seen)]) as pool:
        tool = FetchUrlTool(pool, max_bytes=200_000, max_decompressed_bytes=1_000_000, max_chars=20_000, timeout_s=5)
        yield SimpleNamespace(pool=pool, tool=tool, seen=seen)


async def fetch(env: SimpleNamespace, url: URL | str) -> Any:
    result = await env.tool.call({"url": str(url)})
    assert len(result.documents) == 1
    return result.documents[0]


async def test_html_page_gives_title_and_text(env: SimpleNamespace, base: URL) -> None:
    doc = await fetch(env, base / "page")
    assert doc.locator == str(base / "page")
    assert doc.title == "Rate limits"
    assert doc.content == "# Limits\n\nTen requests a second."


@pytest.mark.parametrize(
    ("path", "title", "content"),
    [
        ("text", None, "plain words"),
        ("markdown", "Guide", "intro\n\n# Guide\nbody"),
        ("json", None, '{"answer": 42}'),
        ("latin1", "Café", "crème"),
        ("meta", None, "\u201cquoted\u201d"),
        ("gzip", "Rate limits", "# Limits\n\nTen requests a second."),
        ("deflate-raw", None, "raw deflate"),
        ("deflate", None, "zlib deflate"),
    ],
)
async def test_text_types_charsets_and_encodings(
    env: SimpleNamespace, base: URL, path: str, title: str | None, content: str
) -> None:
    doc = await fetch(env, base / path)
    assert doc.title == (title or str(base / path))
    assert doc.content == content


async def test_missing_content_type_is_sniffed(env: SimpleNamespace, untyped_base: URL) -> None:
    doc = await fetch(env, untyped_base / "untyped-html")
    assert (doc.title, doc.content) == ("Sniffed", "ok")
    with pytest.raises(ToolCallError, match="is binary content, not text"):
        await fetch(env, untyped_base / "untyped-binary")


async def test_long_text_is_cut_with_a_note(env: SimpleNamespace, base: URL) -> None:
    doc = await fetch(env, base / "long")
    assert doc.content.startswith("word word")
    assert doc.content.endswith("[truncated: the page has 149,999 characters; the first 20,000 are shown]")
    assert len(doc.content) < 20_100


async def test_a_page_cut_inside_a_code_block_closes_the_block(env: SimpleNamespace, base: URL) -> None:
    doc = await fetch(env, base / "code")
    assert doc.content.startswith("Intro.\n\n```\nline 0\n")
    assert doc.content.endswith("\n```\n\n[truncated: the page has 48,905 characters; the first 20,000 are shown]")


async def test_a_page_whose_markup_is_over_the_reader_cap_says_it_was_cut(
    env: SimpleNamespace, base: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(html_text, "MAX_HTML_CHARS", 90)
    doc = await fetch(env, base / "page")
    assert doc.content.startswith("# Limits")
    assert doc.content.endswith("[truncated: the page's markup is too large to read whole; only its start is shown]")


async def test_a_page_that_cannot_be_parsed_in_time_is_a_clear_error(
    env: SimpleNamespace, base: URL, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stuck(markup: str) -> html_text.HtmlText:  # a parser running far past the budget
        time.sleep(1)
        return html_text.HtmlText("", "late")

    monkeypatch.setattr(html_text, "html_to_text", stuck)
    monkeypatch.setattr(fetch_module, "PARSE_TIMEOUT_S", 0.1)
    with pytest.raises(ToolCallError, match=r"^the page at http://127\.0\.0\.1:\d+/page could not be read within "
                                            r"0\.1 s$"):
        await env.tool.call({"url": str(base / "page")})


async def test_redirect_chain_is_followed_to_the_final_url(env: SimpleNamespace, base: URL) -> None:
    doc = await fetch(env, base / "redirect" / "4")  # 5 redirects: exactly the default maximum
    assert doc.locator == str(base / "page") and doc.title == "Rate limits"
    assert len(env.seen.requests) == 6
    assert env.seen.created == 1  # small redirect bodies are drained, so every hop reuses the connection


async def test_too_many_redirects(env: SimpleNamespace, base: URL) -> None:
    with pytest.raises(ToolCallError, match=r"too many redirects \(more than 5\)"):
        await fetch(env, base / "redirect" / "5")
    assert len(env.seen.requests) == 6


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://10.0.0.1/", "10.0.0.1 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://[::ffff:10.0.0.1]:80/", "IPv6 form of 10.0.0.1"),
        ("http://0x0a000001/", "private"),
        ("file:///etc/passwd", "only http and https"),
        ("http://user@127.0.0.1/", "credentials"),
    ],
)
async def test_redirect_to_a_refused_address_stops_before_connecting(
    env: SimpleNamespace, base: URL, target: str, reason: str
) -> None:
    with pytest.raises(ToolCallError, match="refused") as caught:
        await fetch(env, base.with_path("/to").with_query(target=target))
    assert reason in str(caught.value) and "redirect from" in str(caught.value)
    assert len(env.seen.requests) == 1 and env.seen.created == 1  # the hop was never requested


@pytest.mark.parametrize(("name", "reason"), [("metadata.test", "169.254.169.254"), ("mixed.test", "10.0.0.1")])
async def test_redirect_to_a_name_with_a_refused_address_never_connects(
    env: SimpleNamespace, base: URL, name: str, reason: str
) -> None:
    target = f"http://{name}:{base.port}/page"
    with pytest.raises(ToolCallError, match=f"refused: {name} resolves to {reason}"):
        await fetch(env, base.with_path("/to").with_query(target=target))
    assert env.seen.created == 1  # only the first hop's connection: the resolver refused before connecting


async def test_names_connect_only_to_the_vetted_addresses(env: SimpleNamespace, base: URL) -> None:
    # intranet.test exists only in the guard's resolver: success proves the connector used the vetted address.
    doc = await fetch(env, f"http://intranet.test:{base.port}/page")
    assert doc.locator == f"http://intranet.test:{base.port}/page" and doc.title == "Rate limits"
    with pytest.raises(ToolCallError, match="could not resolve host nowhere.test"):
        await fetch(env, f"http://nowhere.test:{base.port}/page")


async def test_redirect_without_location(env: SimpleNamespace, base: URL) -> None:
    with pytest.raises(ToolCallError, match="has no Location header"):
        await fetch(env, base / "no-location")


async def test_declared_length_over_the_cap_is_refused_before_reading(env: SimpleNamespace, base: URL) -> None:
    with pytest.raises(ToolCallError, match=r"too large: .* declares 300,000 bytes; the cap is 200,000"):
        await fetch(env, base / "big")


async def test_streamed_body_stops_at_the_byte_cap(env: SimpleNamespace, base: URL) -> None:
    started = time.monotonic()
    with pytest.raises(ToolCallError, match="sent more than 200,000 bytes"):
        await fetch(env, base / "stream")
    assert time.monotonic() - started < 3


async def test_gzip_bomb_stops_at_the_decompression_cap(env: SimpleNamespace, base: URL) -> None:
    gzip_bomb()  # build it outside the timed part
    started = time.monotonic()
    with pytest.raises(ToolCallError, match="decompresses to more than 1,000,000 bytes"):
        await fetch(env, base / "bomb")
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("png", "unsupported content type image/png"),
        ("brotli", "unsupported content encoding br"),
        ("script-only", "no readable text"),
    ],
)
async def test_content_that_cannot_be_read(env: SimpleNamespace, base: URL, path: str, reason: str) -> None:
    with pytest.raises(ToolCallError, match=reason):
        await fetch(env, base / path)


async def test_http_errors_carry_the_status_and_only_a_short_excerpt(env: SimpleNamespace, base: URL) -> None:
    with pytest.raises(ToolCallError, match=r"^HTTP 404 Not Found from http://127\.0\.0\.1:\d+/missing"):
        await fetch(env, base / "missing")
    with pytest.raises(ToolCallError, match="HTTP 500 Internal Server Error") as caught:
        await fetch(env, base / "error")
    message = str(caught.value)
    assert "Internal secret stack trace" in message and len(message) < 300


async def test_slow_server_times_out(base: URL) -> None:
    guard = SsrfGuard(["127.0.0.1/32"], resolver=fake_resolve)
    async with HttpPool(resolver=GuardedResolver(guard)) as pool:
        tool = FetchUrlTool(pool, timeout_s=0.3)
        for path in ("slow", "trickle"):  # no answer at all, and a body that never ends
            started = time.monotonic()
            with pytest.raises(ToolCallError, match=r"timed out after 0.3 s"):
                await tool.call({"url": str(base / path)})
            assert time.monotonic() - started < 2


async def test_connection_refused(env: SimpleNamespace) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ToolCallError, match=rf"could not connect to 127\.0\.0\.1:{port}"):
        await fetch(env, f"http://127.0.0.1:{port}/")


@pytest.mark.parametrize("arguments", [{}, {"url": ""}, {"url": 42}])
async def test_bad_arguments(env: SimpleNamespace, arguments: dict[str, Any]) -> None:
    with pytest.raises(ToolCallError, match="needs a 'url'"):
        await env.tool.call(arguments)


async def test_the_pool_is_reused_across_fetches(env: SimpleNamespace, base: URL) -> None:
    session = env.pool.session()
    for _ in range(10):
        await fetch(env, base / "page")
    await asyncio.gather(*(fetch(env, base / "text") for _ in range(10)))
    assert env.pool.session() is session
    assert env.seen.reused >= 9  # keep-alive: sequential fetches ride on the first connection
    assert env.seen.created <= 1 + 10  # concurrent ones may open more, within the pool's limits


def test_tool_refuses_an_unguarded_pool_and_the_pool_needs_a_loop() -> None:
    pool = HttpPool()
    with pytest.raises(ValueError, match="GuardedResolver"):
        FetchUrlTool(pool)
    with pytest.raises(RuntimeError):
        pool.session()  # no running loop: nothing is created outside one


async def test_pool_closes_cleanly_without_warnings(base: URL) -> None:
    guard = SsrfGuard(["127.0.0.1/32"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pool = HttpPool(resolver=GuardedResolver(guard))
        await FetchUrlTool(pool).call({"url": str(base / "page")})
        session = pool.session()
        await pool.close()
        await pool.close()  # idempotent
        del session
        gc.collect()
    assert session_closed_messages(caught) == []
    assert pool.closed
    with pytest.raises(RuntimeError, match="closed"):
        pool.session()
    await HttpPool().close()  # never used: nothing to close


def session_closed_messages(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "nclosed" in str(w.message)]
