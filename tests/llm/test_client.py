"""ModelCaller at the seam: retries, Retry-After, timeouts, structured-output repair and re-asking."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from deep_research_mcp import prompts
from deep_research_mcp.engine.config import ResearchBrief
from deep_research_mcp.errors import (
    BudgetExceeded,
    ContextLengthError,
    ProviderHTTPError,
    ProviderTimeout,
    StructuredOutputError,
)
from deep_research_mcp.llm.base import ChatResponse, Message, OutputSchema, ToolSpec, Usage
from deep_research_mcp.llm.client import ModelCaller, RetryPolicy
from deep_research_mcp.llm.usage import UsageMeter

Reply = Callable[[list[Message]], ChatResponse]


class FakeModel:
    """Answers each call with the next scripted reply; a reply may be an exception to raise or a coroutine delay."""

    provider = "fake"
    model = "m"

    def __init__(self, *replies: ChatResponse | Exception | float) -> None:
        self.replies = list(replies)
        self.requests: list[list[Message]] = []

    async def complete(
        self, messages: list[Message], *, tools: list[ToolSpec] | None = None, output: OutputSchema | None = None,
        max_tokens: int | None = None, timeout: float | None = None,
    ) -> ChatResponse:
        self.requests.append(list(messages))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, float):
            await asyncio.sleep(reply)
            return ChatResponse(text="late")
        return reply


def caller(model: FakeModel, **kw: object) -> ModelCaller:
    values: dict[str, object] = {"context_window": 1000, "timeout_s": 5.0,
                                 "retry": RetryPolicy(max_retries=2, base_delay_s=0.001, structured_retries=1)}
    values.update(kw)
    return ModelCaller(model=model, name="fake:m", **values)  # type: ignore[arg-type]


def text(value: str, tokens: int = 10) -> ChatResponse:
    return ChatResponse(text=value, usage=Usage(tokens, tokens), raw_json=value)


async def test_retries_honour_retry_after_then_succeed() -> None:
    model = FakeModel(ProviderHTTPError("slow down", status=429, retry_after=0.15), text("ok"))
    meter = UsageMeter()
    t0 = time.perf_counter()
    response = await caller(model).with_meter(meter).chat([Message.user("hi")], stage="s")
    assert response.text == "ok" and time.perf_counter() - t0 >= 0.15
    assert len(model.requests) == 2 and meter.total_tokens == 20 and len(meter.calls) == 1


async def test_non_retryable_errors_are_raised_at_once() -> None:
    model = FakeModel(ProviderHTTPError("bad key", status=401), text("never"))
    with pytest.raises(ProviderHTTPError, match="bad key"):
        await caller(model).chat([Message.user("hi")], stage="s")
    assert len(model.requests) == 1


async def test_context_length_is_not_retried_here() -> None:
    model = FakeModel(ContextLengthError("too long", limit=100))
    with pytest.raises(ContextLengthError) as info:
        await caller(model).chat([Message.user("hi")], stage="s")
    assert info.value.limit == 100


async def test_retries_run_out_on_persistent_5xx() -> None:
    model = FakeModel(*(ProviderHTTPError("boom", status=503) for _ in range(3)))
    with pytest.raises(ProviderHTTPError, match="boom"):
        await caller(model).chat([Message.user("hi")], stage="s")
    assert len(model.requests) == 3


async def test_a_call_that_hangs_times_out_and_is_retried() -> None:
    model = FakeModel(30.0, text("second"))
    response = await caller(model, timeout_s=0.05).chat([Message.user("hi")], stage="s")
    assert response.text == "second"
    with pytest.raises(ProviderTimeout, match="0.05 s"):
        await caller(FakeModel(30.0, 30.0, 30.0), timeout_s=0.05).chat([Message.user("hi")], stage="s")


async def test_structured_output_asks_again_with_the_error_shown() -> None:
    model = FakeModel(text("I'd rather chat."), text('{"research_brief": "the brief"}'))
    brief = await caller(model).structured([Message.user("q")], ResearchBrief, stage="brief", name="ResearchBrief")
    assert brief.research_brief == "the brief"
    retry_prompt = model.requests[1][-1]
    assert retry_prompt.role == "user" and retry_prompt.content.startswith("Your previous answer was not valid JSON")
    assert model.requests[1][-2].content == "I'd rather chat."


async def test_structured_output_that_never_parses_is_a_clear_error() -> None:
    model = FakeModel(text("prose"), text('{"research_brief": ""}'))
    with pytest.raises(StructuredOutputError, match=r"no valid ResearchBrief JSON after 2 tries: research_brief"):
        await caller(model).structured([Message.user("q")], ResearchBrief, stage="brief", name="ResearchBrief")


async def test_budget_is_checked_before_each_call() -> None:
    meter = UsageMeter(max_tokens=15)
    model = FakeModel(text("a"), text("b"))
    bound = caller(model).with_meter(meter)
    await bound.chat([Message.user("q")], stage="s")
    with pytest.raises(BudgetExceeded):
        await bound.chat([Message.user("q")], stage="s")
    assert len(model.requests) == 1


def test_prompts_name_the_engine_tools() -> None:
    assert prompts.CONDUCT_RESEARCH in prompts.SUPERVISOR_SYSTEM.format(
        date="d", conduct=prompts.CONDUCT_RESEARCH, think="think", complete="done", max_units=5, max_iterations=6
    )


async def test_fallback_takes_over_only_after_the_model_worked_this_run() -> None:
    backup = FakeModel(text("from the fallback"))
    meter = UsageMeter()
    failing = [ProviderHTTPError("down", status=503) for _ in range(3)]
    bound = caller(FakeModel(text("first"), *failing), fallback=backup).with_meter(meter)
    assert (await bound.chat([Message.user("q")], stage="brief")).text == "first"
    response = await bound.chat([Message.user("q")], stage="report")
    assert response.text == "from the fallback"
    assert meter.fallbacks == [("report", "fake:m", "down")]
    assert [c.model for c in meter.calls] == ["fake:m", "offline:extractive"]


async def test_no_fallback_for_a_model_that_never_answered_or_for_context_length() -> None:
    backup = FakeModel(text("unused"))
    never = caller(FakeModel(*(ProviderHTTPError("refused", status=503) for _ in range(3))), fallback=backup)
    with pytest.raises(ProviderHTTPError):
        await never.with_meter(UsageMeter()).chat([Message.user("q")], stage="s")
    worked = caller(FakeModel(text("ok"), ContextLengthError("long", limit=10)), fallback=backup).with_meter(
        UsageMeter()
    )
    await worked.chat([Message.user("q")], stage="s")
    with pytest.raises(ContextLengthError):
        await worked.chat([Message.user("q")], stage="s")
    assert backup.requests == []


async def test_structured_output_falls_back_when_json_never_parses() -> None:
    backup = FakeModel(ChatResponse(raw_json={"research_brief": "offline brief"}))
    meter = UsageMeter()
    bound = caller(FakeModel(text("warm-up"), text("prose"), text("more prose")), fallback=backup).with_meter(meter)
    await bound.chat([Message.user("q")], stage="s")
    brief = await bound.structured([Message.user("q")], ResearchBrief, stage="brief", name="ResearchBrief")
    assert brief.research_brief == "offline brief" and meter.fallbacks[0][0] == "brief"
