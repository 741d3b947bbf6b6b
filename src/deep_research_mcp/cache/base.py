"""The level seam: every cache level stores opaque envelopes (bytes) under `<namespace>:<digest>` keys.

A level raises only CacheError; the `Cache` above turns that into a miss, logs it once per level, and counts it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from ..errors import CacheError


@dataclass(slots=True)
class Counters:
    hits: int = 0
    misses: int = 0
    writes: int = 0
    bytes_read: int = 0  # envelope bytes returned by hits
    bytes_written: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def add(self, other: dict[str, int]) -> None:
        for name, value in other.items():
            if hasattr(self, name):
                setattr(self, name, getattr(self, name) + int(value))


@dataclass(frozen=True, slots=True)
class Stored:
    """What a level holds for one namespace right now."""

    entries: int
    bytes: int


class Level(Protocol):
    name: str  # "memory", "disk", "redis"

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, data: bytes, ttl_s: float | None) -> None:
        """`ttl_s` None: no expiry. Always > 0 otherwise (the caller drops entries with no time left)."""

    async def clear(self, namespace: str | None) -> int:
        """Remove one namespace's entries, or all of them; returns how many were removed (when known)."""

    async def stored(self) -> dict[str, Stored]: ...

    async def close(self) -> None: ...


class Breaker:
    """Keeps a failing level out of the way for `cooldown_s` after a failure, so a dead Redis or a locked file costs
    one timeout, not one per lookup; then the level is tried again, since it may have recovered."""

    def __init__(self, name: str, cooldown_s: float) -> None:
        self.name = name
        self.cooldown_s = cooldown_s
        self._closed_at = 0.0

    @property
    def open(self) -> bool:
        return time.monotonic() < self._closed_at

    def check(self) -> None:
        if self.open:
            raise CacheError(f"{self.name} failed recently; skipped until it has had time to recover")

    def trip(self) -> None:
        self._closed_at = time.monotonic() + self.cooldown_s


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def stats_table(counters: dict[tuple[str, str], Counters]) -> dict[str, dict[str, Any]]:
    """{level: {namespace: counters}} from the flat (level, namespace) map."""
    out: dict[str, dict[str, Any]] = {}
    for (level, namespace), c in sorted(counters.items()):
        out.setdefault(level, {})[namespace] = c.as_dict()
    return out
