"""One long-lived MCP client session per upstream server, shared by every researcher.

Starting an upstream (spawning `npx some-server`, an HTTP handshake) costs far more than a call, and many servers
keep per-session state, so each server gets exactly one session for the life of the process: opened on first use,
reopened once when a call finds it dead, closed by `close()`.

The SDK's transports and `ClientSession` are anyio context managers whose cancel scopes must be entered and exited
by the same task. Callers come and go (researchers time out, runs end), so no caller may own them: each session
lives in a dedicated runner task that enters the contexts, publishes the connected client, parks until told to
stop, and exits the contexts itself. Callers only send requests through the published client, which the SDK
supports from any task.

A session whose server is gone is noticed two ways: the transport's read stream ends (a stdio server exited; the
runner then retires the session, so the next call opens a fresh one before sending anything), or a call fails with a
lost connection. A call cut off that way may or may not have run on the server, so it is repeated on a fresh session
only when that is harmless: the server marks the tool read-only or idempotent, or its config says `retryUnsafe`.
Otherwise the caller gets a ToolCallError saying so, and the next call reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Any, TextIO, TypeVar

import anyio
import httpx2
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client import Transport
from mcp.client.session import IncomingMessage
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from ...errors import ToolCallError, UpstreamUnreachable
from ...services import Failure, LimitConfig, RetryPolicy, Service
from .config import ServerConfig, StdioServerConfig
from .stdio import capped_stdio_client

log = logging.getLogger(__name__)
_T = TypeVar("_T")

_MAX_TOOL_PAGES = 100  # a paginator that never ends must not hang startup
_STOP_TIMEOUT_S = 10.0  # the SDK bounds stdio shutdown at ~6 s (grace, SIGTERM, SIGKILL); HTTP is one DELETE
_RELISTEN_MIN_S = 1.0
_RELISTEN_MAX_S = 60.0
# Idle SSE streams (the tool-change listen stream) live under the read timeout, so it is long, as in the SDK.
_HTTP_READ_TIMEOUT_S = 300.0


def _client_info() -> types.Implementation:
    try:
        ours = version("deep-research-mcp")
    except PackageNotFoundError:
        ours = "0"
    return types.Implementation(name="deep-research-mcp", version=ours)


def is_disconnect(exc: BaseException) -> bool:
    """Whether `exc` means the connection is gone (so a fresh session may succeed), not that the call failed."""
    if isinstance(exc, BaseExceptionGroup):
        return any(is_disconnect(inner) for inner in exc.exceptions)
    if isinstance(exc, MCPError):
        # An HTTP server that restarted forgets our session id and answers 404, which the SDK reports this way.
        return exc.code == types.CONNECTION_CLOSED or (
            exc.code == types.INVALID_REQUEST and exc.message == "Session terminated"
        )
    return isinstance(
        exc, anyio.ClosedResourceError | anyio.BrokenResourceError | anyio.EndOfStream | ConnectionError
        | httpx2.TransportError
    )


def never_delivered(exc: BaseException) -> bool:
    """Whether a disconnect proves the server did not run the request: no connection could be made, or an HTTP
    server that restarted refused our old session id (404) before dispatching anything. Every other lost connection
    may have cut off a call that ran."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, MCPError):
        return exc.code == types.INVALID_REQUEST and exc.message == "Session terminated"
    return isinstance(exc, httpx2.ConnectError)


def classify(exc: BaseException) -> Failure | None:
    """What a failed call says about the server's load: a timeout or a lost connection is an error (the limit
    comes down); an error the tool returned, or a refusal to repeat a call, says nothing. A server that could not be
    started or connected is unreachable: its group sends the call to another server."""
    if isinstance(exc, UpstreamUnreachable):
        return Failure("error", unreachable=True)
    if isinstance(exc, TimeoutError | _Unrepeatable) or is_disconnect(exc):
        return Failure("error")
    if isinstance(exc, ToolCallError) and exc.__cause__ is not None:  # e.g. the server could not be started
        return classify(exc.__cause__)
    if isinstance(exc, MCPError) and exc.code == types.REQUEST_TIMEOUT:
        return Failure("error")
    return None


