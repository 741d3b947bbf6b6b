"""Run timelines: the critical path on hand-made call graphs, and a scripted run's timeline through the real SDKs."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from deep_research_mcp.engine.config import EngineConfig
from deep_research_mcp.engine.run import ResearchEngine
from deep_research_mcp.llm.factory import ModelHub
from deep_research_mcp.llm.scripted import FailureRule, Scenario, ScriptedLLMServer
from deep_research_mcp.monitor import Monitor, Span, mark_critical_path, service_name
from deep_research_mcp.tools.base import ResearchTool

from ..engine.conftest import QUESTION, corpus, test_settings


def span(lane: str, start: float, end: float, kind: str = "model") -> Span:
    return Span(kind, "x", "x", "svc", lane, start, end)


def test_parallel_lanes_floor_is_the_longest_lane_plus_what_surrounds_them() -> None:
    spans = [span("run", 0, 2), *(span(f"R{i}", 2, 2 + i) for i in (1, 2, 3)), span("R3", 5, 6, "tool"),
             span("run", 6.001, 8)]
    floor = mark_critical_path(spans)
    assert floor == pytest.approx(2 + 3 + 1 + 1.999)
    assert [s.critical for s in spans] == [True, False, False, True, True, True]


def test_queued_lanes_chain_through_the_slot_they_waited_for() -> None:
    # Concurrency 1: R2 starts when R1 ends, after an unrecorded gap (the engine's own time) that is not floor.
    spans = [span("R1", 0, 1), span("R1", 1.1, 2), span("R2", 2.5, 3.5), span("R2", 3.5, 4)]
    assert mark_critical_path(spans) == pytest.approx(1 + 0.9 + 1 + 0.5)
    assert all(s.critical for s in spans)
    assert mark_critical_path([]) == 0.0


def test_the_path_ends_with_the_runs_last_call_even_when_an_earlier_lane_chained_longer() -> None:
    # R1 made four back-to-back calls (3.6 s of latency) and finished at 4.6; R2 started after a gap (the engine's
    # own time), made one call and finished last, so the report waited for R2: the path runs through R2 although
    # R1's chain (4.6 s) is longer than R2's (4.2 s).
    spans = [span("run", 0, 1), *(span("R1", 1 + 0.9 * i, 1.9 + 0.9 * i) for i in range(4)), span("R2", 1.5, 4.7),
             span("run", 4.71, 5)]
    assert mark_critical_path(spans) == pytest.approx(1 + 3.2 + 0.29)
    assert [s.critical for s in spans] == [True, False, False, False, False, True, True]


def test_service_names_never_show_credentials() -> None:
    assert service_name("openai:gpt-4.1") == "openai:gpt-4.1"
    assert (service_name("compatible:llama@http://user:secret@127.0.0.1:8080/v1?key=abc")
            == "compatible:llama@http://127.0.0.1:8080/v1")


class Broken(ResearchTool):
    name = "broken"
    description = "always fails"
    parameters = {"type": "object", "properties": {"query": {"type": "string"}}}

    async def call(self, arguments: dict[str, object]) -> object:
        raise RuntimeError("backend down")


async def test_a_scripted_run_has_every_call_on_its_researchers_lane(server: ScriptedLLMServer) -> None:
    server.scenario = Scenario(topics=3, tool_calls_per_researcher=2,
                               failures=[FailureRule(kind="429", stage="compress", times=1),
                                         FailureRule(kind="500", stage="report", times=1)])
    # A generous call timeout: under load the first call, which also imports the SDK, can take seconds, and a
    # timeout would add a retried attempt to the timeline.
    settings = test_settings(server, allow_clarification=True, call_timeout_s=60.0)
    monitor = Monitor()
    async with ModelHub(settings) as hub:
        engine = ResearchEngine(hub.stage_models(), [corpus()], EngineConfig.from_settings(settings),
                                monitor=monitor)
        result = await engine.run(QUESTION)
    timeline = result.timeline
    json.dumps(timeline)  # stored with the run as JSON
    spans = timeline["spans"]
    model = [s for s in spans if s["kind"] == "model"]
    tools = [s for s in spans if s["kind"] == "tool"]
    # Each attempt is a span: the two injected failures are there with their kind, then the retry that answered.
    answered = Counter(s["stage"] for s in model if s["outcome"] == "ok")
    assert answered == Counter(server.stats.calls_by_stage) - Counter({"compress": 1, "report": 1})
    assert Counter(s["outcome"] for s in model if s["outcome"] != "ok") == {"429": 1, "5xx": 1}
    assert len(tools) == 6 and {s["service"] for s in tools} == {"search_documents"}
    lanes = {lane["id"]: lane for lane in timeline["lanes"]}
    assert set(lanes) == {"run", "R1", "R2", "R3"}
    assert all(lanes[f"R{i}"]["ok"] for i in (1, 2, 3))
    for s in spans:  # researchers' calls in their lanes; scope, supervisor and report in the run's
        assert (s["lane"] == "run") == (s["stage"] in ("clarify", "brief", "supervisor", "report")), s
    per_lane = Counter(s["lane"] for s in tools)
    assert per_lane == {"R1": 2, "R2": 2, "R3": 2}
    assert all(s["input_tokens"] > 0 for s in model if s["outcome"] == "ok")
    # The critical path: one chain, each link ending before the next starts, from the first call to the report.
    path = sorted((s for s in spans if s["critical"]), key=lambda s: s["start"])
    assert path[0]["stage"] == "clarify" and path[-1]["stage"] == "report" and path[-1]["outcome"] == "ok"
    assert all(a["end"] <= b["start"] + 1e-3 for a, b in zip(path, path[1:], strict=False))
    assert timeline["floor_s"] == pytest.approx(sum(s["end"] - s["start"] for s in path), abs=0.01)
    assert 0 < timeline["floor_s"] <= timeline["wall_s"] and timeline["ratio"] >= 1
    # Totals, and the process-wide metrics the same calls went into.
    assert timeline["totals"]["errors"] == 2 and timeline["totals"]["tool_calls"] == 6
    snapshot = monitor.snapshot()
    service = snapshot["services"]["openai:scripted@" + server.openai_base_url.rstrip("/")]
    assert service["kind"] == "model" and service["errors"] == {"429": 1, "5xx": 1, "timeout": 0, "other": 0}
    assert service["calls"] == len(model) and service["in_flight"] == 0 and service["latency_s"]["p99"] is not None
    assert snapshot["stages"]["researcher"]["queue_wait_s"]["count"] == 3
    assert snapshot["runs"] == {"finished": 1}


async def test_failing_tools_count_per_origin_and_the_timeline_is_bounded(server: ScriptedLLMServer) -> None:
    server.scenario = Scenario(topics=2, tool_calls_per_researcher=2)
    settings = test_settings(server)
    monitor = Monitor(max_spans=5)
    broken = Broken()
    async with ModelHub(settings) as hub:
        engine = ResearchEngine(hub.stage_models(), [broken, corpus()], EngineConfig.from_settings(settings),
                                monitor=monitor)
        result = await engine.run(QUESTION)
    timeline = result.timeline
    assert len(timeline["spans"]) == 5 and timeline["dropped"] > 0
    # The totals still count every call, kept or not.
    assert timeline["totals"]["calls"] == len(timeline["spans"]) + timeline["dropped"]
    assert monitor.snapshot()["services"]["broken"]["errors"]["other"] == 4


async def test_monitor_off_records_nothing(server: ScriptedLLMServer) -> None:
    server.scenario = Scenario(topics=1, tool_calls_per_researcher=1)
    settings = test_settings(server)
    monitor = Monitor(enabled=False)
    async with ModelHub(settings) as hub:
        engine = ResearchEngine(hub.stage_models(), [corpus()], EngineConfig.from_settings(settings),
                                monitor=monitor)
        result = await engine.run(QUESTION)
    assert result.status == "completed" and result.timeline == {}
    assert monitor.snapshot()["services"] == {} and monitor.snapshot()["runs"]["finished"] == 0

