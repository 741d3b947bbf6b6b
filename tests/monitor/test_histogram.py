"""The streaming latency histogram against exact percentiles and exact Prometheus buckets."""

from __future__ import annotations

import math
import random

from deep_research_mcp.monitor import LatencyHistogram


def exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def test_percentiles_are_within_the_bucket_error_across_six_decades() -> None:
    rng = random.Random(7)
    values = [10 ** rng.uniform(-4, 2) for _ in range(20_000)]  # 0.1 ms … 100 s, log-uniform
    histogram = LatencyHistogram()
    for v in values:
        histogram.record(v)
    for q in (0.5, 0.95, 0.99):
        estimate = histogram.quantile(q)
        assert estimate is not None
        assert abs(estimate / exact(values, q) - 1) < 0.05, q
    assert histogram.count == len(values) and math.isclose(histogram.total, sum(values))
    assert histogram.quantile(1.0) == max(values) and histogram.quantile(0.0) == min(values)


def test_prometheus_buckets_are_exact_counts_at_powers_of_two() -> None:
    values = [0.0, 0.0004, 0.001, 0.0009765625, 0.5, 0.5000001, 1.0, 3.0, 127.0, 500.0]
    histogram = LatencyHistogram()
    for v in values:
        histogram.record(v)
    buckets = histogram.cumulative()
    assert buckets[-1] == (math.inf, len(values))
    for le, count in buckets:
        assert count == sum(1 for v in values if v <= le), le
    assert histogram.summary()["count"] == len(values)


def test_an_empty_histogram_has_no_percentiles() -> None:
    histogram = LatencyHistogram()
    assert histogram.quantile(0.5) is None
    assert histogram.summary() == {"count": 0, "mean": None, "p50": None, "p95": None, "p99": None, "max": None}
    other = LatencyHistogram()
    other.record(0.25)
    histogram.merge(other)
    assert histogram.quantile(0.99) == 0.25
