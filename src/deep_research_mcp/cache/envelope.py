"""What every level stores: a small header (format, absolute expiry, payload kind) and the payload, JSON or bytes.

The expiry travels with the value, so a hit in a lower level back-fills the upper ones with the time actually left,
not a fresh TTL. Decoding never runs code: JSON is parsed, bytes are returned as they are, and anything else
(another program's data, a torn write, an old format) is refused as corrupt.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass
from typing import Any

from ..errors import CacheError
from .keys import canonical_json

_MAGIC = b"DRC1"
_HEADER = struct.Struct(">4sdB")  # magic, expires_at (unix seconds; 0 = never), kind
_JSON, _BYTES = 0, 1

Value = Any  # a JSON value (dict, list, str, int, float, bool, None) or bytes


@dataclass(frozen=True, slots=True)
class Entry:
    value: Value
    expires_at: float  # 0.0: never

    def ttl_left(self, now: float | None = None) -> float | None:
        """Seconds left (None: no expiry); <= 0 means expired."""
        if not self.expires_at:
            return None
        return self.expires_at - (time.time() if now is None else now)


def expiry(ttl_s: float | None, now: float | None = None) -> float:
    return 0.0 if ttl_s is None else (time.time() if now is None else now) + ttl_s


def encode(value: Value, expires_at: float) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        kind, payload = _BYTES, bytes(value)
    else:
        try:
            kind, payload = _JSON, canonical_json(value).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise CacheError(f"only JSON values or bytes can be cached: {exc}") from None
    return _HEADER.pack(_MAGIC, expires_at, kind) + payload


def decode(data: bytes) -> Entry:
    if len(data) < _HEADER.size:
        raise CacheError("corrupt cache entry: too short")
    magic, expires_at, kind = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise CacheError("corrupt cache entry: unknown format")
    payload = data[_HEADER.size :]
    if kind == _BYTES:
        return Entry(payload, expires_at)
    if kind != _JSON:
        raise CacheError(f"corrupt cache entry: unknown payload kind {kind}")
    try:
        return Entry(json.loads(payload.decode("utf-8")), expires_at)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CacheError(f"corrupt cache entry: {exc}") from None
