"""Cache benchmark: hit latency per level, the engine scenario rerun warm, single-flight, pooled fetching.

    python bench/cache_bench.py [--quick] [--json PATH]

1. Hit latency of one lookup (a 2 KB model answer) per level: memory, disk (diskcache, off the loop), Redis
   (a redis-server started on a free loopback port when `redis-server` is on PATH), median and p99 in µs.
2. The engine benchmark's 5-topic scenario (scripted server in its own process, L = 2 s, T = 1 s), run cold with
   an empty cache, then again in the same process (memory hits) and with a fresh cache on the same disk (as a new
   process would): upstream model and tool calls (goal 0) and speed-up over cold (goal ≥ 100×).
3. 10 concurrent identical model calls through one ModelCaller: upstream calls (goal 1).
4. fetch_url throughput against a loopback aiohttp server in its own process: one pooled session for all requests
   vs a new session (pool, connection) per request, as a client rebuilt per call would do.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2
from aiohttp import web

from deep_research_mcp.cache import Cache, CachedTool, Policy, open_cache
from deep_research_mcp.cache.disk import DiskLevel
from deep_research_mcp.cache.memory import MemoryLevel
from deep_research_mcp.cache.redis_level import RedisLevel
from deep_research_mcp.cache.values import TextCodec
from deep_research_mcp.engine.config import EngineConfig
from deep_research_mcp.engine.run import ResearchEngine
from deep_research_mcp.llm.base import Message
from deep_research_mcp.llm.factory import ModelHub
from deep_research_mcp.tools.fetch import FetchUrlTool
from deep_research_mcp.tools.http_pool import HttpPool
from deep_research_mcp.tools.ssrf import GuardedResolver, SsrfGuard
from engine_bench import SPECS, ServerProcess, corpus, machine, run_once, settings_for

ANSWER = "A tidal lagoon stores water behind a wall and releases it through turbines. " * 27  # ~2 KB
PAGE = "<html><head><title>Tides</title></head><body>" + "<p>The moon moves the sea twice a day.</p>" * 100 + "</body>"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- 1. hit latency per level ---


@contextlib.asynccontextmanager
async def redis_on_free_port(workdir: Path) -> AsyncIterator[str | None]:
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as probe:  # redis has no "port 0": take a free port from the OS, then hand it over
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(workdir),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    probe_level = RedisLevel(url, timeout_s=0.5, cooldown_s=0.0)
    try:
        for _ in range(200):
            try:
                await probe_level.ping()
                break
            except Exception:
                await asyncio.sleep(0.05)
        yield url
    finally:
        await probe_level.close()
        proc.terminate()
        await proc.wait()


async def hit_latency(level_factory: Callable[[], Awaitable[Any]], n: int) -> dict[str, float]:
    level = await level_factory()
    cache = Cache([level], {"llm": Policy()})
    codec = TextCodec()

    async def compute() -> str:
        return ANSWER

    try:
        await cache.get_or_compute("llm", "q", compute, codec)
        samples: list[float] = []
        for _ in range(n):
            started = time.perf_counter()
            lookup = await cache.get_or_compute("llm", "q", compute, codec)
            samples.append((time.perf_counter() - started) * 1e6)
            assert lookup.hit
    finally:
        await cache.aclose()
    return {"median_us": statistics.median(samples), "p99_us": percentile(samples, 0.99), "n": n}


async def latencies(workdir: Path, n: int) -> dict[str, dict[str, float]]:
    out = {"memory": await hit_latency(lambda: asyncio.sleep(0, MemoryLevel(10**7)), n)}
    out["disk"] = await hit_latency(lambda: DiskLevel.open(workdir / "disk", max_bytes=10**8), n)
    async with redis_on_free_port(workdir) as url:
        if url is not None:
            out["redis"] = await hit_latency(lambda: asyncio.sleep(0, RedisLevel(url, timeout_s=0.5)), n)
    return out


# --- 2. the engine scenario, cold then warm ---


async def warm_rerun(workdir: Path, quick: bool) -> dict[str, Any]:
    spec = next(s for s in SPECS if s.name == "5-topics")
    if quick:
        spec = spec.scaled(0.1)
    async with ServerProcess(spec.scenario_json(), workdir) as server, httpx2.AsyncClient(timeout=10.0) as client:
        settings = settings_for(spec, server.url).model_copy(update={"cache_dir": workdir / "cache"})
        tool = corpus(spec.tool_latency_s)

        @contextlib.asynccontextmanager
        async def engine_on_cache() -> AsyncIterator[ResearchEngine]:
            async with open_cache(settings) as cache, ModelHub(settings, cache=cache) as hub:
                yield ResearchEngine(hub.stage_models(), [CachedTool(tool, cache, scope={"bench": "corpus"})],
                                     EngineConfig.from_settings(settings))

        runs: dict[str, Any] = {}
        async with engine_on_cache() as engine:
            runs["cold"] = await run_once(engine, tool, server, client)
            runs["warm (memory)"] = await run_once(engine, tool, server, client)
        async with engine_on_cache() as engine:  # a new cache on the same disk: what a new process would see
            runs["warm (disk, new cache)"] = await run_once(engine, tool, server, client)
    cold = runs["cold"]
    return {
        "scenario": spec.title,
        "runs": {
            label: {"wall_s": r.wall_s, "upstream_model_calls": sum(r.calls_by_stage.values()),
                    "upstream_tool_calls": r.tool_calls, "speedup": cold.wall_s / r.wall_s, "citations": r.citations}
            for label, r in runs.items()
        },
    }


# --- 3. single-flight ---


async def single_flight(workdir: Path) -> dict[str, Any]:
    scenario = {"latency_s": 0.2}
    async with ServerProcess(scenario, workdir) as server, httpx2.AsyncClient(timeout=10.0) as client:
        spec = next(s for s in SPECS if s.name == "zero-latency")
        settings = settings_for(spec, server.url).model_copy(update={"cache_dir": workdir / "cache"})
        async with open_cache(settings) as cache, ModelHub(settings, cache=cache) as hub:
            model = hub.stage_models().research
            messages = [Message.system("Final report writer."), Message.user("Write about tides [S1].")]
            before = (await server.stats(client))["calls"]
            async with asyncio.TaskGroup() as group:
                for _ in range(10):
                    group.create_task(model.chat(messages, stage="report"))
            after = (await server.stats(client))["calls"]
    return {"concurrent_calls": 10, "upstream_calls": after - before}


# --- 4. pooled vs per-request sessions ---


async def serve_page(port_file: Path) -> None:
    async def page(_: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{name}", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port_file.write_text(str(runner.addresses[0][1]))
    await asyncio.Event().wait()


def fetch_tool(pool: HttpPool) -> FetchUrlTool:
    return FetchUrlTool(pool)


def new_pool() -> HttpPool:
    return HttpPool(resolver=GuardedResolver(SsrfGuard(["127.0.0.1/32"])))


async def fetch_throughput(workdir: Path, requests: int, concurrency: int) -> dict[str, Any]:
    port_file = workdir / "port"
    proc = await asyncio.create_subprocess_exec(sys.executable, __file__, "--serve-page", str(port_file))
    try:
        for _ in range(400):
            if port_file.exists() and port_file.read_text():
                break
            await asyncio.sleep(0.025)
        base = f"http://127.0.0.1:{port_file.read_text()}"
        slots = asyncio.Semaphore(concurrency)

        async def measure(fetch_one: Callable[[str], Awaitable[None]]) -> float:
            async def one(i: int) -> None:
                async with slots:
                    await fetch_one(f"{base}/p{i}")

            started = time.perf_counter()
            async with asyncio.TaskGroup() as group:
                for i in range(requests):
                    group.create_task(one(i))
            return requests / (time.perf_counter() - started)

        async with new_pool() as pool:
            shared = fetch_tool(pool)

            async def pooled(url: str) -> None:
                await shared.fetch(url)

            await pooled(base + "/warmup")
            pooled_rps = await measure(pooled)

        async def fresh(url: str) -> None:
            async with new_pool() as pool:
                await fetch_tool(pool).fetch(url)

        fresh_rps = await measure(fresh)
    finally:
        proc.terminate()
        await proc.wait()
    return {"requests": requests, "concurrency": concurrency, "pooled_rps": pooled_rps,
            "session_per_request_rps": fresh_rps, "ratio": pooled_rps / fresh_rps}


# --- report ---


def report(results: dict[str, Any]) -> str:
    lines = [f"Cache benchmark — {results['date']} — {results['machine']}{' — QUICK' if results['quick'] else ''}", ""]
    lines += ["| level | hit median µs | hit p99 µs |", "|---|---:|---:|"]
    for level, r in results["hit_latency"].items():
        lines.append(f"| {level} | {r['median_us']:.0f} | {r['p99_us']:.0f} |")
    if "redis" not in results["hit_latency"]:
        lines.append("| redis | (redis-server not on PATH) | |")
    warm = results["warm_rerun"]
    lines += ["", f"Engine scenario: {warm['scenario']}", "",
              "| run | wall s | upstream model calls | upstream tool calls | speed-up over cold |",
              "|---|---:|---:|---:|---:|"]
    for label, r in warm["runs"].items():
        lines.append(f"| {label} | {r['wall_s']:.3f} | {r['upstream_model_calls']} | {r['upstream_tool_calls']} "
                     f"| {r['speedup']:.0f}× |")
    flight = results["single_flight"]
    fetch = results["fetch"]
    lines += ["", f"Single-flight: {flight['concurrent_calls']} concurrent identical model calls → "
              f"{flight['upstream_calls']} upstream call(s) (goal 1)", "",
              f"fetch_url, {fetch['requests']} requests at concurrency {fetch['concurrency']} against a loopback "
              f"server: pooled {fetch['pooled_rps']:.0f} req/s, new session per request "
              f"{fetch['session_per_request_rps']:.0f} req/s, ratio {fetch['ratio']:.2f}×"]
    return "\n".join(lines)


async def main_async(quick: bool, json_path: Path | None) -> int:
    with tempfile.TemporaryDirectory(prefix="cache-bench-") as tmp:
        root = Path(tmp)
        for name in ("latency", "warm", "flight", "fetch"):
            (root / name).mkdir()
        print("hit latency per level ...", file=sys.stderr, flush=True)
        hits = await latencies(root / "latency", 500 if quick else 5_000)
        print("engine scenario, cold then warm ...", file=sys.stderr, flush=True)
        warm = await warm_rerun(root / "warm", quick)
        print("single-flight ...", file=sys.stderr, flush=True)
        flight = await single_flight(root / "flight")
        print("fetch throughput ...", file=sys.stderr, flush=True)
        fetch = await fetch_throughput(root / "fetch", 200 if quick else 1_000, 10)
    results = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "quick": quick, "hit_latency": hits,
               "warm_rerun": warm, "single_flight": flight, "fetch": fetch}
    print(report(results))
    if json_path is not None:
        json_path.write_text(json.dumps(results, indent=2), encoding="utf-8")
    runs = warm["runs"]
    ok = (all(r["upstream_model_calls"] == 0 and r["upstream_tool_calls"] == 0 for k, r in runs.items() if k != "cold")
          and flight["upstream_calls"] == 1)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="engine scenario latencies × 0.1, fewer samples")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--serve-page", type=Path, help=argparse.SUPPRESS)  # the loopback page server's own process
    args = parser.parse_args(argv)
    if args.serve_page is not None:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_page(args.serve_page))
        return 0
    return asyncio.run(main_async(args.quick, args.json))


if __name__ == "__main__":
    sys.exit(main())
