"""Running the server: stdio (the default, what desktop hosts spawn) or streamable HTTP with bearer auth.

Over stdio, stdout carries protocol only; every log line goes to stderr. Over HTTP the server refuses to listen
beyond loopback unless bearer auth is configured, checks Host and Origin (DNS-rebinding protection), and checks
each token's audience itself (the SDK's verifier hook does not).

Both stop on SIGINT or SIGTERM within about a second: the lifespan's exit runs (running research is recorded
`interrupted`), whether or not the host still holds stdin open.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import hmac
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings

from ..errors import ConfigError
from ..settings import Settings
from .access import auth_configured, is_loopback
from .app import build_server
from .handshake import FilteredWrites, Handoff, sdk_response
from .http_sessions import IdleEviction

log = logging.getLogger(__name__)
SHUTDOWN_GRACE_S = 10.0  # outer bound; uvicorn itself gives open connections HTTP_DRAIN_S
HTTP_DRAIN_S = 1.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class BearerVerifier:
    """Accepts the static token from settings, and HS256 JWTs signed with the shared secret whose `aud` is ours.

    Every accepted token is reported as issued for this server's URL, so the SDK's resource check agrees."""

    def __init__(self, settings: Settings, resource_url: str) -> None:
        self._static = settings.auth_token.get_secret_value().encode() if settings.auth_token else None
        self._secret = settings.auth_jwt_secret.get_secret_value() if settings.auth_jwt_secret else None
        self.audience = settings.auth_audience or resource_url
        self.resource_url = resource_url
        self.max_lifetime_s = settings.auth_jwt_max_lifetime_s

    async def verify_token(self, token: str) -> AccessToken | None:
        if self._static is not None and hmac.compare_digest(token.encode(), self._static):
            return AccessToken(token=token, client_id="static-token", scopes=[], resource=self.resource_url)
        if self._secret is None or token.count(".") != 2:
            return None
        import jwt

        try:
            claims = jwt.decode(token, self._secret, algorithms=["HS256"], audience=self.audience,
                                options={"require": ["exp", "aud"]})
        except jwt.PyJWTError as exc:
            log.info("bearer token refused: %s", exc)  # the reason, never the token
            return None
        if int(claims["exp"]) > time.time() + self.max_lifetime_s:
            # A token that never expires, once leaked, is a credential forever (DEEP_RESEARCH_AUTH_JWT_MAX_LIFETIME_S).
            log.info("bearer token refused: expires more than %d s from now", self.max_lifetime_s)
            return None
        return AccessToken(token=token, client_id=str(claims.get("sub") or "jwt"), scopes=[],
                           expires_at=int(claims["exp"]), resource=self.resource_url, subject=claims.get("sub"))


def transport_security(settings: Settings, host: str, port: int) -> TransportSecuritySettings:
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*", *settings.allowed_origins]
    if not is_loopback(host):
        hosts.append(f"{host}:{port}")
    if settings.public_url:
        public = urlsplit(settings.public_url)
        hosts.append(public.netloc)
        origins.append(f"{public.scheme}://{public.netloc}")
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts,
                                     allowed_origins=origins)


async def until_signalled(main: Awaitable[None]) -> int | None:
    """Await `main`; SIGINT or SIGTERM cancels it (its cleanup runs) and the signal's number is returned.

    A second signal while cleaning up is left to the default handler, so an impatient user can still force it."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    received: list[int] = []

    def on_signal(signum: int) -> None:
        if not received:
            received.append(signum)
            log.warning("%s received: stopping", signal.Signals(signum).name)
            task.cancel()
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)

    try:
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, on_signal, sig)
    except NotImplementedError:  # no loop signal handlers on Windows: Ctrl+C still raises KeyboardInterrupt
        return await main
    try:
        await main
    except asyncio.CancelledError:
        if not received:
            raise
        task.uncancel()
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
    return received[0] if received else None


