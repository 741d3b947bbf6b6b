"""Over-long stdio messages: which request one answers, and what the transport does with it (against a raw server;
the 50 MB case through the SDK's client is in test_groups.py)."""

from __future__ import annotations

import sys

import anyio
import mcp_types as types
import pytest
from mcp.client.stdio import StdioServerParameters
from mcp.shared.message import SessionMessage

from deep_research_mcp.tools.upstream.stdio import _request_id, _TooLong, capped_stdio_client


def line(head: bytes, tail: bytes) -> _TooLong:
    seen = _TooLong(head, 0)
    seen.add(b"x" * 1000 + tail)
    return seen


def test_the_id_is_found_where_servers_put_it_or_as_the_only_request_out() -> None:
    python_sdk = line(b'{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"', b'"}]}}')
    typescript_sdk = line(b'{"result":{"content":[{"type":"text","text":"', b'"}]},"jsonrpc":"2.0","id":"a-9"}')
    assert _request_id(python_sdk, {3, 7}) == 7
    assert _request_id(typescript_sdk, {"a-9", 4}) == "a-9"
    assert _request_id(python_sdk, {3, 4}) is None  # an id nobody is waiting for names no request
    unnamed = line(b'{"result":{"content":[{"type":"text","text":"', b'"}]}, "extra": 1}')
    assert _request_id(unnamed, {5}) == 5 and _request_id(unnamed, {5, 6}) is None
    notification = line(b'{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"', b'"}}')
    assert _request_id(notification, {5}) is None


# A raw server (no SDK, so it starts in a blink): it answers its second request with an over-long line that names no
# request, and every other one with an empty result.
RAW = """import json, sys
for i, line in enumerate(sys.stdin):
    if i == 1:
        sys.stdout.write('{"x":"' + 'a' * 3_000_000 + '"}\\n')
    else:
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": json.loads(line)["id"], "result": {}}) + "\\n")
    sys.stdout.flush()
"""


async def talk(requests: list[int]) -> list[object]:
    """Send `requests` as pings one at a time and collect what the transport delivers for each."""
    params = StdioServerParameters(command=sys.executable, args=["-c", RAW])
    got: list[object] = []
    async with capped_stdio_client(params, name="raw", max_bytes=1_000_000) as (read, write):
        for request in requests:
            await write.send(SessionMessage(types.JSONRPCRequest(jsonrpc="2.0", id=request, method="ping")))
            with anyio.fail_after(10):
                try:
                    got.append((await read.receive()).message)
                except anyio.EndOfStream:
                    return got
    return got


async def test_an_over_long_answer_fails_its_request_and_the_session_goes_on() -> None:
    first, over, after = await talk([1, 2, 9])
    assert isinstance(first, types.JSONRPCResponse) and first.id == 1
    assert isinstance(over, types.JSONRPCError) and over.id == 2  # the only request out when it came
    assert over.error.message == ("upstream MCP server 'raw' sent a message of 3,000,008 bytes, over its "
                                  "maxResponseBytes (1,000,000); it was not read")
    assert isinstance(after, types.JSONRPCResponse) and after.id == 9


async def test_an_over_long_line_that_answers_no_known_request_ends_the_session() -> None:
    params = StdioServerParameters(command=sys.executable, args=["-c", RAW])
    async with capped_stdio_client(params, name="raw", max_bytes=1_000_000) as (read, write):
        for request in (1, 2, 3):  # 2 and 3 are both out when the long line comes: which one it answers is unknown
            await write.send(SessionMessage(types.JSONRPCRequest(jsonrpc="2.0", id=request, method="ping")))
        with anyio.fail_after(10):
            assert isinstance((await read.receive()).message, types.JSONRPCResponse)
            with pytest.raises(anyio.EndOfStream):
                await read.receive()
