"""The `fetch_url` tool: read one web page as text, behind the SSRF guard and hard resource limits.

Everything about the response is untrusted, so every limit is enforced on what is actually received: redirects are
followed by hand so each hop is re-checked by the guard; the body is streamed and reading stops at a byte cap; and
compressed bodies are inflated here (aiohttp's transparent decompression is switched off) in bounded steps, so a
gzip bomb costs at most the decompression cap in memory and time.

With a cache, pages are kept (namespace `page`) under their URL, the limits and the allow-list, so a page fetched
under a looser policy is never served under a stricter one. Failures are not cached.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import re
import zlib
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp
from yarl import URL

from ..cache.core import Cache
from ..cache.values import DocumentCodec
from ..errors import ToolCallError
from .base import Document, ToolResult
from .html_text import PARSE_TIMEOUT_S, close_open_fence, html_to_text_async
from .http_pool import HttpPool
from .ssrf import GuardedResolver, SsrfGuard

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = HTML_TYPES | {
    "text/plain", "text/markdown", "text/x-markdown", "application/json", "application/xml", "text/xml",
}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_ACCEPT = (
    "text/html,application/xhtml+xml;q=0.9,text/markdown;q=0.9,text/plain;q=0.8,"
    "application/json;q=0.7,application/xml;q=0.6,text/xml;q=0.6"
)
# Only what _Inflater can decode: aiohttp would otherwise advertise brotli/zstd when those libraries are installed.
_ACCEPT_ENCODING = "gzip, deflate"
_CHUNK = 64 * 1024
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9_.:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([a-z0-9_.:-]+)""", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _is_text_type(mimetype: str) -> bool:
    # Structured-syntax suffixes (application/rss+xml, application/ld+json) are text that reads like their base.
    return mimetype in TEXT_TYPES or mimetype.endswith(("+xml", "+json"))


class _Inflater:
    """Decodes a Content-Encoding in bounded steps: never holds more than `cap` decoded bytes."""

    def __init__(self, encoding: str, cap: int) -> None:
        self.encoding = encoding
        self.cap = cap
        self.size = 0
        self.parts: list[bytes] = []
        self._zlib: Any = None  # zlib's decompress object; created on the first chunk (deflate needs to peek)

    def feed(self, chunk: bytes) -> None:
        if self.encoding == "identity":
            self._keep(chunk)
            return
        if self._zlib is None:
            self._zlib = zlib.decompressobj(self._wbits(chunk))
        data = chunk
        while data and not self._zlib.eof:
            try:
                # max_length bounds each step: one byte over the cap is enough to know the cap is exceeded.
                self._keep(self._zlib.decompress(data, self.cap - self.size + 1))
            except zlib.error as exc:
                raise ToolCallError(f"the {self.encoding} body is corrupt ({exc})") from None
            data = self._zlib.unconsumed_tail

    def finish(self) -> bytes:
        if self._zlib is not None and not self._zlib.eof:
            try:
                self._keep(self._zlib.flush(self.cap - self.size + 1))
            except zlib.error as exc:
                raise ToolCallError(f"the {self.encoding} body is corrupt ({exc})") from None
        return b"".join(self.parts)

    def _wbits(self, first: bytes) -> int:
        if self.encoding in ("gzip", "x-gzip"):
            return 16 + zlib.MAX_WBITS
        # "deflate" is meant to be zlib-wrapped, but servers often send raw deflate; the zlib header tells them apart.
        wrapped = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
        return zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.cap:
            raise ToolCallError(f"too large: the page decompresses to more than {self.cap:,} bytes")
        self.parts.append(data)


