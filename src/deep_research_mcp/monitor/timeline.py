"""One run's timeline: every model call, tool call and summary with its start, end, service, stage, researcher
(lane) and outcome, bounded, plus the run's totals, its critical-path floor, and the ratio of wall time to it.

The lane is a context variable: a researcher sets it in its own task (`open_lane`), so the model calls, tool calls
and summaries it awaits, in whatever sub-tasks, are drawn in its lane; everything else is in lane "run".

The critical path is found backwards from the timeline alone: each call's predecessor is the call that ended last
before it started (what it was, at the latest, waiting for); the path is the chain that ends with the run's last
call, and the floor is its summed latency. Not the longest chain anywhere: with parallel researchers, one that
finished early may have a longer chain than the one the writer waited for, and a path ending there ends mid-run.
With every call taking its nominal latency this is exactly the bench's floor formula, queueing included: a
researcher that waited for a slot starts after the one whose end freed it. The floor leaves out the engine's own
time between calls, so wall / floor says how much the engine adds.
"""

from __future__ import annotations

import bisect
import contextlib
import time
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .outcomes import ERROR_KINDS, outcome_of

if TYPE_CHECKING:
    from types import TracebackType

    from .metrics import Monitor

RUN_LANE = "run"
_lane: ContextVar[str] = ContextVar("deep_research_lane", default=RUN_LANE)


@dataclass(slots=True)
class Span:
    kind: str  # "model" | "tool"
    name: str  # the stage of a model call, the tool's name for a tool call
    stage: str
    service: str
    lane: str
    start: float  # seconds since the run started
    end: float
    outcome: str = "ok"  # "ok", an error kind, "cancelled" or "cache_hit"
    input_tokens: int = 0
    output_tokens: int = 0
    critical: bool = False

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["start"], out["end"] = round(self.start, 4), round(self.end, 4)
        return out


@dataclass(slots=True)
class Lane:
    id: str
    label: str
    queued: float
    started: float | None = None
    ended: float | None = None
    ok: bool | None = None


@dataclass(slots=True)
class Totals:
    calls: int = 0
    errors: int = 0
    seconds: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None

    def add_cost(self, cost: float | None) -> None:
        if cost is not None:
            self.cost_usd = (self.cost_usd or 0.0) + cost

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["seconds"] = round(self.seconds, 4)
        if self.cost_usd is not None:
            out["cost_usd"] = round(self.cost_usd, 6)
        return out


_NOTHING = contextlib.nullcontext()


