"""L1: this process's memory. An LRU bounded by the bytes it holds, with per-entry expiry."""

from __future__ import annotations

import time
from collections import OrderedDict

from .base import Stored
from .keys import namespace_of

# Python's per-entry overhead (key string, tuple, dict slot) is not in len(data); count a fixed share for it so a
# flood of tiny entries cannot outgrow the bound.
ENTRY_OVERHEAD = 200


class MemoryLevel:
    name = "memory"

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[str, tuple[bytes, float]] = OrderedDict()  # key -> (data, expires at; 0 = never)

    def __len__(self) -> int:
        return len(self._items)

    @staticmethod
    def _size(key: str, data: bytes) -> int:
        return len(key) + len(data) + ENTRY_OVERHEAD

    async def get(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        data, expires_at = item
        if expires_at and expires_at <= time.monotonic():
            self._drop(key)
            return None
        self._items.move_to_end(key)
        return data

    async def set(self, key: str, data: bytes, ttl_s: float | None) -> None:
        size = self._size(key, data)
        if key in self._items:
            self._drop(key)
        if size > self.max_bytes:
            return  # would evict everything else and still not fit
        self._items[key] = (data, time.monotonic() + ttl_s if ttl_s is not None else 0.0)
        self.bytes += size
        while self.bytes > self.max_bytes:
            oldest = next(iter(self._items))
            self._drop(oldest)

    def _drop(self, key: str) -> None:
        data, _ = self._items.pop(key)
        self.bytes -= self._size(key, data)

    async def clear(self, namespace: str | None) -> int:
        keys = [k for k in self._items if namespace is None or namespace_of(k) == namespace]
        for key in keys:
            self._drop(key)
        return len(keys)

    async def stored(self) -> dict[str, Stored]:
        totals: dict[str, list[int]] = {}
        for key, (data, _) in self._items.items():
            entry = totals.setdefault(namespace_of(key), [0, 0])
            entry[0] += 1
            entry[1] += len(data)
        return {ns: Stored(n, size) for ns, (n, size) in totals.items()}

    async def close(self) -> None:
        self._items.clear()
        self.bytes = 0