def server_service(name: str, config: ServerConfig) -> Service:
    """The upstream server as a service: `maxConcurrency` is the most its adaptive limit reaches."""
    limits = LimitConfig(max=config.max_concurrency, floor=config.min_concurrency,
                         adaptive=config.adaptive_concurrency)
    kind = "stdio" if isinstance(config, StdioServerConfig) else "http"
    return Service(f"mcp:{name}", limits, timeout_s=config.timeout_seconds, classify=classify,
                   retry=RetryPolicy(max_retries=config.max_retries),
                   describe={"kind": "mcp", "transport": kind, "max_response_bytes": config.max_response_bytes})


def describe(exc: BaseException) -> str:
    """A one-line reason, with task-group wrappers peeled off so the user sees the real error."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 500 else text[:500] + " [...]"


class ResponseTooLarge(httpx2.StreamError):
    """A JSON answer over the server's maxResponseBytes; a StreamError, which the SDK turns into an error result for
    that one request (the session stays up)."""


class _CappedStream(httpx2.AsyncByteStream):
    """A JSON answer's body, read at most `limit` bytes far; one whose Content-Length (`announced`) is already over
    the limit is refused before any of it is read."""

    def __init__(self, inner: httpx2.AsyncByteStream, limit: int, announced: int | None = None) -> None:
        self._inner = inner
        self._limit = limit
        self._announced = announced

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._announced is not None and self._announced > self._limit:
            raise ResponseTooLarge(f"the answer is {self._announced:,} bytes, over maxResponseBytes ({self._limit} "
                                   "bytes); it was not read")
        read = 0
        async for chunk in self._inner:
            read += len(chunk)
            if read > self._limit:
                raise ResponseTooLarge(f"the answer is over maxResponseBytes ({self._limit} bytes); it was not read")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class _CappedJSONTransport(httpx2.AsyncBaseTransport):
    """HTTP to an upstream with JSON answers read at most `limit` bytes far, so one huge tool result cannot take the
    process's memory: the SDK reads a JSON answer whole and parses it (about ten times its size at the peak). An
    answer that announces a larger Content-Length is refused before any of its body is read, so it costs nothing;
    one sent in chunks is read up to the limit. Event streams are left alone: the listen stream is long-lived, and
    each SSE event has the SDK's own bound."""

    def __init__(self, limit: int) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self._limit = limit

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        if response.headers.get("content-type", "").lower().startswith("application/json"):
            size = response.headers.get("content-length", "")
            announced = int(size) if size.isdigit() else None
            response.stream = _CappedStream(response.stream, self._limit, announced)  # type: ignore[arg-type]
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass(eq=False)
class _Live:
    """One opened (or opening) session: its runner task, the client it publishes, and its stop signal."""

    generation: int
    ready: asyncio.Future[Client] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    lost: bool = False  # the transport delivers nothing more: a request sent now could never be answered

    @property
    def usable(self) -> bool:
        ready = self.ready
        return ready.done() and not ready.cancelled() and ready.exception() is None and not self.lost

    def transport_ended(self) -> None:
        self.lost = True
        self.stop.set()  # the runner retires the session; the next caller opens a fresh one


class _Unrepeatable(Exception):
    """A lost connection cut off a call that must not be sent twice; `__cause__` is the disconnect."""


class _WatchedReadStream:
    """A transport's read stream that tells its session when it ends, i.e. when the server can answer no more.

    Without it a session whose stdio server died between calls looks alive until a request is sent into it, and
    that request's failure could not be told apart from one that reached the server.
    """

    def __init__(self, inner: Any, on_end: Callable[[], None]) -> None:
        self._inner = inner
        self._on_end = on_end

    @property
    def last_context(self) -> Any:  # the SDK reads the sender's contextvars off context-aware streams
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._on_end()
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> _WatchedReadStream:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> _WatchedReadStream:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        return await self._inner.__aexit__(exc_type, exc, tb)


@contextlib.asynccontextmanager
async def _watched(transport: Transport, on_end: Callable[[], None]) -> AsyncIterator[tuple[Any, Any]]:
    async with transport as (read_stream, write_stream):
        yield _WatchedReadStream(read_stream, on_end), write_stream


