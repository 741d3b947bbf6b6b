"""The run store keeps a run's source texts (up to ~1 MB, for `write`'s claim check) beside its record, on disk and
in a real redis-server: a status poll reads only the record, `write` reads the texts once, and records written by
the previous version (texts inline) still load. And a run's owner: the stores list one principal's runs, and a
front-end of the task queue answers another principal's run as an unknown one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from mcp.client import Client

from deep_research_mcp.server import app as app_module
from deep_research_mcp.server.queue import open_run_queue
from deep_research_mcp.server.runs import RunManager, UnknownRun
from deep_research_mcp.server.store import DiskRunStore, RedisRunStore, RunRecord, RunStore, StoredNote, StoredSource
from deep_research_mcp.settings import Settings

from ..redis_server import start_redis

TEXTS = {"S1": "A tidal lagoon holds water behind a wall at high tide and releases it through turbines. " * 40}
ALICE, BOB = '["alice",null,null]', '["bob",null,null]'


def completed(run_id: str, **fields: Any) -> RunRecord:
    values: dict[str, Any] = {
        "question": "How do tidal lagoons store energy?", "status": "completed", "brief": "Tidal lagoons.",
        "notes": [StoredNote(topic="Tidal lagoons", ok=True,
                             note="A tidal lagoon holds water behind a wall at high tide [S1].")],
        "registry": [StoredSource(id="S1", locator="/docs/tidal-lagoons.md", title="Tidal lagoons")],
        "report": "# Tides\n\nA tidal lagoon holds water behind a wall at high tide [1].\n", "source_texts": TEXTS}
    values.update(fields)
    return RunRecord(run_id=run_id, **values)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One redis-server for the module; each test keeps to its own key prefix (or queue)."""
    server = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(params=["disk", "redis"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str
) -> AsyncIterator[tuple[RunStore, Any]]:
    """Each store, with a way to write a record as the previous version did (its texts inline)."""
    if request.param == "disk":
        disk = DiskRunStore(tmp_path / "runs")

        async def write_raw(record: RunRecord) -> None:
            (disk.root / f"{record.run_id}.json").write_text(record.model_dump_json())

        yield disk, write_raw
        return
    redis = RedisRunStore(redis_url, prefix=f"{request.node.name}:")
    try:
        async def write_raw(record: RunRecord) -> None:
            await redis._redis.set(redis._key(record.run_id), record.model_dump_json())
            await redis._redis.zadd(f"{redis.prefix}runs", {record.run_id: 1.0})

        yield redis, write_raw
    finally:
        await redis.close()


async def test_source_texts_live_beside_the_record_and_old_records_still_load(
    store: tuple[RunStore, Any]
) -> None:
    runs, write_raw = store
    await runs.put(completed("new"))
    polled = await runs.get("new")
    assert polled is not None and polled.source_texts == {} and polled.report  # a poll reads the record only
    assert await runs.texts("new") == TEXTS
    polled.message = "settled again"  # a record read without its texts and written back keeps them stored
    await runs.put(polled)
    assert await runs.texts("new") == TEXTS
    await write_raw(completed("old"))  # as the previous version stored it
    old = await runs.get("old")
    assert old is not None and old.source_texts == TEXTS
    assert await runs.texts("old") == TEXTS
    await runs.put(old)  # written again by this version: the texts move beside it
    assert (await runs.get("old")).source_texts == {}  # type: ignore[union-attr]
    assert await runs.texts("old") == TEXTS
    assert await runs.texts("missing") == {} and await runs.texts("bad id!") == {}


async def test_lists_hold_one_principal_s_runs(store: tuple[RunStore, Any]) -> None:
    runs, _ = store
    for i in range(6):
        await runs.put(RunRecord(run_id=f"run-{i}", question=f"q{i}", principal=ALICE if i % 3 else BOB,
                                 created_at=f"2026-01-0{i + 1}T00:00:00.000Z"))
    alices = [r.run_id for r in await runs.list(limit=3, principal=ALICE)]
    bobs = [r.run_id for r in await runs.list(limit=3, principal=BOB)]
    everyone = await runs.list(limit=10)
    assert len(alices) == 3 and set(alices) <= {"run-1", "run-2", "run-4", "run-5"}, alices
    assert set(bobs) == {"run-0", "run-3"} and len(everyone) == 6
    assert "principal" not in everyone[0].model_dump()  # who started a run is never shown


async def test_a_queue_front_end_answers_another_principal_s_run_as_unknown(tmp_path: Path, redis_url: str) -> None:
    """The front-end of the task queue reads runs from Redis: a queued run of alice's is unknown to bob for status,
    cancel and write, and missing from his list, while alice's cancel takes it out of the queue."""
    settings = Settings(data_dir=tmp_path, queue_url=redis_url, fetch_enabled=False, queue_name="ownership")
    store = RedisRunStore(redis_url, prefix="ownership:")
    try:
        await store.put(RunRecord(run_id="queued", question="q", principal=ALICE, message="waiting for a worker"))
        await store.put(completed("done", principal=ALICE))
        async with open_run_queue(settings) as queue:
            await queue.enqueue("queued")
            async with RunManager(cast(Any, None), store, queue=queue) as runs:
                refused = []
                for call in (lambda: runs.get("queued", principal=BOB), lambda: runs.cancel("queued", principal=BOB),
                             lambda: runs.rewrite("done", principal=BOB), lambda: runs.get("nothing", principal=BOB)):
                    with pytest.raises(UnknownRun) as caught:
                        await call()
                    refused.append(str(caught.value))
                bobs = await runs.list(principal=BOB)
                alices = await runs.list(principal=ALICE)
                seen = await runs.get("queued", principal=ALICE)
                _, cancelled = await runs.cancel("queued", principal=ALICE)
    finally:
        await store.close()
    assert refused[:3] == [f"unknown run id {name!r}; the resource research://runs lists the runs this server keeps"
                           for name in ("queued", "queued", "done")]
    assert bobs == [] and {r.run_id for r in alices} == {"queued", "done"}
    assert seen.queue_position == 1
    assert cancelled == "run queued cancelled before a worker started it"


class CountingStore:
    """The server's own run store, counting what `write` reads."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self.reads: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def get(self, run_id: str) -> RunRecord | None:
        self.reads.append(("get", run_id))
        return await self.store.get(run_id)

    async def texts(self, run_id: str) -> dict[str, str]:
        self.reads.append(("texts", run_id))
        return await self.store.texts(run_id)


async def test_write_reads_its_parent_once_and_checks_claims_against_the_stored_texts(
    docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(docs_dir=docs, data_dir=tmp_path / "data", fetch_enabled=False)
    await DiskRunStore(settings.runs_path).put(completed("parent"))  # stored by an earlier server
    counting: list[CountingStore] = []

    def open_store(settings: Settings) -> RunStore:
        counting.append(CountingStore(DiskRunStore(settings.runs_path)))
        return cast(RunStore, counting[0])

    monkeypatch.setattr(app_module, "open_store", open_store)
    async with Client(app_module.build_server(settings)) as client:
        result = await client.call_tool("write", {"run_id": "parent", "instructions": "Shorter.", "wait_s": 30})
    assert not result.is_error and result.structured_content["status"] == "completed", result.content
    assert [read for read in counting[0].reads if read[1] == "parent"] == [("get", "parent"), ("texts", "parent")]
    stored = await DiskRunStore(settings.runs_path).get(result.structured_content["run_id"])
    # Checked at all means the texts reached the rewrite: without them every sentence is "unchecked".
    assert stored is not None and stored.claim_summary.get("checked", 0) >= 1, stored.claim_summary
    assert json.loads((settings.runs_path / "texts" / "parent.json").read_text()) == TEXTS
