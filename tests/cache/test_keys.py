from __future__ import annotations

import pytest

from deep_research_mcp.cache import envelope
from deep_research_mcp.cache.keys import cache_key
from deep_research_mcp.errors import CacheError


def test_keys_are_canonical_and_scoped_by_namespace_and_version() -> None:
    a = cache_key("tool", {"b": [1, "é"], "a": {"y": 1, "x": 2}})
    assert a == cache_key("tool", {"a": {"x": 2, "y": 1}, "b": [1, "é"]})
    assert a.startswith("tool:") and len(a) == len("tool:") + 64
    assert a != cache_key("page", {"a": {"x": 2, "y": 1}, "b": [1, "é"]})
    assert a != cache_key("tool", {"a": {"x": 2, "y": 1}, "b": [1, "é"]}, version=2)
    with pytest.raises(TypeError):
        cache_key("tool", {"a": object()})


def test_envelope_round_trips_json_and_bytes_and_refuses_anything_else() -> None:
    for value in ({"text": "ok", "n": [1, 2.5, None, True]}, b"\x00\xffraw", "plain"):
        entry = envelope.decode(envelope.encode(value, 123.0))
        assert entry.value == value and entry.expires_at == 123.0
    for junk in (b"", b"short", b"\x80\x04\x95pickle-looking bytes of some length"):
        with pytest.raises(CacheError):
            envelope.decode(junk)
    with pytest.raises(CacheError, match="JSON"):
        envelope.encode({1, 2}, 0.0)
