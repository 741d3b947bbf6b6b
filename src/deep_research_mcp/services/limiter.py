"""Slots of one service: callers queue for a slot (first come, first served) instead of failing, and a pause (a
Retry-After) holds every new call to the service, not only the one that was told to wait."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Protocol

from .limit import AdaptiveLimit


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


CallLater = Callable[[float, Callable[[], None]], TimerHandle]


def _loop_call_later(delay: float, callback: Callable[[], None]) -> TimerHandle:
    return asyncio.get_running_loop().call_later(delay, callback)


class Limiter:
    """`await acquire()` ... `release()`; the number of slots is `limit.current`, read at every grant, so a limit
    that grows lets queued callers in and one that shrinks only stops new grants (nothing running is cut off)."""

    def __init__(self, limit: AdaptiveLimit, clock: Callable[[], float], call_later: CallLater | None = None) -> None:
        self.limit = limit
        self._clock = clock
        self._call_later = call_later or _loop_call_later
        self.in_flight = 0
        self.paused_until = 0.0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._timer: TimerHandle | None = None

    @property
    def queued(self) -> int:
        return sum(1 for w in self._waiters if not w.done())

    def paused(self) -> bool:
        return self._clock() < self.paused_until

    def _free(self) -> bool:
        return self.in_flight < self.limit.current and not self.paused()

    async def acquire(self) -> None:
        if not self._waiters and self._free():
            self.in_flight += 1  # the common case takes no await at all: no cost when nothing pushes back
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self.wake()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # granted just as the caller gave up: hand the slot on
            else:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        self.in_flight -= 1
        self.wake()

    def pause(self, seconds: float) -> None:
        if seconds > 0:
            self.paused_until = max(self.paused_until, self._clock() + seconds)
            self.wake()

    def wake(self) -> None:
        """Grant slots to queued callers while there are free ones; while paused, wake again when the pause ends."""
        while self._waiters and self._free():
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._waiters and self.paused():
            self._timer = self._call_later(self.paused_until - self._clock(), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.wake()
