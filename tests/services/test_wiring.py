"""Services where they are used: the model caller's retries, the settings and the upstream config that make them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from deep_research_mcp.errors import ConfigError, ProviderHTTPError
from deep_research_mcp.llm.factory import ModelHub
from deep_research_mcp.services import LimitConfig, Service, ServiceRegistry
from deep_research_mcp.settings import Settings
from deep_research_mcp.tools.upstream import parse_mcp_config
from deep_research_mcp.tools.upstream.manager import UpstreamManager

from ..llm.test_client import FakeModel, caller, text


def refusal() -> ProviderHTTPError:
    return ProviderHTTPError("HTTP 429: slow down", status=429, retry_after=0.0)


async def test_refusals_a_service_paces_do_not_use_up_the_retries() -> None:
    svc = Service("fake", LimitConfig(max=4), timeout_s=5.0)
    model = FakeModel(refusal(), refusal(), refusal(), refusal(), text("answer"))
    response = await caller(model, service=svc).chat([], stage="research")
    assert response.text == "answer"  # four 429s, though max_retries is 2
    assert svc.counters.overloaded == 4 and svc.counters.succeeded == 1
    # Without a service nothing queues or pauses the retries, so they count as before.
    with pytest.raises(ProviderHTTPError):
        await caller(FakeModel(refusal(), refusal(), refusal(), text("x"))).chat([], stage="research")


def test_each_provider_a_stage_uses_is_a_service_built_from_settings() -> None:
    registry = ServiceRegistry()
    settings = Settings(research_model="openai:gpt-4.1", openai_api_key="k", summarization_model="offline:extractive",
                        services={"openai": {"max_concurrency": 6, "min_concurrency": 2, "timeout_s": 9}})
    hub = ModelHub(settings, services=registry)
    models = hub.stage_models()
    assert models.research.service is registry.get("openai") and models.summarization.service is None
    assert models.research.timeout_s == 9
    assert registry.snapshot()["openai"]["limit"] == 6 and registry.snapshot()["openai"]["floor"] == 2


@pytest.mark.parametrize(("services", "words"), [
    ({"compatible": {"max_concurrency": 0}}, "services.compatible.max_concurrency"),
    ({"openai": {"max_concurrency": 4, "min_concurrency": 5}}, "min_concurrency (5) is above max_concurrency (4)"),
    ({"opnai": {}}, "services.opnai"),
])
def test_impossible_service_settings_fail_at_start_naming_the_field(services: object, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(services=services)
    assert words in str(info.value)


def test_a_floor_above_the_default_maximum_is_named_when_the_hub_is_built() -> None:
    settings = Settings(research_model="openai:gpt-4.1", openai_api_key="k", http_max_connections=10,
                        services={"openai": {"min_concurrency": 20}})
    with pytest.raises(ConfigError, match="DEEP_RESEARCH_SERVICES, openai: the concurrency floor 20"):
        ModelHub(settings)


def test_upstream_servers_are_services_whose_max_is_max_concurrency() -> None:
    servers = parse_mcp_config({"mcpServers": {"docs": {"command": "x", "maxConcurrency": 3,
                                                         "minConcurrency": 2}}})
    manager = UpstreamManager(servers)
    snap = manager.services.snapshot()["mcp:docs"]
    assert (snap["limit"], snap["max"], snap["floor"]) == (3, 3, 2)
    with pytest.raises(ConfigError, match="'minConcurrency': 5 is above maxConcurrency"):
        parse_mcp_config({"mcpServers": {"docs": {"command": "x", "maxConcurrency": 3, "minConcurrency": 5}}})
