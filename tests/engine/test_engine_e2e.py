"""The engine end to end: real OpenAI/Anthropic SDKs → real HTTP → the scripted LLM server."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from deep_research_mcp.engine.events import Event
from deep_research_mcp.errors import InputError, ProviderConnectionError
from deep_research_mcp.llm.scripted import FailureRule, Scenario, ScriptedLLMServer

from .conftest import QUESTION, EngineFactory, corpus

WIRES = ["openai", "anthropic"]


def source_locators(report: str) -> list[str]:
    section = report.split("## Sources", 1)[1]
    return re.findall(r"\]\((https?://[^)]+)\)", section)


@pytest.mark.parametrize("wire", WIRES)
async def test_full_run_writes_a_cited_report(server: ScriptedLLMServer, make_engine: EngineFactory, wire: str) -> None:
    server.scenario = Scenario(topics=3, tool_calls_per_researcher=2)
    events: list[Event] = []
    async with make_engine(wire=wire) as engine:
        result = await engine.run(QUESTION, on_event=events.append)
    assert result.status == "completed"
    assert result.brief.startswith("I want to know")
    assert [u.ok for u in result.units] == [True, True, True]
    assert all(u.tool_calls == 2 for u in result.units)
    assert result.report.startswith("# Report")
    assert re.search(r"\[\d+(, \d+)*\]", result.report)
    assert "[S" not in result.report
    assert result.citations.cited == len(result.sources) > 0 and result.citations.dropped == 0
    # brief, 2 supervisor turns, 3 researchers × (2 tool turns + 1 closing turn), 3 compressions, 1 report.
    assert server.stats.calls_by_stage == {"brief": 1, "supervisor": 2, "researcher": 9, "compress": 3, "report": 1}
    assert server.stats.by_wire == {wire: 16}
    assert result.usage["calls"] == 16 and result.usage["input_tokens"] > 0
    assert result.usage["input_tokens"] + result.usage["output_tokens"] == events[-1].progress.tokens
    kinds = {e.kind for e in events}
    assert {"phase", "researcher_started", "researcher_finished", "tool_call", "sources", "tokens"} <= kinds
    assert sum(e.kind == "tool_call" for e in events) == 6 == events[-1].progress.tool_calls
    assert events[-1].progress.phase == "done" and events[-1].progress.researchers_done == 3


@pytest.mark.parametrize("wire", WIRES)
async def test_clarify_both_outcomes(server: ScriptedLLMServer, make_engine: EngineFactory, wire: str) -> None:
    async with make_engine(wire=wire, allow_clarification=True) as engine:
        server.scenario = Scenario(needs_clarification=True)
        asked = await engine.run(QUESTION)
        assert asked.status == "needs_clarification" and asked.clarification.endswith("?")
        assert asked.report == "" and server.stats.calls_by_stage == {"clarify": 1}

        server.scenario = Scenario(needs_clarification=False, topics=1, tool_calls_per_researcher=1)
        decision = await engine.clarify(QUESTION)
        assert not decision.need_clarification and decision.verification
        done = await engine.run(QUESTION)
        assert done.status == "completed" and done.report


async def test_units_beyond_the_limit_are_queued_not_refused(
    server: ScriptedLLMServer, make_engine: EngineFactory
) -> None:
    server.scenario = Scenario(topics=6, tool_calls_per_researcher=1, latency_s=0.02)
    peaks = {"running": 0, "queued": 0}

    def watch(event: Event) -> None:
        peaks["running"] = max(peaks["running"], event.progress.researchers_running)
        peaks["queued"] = max(peaks["queued"], event.progress.researchers_queued)

    async with make_engine(max_concurrent_research_units=2) as engine:
        result = await engine.run(QUESTION, on_event=watch)
    assert len(result.units) == 6 and all(u.ok for u in result.units)
    assert peaks == {"running": 2, "queued": 4}


async def test_a_failing_researcher_is_isolated(server: ScriptedLLMServer, make_engine: EngineFactory) -> None:
    server.scenario = Scenario(
        topics=3, tool_calls_per_researcher=1,
        failures=[FailureRule(kind="500", stage="researcher", match="Topic 2:", times=None)],
    )
    async with make_engine(offline_fallback=False) as engine:
        result = await engine.run(QUESTION)
    failed = result.failed_units
    assert len(failed) == 1 and failed[0].topic.startswith("Topic 2:") and "HTTP 500" in failed[0].error
    assert sum(u.ok for u in result.units) == 2
    assert "## Research gaps" in result.report and "Topic 2:" in result.report
    assert result.citations.cited > 0


async def test_a_researcher_that_hangs_times_out_alone(server: ScriptedLLMServer, make_engine: EngineFactory) -> None:
    server.scenario = Scenario(
        topics=2, tool_calls_per_researcher=1,
        failures=[FailureRule(kind="hang", stage="researcher", match="Topic 1:", times=None)],
    )
    async with make_engine(researcher_timeout_s=0.5, call_timeout_s=30) as engine:
        result = await engine.run(QUESTION)
    assert [u.ok for u in result.units] == [False, True]
    assert "timed out after 0.5 s" in result.units[0].error


async def test_cancelling_a_run_stops_every_subagent_promptly(
    server: ScriptedLLMServer, make_engine: EngineFactory
) -> None:
    server.scenario = Scenario(topics=4, failures=[FailureRule(kind="hang", stage="researcher", times=None)])
    started = asyncio.Event()

    def watch(event: Event) -> None:
        if event.progress.researchers_running == 4:
            started.set()

    async with make_engine(call_timeout_s=60) as engine:
        task = asyncio.create_task(engine.run(QUESTION, on_event=watch))
        await asyncio.wait_for(started.wait(), 5)
        t0 = time.perf_counter()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.perf_counter() - t0 < 2.0
        leftovers = [t for t in asyncio.all_tasks() if "deep_research_mcp" in repr(t.get_coro())
                     and "llm.scripted" not in repr(t.get_coro())]
        assert leftovers == []


@pytest.mark.parametrize("wire", WIRES)
async def test_report_context_length_error_truncates_and_retries(
    server: ScriptedLLMServer, make_engine: EngineFactory, wire: str
) -> None:
    server.scenario = Scenario(
        topics=4, tool_calls_per_researcher=2,
        failures=[FailureRule(kind="context_length", stage="report", times=2)],
    )
    async with make_engine(wire=wire) as engine:
        result = await engine.run(QUESTION)
    assert server.stats.calls_by_stage["report"] == 3
    cuts = [w for w in result.warnings if w.startswith("findings cut")]
    assert len(cuts) == 2
    sizes = [int(n) for n in re.findall(r"to (\d+) characters", " ".join(cuts))]
    assert sizes[1] < sizes[0]
    assert result.report.startswith("# Report") and "## Sources" in result.report


@pytest.mark.parametrize("wire", WIRES)
async def test_invented_citations_never_reach_the_report(
    server: ScriptedLLMServer, make_engine: EngineFactory, wire: str
) -> None:
    server.scenario = Scenario(topics=3, tool_calls_per_researcher=2, invent_citations=True)
    tool = corpus()
    async with make_engine(wire=wire, tools=[tool]) as engine:
        result = await engine.run(QUESTION)
    retrieved = {d.locator for d in tool.documents}
    listed = source_locators(result.report)
    assert listed and set(listed) <= retrieved
    assert listed == [s.locator for s in result.sources]
    assert "invented" not in result.report and "S999" not in result.report
    assert result.report.count("## Sources") == 1
    assert result.citations.dropped > 0
    assert result.citations.cited + result.citations.unused == result.citations.registered
    # Every [n] in the body points into the generated Sources list.
    body = result.report.split("## Sources")[0]
    numbers = {int(n) for group in re.findall(r"\[(\d+(?:, \d+)*)\]", body) for n in group.split(", ")}
    assert numbers == set(range(1, len(result.sources) + 1))


@pytest.mark.parametrize("wire", WIRES)
async def test_rate_limits_are_retried_after_the_servers_delay(
    server: ScriptedLLMServer, make_engine: EngineFactory, wire: str
) -> None:
    server.scenario = Scenario(
        topics=1, tool_calls_per_researcher=1,
        failures=[FailureRule(kind="429", stage="supervisor", times=2, retry_after=0.2)],
    )
    async with make_engine(wire=wire) as engine:
        t0 = time.perf_counter()
        result = await engine.run(QUESTION)
    assert result.status == "completed" and server.stats.failures_injected == 2
    assert time.perf_counter() - t0 >= 0.4


@pytest.mark.parametrize("wire", WIRES)
async def test_broken_json_is_repaired_without_asking_again(
    server: ScriptedLLMServer, make_engine: EngineFactory, wire: str
) -> None:
    server.scenario = Scenario(topics=1, tool_calls_per_researcher=1,
                               failures=[FailureRule(kind="broken_json", stage="brief", times=None)])
    async with make_engine(wire=wire) as engine:
        result = await engine.run(QUESTION)
    assert result.brief.startswith("I want to know")
    assert server.stats.calls_by_stage["brief"] == 1


async def test_bad_questions_are_refused_before_any_call(
    server: ScriptedLLMServer, make_engine: EngineFactory
) -> None:
    async with make_engine(max_question_chars=100) as engine:
        for bad, field in (("", "empty"), ("   \n ", "empty"), ("x" * 101, "over the limit of 100")):
            with pytest.raises(InputError, match=field):
                await engine.run(bad)
    assert server.stats.calls == 0


async def test_a_base_url_that_refuses_connections_is_a_clear_error(make_engine: EngineFactory) -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    async with make_engine(openai_base_url=f"http://127.0.0.1:{port}/v1", max_retries=1) as engine:
        with pytest.raises(ProviderConnectionError, match=f"127.0.0.1:{port}"):
            await engine.run(QUESTION)


async def test_token_budget_stops_research_and_still_reports(
    server: ScriptedLLMServer, make_engine: EngineFactory
) -> None:
    server.scenario = Scenario(topics=3, tool_calls_per_researcher=3)
    async with make_engine(max_run_tokens=4_000, max_concurrent_research_units=1) as engine:
        result = await engine.run(QUESTION)
    assert result.usage["input_tokens"] + result.usage["output_tokens"] < 4_000 + 3_000
    assert any("budget" in w for w in result.warnings)
    assert result.report  # assembled from the notes gathered before the budget ran out


async def test_tool_failures_are_shown_to_the_model_not_fatal(
    server: ScriptedLLMServer, make_engine: EngineFactory
) -> None:
    class Broken:
        name = "search_documents"
        description = "always fails"
        parameters = corpus().parameters

        async def call(self, arguments: dict[str, object]) -> object:
            raise RuntimeError("index offline")

    server.scenario = Scenario(topics=2, tool_calls_per_researcher=1)
    async with make_engine(tools=[Broken()]) as engine:  # type: ignore[list-item]
        result = await engine.run(QUESTION)
    assert all(u.ok for u in result.units) and result.sources == []
    assert "## Sources" not in result.report


async def test_slow_tools_in_one_turn_run_concurrently(server: ScriptedLLMServer, make_engine: EngineFactory) -> None:
    server.scenario = Scenario(topics=1, tool_calls_per_researcher=4, tool_calls_per_turn=4)
    inner = corpus(latency_s=0.3)

    class Overlapping:
        """Counts the calls in flight at once: four calls of one turn must all be running together."""

        name, description, parameters = inner.name, inner.description, inner.parameters
        in_flight = peak = 0

        async def call(self, arguments: dict[str, object]) -> object:
            Overlapping.in_flight += 1
            Overlapping.peak = max(Overlapping.peak, Overlapping.in_flight)
            try:
                return await inner.call(arguments)
            finally:
                Overlapping.in_flight -= 1

    async with make_engine(tools=[Overlapping()]) as engine:  # type: ignore[list-item]
        result = await engine.run(QUESTION)
    assert inner.calls == 4 and result.units[0].tool_calls == 4
    assert Overlapping.peak == 4


async def test_a_model_that_fails_for_good_mid_run_hands_the_step_to_the_offline_engine(
    server: ScriptedLLMServer, make_engine: EngineFactory
) -> None:
    server.scenario = Scenario(
        topics=2, tool_calls_per_researcher=1,
        failures=[FailureRule(kind="500", stage="researcher", match="Topic 2:", times=None),
                  FailureRule(kind="500", stage="report", times=None)],
    )
    async with make_engine(max_retries=1) as engine:
        result = await engine.run(QUESTION)
    assert all(u.ok for u in result.units)
    assert result.usage["fallbacks"] >= 2
    assert result.usage["by_stage"]["report"]["calls"] == 1  # only the offline engine's call is recorded
    note = next(line for line in result.report.splitlines() if line.startswith("> Note:"))
    assert "offline engine" in note and "report" in note and "researcher" in note
    assert result.citations.cited > 0 and "## Sources" in result.report


async def test_tool_timeouts_are_counted_and_warned_once_per_tool(
    server: ScriptedLLMServer, make_engine: EngineFactory
) -> None:
    server.scenario = Scenario(topics=2, tool_calls_per_researcher=2)
    events: list[Event] = []
    async with make_engine(tools=[corpus(latency_s=5)], tool_timeout_s=0.1) as engine:
        result = await engine.run(QUESTION, on_event=events.append)
    assert result.failed_tool_calls == {"search_documents": 4}
    assert [w for w in result.warnings if "calls failed" in w] == [
        "tool 'search_documents': 4 calls failed: no answer within 0.1 s"
    ]
    assert events[-1].progress.failed_tool_calls == 4


def test_failures_are_counted_against_the_upstream_behind_any_wrapper() -> None:
    from deep_research_mcp.engine.researcher import tool_origin

    class Upstream:
        name, server = "files__read", "files"

    class Wrapper:
        def __init__(self, tool: object) -> None:
            self.name, self.tool = "files__read", tool

    assert tool_origin(Wrapper(Upstream())) == ("files", True)  # type: ignore[arg-type]
    assert tool_origin(corpus()) == ("search_documents", False)
