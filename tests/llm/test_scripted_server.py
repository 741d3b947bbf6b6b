"""The scripted LLM server, driven through the real OpenAI and Anthropic SDKs over real HTTP."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from deep_research_mcp import prompts
from deep_research_mcp.llm.scripted import FailureRule, Scenario, ScriptedLLMServer
from deep_research_mcp.llm.scripted.policy import ScriptedRequest, broken_json, classify

Call = tuple[str, str, dict[str, Any]]  # (id, name, arguments)
# A wire-neutral conversation: ("user", text) | ("assistant", [calls]) | ("tool", [(call_id, text)])
Turn = tuple[str, Any]


def _schema(**props: str) -> dict[str, Any]:
    return {"type": "object", "properties": {k: {"type": v} for k, v in props.items()}, "required": list(props)}


CLARIFY = _schema(need_clarification="boolean", question="string", verification="string")
BRIEF = _schema(research_brief="string")
SEARCH = ("web_search", _schema(query="string", max_results="integer"))
CONDUCT = (prompts.CONDUCT_RESEARCH, _schema(topic="string"))
THINK = (prompts.THINK, _schema(reflection="string"))
COMPLETE = (prompts.RESEARCH_COMPLETE, {"type": "object", "properties": {}})


@dataclass
class Reply:
    text: str = ""
    calls: list[Call] = field(default_factory=list)
    structured: dict[str, Any] | None = None  # Anthropic only: the forced tool's input


class Wire:
    """One SDK, spoken the way an engine adapter would speak it."""

    def __init__(self, name: str, srv: ScriptedLLMServer) -> None:
        self.name = name
        http = httpx2.AsyncClient()
        if name == "openai":
            self.client: Any = openai.AsyncOpenAI(
                base_url=srv.openai_base_url, api_key="x", http_client=http, max_retries=0
            )
        else:
            self.client = anthropic.AsyncAnthropic(
                base_url=srv.anthropic_base_url, api_key="x", http_client=http, max_retries=0
            )

    @property
    def errors(self) -> Any:
        return openai if self.name == "openai" else anthropic

    async def ask(
        self,
        system: str,
        convo: list[Turn],
        tools: Sequence[tuple[str, dict[str, Any]]] = (),
        schema: tuple[str, dict[str, Any]] | None = None,
        **kw: Any,
    ) -> Reply:
        if self.name == "openai":
            return await self._ask_openai(system, convo, list(tools), schema, **kw)
        return await self._ask_anthropic(system, convo, list(tools), schema, **kw)

    async def _ask_openai(self, system: str, convo: list[Turn], tools: list[Any], schema: Any, **kw: Any) -> Reply:
        msgs: list[dict[str, Any]] = [{"role": "system", "content": system}]
        for role, payload in convo:
            if role == "user":
                msgs.append({"role": "user", "content": payload})
            elif role == "assistant":
                calls = [
                    {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
                    for i, n, a in payload
                ]
                msgs.append({"role": "assistant", "content": None, "tool_calls": calls})
            else:
                msgs += [{"role": "tool", "tool_call_id": i, "content": t} for i, t in payload]
        if tools:
            kw["tools"] = [{"type": "function", "function": {"name": n, "parameters": p}} for n, p in tools]
        if schema:
            kw["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema[0], "schema": schema[1], "strict": True},
            }
        r = await self.client.chat.completions.create(model="scripted", messages=msgs, **kw)
        m = r.choices[0].message
        calls = [(c.id, c.function.name, json.loads(c.function.arguments)) for c in m.tool_calls or []]
        assert r.choices[0].finish_reason == ("tool_calls" if calls else "stop")
        return Reply(m.content or "", calls)

    async def _ask_anthropic(self, system: str, convo: list[Turn], tools: list[Any], schema: Any, **kw: Any) -> Reply:
        msgs: list[dict[str, Any]] = []
        for role, payload in convo:
            if role == "user":
                msgs.append({"role": "user", "content": payload})
            elif role == "assistant":
                blocks = [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in payload]
                msgs.append({"role": "assistant", "content": blocks})
            else:
                blocks = [{"type": "tool_result", "tool_use_id": i, "content": t} for i, t in payload]
                msgs.append({"role": "user", "content": blocks})
        specs = [{"name": n, "description": n, "input_schema": p} for n, p in tools]
        if schema:
            specs.append({"name": schema[0], "description": "answer", "input_schema": schema[1]})
            kw["tool_choice"] = {"type": "tool", "name": schema[0]}
        if specs:
            kw["tools"] = specs
        r = await self.client.messages.create(model="scripted", max_tokens=1024, system=system, messages=msgs, **kw)
        reply = Reply()
        for b in r.content:
            if b.type == "text":
                reply.text += b.text
            elif schema and b.name == schema[0]:
                reply.structured = b.input
            else:
                reply.calls.append((b.id, b.name, b.input))
        assert r.stop_reason == ("tool_use" if reply.calls or reply.structured else "end_turn")
        return reply

    async def structured(self, name: str, schema: dict[str, Any], user: str) -> dict[str, Any]:
        r = await self.ask("system", [("user", user)], schema=(name, schema))
        if self.name == "anthropic":
            assert r.structured is not None
            return r.structured
        parsed: dict[str, Any] = json.loads(r.text)
        return parsed


@pytest.fixture
async def srv() -> AsyncIterator[ScriptedLLMServer]:
    async with ScriptedLLMServer() as s:
        yield s


@pytest.fixture(params=["openai", "anthropic"])
async def wire(request: pytest.FixtureRequest, srv: ScriptedLLMServer) -> AsyncIterator[Wire]:
    w = Wire(request.param, srv)
    yield w
    await w.client.close()


def _supervisor_sys() -> str:
    return prompts.SUPERVISOR_SYSTEM.format(
        date="today", conduct="C", max_units=3, think="t", complete="c", max_iterations=3
    )


# --- stages ---


@pytest.mark.parametrize("needs", [True, False])
async def test_clarify_both_outcomes(srv: ScriptedLLMServer, wire: Wire, needs: bool) -> None:
    srv.scenario = Scenario(needs_clarification=needs)
    out = await wire.structured(prompts.CLARIFY_SCHEMA, CLARIFY, "Compare FOO and BAR")
    assert out["need_clarification"] is needs
    assert bool(out["question"]) is needs and bool(out["verification"]) is not needs
    assert "Compare FOO and BAR" in (out["question"] or out["verification"])


async def test_brief(srv: ScriptedLLMServer, wire: Wire) -> None:
    out = await wire.structured(prompts.BRIEF_SCHEMA, BRIEF, "What is the tallest tree?")
    assert out == {"research_brief": "I want to know: What is the tallest tree?"}
    assert srv.stats.calls_by_stage == {"brief": 1}


async def test_supervisor_fans_out_per_round_then_completes(srv: ScriptedLLMServer, wire: Wire) -> None:
    srv.scenario = Scenario(topics=4, supervisor_rounds=2)
    tools = [CONDUCT, THINK, COMPLETE]
    convo: list[Turn] = [("user", prompts.SUPERVISOR_USER.format(brief="I want to know: tall trees"))]
    r1 = await wire.ask(_supervisor_sys(), convo, tools)
    assert [c[2]["topic"] for c in r1.calls] == [
        f"Topic {n}: aspect {n} of I want to know: tall trees" for n in range(1, 5)
    ]
    convo += [("assistant", r1.calls), ("tool", [(c[0], "notes") for c in r1.calls])]
    r2 = await wire.ask(_supervisor_sys(), convo, tools)
    assert [c[2]["topic"].split(":")[0] for c in r2.calls] == [f"Topic {n}" for n in range(5, 9)]
    convo += [("assistant", r2.calls), ("tool", [(c[0], "notes") for c in r2.calls])]
    r3 = await wire.ask(_supervisor_sys(), convo, tools)
    assert [c[1] for c in r3.calls] == [prompts.RESEARCH_COMPLETE]
    ids = [c[0] for c in r1.calls + r2.calls + r3.calls]
    assert len(set(ids)) == len(ids) and all(i.startswith("call_supervisor_") for i in ids)
    assert srv.stats.calls_by_stage == {"supervisor": 3}


async def test_researcher_makes_k_calls_across_turns(srv: ScriptedLLMServer, wire: Wire) -> None:
    srv.scenario = Scenario(tool_calls_per_researcher=3, tool_calls_per_turn=2)
    convo: list[Turn] = [("user", prompts.RESEARCHER_USER.format(topic="Topic 1: redwoods"))]
    queries: list[str] = []
    for expected in (2, 1):
        r = await wire.ask("researcher", convo, [THINK, COMPLETE, SEARCH])
        assert len(r.calls) == expected and {c[1] for c in r.calls} == {"web_search"}
        assert all(c[2]["max_results"] == 3 for c in r.calls)
        queries += [c[2]["query"] for c in r.calls]
        convo += [("assistant", r.calls), ("tool", [(c[0], "[S1] result") for c in r.calls])]
    assert queries == [f"Topic 1: redwoods (query {k})" for k in (1, 2, 3)]
    done = await wire.ask("researcher", convo, [THINK, COMPLETE, SEARCH])
    assert [c[1] for c in done.calls] == [prompts.RESEARCH_COMPLETE]
    # Without ResearchComplete on offer the researcher simply stops calling tools.
    assert (await wire.ask("researcher", convo, [SEARCH])).text == "Done researching."


async def test_compress_cites_ids_from_tool_results_and_transcript(wire: Wire) -> None:
    user = prompts.COMPRESS_USER.format(topic="redwoods", transcript="saw [S2] and [S1, S3], again [S2]")
    convo: list[Turn] = [("user", user), ("assistant", [("c1", "web_search", {"query": "q"})])]
    convo.append(("tool", [("c1", "[S4] https://a.example <document>tall</document>")]))
    r = await wire.ask(prompts.COMPRESS_SYSTEM.format(date="today"), convo)
    lines = r.text.splitlines()
    assert [ln.rsplit("[", 1)[1] for ln in lines] == ["S2].", "S1].", "S3].", "S4]."]
    assert lines[0] == "Finding 1 about redwoods is supported by the document [S2]."
    empty = await wire.ask(prompts.COMPRESS_SYSTEM.format(date="today"), [("user", "Topic: x\nnothing")])
    assert empty.text == "No sources were found for this topic."


async def test_report_cites_each_id_and_a_combined_marker(wire: Wire) -> None:
    user = prompts.REPORT_USER.format(brief="b", findings="a [S1]. b [S2]. c [S5].", instructions="")
    r = await wire.ask(prompts.REPORT_SYSTEM.format(date="today"), [("user", user)])
    assert r.text.startswith("# Report\n\n") and "\n## Findings\n" in r.text
    assert all(f"[{s}]" in r.text for s in ("S1", "S2", "S5")) and "[S1, S2]" in r.text
    assert "invented" not in r.text and "S999" not in r.text and "## Sources" not in r.text


async def test_invented_citations(srv: ScriptedLLMServer, wire: Wire) -> None:
    srv.scenario = Scenario(invent_citations=True)
    c = await wire.ask(prompts.COMPRESS_SYSTEM.format(date="d"), [("user", "Topic: t\n[S1]")])
    r = await wire.ask(prompts.REPORT_SYSTEM.format(date="d"), [("user", "notes [S1]")])
    for text in (c.text, r.text):
        assert "[S999]" in text and "](https://invented.example/" in text and " https://invented.example/" in text
    assert "## Sources" in r.text and "## Sources" not in c.text


async def test_other_stage_answers_ok(wire: Wire) -> None:
    assert (await wire.ask("You are helpful.", [("user", "hi")])).text == "OK."


# --- failures ---


async def test_rate_limit_with_retry_after(srv: ScriptedLLMServer, wire: Wire) -> None:
    srv.scenario = Scenario(failures=[FailureRule(kind="429", stage="brief", retry_after=0.05)])
    with pytest.raises(wire.errors.RateLimitError) as exc:
        await wire.structured(prompts.BRIEF_SCHEMA, BRIEF, "q")
    assert exc.value.response.headers["retry-after"] == "0.05"
    assert (await wire.structured(prompts.BRIEF_SCHEMA, BRIEF, "q"))["research_brief"]  # budget spent
    assert srv.stats.failures_injected == 1 and srv.stats.calls == 2


async def test_server_error(srv: ScriptedLLMServer, wire: Wire) -> None:
    srv.scenario = Scenario(failures=[FailureRule(kind="500", times=None)])
    for _ in range(2):
        with pytest.raises(wire.errors.InternalServerError) as exc:
            await wire.ask("s", [("user", "hi")])
    body = exc.value.body
    assert (body["type"] if wire.name == "openai" else body["error"]["type"]) in ("server_error", "api_error")


async def test_context_length_limit_and_forced_rule(srv: ScriptedLLMServer, wire: Wire) -> None:
    srv.scenario = Scenario(context_limit_tokens=50)
    assert (await wire.ask("s", [("user", "short")])).text == "OK."
    with pytest.raises(wire.errors.BadRequestError) as exc:
        await wire.ask("s", [("user", "word " * 100)])
    if wire.name == "openai":
        assert exc.value.code == "context_length_exceeded"
        assert "maximum context length is 50 tokens" in exc.value.message
    else:
        assert exc.value.body["error"]["type"] == "invalid_request_error"
        assert "prompt is too long:" in exc.value.message and "> 50 maximum" in exc.value.message
    srv.scenario = Scenario(failures=[FailureRule(kind="context_length", match="squeeze")])
    with pytest.raises(wire.errors.BadRequestError):
        await wire.ask("s", [("user", "please squeeze")])
    assert srv.stats.failures_injected == 2


async def test_broken_json(srv: ScriptedLLMServer, wire: Wire) -> None:
    srv.scenario = Scenario(failures=[FailureRule(kind="broken_json", stage="clarify")])
    # A non-structured request does not spend the rule's budget.
    assert (await wire.ask("s", [("user", "hi")])).text == "OK."
    r = await wire.ask("s", [("user", "q")], schema=(prompts.CLARIFY_SCHEMA, CLARIFY))
    assert r.structured is None and r.calls == [] and r.text.startswith("```json")
    with pytest.raises(ValueError):
        json.loads(r.text)
    assert (await wire.structured(prompts.CLARIFY_SCHEMA, CLARIFY, "q"))["need_clarification"] is False


async def test_hang_times_out_and_server_keeps_answering(srv: ScriptedLLMServer, wire: Wire) -> None:
    srv.scenario = Scenario(failures=[FailureRule(kind="hang", match="HANG ME")])
    t0 = time.monotonic()
    with pytest.raises(wire.errors.APITimeoutError):
        await wire.ask("s", [("user", "HANG ME")], timeout=0.3)
    assert time.monotonic() - t0 < 3
    assert (await wire.ask("s", [("user", "HANG ME")])).text == "OK."
    assert srv.stats.failures_injected == 1


async def test_stop_is_prompt_with_a_hang_in_flight() -> None:
    srv = ScriptedLLMServer(Scenario(failures=[FailureRule(kind="hang")]))
    await srv.start()
    w = Wire("openai", srv)
    pending = asyncio.create_task(w.ask("s", [("user", "hi")]))
    while srv.stats.calls == 0:
        await asyncio.sleep(0.01)
    t0 = time.monotonic()
    await srv.stop()
    assert time.monotonic() - t0 < 2
    with pytest.raises(openai.APIError):
        await pending
    await w.client.close()


# --- latency, stats, misc ---


async def test_latency_applies_without_serializing(srv: ScriptedLLMServer) -> None:
    srv.scenario = Scenario(latency_s=0.2)
    w = Wire("openai", srv)
    t0 = time.monotonic()
    await w.ask("s", [("user", "hi")])
    assert time.monotonic() - t0 >= 0.2
    t0 = time.monotonic()
    await asyncio.gather(*(w.ask("s", [("user", f"hi {i}")]) for i in range(10)))
    assert time.monotonic() - t0 < 1.5  # ten concurrent calls overlap rather than queue
    srv.scenario = Scenario(latency_per_output_token_s=0.05)  # "OK." is 1 token
    t0 = time.monotonic()
    await w.ask("s", [("user", "hi")])
    assert time.monotonic() - t0 >= 0.05
    await w.client.close()


async def test_stats_counters_and_endpoint(srv: ScriptedLLMServer) -> None:
    stats = srv.stats
    oa, an = Wire("openai", srv), Wire("anthropic", srv)
    await oa.structured(prompts.BRIEF_SCHEMA, BRIEF, "q")
    await an.ask("s", [("user", "x" * 40)])
    await an.ask("researcher", [("user", "t")], [SEARCH])
    assert stats.calls == 3 and stats.by_wire == {"openai": 1, "anthropic": 2}
    assert stats.calls_by_stage == {"brief": 1, "other": 1, "researcher": 1}
    assert stats.input_tokens >= 12 and stats.output_tokens > 0 and stats.failures_injected == 0
    async with httpx2.AsyncClient() as http:
        assert (await http.get(srv.url + "/stats")).json() == stats.as_dict()
        refused = await http.post(srv.openai_base_url + "/chat/completions", json={"stream": True, "messages": []})
        assert refused.status_code == 400 and stats.calls == 3
    srv.reset_stats()
    assert srv.stats is stats and stats.calls == 0 and stats.calls_by_stage == {}
    await oa.client.close()
    await an.client.close()


async def test_failure_rule_order_stage_match_and_budget(srv: ScriptedLLMServer) -> None:
    srv.scenario = Scenario(
        failures=[
            FailureRule(kind="500", stage="report", times=None),
            FailureRule(kind="429", match="Topic 2", times=2),
        ]
    )
    w = Wire("openai", srv)
    outcomes = []
    for text in ("Topic 1", "Topic 2", "Topic 2", "Topic 2"):
        try:
            outcomes.append((await w.ask("s", [("user", text)])).text)
        except openai.RateLimitError:
            outcomes.append("429")
    assert outcomes == ["OK.", "429", "429", "OK."]
    with pytest.raises(openai.InternalServerError):
        await w.ask(prompts.REPORT_SYSTEM.format(date="d"), [("user", "Topic 2")])
    await w.client.close()


def test_classification_and_broken_json_helpers() -> None:
    forced = {
        "messages": [{"role": "user", "content": "q"}],
        "tools": [{"name": prompts.CLARIFY_SCHEMA, "input_schema": CLARIFY}],
        "tool_choice": {"type": "tool", "name": prompts.CLARIFY_SCHEMA},
    }
    assert classify(ScriptedRequest.from_anthropic(forced)) == "clarify"
    forced["tool_choice"] = {"type": "auto"}
    assert classify(ScriptedRequest.from_anthropic(forced)) == "researcher"
    text = broken_json({"a": 1})
    assert text.startswith("```json") and '"a": 1,' in text
    with pytest.raises(ValueError):
        json.loads(text.strip("`").removeprefix("json"))


async def test_scenario_file_and_module_entry_point(tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps({"topics": 5, "failures": [{"kind": "429", "retry_after": 1}]}))
    assert Scenario.from_json_file(path).failures[0].kind == "429"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "deep_research_mcp.llm.scripted", "--scenario", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        # Ctrl-C as a terminal delivers it: a suite run as a background job (`… &`, as scripts launch CI) has
        # SIGINT ignored, the child would inherit that and never see the signal.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode().strip()
        async with httpx2.AsyncClient() as http:
            assert (await http.get(url + "/stats")).json()["calls"] == 0
    finally:
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 5) == 0
