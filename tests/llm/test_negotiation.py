"""Structured-output negotiation in the OpenAI adapter, against the scripted server refusing modes as local servers do,
and the per-step handling of answers a small model gets wrong."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import openai
import pytest

from deep_research_mcp import prompts
from deep_research_mcp.engine.config import EngineConfig, ResearchBrief
from deep_research_mcp.engine.run import ResearchEngine
from deep_research_mcp.errors import ProviderHTTPError
from deep_research_mcp.llm import prompt_tools
from deep_research_mcp.llm.base import ChatResponse, Message, OutputSchema, ToolCall, ToolSpec, Usage
from deep_research_mcp.llm.client import repetitive, unusable
from deep_research_mcp.llm.factory import ModelHub
from deep_research_mcp.llm.offline import OfflineModel
from deep_research_mcp.llm.openai_chat import OpenAIChatModel, endpoint_modes, forget_endpoints
from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer
from deep_research_mcp.llm.usage import UsageMeter
from deep_research_mcp.settings import Settings
from tests.engine.conftest import QUESTION, corpus
from tests.llm.test_client import FakeModel, caller

BRIEF = OutputSchema(prompts.BRIEF_SCHEMA, ResearchBrief.model_json_schema(), "brief")
ASK = [Message.system("You write research briefs."), Message.user("Write the brief for: tides")]


_CLIENTS: list[openai.AsyncOpenAI] = []


@pytest.fixture
async def server() -> AsyncIterator[ScriptedLLMServer]:
    forget_endpoints()
    async with ScriptedLLMServer(Scenario()) as srv:
        yield srv
        while _CLIENTS:
            await _CLIENTS.pop().close()
    forget_endpoints()


def adapter(server: ScriptedLLMServer, mode: str = "auto") -> OpenAIChatModel:
    client = openai.AsyncOpenAI(api_key="unused", base_url=server.openai_base_url, max_retries=0)
    _CLIENTS.append(client)
    return OpenAIChatModel(client, "small", provider="compatible", structured_mode=mode)  # type: ignore[arg-type]


async def test_llama_cpp_refusal_of_json_schema_moves_to_json_object_and_is_remembered(
    server: ScriptedLLMServer,
) -> None:
    server.scenario = Scenario(refuse_modes=["json_schema"])
    model = adapter(server)
    first = await model.complete(ASK, output=BRIEF)
    assert first.structured_mode == "json_object" and "research_brief" in json.loads(str(first.raw_json))
    assert server.stats.calls == 2 and server.stats.failures_injected == 0  # the refused try, then json_object
    second = await adapter(server).complete(ASK, output=BRIEF)  # a new adapter on the same endpoint: remembered
    assert second.structured_mode == "json_object" and server.stats.calls == 3
    modes = endpoint_modes(server.openai_base_url, "small")
    assert modes.working == "json_object" and modes.refused == {"json_schema"}


async def test_a_server_taking_no_json_mode_gets_a_forced_tool_then_the_schema_in_the_prompt(
    server: ScriptedLLMServer,
) -> None:
    server.scenario = Scenario(refuse_modes=["json_schema", "json_object"])
    by_tool = await adapter(server).complete(ASK, output=BRIEF)
    assert by_tool.structured_mode == "tool" and isinstance(by_tool.raw_json, dict)
    assert by_tool.tool_calls == []  # the forced call is the answer, not a tool the engine should run
    forget_endpoints()
    server.scenario = Scenario(refuse_modes=["json_schema", "json_object", "tool"])
    by_prompt = await adapter(server).complete(ASK, output=BRIEF)
    assert by_prompt.structured_mode == "prompt"
    assert ResearchBrief.model_validate_json(str(by_prompt.raw_json)).research_brief


async def test_a_pinned_mode_is_not_negotiated_away(server: ScriptedLLMServer) -> None:
    server.scenario = Scenario(refuse_modes=["json_schema"])
    with pytest.raises(ProviderHTTPError, match="Input should be 'text' or 'json_object'") as info:
        await adapter(server, "json_schema").complete(ASK, output=BRIEF)
    assert info.value.status == 500
    pinned = await adapter(server, "prompt").complete(ASK, output=BRIEF)
    assert pinned.structured_mode == "prompt" and server.stats.calls == 2


async def test_an_answer_that_ignores_the_mode_moves_down_for_that_call() -> None:
    """A server that accepts response_format but answers prose (as some proxies do) is not refused, just passed."""
    forget_endpoints()
    sent: list[dict[str, Any]] = []

    async def create(**params: Any) -> Any:
        sent.append(params)
        content = "Sure! Tides are interesting." if "response_format" in params else None
        calls = None if content else [SimpleNamespace(id="c1", function=SimpleNamespace(
            name=prompts.BRIEF_SCHEMA, arguments='{"research_brief": "tides",}'))]
        message = SimpleNamespace(content=content, tool_calls=calls)
        return SimpleNamespace(choices=[SimpleNamespace(message=message, finish_reason="stop")], usage=None, model="m")

    client = SimpleNamespace(base_url="http://127.0.0.1:9/v1",
                             chat=SimpleNamespace(completions=SimpleNamespace(create=create)))
    response = await OpenAIChatModel(client, "m", provider="compatible").complete(ASK, output=BRIEF)  # type: ignore[arg-type]
    assert [p.get("response_format", {}).get("type", "tool") for p in sent] == ["json_schema", "json_object", "tool"]
    assert response.structured_mode == "tool" and response.raw_json == {"research_brief": "tides"}  # comma repaired
    assert endpoint_modes("http://127.0.0.1:9/v1", "m").refused == set()
    forget_endpoints()


async def test_a_run_on_a_server_refusing_json_schema_completes_and_says_which_mode(
    server: ScriptedLLMServer,
) -> None:
    """Issue 18's failure: the whole research through the `compatible` provider on a llama.cpp-like server."""
    server.scenario = Scenario(refuse_modes=["json_schema"], topics=1, tool_calls_per_researcher=1)
    settings = Settings(research_model="compatible:small", compatible_base_url=server.openai_base_url,
                        call_timeout_s=5.0, retry_base_delay_s=0.01, max_retries=1, allow_clarification=False)
    async with ModelHub(settings) as hub:
        engine = ResearchEngine(hub.stage_models(), [corpus()], EngineConfig.from_settings(settings))
        result = await engine.run(QUESTION, clarify_first=True)
    assert result.status == "completed" and result.report and result.sources
    assert result.usage["structured_output"] == {"compatible:small": "json_object"}
    assert result.usage["fallbacks"] == 0


