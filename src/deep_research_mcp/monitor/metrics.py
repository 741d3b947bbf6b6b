"""The process-wide performance monitor: calls, errors by kind, in flight, queue wait, latency, tokens and cost, per
service and per stage.

A service is what a call waits on: a model endpoint ("provider:model", with "@base_url" when not the provider's
default) or a research tool's origin (an upstream MCP server's name, or a built-in tool's). A stage is the engine's
step (clarify, brief, supervisor, researcher, summarize, compress, report) or "tool" for tool calls.

One `Monitor` per server (or CLI run), owned by the engine; every run records into it through its `RunRecorder`
(see timeline.py). Everything runs on the event loop, so plain counters need no locks.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .histogram import LatencyHistogram
from .outcomes import ERROR_KINDS

if TYPE_CHECKING:
    from .timeline import RunRecorder, Span

log = logging.getLogger(__name__)

DEFAULT_MAX_SPANS = 1_000

# Extra per-service figures from elsewhere (e.g. a concurrency limiter's {"limit": 8, "in_flight": 3, "queued": 0}),
# shown beside the monitor's own numbers, keyed by service name: all of them in the JSON snapshot, the numeric ones
# as Prometheus gauges.
GaugeSource = Callable[[], Mapping[str, Mapping[str, Any]]]


@dataclass(slots=True)
class CallStats:
    kind: str = ""  # "model" or "tool" for a service; "" for a stage (a stage can mix both)
    calls: int = 0  # finished calls, whatever their outcome
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ERROR_KINDS, 0))
    cancelled: int = 0
    cache_hits: int = 0
    in_flight: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    queue_wait: LatencyHistogram = field(default_factory=LatencyHistogram)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    priced: bool = False  # some call had a known price: cost_usd means something

    def finished(self, seconds: float, outcome: str) -> None:
        self.in_flight -= 1
        if outcome == "cancelled":
            self.cancelled += 1
            return
        self.calls += 1
        self.latency.record(seconds)
        if outcome in self.errors:
            self.errors[outcome] += 1

    def used(self, input_tokens: int, output_tokens: int, cost_usd: float | None) -> None:
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        if cost_usd is not None:
            self.cost_usd += cost_usd
            self.priced = True

    def snapshot(self) -> dict[str, Any]:
        failed = sum(self.errors.values())
        return {
            **({"kind": self.kind} if self.kind else {}),
            "calls": self.calls, "errors": dict(self.errors), "error_rate": round(failed / self.calls, 4)
            if self.calls else 0.0, "cancelled": self.cancelled, "cache_hits": self.cache_hits,
            "in_flight": self.in_flight, "latency_s": self.latency.summary(),
            **({"queue_wait_s": self.queue_wait.summary()} if self.queue_wait.count else {}),
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "cost_usd": round(self.cost_usd, 6) if self.priced else None,
        }


MAX_OPEN_RECORDERS = 256  # runs in progress whose timeline a failure could still need


class Monitor:
    """Per-service and per-stage call metrics for one process, and the factory of each run's recorder.

    `enabled=False` turns every recorder into a no-op (the bench's "monitor off" side). `max_spans` bounds each
    run's timeline. `on_start`/`on_span`/`on_run`, when set (see otel.py), see each run begin, each finished call
    and each finished run."""

    def __init__(self, *, enabled: bool = True, max_spans: int = DEFAULT_MAX_SPANS) -> None:
        self.enabled = enabled
        self.max_spans = max_spans
        self.services: dict[str, CallStats] = {}
        self.stages: dict[str, CallStats] = {}
        self.runs_finished = 0  # runs whose timeline is done (clarify-only calls are not runs, so no "started")
        self.started_at = time.time()
        self._gauges: list[GaugeSource] = []
        # Recorders of runs not finished yet, by run id: a run that fails or is cancelled never reaches the engine's
        # finish, and its timeline is what shows why (taken with `timeline_of`). Bounded: the oldest go first.
        self._open: OrderedDict[str, RunRecorder] = OrderedDict()
        self.on_start: Callable[[RunRecorder], None] | None = None
        self.on_span: Callable[[RunRecorder, Span], None] | None = None
        self.on_run: Callable[[RunRecorder, dict[str, Any]], None] | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> Monitor:
        monitor = cls(enabled=settings.monitor_enabled, max_spans=settings.timeline_max_spans)
        if monitor.enabled and settings.otlp_endpoint:
            from .otel import install  # only now: the OpenTelemetry SDK is optional and heavy

            install(monitor, settings.otlp_endpoint)
        return monitor

    def recorder(self, run_id: str) -> RunRecorder:
        from .timeline import RunRecorder

        recorder = RunRecorder(self if self.enabled else None, run_id, max_spans=self.max_spans)
        if self.enabled:
            self._open[run_id] = recorder
            while len(self._open) > MAX_OPEN_RECORDERS:
                self._open.popitem(last=False)
            if self.on_start is not None:
                self.on_start(recorder)
        return recorder

    def closed(self, run_id: str) -> None:
        """A run's timeline is done (RunRecorder.finish)."""
        self._open.pop(run_id, None)

    def timeline_of(self, run_id: str) -> dict[str, Any]:
        """The timeline of a run that ended without the engine finishing it (failed, cancelled, interrupted), as
        far as it went; {} when there is none."""
        recorder = self._open.pop(run_id, None)
        return recorder.finish() if recorder is not None else {}

    def add_gauges(self, source: GaugeSource) -> None:
        """Show `source()`'s numbers under each service it names (a service not seen yet appears with them)."""
        self._gauges.append(source)

    def service(self, name: str, kind: str) -> CallStats:
        stats = self.services.get(name)
        if stats is None:
            stats = self.services[name] = CallStats(kind=kind)
        return stats

    def stage(self, name: str) -> CallStats:
        stats = self.stages.get(name)
        if stats is None:
            stats = self.stages[name] = CallStats()
        return stats

    def extra_gauges(self) -> dict[str, dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for source in self._gauges:
            try:
                for service, gauges in source().items():
                    merged.setdefault(service, {}).update(gauges)
            except Exception:  # a broken gauge source must not take the metrics page down with it
                log.exception("a monitor gauge source failed")
        return merged

    def snapshot(self) -> dict[str, Any]:
        services = {name: stats.snapshot() for name, stats in sorted(self.services.items())}
        for name, gauges in self.extra_gauges().items():
            services.setdefault(name, {"kind": ""})["limits"] = gauges
        return {
            "uptime_s": round(time.time() - self.started_at, 1),
            "runs": {"finished": self.runs_finished},
            "services": services,
            "stages": {name: stats.snapshot() for name, stats in sorted(self.stages.items())},
        }
