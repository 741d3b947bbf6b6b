"""Two HTTP replicas on one real redis-server: a run started on one is polled, fetched and cancelled on the other."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp.client import Client

from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer
from deep_research_mcp.server.serve import serve_http
from deep_research_mcp.server.store import RedisRunStore, RunRecord
from deep_research_mcp.settings import Settings

from ..redis_server import RedisServer, redis_server  # noqa: F401  # the fixture

pytestmark = pytest.mark.usefixtures("redis_server")


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "tides.md").write_text("# Tides\n\nTidal lagoons store energy behind a wall at high tide.\n")
    return folder


@pytest.fixture
async def llm() -> AsyncIterator[ScriptedLLMServer]:
    async with ScriptedLLMServer(Scenario(latency_s=0.2, topics=2)) as server:
        yield server


@asynccontextmanager
async def replica(settings: Settings) -> AsyncIterator[str]:
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve_http(settings, host="127.0.0.1", port=0, on_ready=ready.set_result))
    try:
        async with asyncio.timeout(20):
            done, _ = await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # raises why it could not start
        yield ready.result()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def replica_settings(llm: ScriptedLLMServer, docs: Path, tmp_path: Path, redis: RedisServer, name: str) -> Settings:
    # Separate data dirs: the replicas share nothing but Redis, as on two machines.
    return Settings(research_model="openai:scripted", openai_base_url=llm.openai_base_url, openai_api_key="x",
                    docs_dir=docs, data_dir=tmp_path / name, fetch_enabled=False, allow_clarification=False,
                    cache_redis_url=redis.url, cache_enabled=False)


@asynccontextmanager
async def two_replicas(
    llm: ScriptedLLMServer, docs: Path, tmp_path: Path, redis: RedisServer
) -> AsyncIterator[tuple[Client, Client]]:
    one = replica_settings(llm, docs, tmp_path, redis, "one")
    two = replica_settings(llm, docs, tmp_path, redis, "two")
    async with replica(one) as url_one, replica(two) as url_two, Client(url_one) as first, Client(url_two) as second:
        yield first, second


async def poll(client: Client, run_id: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            status = (await client.call_tool("research_status", {"run_id": run_id})).structured_content
            if done(status):
                return status
            await asyncio.sleep(0.1)


async def test_start_on_one_replica_result_from_the_other(
    llm: ScriptedLLMServer, docs: Path, tmp_path: Path, redis_server: RedisServer  # noqa: F811
) -> None:
    async with two_replicas(llm, docs, tmp_path, redis_server) as (first, second):
        run_id = (await first.call_tool("research_start", {"question": "How do tides store energy?"})
                  ).structured_content["run_id"]
        seen_running = await second.call_tool("research_status", {"run_id": run_id})
        final = await poll(second, run_id, lambda s: s["finished"])
        result = await second.call_tool("research_result", {"run_id": run_id})
        report = await second.read_resource(f"research://runs/{run_id}/report")
        listed = json.loads((await second.read_resource("research://runs")).contents[0].text)
    assert seen_running.structured_content["run_id"] == run_id
    assert final["status"] == "completed"
    assert result.structured_content["status"] == "completed" and result.structured_content["sources_count"] >= 1
    assert report.contents[0].text.startswith("# ")
    assert run_id in [r["run_id"] for r in listed]


async def test_cancel_on_the_other_replica_reaches_the_owner(
    llm: ScriptedLLMServer, docs: Path, tmp_path: Path, redis_server: RedisServer  # noqa: F811
) -> None:
    async with two_replicas(llm, docs, tmp_path, redis_server) as (first, second):
        run_id = (await first.call_tool("research_start", {"question": "Tides?"})).structured_content["run_id"]
        cancel = await second.call_tool("research_cancel", {"run_id": run_id})
        again = await second.call_tool("research_cancel", {"run_id": run_id})
        final = await poll(first, run_id, lambda s: s["finished"])
    assert "requested" in cancel.structured_content["message"]
    assert "already" in again.structured_content["message"]
    assert final["status"] == "cancelled"


async def test_redis_store_round_trip_and_listing(redis_server: RedisServer) -> None:  # noqa: F811
    store = RedisRunStore(redis_server.url, prefix="test-store:")
    try:
        for i in range(3):
            await store.put(RunRecord(run_id=f"run-{i}", question=f"question {i}",
                                      created_at=f"2026-01-0{i + 1}T00:00:00.000Z"))
        record = await store.get("run-1")
        listed = await store.list(limit=2)
        assert await store.get("missing") is None and await store.get("bad id!") is None
        await store.request_cancel("run-2")
        flagged = await store.cancel_requested("run-2")
    finally:
        await store.close()
    assert record is not None and record.question == "question 1"
    assert [r.run_id for r in listed] == ["run-2", "run-1"]
    assert flagged