def calls(*pairs: tuple[str, dict[str, Any]]) -> ChatResponse:
    return ChatResponse(tool_calls=[ToolCall(f"c{i}", n, a) for i, (n, a) in enumerate(pairs)], usage=Usage(5, 5))


SEARCH = ToolSpec("search", "Search", {"type": "object", "properties": {"query": {"type": "string"}},
                                       "required": ["query"]})


def test_what_makes_an_answer_unusable() -> None:
    assert unusable(ChatResponse(), [SEARCH], None) == "the answer was empty"
    assert "no tool named 'serch'" in str(unusable(calls(("serch", {"query": "q"})), [SEARCH], None))
    assert "not a JSON object" in str(unusable(calls(("search", {"_raw": "{query"})), [SEARCH], None))
    assert "needs the argument(s) query" in str(unusable(calls(("search", {"q": "x"})), [SEARCH], None))
    looping = ChatResponse(text="The tide rises. " * 200, finish_reason="length")
    assert "repeated itself" in str(unusable(looping, None, None))
    assert unusable(ChatResponse(text="The tide rises. " * 200, finish_reason="stop"), None, None) is None
    assert unusable(calls(("search", {"query": "tides"})), [SEARCH], None) is None
    chat = ChatResponse(text="Tides are caused by the moon.")
    assert "called no tool" in str(unusable(chat, [SEARCH], None, first_turn=True))
    assert unusable(chat, [SEARCH], None) is None  # later turns may end the step in prose
    assert unusable(ChatResponse(), None, BRIEF) is None  # structured answers are judged by `structured`
    prose = prompts.SUPERVISOR_SYSTEM + prompts.RESEARCHER_SYSTEM  # long, and says something new in each line
    assert len(prose) > 1000 and not repetitive(prose)


async def test_junk_tool_arguments_are_asked_again_with_the_problem_named() -> None:
    model = FakeModel(calls(("search", {"_raw": "{query"})), calls(("search", {"query": "tides"})))
    response = await caller(model).chat([Message.user("go")], stage="researcher", tools=[SEARCH])
    assert response.tool_calls[0].arguments == {"query": "tides"}
    assert "not a JSON object" in model.requests[1][-1].content and len(model.requests[1]) == 2


