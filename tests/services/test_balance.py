"""A group of equivalent endpoints on a fake clock: peak-EWMA choice, ejection and probing back, failover."""

from __future__ import annotations

import pytest

from deep_research_mcp.errors import GroupUnavailable, ProviderConnectionError, ProviderHTTPError
from deep_research_mcp.llm.factory import ModelHub
from deep_research_mcp.services import LimitConfig, RetryPolicy, Service, ServiceGroup
from deep_research_mcp.settings import Settings

from ..llm.test_client import FakeModel, caller, text
from .fakes import FakeClock


def group(clock: FakeClock, *names: str, max_concurrency: int = 10) -> ServiceGroup:
    members = [Service(n, LimitConfig(max=max_concurrency), timeout_s=5.0, clock=clock, call_later=clock.call_later)
               for n in names]
    return ServiceGroup.of("g", members, clock=clock)


async def call(g: ServiceGroup, clock: FakeClock, took: float, error: Exception | None = None) -> str:
    """One call through the group taking `took` seconds of fake time; the member it went to."""
    chosen = ""
    try:
        async with g.slot() as member:
            chosen = member
            clock.advance(took)
            if error is not None:
                raise error
    except (ProviderHTTPError, ProviderConnectionError):
        if error is None:
            raise
    return chosen


def server_error() -> ProviderHTTPError:
    return ProviderHTTPError("HTTP 500 from the model provider: boom", status=500)


async def test_calls_go_to_the_faster_member_once_both_are_measured() -> None:
    clock = FakeClock()
    g = group(clock, "fast", "slow")
    assert await call(g, clock, 1.0) == "fast"
    assert await call(g, clock, 5.0) == "slow"  # never measured: tried once
    assert [await call(g, clock, 1.0) for _ in range(20)] == ["fast"] * 20


async def test_a_member_whose_limit_is_full_sends_calls_to_the_other() -> None:
    clock = FakeClock()
    g = group(clock, "a", "b", max_concurrency=4)
    await call(g, clock, 1.0)
    await call(g, clock, 2.0)
    a = g.members[0]
    a.service.limiter.in_flight = 4  # full: its calls would only queue
    assert g.choose().name == "b"


async def test_an_unmeasured_member_is_not_piled_on_while_its_first_call_is_out() -> None:
    clock = FakeClock()
    g = group(clock, "a", "b")
    await call(g, clock, 1.0)  # a measured
    async with g.slot() as first:
        assert first == "b"
        assert g.choose().name == "a"  # b's first answer is not in yet


async def test_a_member_failing_repeatedly_is_ejected_then_probed_back() -> None:
    clock = FakeClock()
    g = group(clock, "sick", "well")
    await call(g, clock, 0.5)
    await call(g, clock, 1.0)
    sick = g.members[0]
    for _ in range(3):
        sick.latency_s = 0.1  # cheap, so the balancer keeps choosing it until it is ejected
        assert await call(g, clock, 0.1, server_error()) == "sick"
    assert g.snapshot()["members"][0]["state"] == "open"
    assert [await call(g, clock, 1.0) for _ in range(5)] == ["well"] * 5
    clock.advance(5)
    sick.latency_s, sick.health = 0.1, 1.0
    assert await call(g, clock, 0.1, server_error()) == "sick"  # the probe fails: ejected for twice as long
    clock.advance(5)
    assert g.choose().name == "well"
    clock.advance(5)
    sick.latency_s, sick.health = 0.1, 1.0
    assert await call(g, clock, 0.1) == "sick"  # the probe answers: back in the group
    assert g.snapshot()["members"][0]["state"] == "closed"


async def test_with_every_member_ejected_the_error_names_each_and_its_last_error() -> None:
    clock = FakeClock()
    g = group(clock, "a", "b")
    for _ in range(2):
        await call(g, clock, 0.1, ProviderConnectionError("cannot reach compatible at http://a"))
    with pytest.raises(GroupUnavailable) as info:
        g.choose()
    assert set(info.value.members) == {"a", "b"}
    assert "a: cannot reach compatible at http://a" in str(info.value)


async def test_a_call_that_could_not_connect_is_retried_on_another_member() -> None:
    clock = FakeClock()
    g = group(clock, "down", "up")
    down = FakeModel(ProviderConnectionError("cannot reach http://down"))
    up = FakeModel(text("answer"))
    model = caller(down, service=g, members={"down": down, "up": up}, retry=RetryPolicy(0, 0.0))
    response = await model.chat([], stage="research")
    assert response.text == "answer" and len(down.requests) == 1 and len(up.requests) == 1


def test_a_group_of_endpoints_from_settings_caches_under_the_group_name() -> None:
    settings = Settings(research_model="compatible:llama", services={"compatible": {"endpoints": [
        {"base_url": "http://127.0.0.1:1/v1"}, {"base_url": "http://127.0.0.1:2/v1", "api_key": "k2"}]}})
    hub = ModelHub(settings)
    research = hub.stage_models().research
    assert isinstance(research.service, ServiceGroup) and set(research.members) == {"compatible#1", "compatible#2"}
    assert research.cache_identity == "compatible:llama@group:compatible"
    snap = hub.services.snapshot()["compatible"]
    assert [m["endpoint"] for m in snap["members"]] == ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"]
    assert "k2" not in str(snap)