class StdinLines:
    """The stdio transport's input: lines from fd 0 read by a daemon thread, so waiting for input never holds up
    a shutdown (the SDK's reader blocks in a worker thread that cancellation cannot reach, so a signal waited for
    the host to close stdin). fd 0 itself is pointed at the null device, so children never read the protocol.

    `os.read` in the thread holds no Python-level lock, so exiting while it blocks is safe. Backpressure: the
    thread reads ahead at most `AHEAD` chunks."""

    CHUNK = 64 * 1024
    AHEAD = 16
    MAX_LINE = 16 * 1024 * 1024  # a message longer than this is dropped (the HTTP transport refuses 4 MiB)

    def __init__(self, handoff: Handoff | None = None) -> None:
        # With a handoff, the messages read while the server was importing come first (see server/handshake.py).
        self._handoff = handoff
        self._fd = os.dup(0)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        self._loop = asyncio.get_running_loop()
        self._chunks: asyncio.Queue[bytes] = asyncio.Queue()
        self._room = threading.Semaphore(self.AHEAD)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = self._decoder.decode(handoff.pending) if handoff else ""
        self._eof = False
        if handoff is not None and handoff.eof:
            self._chunks.put_nowait(b"")
            self._room.acquire()
        else:
            threading.Thread(target=self._pump, name="stdin", daemon=True).start()

    def _pump(self) -> None:
        while True:
            self._room.acquire()
            try:
                chunk = os.read(self._fd, self.CHUNK)
            except OSError:
                chunk = b""
            try:
                self._loop.call_soon_threadsafe(self._chunks.put_nowait, chunk)
            except RuntimeError:  # the loop is closed: the server is gone
                return
            if not chunk:
                return

    def __aiter__(self) -> StdinLines:
        return self

    async def __anext__(self) -> str:
        while True:
            line, newline, rest = self._buffer.partition("\n")
            if newline:
                self._buffer = rest
                if self._handoff is not None:
                    if self._handoff.replayed:
                        self._handoff.replayed -= 1
                    else:
                        self._handoff.observe(line)
                return line + newline
            if self._eof:
                if self._buffer:
                    line, self._buffer = self._buffer, ""
                    return line
                raise StopAsyncIteration
            chunk = await self._chunks.get()
            self._room.release()
            self._eof = not chunk
            self._buffer += self._decoder.decode(chunk, final=self._eof)
            if len(self._buffer) > self.MAX_LINE and "\n" not in self._buffer:
                log.error("dropped a stdio message over %d bytes", self.MAX_LINE)
                self._buffer = ""


async def serve_stdio(settings: Settings, handoff: Handoff | None = None) -> None:
    """Serve over stdin/stdout until stdin closes; as for serve_http, the caller owns signals (until_signalled).
    `handoff`: what answering the handshake early (server/handshake.py) read and answered before the SDK was in."""
    from mcp.server.stdio import stdio_server

    server = build_server(settings)
    async with stdio_server(stdin=StdinLines(handoff)) as (read, write):  # type: ignore[arg-type]
        # The SDK's `run_stdio_async` with our input reader; the low-level server is what it drives too.
        lowlevel = server._lowlevel_server  # noqa: SLF001
        writes = write if handoff is None else FilteredWrites(write, handoff, sdk_response)
        await lowlevel.run(read, writes, lowlevel.create_initialization_options())  # type: ignore[arg-type]


async def serve_http(
    settings: Settings, *, host: str, port: int, on_ready: Callable[[str], None] | None = None
) -> None:
    """Serve streamable HTTP at http://host:port/mcp until cancelled. Port 0 picks a free port; `on_ready` gets
    the URL once the socket listens."""
    import uvicorn

    if not is_loopback(host) and not auth_configured(settings):
        raise ConfigError(
            f"refusing to listen on {host} without authentication: set DEEP_RESEARCH_AUTH_TOKEN (or "
            "DEEP_RESEARCH_AUTH_JWT_SECRET), or listen on 127.0.0.1"
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    url = settings.public_url or f"http://{shown}:{bound}/mcp"
    auth = verifier = None
    if auth_configured(settings):
        verifier = BearerVerifier(settings, url)
        # This server is only a resource server: the "issuer" is where tokens come from, which for a static token
        # or a shared-secret JWT is this deployment itself.
        auth = AuthSettings(issuer_url=url, resource_server_url=url, validate_token_resource=False)
    server = build_server(settings, auth=auth, token_verifier=verifier)
    app = server.streamable_http_app(transport_security=transport_security(settings, host, bound), host=host,
                                     max_sessions=settings.http_max_sessions,
                                     session_idle_timeout=settings.http_session_idle_timeout_s,
                                     max_request_body_size=settings.http_max_request_bytes)
    IdleEviction.install(server.session_manager, per_client=settings.http_max_sessions_per_client)
    # timeout_graceful_shutdown: open streams (a `research` call, a GET stream) must not hold a stop for long;
    # the lifespan's exit, which records running research as interrupted, runs after it.
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False,
                            timeout_graceful_shutdown=HTTP_DRAIN_S,
                            limit_concurrency=settings.http_max_open_connections)
    userver = uvicorn.Server(config)
    userver.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # our caller owns signals

    sock.listen(128)

    async def announce() -> None:
        while not userver.started:  # uvicorn sets it once the lifespan ran and the socket serves
            if userver.should_exit:
                return
            await asyncio.sleep(0.02)
        print(f"deep-research MCP server listening on {url}", file=sys.stderr, flush=True)
        if on_ready is not None:
            on_ready(url)

    try:
        async with asyncio.TaskGroup() as group:
            watcher = group.create_task(announce())
            serving = group.create_task(userver.serve(sockets=[sock]))
            try:
                await asyncio.shield(serving)
            except asyncio.CancelledError:
                # Stop the way a signal would: finish in-flight requests, run the lifespan's exit (which records
                # running research as interrupted), then let the cancellation go on.
                userver.should_exit = True
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(SHUTDOWN_GRACE_S):
                        await asyncio.shield(serving)
                serving.cancel()
                raise
            finally:
                watcher.cancel()
    finally:
        sock.close()