async def test_a_step_whose_answers_stay_unusable_falls_back_and_the_meter_says_which() -> None:
    good = ChatResponse(text="fine", usage=Usage(1, 1))
    empty = ChatResponse(usage=Usage(1, 1))
    model = FakeModel(good, empty, empty)
    meter = UsageMeter()
    fallback = caller(model, fallback=OfflineModel()).with_meter(meter)
    await fallback.chat([Message.user("hi")], stage="brief")
    system = prompts.RESEARCHER_SYSTEM.format(date="d", max_tool_calls=2, complete=prompts.RESEARCH_COMPLETE,
                                              think=prompts.THINK)
    messages = [Message.system(system), Message.user(prompts.RESEARCHER_USER.format(topic="tidal storage"))]
    response = await fallback.chat(messages, stage="researcher", tools=[SEARCH])
    assert response.tool_calls and response.tool_calls[0].name == "search"  # the offline engine's call
    assert [(s, m) for s, m, _ in meter.fallbacks] == [("researcher", "fake:m")]
    assert "the answer was empty" in meter.fallbacks[0][2]
    assert meter.summary()["fallback_steps"] == ["researcher"]


async def test_without_a_fallback_the_last_answer_stands() -> None:
    model = FakeModel(*(ChatResponse(usage=Usage(1, 1)) for _ in range(2)))
    response = await caller(model).chat([Message.user("hi")], stage="compress")
    assert response.text == "" and len(model.requests) == 2  # bounded: one re-ask (structured_retries=1)


async def test_a_server_without_json_modes_or_tools_still_researches_through_the_prompt(
    server: ScriptedLLMServer,
) -> None:
    server.scenario = Scenario(refuse_modes=["json_schema", "json_object", "tool", "tools"], topics=2,
                               tool_calls_per_researcher=2)
    settings = Settings(research_model="compatible:bare", compatible_base_url=server.openai_base_url,
                        call_timeout_s=5.0, retry_base_delay_s=0.01, max_retries=1, allow_clarification=False)
    async with ModelHub(settings) as hub:
        engine = ResearchEngine(hub.stage_models(), [corpus()], EngineConfig.from_settings(settings))
        result = await engine.run(QUESTION)
    assert result.status == "completed" and len(result.units) == 2 and result.sources
    assert all(unit.tool_calls == 2 for unit in result.units)  # the researchers' calls were parsed from text
    assert result.usage["structured_output"] == {"compatible:bare": "prompt"}
    assert result.usage["tool_calls"] == {"compatible:bare": "prompt"} and result.usage["fallbacks"] == 0


def test_calls_written_in_text_are_parsed_wherever_they_sit() -> None:
    text = ('Let me search.\n```json\n{"tool": "search", "arguments": {"query": "tides"}}\n```\n'
            '{"name": "search", "arguments": {"query": "lagoons"}} and {"tool": "unknown", "arguments": {}} {broken')
    prose, found = prompt_tools.parse_calls(text, {"search"})
    assert found == [("search", {"query": "tides"}), ("search", {"query": "lagoons"})]
    assert prose.startswith("Let me search.") and '"unknown"' in prose and "tides" not in prose
    call = ToolCall("c1", "search", {"query": "tides"})
    assert prompt_tools.message_text(Message("assistant", "", (call,))) == (
        "assistant", '{"tool": "search", "arguments": {"query": "tides"}}')
    role, content = prompt_tools.message_text(Message.tool_result(call, "found it"))
    assert role == "user" and prompt_tools.parse_result(content) == ("search", "found it")
    assert prompt_tools.parse_tools("system\n\n" + prompt_tools.instruction([SEARCH])) == [SEARCH]


def test_an_assistant_turn_with_tool_calls_has_string_content() -> None:
    """llama-cpp-python's server answers HTTP 500 to `"content": null` beside tool_calls (found on the real server)."""
    from deep_research_mcp.llm.openai_chat import _to_wire

    wire = _to_wire(Message("assistant", "", (ToolCall("c1", "search", {"query": "tides"}),)))
    assert wire["content"] == "" and wire["tool_calls"][0]["function"]["name"] == "search"


async def test_a_call_without_its_own_max_tokens_gets_the_default_cap() -> None:
    sent: list[int | None] = []

    class Recorder(FakeModel):
        async def complete(self, messages: list[Message], **kwargs: Any) -> ChatResponse:
            sent.append(kwargs.get("max_tokens"))
            return ChatResponse(text="ok", usage=Usage(1, 1))

    model = caller(Recorder(), default_max_tokens=256)
    await model.chat([Message.user("hi")], stage="compress")
    await model.chat([Message.user("hi")], stage="report", max_tokens=900)
    assert sent == [256, 900]
