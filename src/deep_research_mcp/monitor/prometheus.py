"""The monitor in the Prometheus text format, through `prometheus-client`.

A custom collector reads the `Monitor` at scrape time, so recording a call costs nothing extra for Prometheus. It
sits in a `CollectorRegistry` of its own per server: the library's global registry would mix in every other
server in the process (tests run several) and the process/platform collectors we did not ask for.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from .metrics import CallStats, Monitor

PREFIX = "deep_research"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class MonitorCollector(Collector):
    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[Metric]:
        monitor = self.monitor
        done = CounterMetricFamily(f"{PREFIX}_runs_finished", "Research runs finished with a result")
        done.add_metric([], monitor.runs_finished)
        yield done
        for scope, table in (("service", monitor.services), ("stage", monitor.stages)):
            yield from _families(scope, table)
        limits = GaugeMetricFamily(f"{PREFIX}_service_limit_gauge", "Per-service gauges of the concurrency limiter",
                                   labels=["service", "gauge"])
        for service, gauges in sorted(monitor.extra_gauges().items()):
            for gauge, value in sorted(gauges.items()):
                if isinstance(value, int | float):  # names, states and times of day stay in the JSON snapshot
                    limits.add_metric([service, gauge], float(value))
        yield limits


def _families(scope: str, table: dict[str, CallStats]) -> Iterator[Metric]:
    labels = [scope, "kind"] if scope == "service" else [scope]

    def key(name: str, stats: CallStats) -> list[str]:
        return [name, stats.kind] if scope == "service" else [name]

    calls = CounterMetricFamily(f"{PREFIX}_{scope}_calls", f"Finished calls per {scope}", labels=labels)
    errors = CounterMetricFamily(f"{PREFIX}_{scope}_errors", f"Failed calls per {scope} and error kind",
                                 labels=[*labels, "error"])
    hits = CounterMetricFamily(f"{PREFIX}_{scope}_cache_hits", f"Calls answered from the cache per {scope}",
                               labels=labels)
    in_flight = GaugeMetricFamily(f"{PREFIX}_{scope}_in_flight", f"Calls under way per {scope}", labels=labels)
    tokens = CounterMetricFamily(f"{PREFIX}_{scope}_tokens", f"Model tokens per {scope} and direction",
                                 labels=[*labels, "direction"])
    cost = CounterMetricFamily(f"{PREFIX}_{scope}_cost_usd", f"Known model cost per {scope}", labels=labels)
    latency = HistogramMetricFamily(f"{PREFIX}_{scope}_latency_seconds", f"Call latency per {scope}",
                                    labels=labels)
    queue = HistogramMetricFamily(f"{PREFIX}_{scope}_queue_wait_seconds", f"Wait for a slot per {scope}",
                                  labels=labels)
    for name, stats in sorted(table.items()):
        values = key(name, stats)
        calls.add_metric(values, stats.calls)
        for kind, n in stats.errors.items():
            errors.add_metric([*values, kind], n)
        hits.add_metric(values, stats.cache_hits)
        in_flight.add_metric(values, stats.in_flight)
        tokens.add_metric([*values, "input"], stats.input_tokens)
        tokens.add_metric([*values, "output"], stats.output_tokens)
        if stats.priced:
            cost.add_metric(values, stats.cost_usd)
        latency.add_metric(values, _buckets(stats.latency.cumulative()), stats.latency.total)
        if stats.queue_wait.count:
            queue.add_metric(values, _buckets(stats.queue_wait.cumulative()), stats.queue_wait.total)
    yield from (calls, errors, hits, in_flight, tokens, cost, latency, queue)


def _buckets(cumulative: list[tuple[float, int]]) -> list[tuple[str, Any]]:
    return [("+Inf" if le == float("inf") else repr(le), count) for le, count in cumulative]


def registry_for(monitor: Monitor) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MonitorCollector(monitor))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
