"""Which request an over-long stdio message answers (the live 50 MB case is in test_groups.py)."""

from __future__ import annotations

from deep_research_mcp.tools.upstream.stdio import _request_id, _TooLong


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
