"""MCP server benchmark over real streamable HTTP on 127.0.0.1.

Measures, against the scripted LLM server (2 s per model call, 5 topics: a ~20 s research):
- the longest gap between progress notifications during a blocking `research` call (goal ≤ 5 s);
- how fast `research_start` answers (the run id must come back at once, whatever the research takes);
- `research_status` latency while a run is going (p50/p99 over 100 polls).

With `--finished`: what a status poll of a finished run costs when its record comes from the run store (another
replica's run, or one from before a restart), disk and Redis. One completed run with 1 MB of source texts (the
default DEEP_RESEARCH_CLAIM_TEXT_CHARS_STORED) is stored twice: as this version stores it (the texts beside the
record) and as the previous version did (inline, which this version still reads). Polls of the two alternate on one
server; medians over `--polls` each, over MCP (streamable HTTP) and of the store's `get` alone.

Run: .venv/bin/python bench/server_bench.py [--finished [--polls N]]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from mcp.client import Client

from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer
from deep_research_mcp.server.serve import serve_http
from deep_research_mcp.server.store import (
    DiskRunStore,
    RedisRunStore,
    RunRecord,
    RunStore,
    StoredClaim,
    StoredNote,
    StoredSource,
)
from deep_research_mcp.settings import Settings

QUESTION = "How do tidal lagoons store energy, and how does that compare with pumped hydro?"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def status_latencies(client: Client, run_id: str, n: int = 100) -> list[float]:
    latencies = []
    for _ in range(n):
        started = time.perf_counter()
        await client.call_tool("research_status", {"run_id": run_id})
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        for i in range(20):
            (docs / f"note{i}.md").write_text(f"# Note {i}\n\nTidal lagoons store energy behind wall {i}.\n")
        async with ScriptedLLMServer(Scenario(latency_s=2.0, topics=5, tool_calls_per_researcher=3)) as llm:
            settings = Settings(research_model="openai:scripted", openai_base_url=llm.openai_base_url,
                                openai_api_key="x", docs_dir=docs, data_dir=Path(tmp) / "data", fetch_enabled=False,
                                allow_clarification=False, cache_enabled=False)
            ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            server = asyncio.create_task(serve_http(settings, host="127.0.0.1", port=0, on_ready=ready.set_result))
            url = await ready
            try:
                async with Client(url, read_timeout_seconds=300) as client:
                    stamps: list[float] = []

                    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                        stamps.append(time.perf_counter())

                    started = time.perf_counter()
                    result = await client.call_tool("research", {"question": QUESTION}, progress_callback=on_progress)
                    ended = time.perf_counter()
                    points = [started, *stamps, ended]
                    gaps = [b - a for a, b in zip(points, points[1:], strict=False)]
                    print(f"research: {ended - started:.1f} s, status {result.structured_content['status']}, "
                          f"{len(stamps)} progress notifications, longest gap {max(gaps):.2f} s (goal ≤ 5 s)")

                    t0 = time.perf_counter()
                    run = await client.call_tool("research_start", {"question": QUESTION + " (again)"})
                    start_ms = (time.perf_counter() - t0) * 1000
                    run_id = run.structured_content["run_id"]
                    latencies = await status_latencies(client, run_id)
                    print(f"research_start answered in {start_ms:.1f} ms; research_status p50 "
                          f"{statistics.median(latencies):.2f} ms, p99 {percentile(latencies, 0.99):.2f} ms "
                          f"(protocol {client.protocol_version})")
                    async with Client(url, mode="legacy") as legacy:
                        latencies = await status_latencies(legacy, run_id)
                        print(f"research_status over a {legacy.protocol_version} session: p50 "
                              f"{statistics.median(latencies):.2f} ms, p99 {percentile(latencies, 0.99):.2f} ms")
                    await client.call_tool("research_cancel", {"run_id": run_id})
            finally:
                server.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await server


def finished_record(run_id: str, sources: int = 40) -> RunRecord:
    """A completed run as big as the defaults allow it: 40 sources with 25,000 characters of text each (1 MB)."""
    registry = [StoredSource(id=f"S{i}", locator=f"https://example.org/{i}", title=f"Source {i}")
                for i in range(1, sources + 1)]
    texts = {s.id: (f"Passage of {s.title} about tidal lagoons and pumped hydro storage. " * 400)[:25_000]
             for s in registry}
    notes = [StoredNote(topic=f"Topic {i}", ok=True, note=f"Finding {i} [S{i}]. " * 40) for i in range(1, 6)]
    claims = [StoredClaim(text=f"Claim {i} [{i}].", citations=[i], source_ids=[f"S{i}"], verdict="supported",
                          evidence=texts[f"S{i}"][:300], evidence_source=f"S{i}") for i in range(1, sources + 1)]
    report = "# Tidal lagoons\n\n" + "".join(f"Claim {i} [{i}].\n" for i in range(1, sources + 1)) * 20
    return RunRecord(run_id=run_id, question=QUESTION, status="completed", phase="done", message="completed",
                     brief=QUESTION, notes=notes, registry=registry, sources=registry, report=report,
                     title="Tidal lagoons", claims=claims, source_texts=texts)


async def store_both(store: RunStore, write_inline: object) -> None:
    await store.put(finished_record("beside"))
    await write_inline(finished_record("inline"))  # type: ignore[operator]


@contextlib.asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[str]:
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(serve_http(settings, host="127.0.0.1", port=0, on_ready=ready.set_result))
    try:
        yield await ready
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server


async def alternate(poll_beside: object, poll_inline: object, n: int) -> tuple[float, ...]:
    """Medians of n polls each, wall ms and this process's CPU ms, alternating (and swapping which goes first) so that
    load on the machine hits both alike: (beside wall, inline wall, beside CPU, inline CPU)."""
    wall: dict[str, list[float]] = {"beside": [], "inline": []}
    cpu: dict[str, list[float]] = {"beside": [], "inline": []}
    pair = [("beside", poll_beside), ("inline", poll_inline)]
    for i in range(n):
        for name, poll in pair if i % 2 else pair[::-1]:
            started, cpu_started = time.perf_counter(), time.process_time()
            await poll()  # type: ignore[operator]
            wall[name].append((time.perf_counter() - started) * 1000)
            cpu[name].append((time.process_time() - cpu_started) * 1000)
    return tuple(statistics.median(values[name]) for values in (wall, cpu) for name in ("beside", "inline"))


async def finished_polls(n: int) -> None:
    from queue_bench import redis_server  # the bench's own redis-server on a free port

    # A run that finished in this process is answered from memory, copied on every poll (RunManager.get); this
    # version keeps it there without its texts once they are stored.
    kept = finished_record("kept")
    stripped = kept.model_copy(update={"source_texts": {}})

    async def copy(record: RunRecord) -> None:
        record.model_copy(deep=True)

    memory = await alternate(lambda: copy(stripped), lambda: copy(kept), n * 5)
    print(f"memory: a poll's copy of a run finished here ({n * 5} each), without / with its texts: "
          f"{memory[0]:.3f} / {memory[1]:.3f} ms wall")
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        (docs / "tides.md").write_text("# Tides\n\nTidal lagoons store energy behind a wall.\n")
        stack = contextlib.ExitStack()
        with stack:
            kinds = ["disk"] + (["redis"] if shutil.which("redis-server") else [])
            for kind in kinds:
                url = stack.enter_context(redis_server(Path(tmp))) if kind == "redis" else None
                settings = Settings(docs_dir=docs, data_dir=Path(tmp) / kind, fetch_enabled=False,
                                    cache_redis_url=url)
                if kind == "disk":
                    store: RunStore = DiskRunStore(settings.runs_path)

                    async def inline(record: RunRecord, store: DiskRunStore = store) -> None:  # type: ignore[assignment]
                        (store.root / f"{record.run_id}.json").write_text(record.model_dump_json())
                else:
                    assert url is not None
                    store = RedisRunStore(url)

                    async def inline(record: RunRecord, store: RedisRunStore = store) -> None:  # type: ignore[misc]
                        await store._redis.set(store._key(record.run_id), record.model_dump_json())
                await store_both(store, inline)
                full = len(finished_record("x").model_dump_json()) / 1e6
                small = len(finished_record("x").model_dump_json(exclude={"source_texts"})) / 1e6
                gets = await alternate(lambda s=store: s.get("beside"), lambda s=store: s.get("inline"), n * 5)
                await store.close()
                async with served(settings) as endpoint, Client(endpoint) as client:
                    polls = await alternate(
                        lambda: client.call_tool("research_status", {"run_id": "beside"}),
                        lambda: client.call_tool("research_status", {"run_id": "inline"}), n)
                # The server runs in this process: its CPU is in the HTTP poll's CPU figure.
                print(f"{kind}: record read per poll {small:.3f} MB (texts beside) / {full:.2f} MB (inline, the "
                      f"previous version); medians, beside / inline: store get ({n * 5} each) {gets[0]:.2f} / "
                      f"{gets[1]:.2f} ms wall, {gets[2]:.2f} / {gets[3]:.2f} ms CPU; research_status over HTTP "
                      f"({n} each) {polls[0]:.1f} / {polls[1]:.1f} ms wall, {polls[2]:.1f} / {polls[3]:.1f} ms CPU")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--finished", action="store_true", help="only the status poll of a finished stored run")
    parser.add_argument("--polls", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(finished_polls(args.polls) if args.finished else main())
