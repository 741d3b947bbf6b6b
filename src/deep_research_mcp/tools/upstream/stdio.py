"""The stdio transport to an upstream server, with each message read at most `max_bytes` far.

The SDK's `stdio_client` joins every chunk of a line onto what it has so far and splits again, so one 50 MB line
costs time quadratic in its length (the event loop stalls for minutes) and memory without bound. Here a line is
collected in a bytearray (linear), and once it passes `max_bytes` the rest of it is read and dropped. The request it
answered fails alone with an error naming the server and the limit; the session goes on. The request is found by
the `id` at the start or the end of the line (where servers put it), or as the only request outstanding; when
neither tells, the session is ended, so its calls fail as a lost connection and the next one starts it afresh.

Spawning follows the SDK (the SDK's default environment, a new process group) and so does stopping, after the
MCP spec's order: close stdin, wait, then the SDK's own process-tree termination (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import AsyncIterator
from typing import Any, TextIO

import anyio
import anyio.to_thread
import mcp_types as types
from anyio.abc import Process
from mcp.client.stdio import StdioServerParameters, get_default_environment
from mcp.os.posix.utilities import terminate_posix_process_tree
from mcp.shared.message import SessionMessage

log = logging.getLogger(__name__)

_CHUNK = 1 << 16
_KEEP = 256  # bytes of an over-long line's start and end kept to find its id
_THREAD_PARSE_BYTES = 1 << 20  # a longer message is parsed off the event loop
_GRACE_S = 2.0  # for the server to exit on its own after its stdin closes, as the SDK waits
_KILL_S = 2.0
_FLUSH_S = 0.5
_ID = rb'"id"\s*:\s*(-?\d+|"[^"\\]{0,200}")'
_ID_AT_START = re.compile(rb'^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?' + _ID)
_ID_AT_END = re.compile(_ID + rb'\s*(?:,\s*"jsonrpc"\s*:\s*"2\.0"\s*)?\}\s*$')
_METHOD_AT_START = re.compile(rb'^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"method"')


class _TooLong:
    """An over-long line being skipped: its first and last bytes and its length so far."""

    def __init__(self, head: bytes, size: int) -> None:
        self.head = head
        self.tail = head[-_KEEP:]
        self.size = size

    def add(self, piece: bytes) -> None:
        self.size += len(piece)
        self.tail = (self.tail + piece[-_KEEP:])[-_KEEP:]


def _parse(line: bytes) -> SessionMessage | Exception:
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as exc:
        log.warning("an upstream MCP server sent a line that is not a JSON-RPC message: %s", str(exc)[:300])
        return exc


def _request_id(line: _TooLong, outstanding: set[types.RequestId]) -> types.RequestId | None:
    """Which outstanding request an over-long line answers, or None when it cannot be told."""
    for match in (_ID_AT_START.search(line.head), _ID_AT_END.search(line.tail)):
        if match is not None:
            found = json.loads(match.group(1))
            if found in outstanding:
                return found  # type: ignore[no-any-return]
    if len(outstanding) == 1 and not _METHOD_AT_START.search(line.head):
        return next(iter(outstanding))
    return None


@contextlib.asynccontextmanager
async def capped_stdio_client(
    server: StdioServerParameters, *, name: str, max_bytes: int, errlog: TextIO = sys.stderr
) -> AsyncIterator[tuple[Any, Any]]:
    """Like the SDK's `stdio_client`, with messages from the server capped at `max_bytes` (see the module doc).
    `name` is the server's, for errors."""
    process = await anyio.open_process(
        [server.command, *server.args], env=get_default_environment() | (server.env or {}), stderr=errlog,
        cwd=server.cwd, start_new_session=True,
    )
    read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)
    outstanding: set[types.RequestId] = set()
    writer_done = anyio.Event()

    async def deliver(item: SessionMessage | Exception) -> None:
        if isinstance(item, SessionMessage) and isinstance(item.message, types.JSONRPCResponse | types.JSONRPCError):
            outstanding.discard(item.message.id)
        await read_writer.send(item)

    async def too_long(line: _TooLong) -> None:
        request = _request_id(line, outstanding)
        problem = (f"upstream MCP server {name!r} sent a message of {line.size:,} bytes, over its maxResponseBytes "
                   f"({max_bytes:,}); it was not read")
        log.warning("%s", problem)
        if request is None:
            raise _Unattributable(problem)
        error = types.ErrorData(code=types.INTERNAL_ERROR, message=problem)
        await deliver(SessionMessage(types.JSONRPCError(jsonrpc="2.0", id=request, error=error)))

    async def line_ended(buffer: bytearray) -> None:
        if not buffer.strip():
            return
        line = bytes(buffer)
        if len(line) > _THREAD_PARSE_BYTES:
            await deliver(await anyio.to_thread.run_sync(_parse, line))
        else:
            await deliver(_parse(line))

    async def read() -> None:
        assert process.stdout is not None
        buffer = bytearray()
        skipping: _TooLong | None = None
        try:
            async with read_writer:
                async for chunk in process.stdout:
                    start = 0
                    while True:
                        end = chunk.find(b"\n", start)
                        piece = chunk[start:] if end < 0 else chunk[start:end]
                        if skipping is not None:
                            skipping.add(piece)
                        elif len(buffer) + len(piece) > max_bytes:
                            head = bytes(buffer[:_KEEP]) + piece[: max(0, _KEEP - len(buffer))]
                            skipping = _TooLong(head, len(buffer))
                            skipping.add(piece)
                            buffer = bytearray()  # the memory goes back now, not when the line ends
                        else:
                            buffer += piece
                        if end < 0:
                            break
                        if skipping is not None:
                            await too_long(skipping)
                            skipping = None
                        else:
                            await line_ended(buffer)
                            buffer.clear()
                        start = end + 1
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream):
            pass  # the session is gone (or our own shutdown closed stdout)
        except _Unattributable:
            pass  # read_writer is closed: the session sees its server gone, its calls fail as a lost connection
        finally:
            await _drain(process)

    async def write() -> None:
        assert process.stdin is not None
        try:
            async with write_reader:
                async for message in write_reader:
                    sent = message.message
                    if isinstance(sent, types.JSONRPCRequest):
                        outstanding.add(sent.id)
                    elif isinstance(sent, types.JSONRPCNotification) and sent.method == "notifications/cancelled":
                        outstanding.discard((sent.params or {}).get("requestId"))  # no answer is coming
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
                    await process.stdin.send(data.encode())
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            await read_writer.aclose()  # the server stopped reading: end the session instead of hanging a call
        finally:
            writer_done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(read)
        tg.start_soon(write)
        try:
            yield read_stream, write_stream
        finally:
            with anyio.CancelScope(shield=True):  # the process must be stopped even when the caller is cancelled
                read_stream.close()
                write_stream.close()
                with anyio.move_on_after(_FLUSH_S):
                    await writer_done.wait()
                await _stop(process)
                for stream in (read_stream, write_stream, read_writer, write_reader):
                    await stream.aclose()
            tg.cancel_scope.cancel()


class _Unattributable(Exception):
    """An over-long message that answers no request we can name."""


async def _drain(process: Process) -> None:
    """Read and drop the rest of stdout, so a server still writing is not blocked from exiting."""
    assert process.stdout is not None
    with anyio.CancelScope(shield=True), contextlib.suppress(
            anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
        while True:
            await process.stdout.receive(_CHUNK)


async def _stop(process: Process) -> None:
    assert process.stdin is not None and process.stdout is not None
    with contextlib.suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        await process.stdin.aclose()
    if not await _exited(process, _GRACE_S):
        await terminate_posix_process_tree(process, _KILL_S)
        await _exited(process, _KILL_S)
    with contextlib.suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        await process.stdout.aclose()


async def _exited(process: Process, timeout_s: float) -> bool:
    # Polled, not process.wait(): that also waits for the pipes to close, which a child holding them delays.
    with anyio.move_on_after(timeout_s):
        while process.returncode is None:
            await anyio.sleep(0.01)
    return process.returncode is not None
