"""A request the provider refuses for itself (429 while the service takes others) is not an overload: it fails like
any other error, and its refusals neither shrink the service's limit nor pause it for everyone."""

from __future__ import annotations

import asyncio

import pytest

from deep_research_mcp.errors import ProviderHTTPError
from deep_research_mcp.llm.base import ChatResponse, Message
from deep_research_mcp.services import LimitConfig, Refusals, Service

from ..llm.test_client import caller, text
from .fakes import FakeClock


def refusal(retry_after: float = 0.0) -> ProviderHTTPError:
    return ProviderHTTPError("HTTP 429: request too large for the tokens-per-minute budget", status=429,
                             retry_after=retry_after)


def service(clock: FakeClock, **kw: object) -> Service:
    values: dict[str, object] = {"max": 8}
    values.update(kw)
    return Service("svc", LimitConfig(**values), timeout_s=5.0, clock=clock,  # type: ignore[arg-type]
                   call_later=clock.call_later)


async def refused(svc: Service, request: Refusals) -> None:
    with pytest.raises(ProviderHTTPError):
        async with svc.slot(request):
            raise refusal(retry_after=5.0)


async def answered(svc: Service) -> None:
    async with svc.slot():
        pass


async def test_a_refusal_at_a_level_the_service_took_since_neither_shrinks_the_limit_nor_pauses_it() -> None:
    clock = FakeClock()
    svc = service(clock)
    request = Refusals()
    hold = asyncio.Event()

    async def held() -> None:
        async with svc.slot():
            await hold.wait()

    others = [asyncio.create_task(held()) for _ in range(3)]
    await asyncio.sleep(0)
    await refused(svc, request)  # the first refusal, at 4 in flight: an overload as far as anyone knows
    assert not request.singled_out and svc.limit.current == 3 and svc.limiter.paused()
    hold.set()
    await asyncio.gather(*others)
    clock.advance(5.0)
    value = svc.limit.value
    await answered(svc)  # the service takes another request at 1 in flight
    await refused(svc, request)  # and refuses this one again at 1 in flight: it is about the request
    assert request.singled_out
    assert svc.limit.value == value and not svc.limiter.paused()
    assert svc.counters.overloaded == 2  # still counted and shown


async def test_a_refusal_above_what_the_service_took_since_is_an_overload_as_in_a_storm() -> None:
    clock = FakeClock()
    svc = service(clock)
    request = Refusals()
    await refused(svc, request)
    clock.advance(5.0)
    await answered(svc)  # taken at 1 in flight; the next refusal comes at 2
    hold = asyncio.Event()

    async def held() -> None:
        async with svc.slot():
            await hold.wait()

    other = asyncio.create_task(held())
    await asyncio.sleep(0)
    decreases = svc.limit.decreases
    await refused(svc, request)
    hold.set()
    await other
    assert not request.singled_out and svc.limiter.paused() and svc.limit.decreases == decreases + 1


class Provider:
    """Refuses every request that mentions "huge"; while refusing, it answers another request (what a provider
    serving many researchers does between one request's retries)."""

    provider = "fake"
    model = "m"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.other: asyncio.Future[ChatResponse] | None = None

    async def complete(self, messages: list[Message], **kw: object) -> ChatResponse:
        self.calls.append(messages[0].content)
        if "huge" in messages[0].content:
            await self.answer_other()
            raise refusal()
        return text("ok")

    async def answer_other(self) -> None:
        assert self.svc is not None
        await caller(self, service=self.svc).chat([Message.user("small")], stage="research")  # type: ignore[arg-type]

    svc: Service | None = None


async def test_a_request_refused_while_the_service_answers_others_fails_after_max_retries() -> None:
    provider = Provider()
    provider.svc = svc = Service("svc", LimitConfig(max=4, floor=2), timeout_s=5.0)
    with pytest.raises(ProviderHTTPError, match="HTTP 429"):
        await caller(provider, service=svc).chat([Message.user("huge")], stage="research")  # type: ignore[arg-type]
    # max_retries is 2: three tries like any other error, not the 10 refusals an overload is allowed.
    assert provider.calls.count("huge") == 3
    assert svc.counters.succeeded == 3 and svc.counters.overloaded == 3
