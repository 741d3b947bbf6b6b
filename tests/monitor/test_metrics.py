"""The process-wide metrics: error kinds, the limiter hook, and the Prometheus text from a private registry."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

from deep_research_mcp.errors import ProviderConnectionError, ProviderHTTPError, ProviderTimeout
from deep_research_mcp.monitor import Monitor, outcome_of
from deep_research_mcp.monitor.prometheus import registry_for, render


def test_outcomes_are_the_error_kinds_people_ask_about() -> None:
    assert outcome_of(None) == "ok"
    assert outcome_of(ProviderHTTPError("x", status=429)) == "429"
    assert outcome_of(ProviderHTTPError("x", status=503)) == "5xx"
    assert outcome_of(ProviderHTTPError("x", status=400)) == "other"
    assert outcome_of(ProviderTimeout("x")) == outcome_of(TimeoutError()) == "timeout"
    assert outcome_of(ProviderConnectionError("x")) == "other"
    assert outcome_of(asyncio.CancelledError()) == "cancelled"


async def test_calls_in_flight_and_limiter_gauges_reach_the_snapshot_and_prometheus() -> None:
    monitor = Monitor()
    monitor.add_gauges(lambda: {"openai:gpt-4.1": {"limit": 8, "in_flight": 1, "queued": 2, "state": "closed",
                                                   "paused_until": None}})
    monitor.add_gauges(lambda: 1 / 0)  # type: ignore[arg-type,return-value]  # a broken source is logged, skipped
    recorder = monitor.recorder("run-1")
    async with recorder.model("openai:gpt-4.1", "", "report"):
        during = monitor.snapshot()["services"]["openai:gpt-4.1"]
        assert during["in_flight"] == 1 and during["limits"]["queued"] == 2 and during["limits"]["state"] == "closed"
    recorder.usage("report", "openai:gpt-4.1", 1_000, 200, 0.0036, 0.0)
    with pytest.raises(TimeoutError):
        async with recorder.tool("fetch", "fetch-server"):
            raise TimeoutError
    snapshot = monitor.snapshot()
    model, tool = snapshot["services"]["openai:gpt-4.1"], snapshot["services"]["fetch-server"]
    assert model["in_flight"] == 0 and model["calls"] == 1 and model["cost_usd"] == pytest.approx(0.0036)
    assert tool["kind"] == "tool" and tool["errors"]["timeout"] == 1 and tool["error_rate"] == 1.0
    assert snapshot["stages"]["report"]["output_tokens"] == 200

    families = {f.name: f for f in text_string_to_metric_families(render(registry_for(monitor)).decode())}
    assert "python_gc_objects_collected" not in families and "process_cpu_seconds" not in families
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    assert samples[("deep_research_service_calls_total", (("kind", "model"), ("service", "openai:gpt-4.1")))] == 1
    assert samples[("deep_research_service_errors_total",
                    (("error", "timeout"), ("kind", "tool"), ("service", "fetch-server")))] == 1
    assert samples[("deep_research_service_tokens_total",
                    (("direction", "input"), ("kind", "model"), ("service", "openai:gpt-4.1")))] == 1_000
    assert samples[("deep_research_service_limit_gauge",
                    (("gauge", "queued"), ("service", "openai:gpt-4.1")))] == 2
    assert samples[("deep_research_stage_latency_seconds_count", (("stage", "tool"),))] == 1
