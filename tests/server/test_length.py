"""`research(options={"length": ...})`: the report's length through the SDK's in-process `Client`. A model writer is
asked for it in the report prompt; the offline writer reads the same words as "shorter" / "longer" (quoting half or
half again as much, tested in tests/llm/offline); a value outside the three is refused in one sentence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp.client import Client

from deep_research_mcp import prompts
from deep_research_mcp.llm.offline.report import parse_instructions
from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer
from deep_research_mcp.llm.scripted.scenario import FailureRule
from deep_research_mcp.server.app import build_server
from deep_research_mcp.settings import Settings

from .test_followup import research, settings_for, text_of


@pytest.fixture
async def llm() -> AsyncIterator[ScriptedLLMServer]:
    async with ScriptedLLMServer(Scenario(topics=1, repeat_known_topics=True)) as server:
        yield server


def test_the_offline_writer_reads_each_length_as_meant() -> None:
    # The same words reach a model writer and the offline one; the offline one must read them, decline nothing.
    short, long = parse_instructions(prompts.REPORT_LENGTH["short"]), parse_instructions(prompts.REPORT_LENGTH["long"])
    assert (short.shorter, short.longer, short.declined, short.only, short.omit) == (True, False, (), (), ())
    assert (long.shorter, long.longer, long.declined, long.only, long.omit) == (False, True, (), (), ())


async def test_an_offline_run_of_each_length_completes_without_warnings(docs: Path, tmp_path: Path) -> None:
    async with Client(build_server(settings_for(docs, tmp_path))) as client:
        runs = {length: await research(client, "How do tidal lagoons store energy?", options={"length": length})
                for length in ("short", "long")}
    assert all(not run["warnings"] for run in runs.values()), {k: v["warnings"] for k, v in runs.items()}


async def test_a_model_writer_is_asked_for_the_length_and_a_wrong_value_is_one_sentence(
    llm: ScriptedLLMServer, docs: Path, tmp_path: Path
) -> None:
    settings: Settings = settings_for(docs, tmp_path, llm)
    async with Client(build_server(settings)) as client:
        # The rule fails the report request once if, and only if, it carries the length instruction.
        llm.scenario = Scenario(failures=[FailureRule(kind="500", stage="report", match="Keep it short")])
        await research(client, "How do tidal lagoons store energy?", options={"length": "standard"})
        standard_failures = llm.stats.failures_injected
        llm.reset_stats()
        await research(client, "How efficient is pumped hydro?", options={"length": "short"})
        short_failures = llm.stats.failures_injected
        wrong: Any = await client.call_tool("research", {"question": "Tides?", "options": {"length": "medium"}})
    assert (standard_failures, short_failures) == (0, 1)
    assert wrong.is_error and text_of(wrong) == (
        "research: 'options.length' must be one of short, standard, long, not \"medium\".")
