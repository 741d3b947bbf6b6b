import pytest
from pydantic import ValidationError

from deep_research_mcp.errors import BudgetExceeded
from deep_research_mcp.llm._wire import context_limit_from, is_context_length_message, retry_after_seconds
from deep_research_mcp.llm.base import Usage
from deep_research_mcp.llm.jsonrepair import parse_json_object
from deep_research_mcp.llm.usage import UsageMeter
from deep_research_mcp.settings import Settings, parse_model_string


@pytest.mark.parametrize(
    "raw",
    [
        '{"a": 1, "b": [true, null]}',
        '```json\n{"a": 1, "b": [true, null],}\n```',
        'Sure! Here it is: {"a": 1, "b": [True, None]} Hope that helps.',
        '{"a": 1, "b": [true, null',
    ],
)
def test_json_repair_recovers_common_breakage(raw: str) -> None:
    assert parse_json_object(raw) == {"a": 1, "b": [True, None]}


def test_json_repair_gives_up_on_prose() -> None:
    with pytest.raises(ValueError):
        parse_json_object("I cannot answer that.")


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after_seconds({}) is None


def test_context_length_messages_of_both_providers() -> None:
    openai_text = "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens."
    anthropic_text = "prompt is too long: 210000 tokens > 200000 maximum"
    assert is_context_length_message(openai_text) and context_limit_from(openai_text) == 8192
    assert is_context_length_message(anthropic_text) and context_limit_from(anthropic_text) == 200000
    assert not is_context_length_message("rate limited")


def test_usage_meter_sums_costs_and_enforces_budget() -> None:
    meter = UsageMeter(prices={"openai:m": (1.0, 2.0)}, max_tokens=1_500)
    meter.record("researcher", "openai:m", Usage(1_000, 100), 0.1)
    meter.record("report", "compatible:local", Usage(200, 300), 0.1)
    assert meter.total_tokens == 1_600
    assert meter.cost_usd == pytest.approx((1_000 * 1.0 + 100 * 2.0) / 1e6)
    assert meter.summary()["by_stage"]["report"]["output_tokens"] == 300
    with pytest.raises(BudgetExceeded, match="1600 of 1500"):
        meter.check()


def test_model_strings() -> None:
    assert parse_model_string("anthropic:claude-sonnet-4-5") == ("anthropic", "claude-sonnet-4-5")
    assert parse_model_string("compatible:llama3.1:8b") == ("compatible", "llama3.1:8b")
    for bad in ("gpt-4.1", "openai:", ":x", "google:gemini"):
        with pytest.raises(ValueError):
            parse_model_string(bad)


def test_settings_read_env_and_standard_key_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    monkeypatch.setenv("DEEP_RESEARCH_RESEARCH_MODEL", "openai:gpt-4.1")
    monkeypatch.setenv("DEEP_RESEARCH_COMPRESSION_MODEL", "anthropic:claude-haiku-4-5")
    monkeypatch.setenv("DEEP_RESEARCH_MAX_CONCURRENT_RESEARCH_UNITS", "7")
    settings = Settings()
    assert settings.openai_api_key is not None and "sk-secret" not in repr(settings)
    assert settings.stage_model("final_report") == "openai:gpt-4.1"
    assert settings.stage_model("compression") == "anthropic:claude-haiku-4-5"
    assert settings.max_concurrent_research_units == 7


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("research_model", "google:gemini"),
        ("research_model", "nocolon"),
        ("max_concurrent_research_units", 0),
        ("max_tool_calls", -1),
        ("max_supervisor_iterations", 0),
    ],
)
def test_bad_settings_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(**{field: value})
