"""A streaming latency histogram: fixed memory, O(1) to record, p50/p95/p99 within a few percent.

HDR-style log buckets, 8 per doubling of the value, from 2^-14 s (61 µs) up to about 2.3 hours: a percentile read
from it is off by at most half a bucket, 2^(1/16) - 1 ≈ 4.4 %, whatever the spread of the values. Chosen over
prometheus-client's own Histogram, whose dozen fixed buckets (5 ms … 10 s) put a p99 anywhere inside a bucket that
is 2-2.5x wide, and over a sample reservoir, which forgets the rare slow call a p99 is about. Every power of two
(in seconds) is a bucket edge, so the coarse Prometheus buckets exported from it (`cumulative`) are exact sums of
its fine buckets. Kept here rather than taken from the `hdrhistogram` package: integer-valued HDR needs a unit
and a range chosen up front, and these 40 lines are all we need of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

SUB_BUCKETS = 8  # per doubling
MIN_EXP = -14  # the first bucket holds everything up to 2^-14 s
MAX_EXP = 13  # 2^13 s ≈ 2.3 h; slower values go in the last bucket
BUCKETS = (MAX_EXP - MIN_EXP) * SUB_BUCKETS + 1
PROMETHEUS_EXPONENTS = range(-10, 8)  # le = 2^-10 s (≈1 ms) … 2^7 s (128 s), then +Inf


def _index(seconds: float) -> int:
    if seconds <= 2.0**MIN_EXP:
        return 0
    return min(math.ceil((math.log2(seconds) - MIN_EXP) * SUB_BUCKETS), BUCKETS - 1)


def upper_edge(index: int) -> float:
    return 2.0 ** (MIN_EXP + index / SUB_BUCKETS)


class LatencyHistogram:
    __slots__ = ("counts", "count", "total", "min", "max")

    def __init__(self) -> None:
        self.counts = [0] * BUCKETS
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = 0.0

    def record(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        self.counts[_index(seconds)] += 1
        self.count += 1
        self.total += seconds
        self.min = min(self.min, seconds)
        self.max = max(self.max, seconds)

    def merge(self, other: LatencyHistogram) -> None:
        for i, n in enumerate(other.counts):
            self.counts[i] += n
        self.count += other.count
        self.total += other.total
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def quantile(self, q: float) -> float | None:
        """The value below which a fraction `q` of the recorded values lie: the geometric middle of its bucket,
        clamped to the exact min and max seen. None when nothing was recorded."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for i, n in enumerate(self.counts):
            seen += n
            if seen >= rank:
                middle = upper_edge(i) * 2.0 ** (-0.5 / SUB_BUCKETS) if i else upper_edge(0)
                return min(max(middle, self.min), self.max)
        return self.max  # unreachable: the counts sum to count

    def cumulative(self, exponents: Iterable[int] = PROMETHEUS_EXPONENTS) -> list[tuple[float, int]]:
        """(le, values ≤ le) at each 2^e seconds, ending with (+inf, count): Prometheus histogram buckets."""
        out: list[tuple[float, int]] = []
        seen, i = 0, 0
        for e in exponents:
            last = (e - MIN_EXP) * SUB_BUCKETS  # the fine bucket whose upper edge is 2^e
            while i <= last and i < BUCKETS:
                seen += self.counts[i]
                i += 1
            out.append((2.0**e, seen))
        out.append((math.inf, self.count))
        return out

    def summary(self) -> dict[str, float | int | None]:
        """Count, mean and p50/p95/p99/max in seconds, rounded to 0.1 ms, as the JSON views show them."""

        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {"count": self.count, "mean": r(self.total / self.count) if self.count else None,
                "p50": r(self.quantile(0.5)), "p95": r(self.quantile(0.95)), "p99": r(self.quantile(0.99)),
                "max": r(self.max) if self.count else None}
