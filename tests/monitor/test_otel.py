"""The optional OpenTelemetry traces: nothing of them is imported unless an OTLP endpoint is set; with the SDK, a
run's timeline becomes a span tree under the span the run began in (the MCP request's, which carries a client's
`traceparent`)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from deep_research_mcp.monitor import Monitor
from deep_research_mcp.settings import Settings

from .conftest import record_one_researcher

# The engine and the monitor as a run uses them (the MCP SDK itself imports the OpenTelemetry API, not the SDK).
NOT_IMPORTED = """
import sys
from deep_research_mcp.engine import run
from deep_research_mcp.monitor import Monitor
from deep_research_mcp.settings import Settings
Monitor.from_settings(Settings()).recorder("r").finish()
print(sorted(m for m in sys.modules if m.startswith("opentelemetry") or m == "deep_research_mcp.monitor.otel"))
"""


def test_nothing_of_opentelemetry_is_imported_without_an_endpoint() -> None:
    done = subprocess.run([sys.executable, "-c", NOT_IMPORTED], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_an_endpoint_without_the_sdk_is_a_warning_not_a_failure(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.resources", None)  # as if not installed
    with caplog.at_level(logging.WARNING):
        monitor = Monitor.from_settings(Settings(otlp_endpoint="http://127.0.0.1:4318/v1/traces"))
    assert monitor.on_run is None and "OpenTelemetry SDK is not installed" in caplog.text


async def test_a_runs_spans_nest_under_the_span_it_began_in() -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from deep_research_mcp.monitor.otel import install

    exporter = InMemorySpanExporter()
    monitor = Monitor()
    assert install(monitor, exporter=exporter)
    request_tracer = TracerProvider().get_tracer("client")
    with request_tracer.start_as_current_span("tools/call research") as request:  # the MCP SDK's request span
        recorder = monitor.recorder("run-1")
    await record_one_researcher(recorder, tool_s=0.001)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"research run", "researcher R1", "chat researcher", "execute_tool search_documents"}
    run, researcher = spans["research run"], spans["researcher R1"]
    assert run.parent is not None and run.parent.span_id == request.get_span_context().span_id
    assert run.context.trace_id == request.get_span_context().trace_id
    assert researcher.parent.span_id == run.context.span_id
    assert spans["chat researcher"].parent.span_id == researcher.context.span_id
    assert spans["chat researcher"].status.status_code == trace.StatusCode.ERROR
    assert spans["execute_tool search_documents"].attributes["deep_research.service"] == "search_documents"
    assert run.start_time <= researcher.start_time <= spans["chat researcher"].start_time <= run.end_time
