"""Runs that fail say why in one sentence: on the run record, in research_status, in the result and the task."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp.client import Client

from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer
from deep_research_mcp.llm.scripted.scenario import FailureRule
from deep_research_mcp.server.app import build_server

from .test_tools import TasksClient, get_task, poll_until_finished, scripted_settings, text_of


@pytest.fixture
async def llm() -> AsyncIterator[ScriptedLLMServer]:
    async with ScriptedLLMServer(Scenario(latency_s=0.25, topics=2)) as server:
        yield server


@pytest.mark.parametrize(("kind", "words"), [("500", "500"), ("429", "429")])
async def test_a_provider_failure_reaches_status_and_result_in_plain_words(
    docs: Path, tmp_path: Path, kind: str, words: str
) -> None:
    scenario = Scenario(failures=[FailureRule(kind=kind, stage="brief", times=None)])  # type: ignore[arg-type]
    async with ScriptedLLMServer(scenario) as failing:
        settings = scripted_settings(failing, docs, tmp_path, max_retries=0)
        async with Client(build_server(settings)) as client:
            started = await client.call_tool("research_start", {"question": "How do tidal lagoons store energy?"})
            run_id = started.structured_content["run_id"]
            status = await poll_until_finished(client, run_id)
            result = await client.call_tool("research_result", {"run_id": run_id})
            timeline = json.loads((await client.read_resource(f"research://runs/{run_id}/timeline")).contents[0].text)
    assert status["status"] == "failed"
    # The failed run keeps its timeline as far as it went: the brief call that failed, with its kind.
    model_calls = [(s["stage"], s["outcome"]) for s in timeline["spans"] if s["kind"] == "model"]
    assert model_calls[-1] == ("brief", {"500": "5xx"}.get(kind, kind))
    for text in (status["message"], text_of(result)):
        assert words in text and "model provider" in text, text
        assert "ExceptionGroup" not in text and "internal error" not in text, text
    assert result.is_error
    assert status["researchers_running"] == 0


async def test_status_after_cancel_counts_no_running_researchers(
    llm: ScriptedLLMServer, docs: Path, tmp_path: Path
) -> None:
    async with Client(build_server(scripted_settings(llm, docs, tmp_path))) as client:
        run_id = (await client.call_tool("research_start", {"question": "Tides?"})).structured_content["run_id"]
        async with asyncio.timeout(20):
            while True:  # until researchers are at work, so the last snapshot counts them running
                status = (await client.call_tool("research_status", {"run_id": run_id})).structured_content
                if status["researchers_running"]:
                    break
                await asyncio.sleep(0.05)
        await client.call_tool("research_cancel", {"run_id": run_id})
        status = (await client.call_tool("research_status", {"run_id": run_id})).structured_content
    assert status["status"] == "cancelled" and status["finished"]
    assert status["researchers_running"] == 0 and status["researchers_queued"] == 0


async def test_a_failed_task_says_the_cause_in_its_status_and_result(docs: Path, tmp_path: Path) -> None:
    scenario = Scenario(failures=[FailureRule(kind="500", stage="brief", times=None)])
    extension = TasksClient()
    async with ScriptedLLMServer(scenario) as failing:
        settings = scripted_settings(failing, docs, tmp_path, max_retries=0)
        async with Client(build_server(settings), extensions=[extension]) as client:
            result = await client.call_tool("research", {"question": "How do tidal lagoons store energy?"})
            task = await get_task(client.session, extension.handles[0].task_id)
    assert result.is_error and "HTTP 500" in text_of(result) and "internal error" not in text_of(result)
    assert "HTTP 500" in str((task.model_extra or {}).get("statusMessage")), task


async def test_a_run_cancelled_before_its_task_first_runs_still_records_its_end(
    llm: ScriptedLLMServer, docs: Path, tmp_path: Path
) -> None:
    from deep_research_mcp.server.app import app_lifespan

    async with app_lifespan(scripted_settings(llm, docs, tmp_path)) as app:
        record = await app.runs.start("How do tidal lagoons store energy?")
        # No await between start and cancel: the run's task has been created but has not taken its first step.
        async with asyncio.timeout(10):
            cancelled, message = await app.runs.cancel(record.run_id)
    assert cancelled.status == "cancelled", message
