"""OpenTelemetry traces of each run: a span per run, per researcher, per model call and per tool call.

Imported only when DEEP_RESEARCH_OTLP_ENDPOINT is set (Monitor.from_settings), and then only if the SDK is
installed (`pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http`); otherwise nothing of it is
imported and nothing is sent.

The spans are made when the run finishes, from its timeline, with the calls' own start and end times: recording a
call stays as cheap with tracing as without. The run's span is a child of whatever span was current when the run
began: under the MCP server that is the SDK's span for the `research` request, which carries the `traceparent`
a client sent in the request's `_meta`, so a client's trace continues into the research.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

    from .metrics import Monitor
    from .timeline import RunRecorder

log = logging.getLogger(__name__)


def install(monitor: Monitor, endpoint: str | None = None, *, exporter: SpanExporter | None = None) -> bool:
    """Trace `monitor`'s runs to the OTLP/HTTP `endpoint` (or to `exporter`). False when the SDK is missing."""
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=endpoint)
            processor: Any = BatchSpanProcessor(exporter)  # exports off the event loop, in its own thread
        else:
            processor = SimpleSpanProcessor(exporter)
    except ImportError as exc:
        log.warning("DEEP_RESEARCH_OTLP_ENDPOINT is set but the OpenTelemetry SDK is not installed (%s): no traces "
                    "are sent; pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http", exc.name)
        return False
    provider = TracerProvider(resource=Resource.create({"service.name": "deep-research-mcp"}))
    provider.add_span_processor(processor)
    if not hasattr(trace.get_tracer_provider(), "add_span_processor"):
        # No SDK provider yet: ours becomes the process's, so the MCP SDK's request spans are sent too.
        trace.set_tracer_provider(provider)
    tracer = provider.get_tracer("deep_research_mcp")
    monitor.on_start = lambda recorder: _remember_parent(recorder)
    monitor.on_run = lambda recorder, timeline: _emit(tracer, recorder, timeline)
    return True


def _remember_parent(recorder: RunRecorder) -> None:
    recorder.trace_parent = otel_context.get_current()


def _emit(tracer: trace.Tracer, recorder: RunRecorder, timeline: dict[str, Any]) -> None:
    def ns(offset_s: float | None) -> int:
        return int((recorder.started_at + (offset_s or 0.0)) * 1e9)

    parent = getattr(recorder, "trace_parent", None)
    run = tracer.start_span("research run", context=parent, start_time=ns(0.0),
                            attributes={"deep_research.run_id": recorder.run_id,
                                        "deep_research.floor_s": timeline["floor_s"],
                                        "deep_research.wall_s": timeline["wall_s"]})
    in_run = trace.set_span_in_context(run)
    lanes: dict[str, Any] = {}
    for lane in timeline["lanes"][1:]:
        span = tracer.start_span(f"researcher {lane['id']}", context=in_run, start_time=ns(lane["queued"]),
                                 attributes={"deep_research.topic": lane["label"],
                                             "deep_research.queue_wait_s": (lane["started"] or lane["queued"])
                                             - lane["queued"]})
        lanes[lane["id"]] = (span, lane)
    for call in timeline["spans"]:
        owner = lanes.get(call["lane"])
        where = trace.set_span_in_context(owner[0]) if owner else in_run
        kind = "chat" if call["kind"] == "model" else "execute_tool"
        span = tracer.start_span(f"{kind} {call['name']}", context=where, start_time=ns(call["start"]),
                                 kind=trace.SpanKind.CLIENT, attributes={
                                     "gen_ai.operation.name": kind, "deep_research.service": call["service"],
                                     "deep_research.stage": call["stage"], "deep_research.outcome": call["outcome"],
                                     "deep_research.critical": call["critical"],
                                     "gen_ai.usage.input_tokens": call["input_tokens"],
                                     "gen_ai.usage.output_tokens": call["output_tokens"]})
        if call["outcome"] not in ("ok", "cache_hit"):
            span.set_status(trace.StatusCode.ERROR, call["outcome"])
        span.end(end_time=ns(call["end"]))
    for span, lane in lanes.values():
        span.end(end_time=ns(lane["ended"] if lane["ended"] is not None else timeline["wall_s"]))
    run.end(end_time=ns(timeline["wall_s"]))
