"""Twenty concurrent runs while the model provider fails in every way it does: HTTP 500s and 429s (some for
good, some transient), and calls that hang until the per-call timeout. No run may be lost (each ends, is listed
and answers status), and every failed run says why in plain words."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from mcp.client import Client

from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer
from deep_research_mcp.llm.scripted.scenario import FailureRule
from deep_research_mcp.server.app import build_server
from deep_research_mcp.settings import Settings

from ..server.conftest import write_corpus

RUNS = 20
# Which runs fail for good, by a marker in the question (the scripted server matches request text); the others
# meet transient faults and must recover through retries, or lose a researcher and still complete.
FATAL = {"fatal500": "HTTP 500", "fatal429": "HTTP 429", "fatalhang": "did not answer within"}
FAULTS = [
    FailureRule(kind="500", stage="brief", match="fatal500", times=None),
    FailureRule(kind="429", stage="brief", match="fatal429", times=None),
    FailureRule(kind="hang", stage="brief", match="fatalhang", times=None),
    FailureRule(kind="500", times=4),
    FailureRule(kind="429", times=4),
    FailureRule(kind="hang", stage="researcher", times=3),
]


def question(n: int) -> str:
    marker = list(FATAL)[n % 7] if n % 7 < len(FATAL) else "plain"
    return f"Run {n} ({marker}): how do tidal lagoons store energy?"


async def status_of(client: Client, run_id: str) -> dict[str, Any]:
    result = await client.call_tool("research_status", {"run_id": run_id})
    assert not result.is_error, result.content
    return dict(result.structured_content or {})


@pytest.mark.slow
async def test_twenty_concurrent_runs_under_injected_faults_lose_nothing_and_explain_every_failure(
    tmp_path: Path,
) -> None:
    docs = write_corpus(tmp_path / "docs")
    async with ScriptedLLMServer(Scenario(latency_s=0.05, topics=2, failures=FAULTS)) as llm:
        settings = Settings(research_model="openai:scripted", openai_base_url=llm.openai_base_url,
                            openai_api_key="x", docs_dir=docs, data_dir=tmp_path / "data", fetch_enabled=False,
                            allow_clarification=False, max_concurrent_runs=10, max_retries=3,
                            retry_base_delay_s=0.01, call_timeout_s=1.0, cache_enabled=False)
        async with Client(build_server(settings)) as client:
            started = await asyncio.gather(*(client.call_tool("research_start", {"question": question(n)})
                                             for n in range(RUNS)))
            assert not any(s.is_error for s in started), [s.content for s in started if s.is_error]
            run_ids = [str(s.structured_content["run_id"]) for s in started]
            final: dict[str, dict[str, Any]] = {}
            async with asyncio.timeout(90):
                while len(final) < RUNS:
                    for run_id in run_ids:
                        if run_id not in final and (status := await status_of(client, run_id))["finished"]:
                            final[run_id] = status
                    await asyncio.sleep(0.2)
            listed = json.loads((await client.read_resource("research://runs")).contents[0].text)
        injected = llm.stats.failures_injected
    statuses = [final[run_id]["status"] for run_id in run_ids]
    print(f"{RUNS} runs under {injected} injected faults: "
          f"{statuses.count('completed')} completed, {statuses.count('failed')} failed")
    assert {r["run_id"] for r in listed} >= set(run_ids)  # none lost from the store either
    for n, run_id in enumerate(run_ids):
        status, marker = final[run_id], question(n).split("(")[1].split(")")[0]
        message = status["message"]
        if marker in FATAL:
            assert status["status"] == "failed" and FATAL[marker] in message, (n, status)
        elif status["status"] != "completed":  # transient faults can still exhaust one call's retries
            assert status["status"] == "failed" and any(cause in message for cause in FATAL.values()), (n, status)
        assert "internal error" not in message and "ExceptionGroup" not in message, (n, message)
    assert statuses.count("completed") >= RUNS // 2 and injected > 15