class UpstreamSession:
    """The shared session to one upstream server: lazy open, one reconnect per call, bounded concurrency."""

    def __init__(
        self, name: str, config: ServerConfig, *, errlog: TextIO | None = None, service: Service | None = None
    ) -> None:
        self.name = name
        self.config = config
        self.opened = 0  # sessions successfully opened; tests and the benchmark read it
        self.tool_list_fetches = 0
        self._errlog = errlog
        self.service = service if service is not None else server_service(name, config)
        self._live: _Live | None = None
        self._generation = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._tools: list[types.Tool] | None = None
        self._tools_stale = True
        self._tools_lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        live = self._live
        return live is not None and live.usable

    @property
    def tools_stale(self) -> bool:
        return self._tools is None or self._tools_stale

    async def call_tool(self, tool: str, arguments: dict[str, Any], *, own_slot: bool = True) -> types.CallToolResult:
        """Call an upstream tool. Raises ToolCallError for anything that did not produce a result, and its subclass
        UpstreamUnreachable when the server could not be started or connected (the call was never sent).

        `own_slot=False` when the caller already holds a slot of this server's service (its group chose it)."""
        timeout = self.config.timeout_seconds
        # Neither waiting for a slot nor for the server to start is this call's slowness: the per-call timeout
        # covers the request alone (startup has its own bound, see _run).
        try:
            async with self.service.slot() if own_slot else contextlib.nullcontext():
                return await self._with_reconnect(
                    lambda client: client.call_tool(tool, arguments), repeatable=lambda: self.repeatable(tool)
                )
        except _Unrepeatable as exc:
            lost = describe(exc.__cause__) if exc.__cause__ is not None else "connection lost"
            raise ToolCallError(
                f"{self.name}/{tool}: the connection to the server was lost during this call ({lost}), so the "
                f"call may or may not have taken effect there. It was not repeated because the server does not "
                f"mark {tool!r} read-only or idempotent. The next call restarts the connection; check before "
                f"calling it again."
                ) from exc.__cause__
        except TimeoutError as exc:  # the cause stays: a group's breaker counts it (see `classify`)
            raise ToolCallError(f"{self.name}/{tool} did not answer within {timeout:g} s") from exc
        except ToolCallError:
            raise
        except MCPError as exc:
            if exc.code == types.REQUEST_TIMEOUT:
                raise ToolCallError(f"{self.name}/{tool} did not answer within {timeout:g} s") from exc
            raise ToolCallError(f"{self.name}/{tool} failed: {describe(exc)}") from exc
        except Exception as exc:  # the boundary: whatever an upstream does wrong is one failed tool call
            raise ToolCallError(f"{self.name}/{tool} failed: {describe(exc)}") from exc

    def offers(self, tool: str) -> bool | None:
        """Whether researchers may call `tool` here: listed by the server and allowed by its config entry (see
        `ServerConfig.offers`); None while the server's list is not known."""
        if not self.config.allows(tool):
            return False
        if self._tools is None:
            return None
        return any(known.name == tool and self.config.offers(known) for known in self._tools)

    def repeatable(self, tool: str) -> bool:
        """Whether a call of `tool` cut off by a lost connection may be sent again on a fresh session.

        Only when the server's annotations say a second run changes nothing (`readOnlyHint` or `idempotentHint`:
        hints, but the only word on it there is), or the server's config entry sets `retryUnsafe`. A tool we have
        not listed is unknown, and unknown is unsafe.
        """
        if self.config.retry_unsafe:
            return True
        for known in self._tools or ():
            if known.name == tool:
                hints = known.annotations
                return hints is not None and (hints.read_only_hint is True or hints.idempotent_hint is True)
        return False

    async def list_tools(self) -> list[types.Tool]:
        """The upstream's tools, fetched once and again after it says its list changed (or after a reconnect).

        Raises ToolCallError when the server cannot be reached or does not answer in time.
        """
        if not self.tools_stale:
            assert self._tools is not None
            return self._tools
        async with self._tools_lock:
            if not self.tools_stale:
                assert self._tools is not None
                return self._tools
            # Cleared before fetching so a change announced during the fetch triggers another one.
            self._tools_stale = False
            timeout = self.config.timeout_seconds
            try:
                tools = await self._with_reconnect(self._fetch_tools)
            except BaseException as exc:
                self._tools_stale = True
                if isinstance(exc, TimeoutError):
                    raise ToolCallError(f"{self.name}: listing tools took longer than {timeout:g} s") from None
                if isinstance(exc, Exception) and not isinstance(exc, ToolCallError):
                    raise ToolCallError(f"{self.name}: listing tools failed: {describe(exc)}") from exc
                raise
            self._tools = tools
            self.tool_list_fetches += 1
            return tools

    async def close(self) -> None:
        """Stop every runner and wait for them; later calls fail with ToolCallError."""
        self._closed = True
        live = self._live
        if live is not None:
            live.stop.set()
            if not live.ready.done() and live.task is not None:
                # Still starting: there is no session to end politely, and a server that never answers would hold
                # the shutdown for the whole stop timeout. Cancelling makes the transport stop the process now.
                live.task.cancel()
            self._live = None
        tasks = set(self._tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=_STOP_TIMEOUT_S)
            for task in pending:  # a transport that ignores its own shutdown bounds; do not hang the app's exit
                task.cancel()
            if pending:
                await asyncio.wait(pending)

    async def _fetch_tools(self, client: Client) -> list[types.Tool]:
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(_MAX_TOOL_PAGES):
            page = await client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        return tools

    async def _with_reconnect(
        self, operation: Callable[[Client], Awaitable[_T]], *, repeatable: Callable[[], bool] = lambda: True
    ) -> _T:
        """Run `operation` within the per-call timeout; if the connection turns out dead, reopen and run it again (up
        to the server's `maxRetries` times), unless it may already have run and `repeatable()` says running it twice
        could do harm (_Unrepeatable)."""
        retries = self.config.max_retries
        for attempt in range(retries + 1):
            client, generation = await self._client()
            try:
                async with asyncio.timeout(self.config.timeout_seconds):
                    return await operation(client)
            except Exception as exc:
                if not is_disconnect(exc) or self._closed:
                    raise
                self._restart(generation)
                if attempt == retries:
                    raise
                if not never_delivered(exc) and not repeatable():
                    log.warning("upstream %s: connection lost during a call (%s); not repeating it", self.name,
                                describe(exc))
                    raise _Unrepeatable() from exc
                log.info("upstream %s: connection lost (%s); reconnecting (retry %d of %d)", self.name,
                         describe(exc), attempt + 1, retries)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _client(self) -> tuple[Client, int]:
        if self._closed:
            raise ToolCallError(f"upstream MCP server {self.name!r} is shut down")
        live = self._live
        if live is not None and live.lost:
            self._restart(live.generation)  # its server is gone; nothing sent into it could be answered
            live = None
        if live is None:
            live = self._start()
        if live.usable:
            return live.ready.result(), live.generation  # the common case, without a shield's extra future
        try:
            # Shielded: a caller that times out must not cancel the open other callers are waiting on too.
            client = await asyncio.shield(live.ready)
        except (ToolCallError, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise UpstreamUnreachable(f"could not connect to upstream MCP server {self.name!r}: {describe(exc)}") \
                from exc
        return client, live.generation

    def _start(self) -> _Live:
        # Synchronous from the check in _client to here, so concurrent first callers cannot start two runners.
        self._generation += 1
        live = _Live(self._generation)
        # Nobody may be waiting when an open fails (the caller timed out); retrieve the exception so asyncio
        # does not report it as never retrieved.
        live.ready.add_done_callback(lambda f: None if f.cancelled() else f.exception())
        live.task = asyncio.get_running_loop().create_task(self._run(live), name=f"mcp-upstream-{self.name}")
        self._tasks.add(live.task)
        live.task.add_done_callback(self._tasks.discard)
        self._live = live
        return live

    def _restart(self, generation: int) -> None:
        live = self._live
        if live is not None and live.generation != generation:
            return  # another caller already replaced the dead session; use theirs
        if live is not None:
            live.stop.set()  # the old runner closes its dead transport in the background; close() joins it
            self._live = None

    async def _run(self, live: _Live) -> None:
        startup = self.config.startup_timeout_seconds
        try:
            async with contextlib.AsyncExitStack() as stack:
                # asyncio's timeout, not anyio's: an anyio scope here would close before the SDK's scopes it
                # encloses, which anyio forbids. Once entered, the session's requests carry their own timeouts.
                try:
                    async with asyncio.timeout(startup):
                        client = await stack.enter_async_context(self._connect(live))
                except TimeoutError:
                    raise TimeoutError(f"did not start and answer the handshake within {startup:g} s") from None
                self.opened += 1
                if self.opened > 1:
                    self._tools_stale = True  # a restarted server may offer different tools
                live.ready.set_result(client)
                # anyio, not asyncio, for the listener: it lives inside the SDK's anyio cancel scopes.
                async with anyio.create_task_group() as tg:
                    if client.protocol_version in MODERN_PROTOCOL_VERSIONS and _announces_tool_changes(client):
                        tg.start_soon(self._listen_for_tool_changes, client)
                    await live.stop.wait()
                    tg.cancel_scope.cancel()
        except Exception as exc:
            if not live.ready.done():
                live.ready.set_exception(exc)
            elif not live.stop.is_set():
                log.warning("upstream %s: session ended: %s", self.name, describe(exc))
        finally:
            if not live.ready.done():
                live.ready.set_exception(
                    UpstreamUnreachable(f"upstream MCP server {self.name!r} closed while opening"))
            if self._live is live:
                self._live = None  # the next caller opens a fresh session

    @contextlib.asynccontextmanager
    async def _connect(self, live: _Live) -> AsyncIterator[Client]:
        config = self.config
        options: dict[str, Any] = {
            "message_handler": self._on_message,
            "client_info": _client_info(),
            "cache": None,  # our own tool-list cache follows list_changed; a second cache could serve a stale list
        }
        if isinstance(config, StdioServerConfig):
            params = StdioServerParameters(
                command=config.command, args=list(config.args), env=dict(config.env) or None, cwd=config.cwd
            )
            errlog = self._errlog or sys.stderr
            # Ours reads each message at most maxResponseBytes far (see stdio.py); Windows keeps the SDK's.
            transport = stdio_client(params, errlog=errlog) if sys.platform == "win32" else capped_stdio_client(
                params, name=self.name, max_bytes=config.max_response_bytes, errlog=errlog)
            async with Client(_watched(transport, live.transport_ended), **options) as client:
                yield client
            return
        timeout = httpx2.Timeout(
            config.timeout_seconds,
            connect=config.startup_timeout_seconds,
            read=max(config.timeout_seconds, _HTTP_READ_TIMEOUT_S),
        )
        # Our own client only to carry the configured headers; redirects stay off, the transport handles them.
        async with (
            httpx2.AsyncClient(headers=dict(config.headers), timeout=timeout,
                               transport=_CappedJSONTransport(config.max_response_bytes)) as http,
            Client(_watched(streamable_http_client(config.url, http_client=http), live.transport_ended),
                   **options) as client,
        ):
            yield client

    async def _on_message(self, message: IncomingMessage) -> None:
        # 2025-era servers send this unprompted; on 2026-era sessions the listen stream delivers it here as well.
        if isinstance(message, types.ToolListChangedNotification):
            self._tools_stale = True
        elif isinstance(message, Exception):
            log.debug("upstream %s: transport reported %s", self.name, describe(message))

    async def _listen_for_tool_changes(self, client: Client) -> None:
        """Hold a subscriptions/listen stream open for the session's life: on the 2026-07-28 wire a server only
        announces list changes on a stream the client opened. Streams end (idle timeouts, server restarts) and are
        not replayed, so after each end the list is refetched on next use and the stream is reopened, with backoff
        in case the connection itself is gone (a dead session is reopened by the next call, not from here)."""
        delay = _RELISTEN_MIN_S
        while True:
            try:
                async with client.listen(tools_list_changed=True) as subscription:
                    delay = _RELISTEN_MIN_S
                    async for _event in subscription:
                        self._tools_stale = True
            except Exception as exc:  # losing change notices is not worth the session
                log.info("upstream %s: tool-change subscription ended: %s", self.name, describe(exc))
            self._tools_stale = True
            await anyio.sleep(delay)
            delay = min(delay * 2, _RELISTEN_MAX_S)


def _announces_tool_changes(client: Client) -> bool:
    tools = client.server_capabilities.tools
    return bool(tools and tools.list_changed)
