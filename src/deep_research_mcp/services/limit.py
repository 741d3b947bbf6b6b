"""The adaptive concurrency limit of one service: AIMD, in the manner of Netflix's concurrency-limits.

The limit starts at the configured maximum (today's fixed limit), so a service that never pushes back costs nothing.
It moves on what each finished call says:

- **Overload** (429, 503 with Retry-After): the service refused work at the concurrency we had, so the new limit is
  that concurrency times `backoff` (0.9). Calls that were already in flight when the limit dropped and are refused
  too each take one more off: k refusals out of n calls say the service took n - k.
- **Error** (5xx, timeout, lost connection): the limit times `backoff`, once per round (calls sent before the last
  decrease do not decrease it again).
- **Success** with the latency near its baseline (within `tolerance` times the running mean) while the limit is at
  least half used: + 1/limit, i.e. about one more slot per round of calls.

The level at which the service last refused is remembered as a ceiling: the limit waits `probe_hold_s` just below it
before probing it again, and each probe the service refuses doubles that wait (up to `max_probe_hold_s`). A probe
that holds for one wait clears the ceiling. So a provider that accepts 8 sees one refused call per probe, not one per
round, which is what keeps a 429 storm from recurring for the whole run.

Pure arithmetic on an injected clock: no asyncio, no sleeping, so it is tested with a fake clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigError

FailureKind = Literal["overload", "error"]


@dataclass(frozen=True, slots=True)
class LimitConfig:
    max: int
    floor: int = 1
    initial: int | None = None  # None: start at the maximum
    adaptive: bool = True  # False: a fixed limit of `max`, today's behaviour
    backoff: float = 0.9
    tolerance: float = 2.0
    probe_hold_s: float = 5.0
    max_probe_hold_s: float = 60.0

    def __post_init__(self) -> None:
        if self.floor < 1:
            raise ConfigError(f"the concurrency floor must be at least 1, got {self.floor}")
        if self.max < 1:
            raise ConfigError(f"the concurrency maximum must be at least 1, got {self.max}")
        if self.floor > self.max:
            raise ConfigError(f"the concurrency floor {self.floor} is above the maximum {self.max}")
        if self.initial is not None and not self.floor <= self.initial <= self.max:
            raise ConfigError(f"the initial concurrency {self.initial} is outside {self.floor}..{self.max}")


class AdaptiveLimit:
    def __init__(self, config: LimitConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self._clock = clock
        self.value = float(config.initial or config.max)
        self.baseline_s: float | None = None  # running mean latency of successful calls
        self.ceiling: int | None = None  # the level the service last refused
        self.decreases = 0
        self._decreased_at = -math.inf
        self._hold_s = config.probe_hold_s
        self._probe_at: float | None = None  # when the limit last reached the ceiling

    @property
    def current(self) -> int:
        c = self.config
        return c.max if not c.adaptive else max(c.floor, min(c.max, int(self.value)))

    def on_success(self, latency_s: float, in_flight: int) -> None:
        """A call that finished well; `in_flight` counts it."""
        near = self.baseline_s is None or latency_s <= self.config.tolerance * self.baseline_s
        self.baseline_s = latency_s if self.baseline_s is None else self.baseline_s + 0.1 * (latency_s
                                                                                              - self.baseline_s)
        if not self.config.adaptive:
            return
        now = self._clock()
        if self._probe_at is not None and now - self._probe_at >= self._hold_s:
            self.ceiling, self._probe_at, self._hold_s = None, None, self.config.probe_hold_s
        if not near or in_flight < self.value / 2 or self.value >= self.config.max:
            return
        grown = min(float(self.config.max), self.value + 1.0 / self.value)
        if self.ceiling is not None and int(grown) >= self.ceiling:
            if self._probe_at is None:
                if now - self._decreased_at < self._hold_s:
                    return  # hold just below the level the service refused
                self._probe_at = now
            elif int(grown) > self.ceiling:
                return  # probing the refused level itself, not beyond it, until the probe has held
        self.value = grown

    def on_failure(self, kind: FailureKind, started_at: float, in_flight: int) -> None:
        """A call sent at `started_at` was refused (overload) or failed (error); `in_flight` counts it."""
        if not self.config.adaptive:
            return
        floor = float(self.config.floor)
        if started_at < self._decreased_at:
            if kind == "overload":
                self.value = max(floor, self.value - 1)
            return
        level = min(self.value, float(in_flight)) if kind == "overload" else self.value
        if self._probe_at is not None:
            self._hold_s = min(self.config.max_probe_hold_s, self._hold_s * 2)
        self._probe_at = None
        if kind == "overload":
            self.ceiling = max(self.config.floor + 1, int(level))
        self.value = max(floor, level * self.config.backoff)
        self._decreased_at = self._clock()
        self.decreases += 1
