"""Slots of a service: queueing instead of failing, a Retry-After pausing everyone, outcomes classified, snapshot."""

from __future__ import annotations

import asyncio

import pytest

from deep_research_mcp.errors import ContextLengthError, ProviderHTTPError, ProviderTimeout
from deep_research_mcp.services import LimitConfig, Service, ServiceRegistry

from .fakes import FakeClock


def service(clock: FakeClock, **kw: object) -> Service:
    values: dict[str, object] = {"max": 2}
    values.update(kw)
    return Service("svc", LimitConfig(**values), timeout_s=5.0, clock=clock,  # type: ignore[arg-type]
                   call_later=clock.call_later)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_callers_beyond_the_limit_queue_in_order_and_get_slots_as_they_free() -> None:
    clock = FakeClock()
    svc = service(clock)
    release = [asyncio.Event() for _ in range(4)]
    order: list[int] = []

    async def call(i: int) -> None:
        async with svc.slot():
            order.append(i)
            await release[i].wait()

    tasks = [asyncio.create_task(call(i)) for i in range(4)]
    await settle()
    assert order == [0, 1]
    assert svc.snapshot()["in_flight"] == 2 and svc.snapshot()["queued"] == 2
    release[1].set()
    await settle()
    assert order == [0, 1, 2]
    for event in release:
        event.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3] and svc.limiter.in_flight == 0 and svc.counters.succeeded == 4


async def test_a_caller_that_gives_up_while_queued_leaves_no_slot_behind() -> None:
    clock = FakeClock()
    svc = service(clock, max=1)
    hold = asyncio.Event()

    async def call() -> None:
        async with svc.slot():
            await hold.wait()

    first = asyncio.create_task(call())
    queued = asyncio.create_task(call())
    await settle()
    queued.cancel()
    await settle()
    assert svc.limiter.queued == 0
    hold.set()
    await first
    assert svc.limiter.in_flight == 0
    await call()  # the slot is free again, not lost with the caller that left


async def test_a_retry_after_pauses_the_whole_service_until_it_passes() -> None:
    clock = FakeClock()
    svc = service(clock, max=4)
    with pytest.raises(ProviderHTTPError):
        async with svc.slot():
            clock.advance(0.2)
            raise ProviderHTTPError("busy", status=429, retry_after=3.0)
    assert svc.snapshot()["paused_until"] is not None
    entered: list[str] = []

    async def call(name: str) -> None:
        async with svc.slot():
            entered.append(name)

    tasks = [asyncio.create_task(call(n)) for n in "ab"]
    await settle()
    assert entered == [] and svc.limiter.queued == 2  # nobody enters while paused, though slots are free
    clock.advance(2.9)
    await settle()
    assert entered == []
    clock.advance(0.2)  # the timer set for the end of the pause fires
    await asyncio.gather(*tasks)
    assert entered == ["a", "b"]
    snap = svc.snapshot()
    assert snap["overloaded"] == 1 and snap["paused_until"] is None
    assert snap["recent_errors"][0]["kind"] == "overload" and "busy" in snap["recent_errors"][0]["error"]


async def test_outcomes_are_classified_for_the_limit() -> None:
    clock = FakeClock()
    svc = service(clock, max=10)
    with pytest.raises(ContextLengthError):
        async with svc.slot():
            raise ContextLengthError("too long")  # the request's fault: says nothing about load
    assert svc.limit.current == 10 and svc.counters.failed == 0
    clock.advance(1)
    with pytest.raises(ProviderTimeout):
        async with svc.slot():
            clock.advance(1)
            raise ProviderTimeout("slow")
    assert svc.limit.current == 9 and svc.counters.failed == 1
    assert svc.refused(ProviderHTTPError("x", status=429)) and not svc.refused(ProviderHTTPError("x", status=500))


def test_the_registry_snapshots_every_service_as_plain_data() -> None:
    clock = FakeClock()
    registry = ServiceRegistry()
    first = registry.add(service(clock))
    assert registry.add(service(clock)) is first  # one service per name
    snap = registry.snapshot()
    assert set(snap) == {"svc"}
    assert {"limit", "max", "floor", "in_flight", "queued", "paused_until", "recent_errors"} <= set(snap["svc"])