def _charset(body: bytes, header_charset: str | None, mimetype: str) -> str:
    """BOM first, then the Content-Type charset, then a meta/XML declaration, then UTF-8 (the web's default)."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    candidates = [header_charset]
    head = body[:4096]
    if mimetype in HTML_TYPES and (meta := _META_CHARSET.search(head)):
        candidates.append(meta.group(1).decode("ascii"))
    if (xml := _XML_ENCODING.match(head)) is not None:
        candidates.append(xml.group(1).decode("ascii"))
    for name in candidates:
        if not name:
            continue
        try:
            return codecs.lookup(name).name
        except LookupError:
            continue
    return "utf-8"


def _decode(body: bytes, charset: str) -> str:
    try:
        return body.decode(charset, errors="replace")
    except LookupError:  # a codec that exists but is not a text encoding (rot13 and friends)
        return body.decode("utf-8", errors="replace")


def _short(text: str, limit: int = 200) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class FetchLimits:
    max_redirects: int = 5
    max_bytes: int = 5_000_000  # bytes read off the wire
    max_decompressed_bytes: int = 10_000_000  # bytes after Content-Encoding is undone
    max_chars: int = 50_000  # page text handed to the model
    timeout_s: float = 20.0  # one whole fetch, redirects included


class FetchUrlTool:
    """ResearchTool `fetch_url`: fetch an http(s) page and return its readable text as one Document.

    `pool` must have been built with `resolver=GuardedResolver(guard)`: the guard's checks on each URL and the
    connector's resolution then share one policy, and connections only reach vetted addresses. A pool without it
    is refused at construction, since fetching through it would let any name reach internal addresses.
    """

    name = "fetch_url"
    description = (
        "Fetch a web page by URL (http or https) and return its readable text and title. Use it to read a page found "
        "by search in full. Works for HTML, plain text, markdown, JSON and XML; not for PDFs, images or other binaries."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {"url": {"type": "string", "description": "Absolute http(s) URL of the page to read"}},
        "required": ["url"],
        "additionalProperties": False,
    }

    def __init__(
        self,
        pool: HttpPool,
        *,
        max_redirects: int = 5,
        max_bytes: int = 5_000_000,
        max_decompressed_bytes: int = 10_000_000,
        max_chars: int = 50_000,
        timeout_s: float = 20.0,
        cache: Cache | None = None,
        allow: list[str] | None = None,
    ) -> None:
        """`allow` is the guard's allow-list as configured; it only scopes cache entries (the guard enforces it)."""
        if not isinstance(pool.resolver, GuardedResolver):
            raise ValueError("FetchUrlTool needs an HttpPool built with resolver=GuardedResolver(guard)")
        self.pool = pool
        self.guard: SsrfGuard = pool.resolver.guard
        self.limits = FetchLimits(max_redirects, max_bytes, max_decompressed_bytes, max_chars, timeout_s)
        self.cache = cache
        self._cache_scope: dict[str, Any] = {"limits": asdict(self.limits), "allow": sorted(allow or [])}

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        url = arguments.get("url")
        if not isinstance(url, str) or not url.strip():
            raise ToolCallError("fetch_url needs a 'url' argument: an absolute http(s) URL")
        if len(url) > 4096:
            raise ToolCallError("refused: the URL is longer than 4096 characters")
        url = url.strip()
        if self.cache is None:
            return ToolResult(documents=[await self.fetch(url)])
        self.guard.validate_url(url)  # a URL refused now is refused even if an old entry has its page
        inputs = {"url": url, **self._cache_scope}
        lookup = await self.cache.get_or_compute("page", inputs, lambda: self.fetch(url), DocumentCodec())
        return ToolResult(documents=[lookup.value])

    async def fetch(self, url: str) -> Document:
        """Fetch `url` and return it as a Document located at the final URL; ToolCallError says why not."""
        limits = self.limits
        shown = _short(url, 200)
        try:
            async with asyncio.timeout(limits.timeout_s):
                return await self._fetch(self.guard.validate_url(url))
        except TimeoutError:
            raise ToolCallError(f"timed out after {limits.timeout_s:g} s fetching {shown}") from None
        except aiohttp.ClientConnectorDNSError as exc:
            raise ToolCallError(f"could not resolve host {exc.host}") from None
        except aiohttp.ClientConnectorError as exc:
            reason = exc.os_error.strerror or str(exc.os_error)
            raise ToolCallError(f"could not connect to {exc.host}:{exc.port} ({reason})") from None
        except aiohttp.ClientError as exc:
            raise ToolCallError(f"fetching {shown} failed: {type(exc).__name__}: {_short(str(exc))}") from None

    async def _fetch(self, url: URL) -> Document:
        limits = self.limits
        session = self.pool.session()
        for _ in range(limits.max_redirects + 1):
            async with session.get(
                url,
                allow_redirects=False,
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=limits.timeout_s),
                headers={"Accept": _ACCEPT, "Accept-Encoding": _ACCEPT_ENCODING},
            ) as response:
                if response.status in REDIRECT_STATUSES:
                    url = self._next_hop(response)
                    if (response.content_length or _CHUNK + 1) <= _CHUNK:
                        # A fully read body lets the connection go back to the pool; unread ones get closed.
                        with contextlib.suppress(aiohttp.ClientError):
                            await response.read()
                    continue
                if not 200 <= response.status < 300:
                    raise await self._http_error(response)
                return await self._document(response)
        raise ToolCallError(f"too many redirects (more than {limits.max_redirects}); last one pointed to {url}")

    def _next_hop(self, response: aiohttp.ClientResponse) -> URL:
        location = response.headers.get("Location")
        if not location:
            raise ToolCallError(f"HTTP {response.status} redirect from {response.url} has no Location header")
        try:
            target = response.url.join(URL(location))
        except ValueError:
            raise ToolCallError(f"redirect from {response.url} to an invalid URL: {_short(location)}") from None
        try:
            return self.guard.validate_url(target)
        except ToolCallError as exc:
            raise ToolCallError(f"redirect from {response.url} {exc}") from None

    async def _http_error(self, response: aiohttp.ClientResponse) -> ToolCallError:
        message = f"HTTP {response.status} {response.reason or ''}".rstrip() + f" from {response.url}"
        excerpt = ""
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding == "identity" and _is_text_type(response.content_type):
            # A short excerpt can say why (a rate limit, a login wall); the rest of an error body is noise.
            with contextlib.suppress(aiohttp.ClientError, ValueError):
                raw = await response.content.read(2048)
                text = _decode(raw, response.charset or "utf-8")
                if response.content_type in HTML_TYPES:
                    text = (await html_to_text_async(text, source=_short(str(response.url)))).text
                excerpt = _short(text)
        return ToolCallError(f"{message}: {excerpt}" if excerpt else message)

    async def _document(self, response: aiohttp.ClientResponse) -> Document:
        limits = self.limits
        final = response.url.with_fragment(None)
        declared_type = "Content-Type" in response.headers
        mimetype = response.content_type.lower()
        if declared_type and not _is_text_type(mimetype):
            raise ToolCallError(
                f"unsupported content type {mimetype} at {final}; fetch_url reads HTML, plain text, markdown, JSON "
                "and XML"
            )
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip", "x-gzip", "deflate"):
            raise ToolCallError(f"unsupported content encoding {_short(encoding, 40)} at {final}")
        declared = response.content_length
        if declared is not None and declared > limits.max_bytes:
            raise ToolCallError(f"too large: {final} declares {declared:,} bytes; the cap is {limits.max_bytes:,}")

        inflater = _Inflater(encoding, limits.max_decompressed_bytes)
        received = 0
        async for chunk in response.content.iter_chunked(_CHUNK):
            received += len(chunk)
            if received > limits.max_bytes:
                raise ToolCallError(f"too large: {final} sent more than {limits.max_bytes:,} bytes")
            inflater.feed(chunk)
        body = inflater.finish()

        charset = _charset(body, response.charset, mimetype)
        if b"\x00" in body[:1024] and not charset.startswith("utf-16"):
            raise ToolCallError(f"refused: {final} is binary content, not text")
        if not declared_type:  # no Content-Type at all: sniff markup, else read it as plain text
            mimetype = "text/html" if re.match(rb"\s*<(!doctype html|html)", body[:1024], re.I) else "text/plain"
        return await self._to_document(str(final), _decode(body, charset), mimetype)

    async def _to_document(self, locator: str, text: str, mimetype: str) -> Document:
        title = ""
        truncated = False
        if mimetype in HTML_TYPES:
            # On a worker thread with a bounded wait: a page is untrusted input, and parsing it must never hold the
            # event loop (every other client, status call and cancel) however hostile its markup.
            page = await html_to_text_async(text, source=_short(locator), timeout_s=PARSE_TIMEOUT_S)
            title, text, truncated = page.title, page.text, page.truncated
        else:
            text = text.strip()
            heading = re.search(r"^#{1,6} (.+)$", text, re.M) if mimetype.endswith("markdown") else None
            title = heading.group(1).strip() if heading else ""
        if not text:
            raise ToolCallError(f"{locator} has no readable text (the page may need JavaScript)")
        cap = self.limits.max_chars
        if len(text) > cap:
            text = close_open_fence(text[:cap]) + (
                f"\n\n[truncated: the page has {len(text):,} characters; the first {cap:,} are shown]"
            )
        elif truncated:
            text += "\n\n[truncated: the page's markup is too large to read whole; only its start is shown]"
        return Document(locator=locator, title=_short(title, 300) or locator, content=text)
