"""A clock and timer that only move when a test says so: the limiter's pauses are tested without sleeping."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Handle:
    due: float
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class FakeClock:
    now: float = 1000.0
    timers: list[_Handle] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Handle:
        handle = _Handle(self.now + delay, callback)
        self.timers.append(handle)
        return handle

    def advance(self, seconds: float) -> None:
        """Move time on and fire the timers that fell due, in order."""
        self.now += seconds
        due = sorted((t for t in self.timers if t.due <= self.now and not t.cancelled), key=lambda t: t.due)
        self.timers = [t for t in self.timers if t not in due and not t.cancelled]
        for handle in due:
            handle.callback()
