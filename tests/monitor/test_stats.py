"""`deep-research stats` reads the timelines kept in the run store back as tables or JSON."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from deep_research_mcp.cli import main
from deep_research_mcp.monitor import Monitor
from deep_research_mcp.server.store import DiskRunStore, RunRecord

from .conftest import record_one_researcher


async def recorded_timeline() -> dict[str, object]:
    """A run's timeline recorded through the same hooks the engine calls: two model calls (one refused with 429),
    a tool call in a researcher's lane."""
    recorder = Monitor().recorder("20261201-000000-abcdef01")
    async with recorder.model("openai:gpt-4.1", "", "brief"):
        await asyncio.sleep(0.01)
    recorder.usage("brief", "openai:gpt-4.1", 100, 20, 0.001, 0.01)
    return await record_one_researcher(recorder)


def test_stats_reads_the_run_stores_timelines(capsys: pytest.CaptureFixture[str]) -> None:
    timeline = asyncio.run(recorded_timeline())
    store = DiskRunStore(Path(os.environ["DEEP_RESEARCH_DATA_DIR"]) / "runs")
    record = RunRecord(run_id="20261201-000000-abcdef01", question="How is energy stored?", status="completed",
                       timeline=timeline)
    asyncio.run(store.put(record))
    asyncio.run(store.put(RunRecord(run_id="still-running", question="q")))  # no timeline yet: left out

    assert main(["stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    [row] = stats["runs"]
    assert row["run_id"] == record.run_id and row["floor_s"] == timeline["floor_s"] > 0.02
    assert row["model_calls"] == 2 and row["tool_calls"] == 1 and row["errors"] == 1 and row["tokens"] == 120
    model = stats["services"]["openai:gpt-4.1"]
    assert model["calls"] == 2 and model["errors"]["429"] == 1 and model["latency_s"]["count"] == 2
    assert stats["services"]["search_documents"]["kind"] == "tool"

    assert main(["stats"]) == 0
    tables = capsys.readouterr().out
    assert record.run_id in tables and "wall/floor" in tables and "search_documents" in tables