class RunRecorder:
    """Records one run's calls into its timeline and into the process's `Monitor`. With `monitor=None` (monitoring
    off) every method returns at once and `finish()` gives {}."""

    def __init__(self, monitor: Monitor | None, run_id: str, *, max_spans: int) -> None:
        self.monitor = monitor
        self.run_id = run_id
        self.max_spans = max_spans
        self.t0 = time.perf_counter()
        self.started_at = time.time()
        self.spans: list[Span] = []
        self.dropped = 0
        self.lanes: dict[str, Lane] = {}
        self.by_service: dict[str, Totals] = {}
        self.by_stage: dict[str, Totals] = {}
        self._pending: Span | None = None  # a model call that succeeded, waiting for its usage (see `usage`)
        self._services: dict[str, str] = {}  # the model's name -> its service, for hits and fallbacks
        self.finished: dict[str, Any] | None = None
        self.trace_parent: Any = None  # the OpenTelemetry context the run began in (otel.py), when tracing

    @property
    def enabled(self) -> bool:
        return self.monitor is not None

    def now(self) -> float:
        return time.perf_counter() - self.t0

    # --- hooks ---

    def model(self, name: str, identity: str, stage: str) -> contextlib.AbstractAsyncContextManager[Any]:
        """Around one attempt of a model call (see llm.usage.observe_model)."""
        if self.monitor is None:
            return _NOTHING
        service = self._services.get(name)
        if service is None:
            service = self._services[name] = service_name(identity or name)
        return _Observed(self, "model", stage, stage, service)

    def tool(self, name: str, origin: str) -> contextlib.AbstractAsyncContextManager[Any]:
        """Around one research tool call; `origin` is its upstream server or, for a built-in tool, its name."""
        if self.monitor is None:
            return _NOTHING
        return _Observed(self, "tool", name, "tool", origin)

    def open_lane(self, topic: str) -> str:
        """A new researcher lane, queued now; the calling task (and its sub-tasks) draw into it from here on."""
        if self.monitor is None:
            return RUN_LANE
        lane = f"R{len(self.lanes) + 1}"
        self.lanes[lane] = Lane(lane, topic[:200], self.now())
        _lane.set(lane)  # the researcher runs in a task of its own, so this ends with it
        return lane

    def lane_started(self, lane: str) -> None:
        if self.monitor is not None and lane in self.lanes:
            record = self.lanes[lane]
            record.started = self.now()
            self.monitor.stage("researcher").queue_wait.record(record.started - record.queued)

    def lane_finished(self, lane: str, ok: bool) -> None:
        if self.monitor is not None and lane in self.lanes:
            self.lanes[lane].ended, self.lanes[lane].ok = self.now(), ok

    def usage(self, stage: str, model: str, input_tokens: int, output_tokens: int, cost: float | None,
              seconds: float) -> None:
        """A model call's usage, as the run's meter records it. It follows the attempt that produced it with no
        await in between, so `_pending` is that attempt; with none pending it was the offline fallback taking a
        step (not observed as an attempt), drawn here from its duration."""
        if self.monitor is None:
            return
        span, self._pending = self._pending, None
        if span is None or span.stage != stage:
            end = self.now()
            span = Span("model", stage, stage, self._services.get(model, model), _lane.get(), end - seconds, end)
            self._opened(span)
            self._closed(span)
        span.input_tokens, span.output_tokens = input_tokens, output_tokens
        for totals in (self.by_service[span.service], self.by_stage[stage]):
            totals.input_tokens += input_tokens
            totals.output_tokens += output_tokens
            totals.add_cost(cost)
        for stats in (self.monitor.service(span.service, "model"), self.monitor.stage(stage)):
            stats.used(input_tokens, output_tokens, cost)

    def cache_hit(self, stage: str, model: str) -> None:
        if self.monitor is None:
            return
        at = self.now()
        service = self._services.get(model, model)
        self._keep(Span("model", stage, stage, service, _lane.get(), at, at, "cache_hit"))
        self.monitor.service(service, "model").cache_hits += 1
        self.monitor.stage(stage).cache_hits += 1

    # --- bookkeeping ---

    def _opened(self, span: Span) -> None:
        assert self.monitor is not None
        self.monitor.service(span.service, span.kind).in_flight += 1
        self.monitor.stage(span.stage).in_flight += 1

    def _closed(self, span: Span) -> None:
        assert self.monitor is not None
        seconds = span.seconds
        self.monitor.service(span.service, span.kind).finished(seconds, span.outcome)
        self.monitor.stage(span.stage).finished(seconds, span.outcome)
        if span.outcome != "cancelled":
            for totals in (self.by_service.setdefault(span.service, Totals()),
                           self.by_stage.setdefault(span.stage, Totals())):
                totals.calls += 1
                totals.seconds += seconds
                totals.errors += span.outcome in ERROR_KINDS
        self._keep(span)
        if self.monitor.on_span is not None:
            self.monitor.on_span(self, span)

    def _keep(self, span: Span) -> None:
        if len(self.spans) < self.max_spans:
            self.spans.append(span)
        else:
            self.dropped += 1

    def finish(self) -> dict[str, Any]:
        """The run's timeline as JSON-ready data (idempotent: a second call returns the first's)."""
        if self.monitor is None:
            return {}
        if self.finished is not None:
            return self.finished
        self.monitor.closed(self.run_id)
        wall = self.now()
        floor = mark_critical_path(self.spans)
        totals = Totals()
        for part in self.by_stage.values():
            totals.calls += part.calls
            totals.errors += part.errors
            totals.seconds += part.seconds
            totals.input_tokens += part.input_tokens
            totals.output_tokens += part.output_tokens
            totals.add_cost(part.cost_usd)
        self.finished = {
            "run_id": self.run_id,
            "started_at": self.started_at,
            "wall_s": round(wall, 4),
            "floor_s": round(floor, 4),
            "ratio": round(wall / floor, 4) if floor > 0 else None,
            "max_spans": self.max_spans,
            "dropped": self.dropped,  # spans past max_spans: counted in the totals, not kept or on the path
            "totals": {**totals.as_dict(), "model_calls": sum(
                1 for s in self.spans if s.kind == "model" and s.outcome != "cache_hit"),
                       "tool_calls": sum(1 for s in self.spans if s.kind == "tool")},
            "by_service": {k: v.as_dict() for k, v in sorted(self.by_service.items())},
            "by_stage": {k: v.as_dict() for k, v in sorted(self.by_stage.items())},
            "lanes": [{"id": RUN_LANE, "label": "scope, supervisor, report"},
                      *({k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(lane).items()}
                        for lane in self.lanes.values())],
            "spans": [s.as_dict() for s in self.spans],
        }
        self.monitor.runs_finished += 1
        if self.monitor.on_run is not None:
            self.monitor.on_run(self, self.finished)
        return self.finished


class _Observed:
    """One call as an async context manager; its exception (if any) decides the outcome and is never swallowed.

    Nothing here awaits, so entering and leaving cost no event-loop turn."""

    __slots__ = ("recorder", "span")

    def __init__(self, recorder: RunRecorder, kind: str, name: str, stage: str, service: str) -> None:
        self.recorder = recorder
        self.span = Span(kind, name, stage, service, _lane.get(), 0.0, 0.0)

    async def __aenter__(self) -> Span:
        self.span.start = self.recorder.now()
        self.recorder._opened(self.span)
        return self.span

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        span = self.span
        span.end = self.recorder.now()
        span.outcome = outcome_of(exc)
        self.recorder._closed(span)
        if span.kind == "model" and span.outcome == "ok":
            self.recorder._pending = span


def mark_critical_path(spans: list[Span]) -> float:
    """Mark the chain of awaited calls that ends the run (see the module docstring); return its summed latency."""
    calls = [s for s in spans if s.outcome != "cancelled"]
    if not calls:
        return 0.0
    by_end = sorted(range(len(calls)), key=lambda i: calls[i].end)
    ends = [calls[i].end for i in by_end]
    best: dict[int, float] = {}
    previous: dict[int, int | None] = {}
    for position, i in enumerate(by_end):  # in order of end: a predecessor ends before, so it is done first
        span = calls[i]
        # The latest end at or before this call's start; a call never precedes itself (it ends after it starts).
        k = bisect.bisect_right(ends, span.start + 1e-9, 0, position) - 1
        j = by_end[k] if k >= 0 else None
        previous[i] = j
        best[i] = span.seconds + (best[j] if j is not None else 0.0)
    last: int | None = by_end[-1]
    floor = best[last]
    while last is not None:
        calls[last].critical = True
        last = previous[last]
    return floor


def service_name(identity: str) -> str:
    """"provider:model" or "provider:model@base_url" as it may be shown: no credentials, query or fragment."""
    name, at, url = identity.partition("@")
    if not at:
        return name
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{name}@{parts._replace(netloc=host, query='', fragment='').geturl()}".rstrip("/")
