"""MCP server benchmark over real streamable HTTP on 127.0.0.1.

Measures, against the scripted LLM server (2 s per model call, 5 topics: a ~20 s research):
- the longest gap between progress notifications during a blocking `research` call (goal ≤ 5 s);
- how fast `research_start` answers (the run id must come back at once, whatever the research takes);
- `research_status` latency while a run is going (p50/p99 over 100 polls).

Run: .venv/bin/python bench/server_bench.py
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

from mcp.client import Client

from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer
from deep_research_mcp.server.serve import serve_http
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


if __name__ == "__main__":
    asyncio.run(main())
