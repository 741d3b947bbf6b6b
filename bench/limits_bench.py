"""Limits benchmark: research runs against a provider that pushes back, with each model endpoint as an adaptive
service ("adaptive") and as today's callers without one ("fixed": only max_concurrent_research_units bounds calls).

    python bench/limits_bench.py [--quick] [--only storm|sick|no-cost|memory|upstream-sick] [--repeats N] [--json PATH]

`memory` (RSS over 100 runs in one process; peak RSS of one 50 MB upstream tool result) and `upstream-sick` (a group
of two upstream MCP servers, one slow) run only when named.

The scripted LLM server runs in its own subprocess with its limits as flags (`--capacity 8 --retry-after 1`); the
engine reaches it through the real OpenAI SDK. See bench/README.md ("Limits benchmark") for what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import gc
import heapq
import importlib
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from deep_research_mcp.engine.config import EngineConfig  # noqa: E402
from deep_research_mcp.engine.run import ResearchEngine  # noqa: E402
from deep_research_mcp.llm.factory import STAGES, ModelHub, StageModels  # noqa: E402
from deep_research_mcp.settings import EndpointSettings, ServiceSettings, Settings  # noqa: E402
from engine_bench import QUESTION, ServerProcess, corpus, load_average, machine  # noqa: E402

MODES = ("adaptive", "fixed")
QUICK_SCALE = 0.1


@dataclass(frozen=True, slots=True)
class Shape:
    topics: int
    tool_calls: int  # K per researcher
    llm_latency_s: float
    tool_latency_s: float
    concurrency: int

    def scenario(self) -> dict[str, Any]:
        return {"topics": self.topics, "supervisor_rounds": 1, "tool_calls_per_researcher": self.tool_calls,
                "tool_calls_per_turn": 1, "needs_clarification": False, "latency_s": self.llm_latency_s}

    def settings(self, url: str) -> Settings:
        # Today's defaults for retries and fallback: what a user gets.
        return Settings(research_model="openai:scripted", openai_base_url=url + "/v1", allow_clarification=True,
                        max_concurrent_research_units=self.concurrency, max_tool_calls=max(10, self.tool_calls + 1),
                        call_timeout_s=max(30.0, 10 * self.llm_latency_s))

    def scaled(self, factor: float) -> Shape:
        return dataclasses.replace(self, llm_latency_s=self.llm_latency_s * factor,
                                   tool_latency_s=self.tool_latency_s * factor)


def ideal_wall_s(shape: Shape, slots: int) -> float:
    """The run's wall time if the provider served `slots` calls at once and every call got a slot the moment one
    was free (first come, first served): clarify, brief, supervisor; then each researcher's K × (call, tool), its
    closing call and its compression; then supervisor and report."""
    lat, tool = shape.llm_latency_s, shape.tool_latency_s
    serial = 5 * lat  # clarify, brief, supervisor before; supervisor, report after
    steps = ["L", "T"] * shape.tool_calls + ["L", "L"]
    # Event simulation of the research phase: (time, order, researcher, step index).
    ready: list[tuple[float, int, int, int]] = [(0.0, r, r, 0) for r in range(min(shape.topics, shape.concurrency))]
    waiting_units = list(range(len(ready), shape.topics))
    free_at = [0.0] * slots
    heapq.heapify(ready)
    heapq.heapify(free_at)
    order = shape.topics
    end = 0.0
    while ready:
        at, _, unit, step = heapq.heappop(ready)
        if step == len(steps):
            end = max(end, at)
            if waiting_units:
                heapq.heappush(ready, (at, order, waiting_units.pop(0), 0))
                order += 1
            continue
        if steps[step] == "T":
            done = at + tool
        else:
            slot = heapq.heappop(free_at)
            done = max(at, slot) + lat
            heapq.heappush(free_at, done)
        heapq.heappush(ready, (done, order, unit, step + 1))
        order += 1
    return serial + end


def fixed(models: StageModels) -> StageModels:
    """Today's callers: no service, so nothing queues or pauses; only the run's researcher limit bounds calls."""
    return StageModels(*(dataclasses.replace(getattr(models, s), service=None) for s in STAGES))


@dataclass(slots=True)
class Run:
    mode: str
    wall_s: float
    failed: bool  # the run raised, a researcher failed, or a step fell back to the offline engine
    researchers_failed: int
    fallbacks: int
    calls: int  # requests the server served
    refused: int  # 429s
    calls_late: int  # ... after the first `early_s` seconds
    refused_late: int
    limit_after: int | None
    error: str = ""


async def research_once(shape: Shape, server: ServerProcess, http: httpx2.AsyncClient, mode: str,
                        early_s: float) -> Run:
    settings = shape.settings(server.url)
    before = await server.stats(http)
    early: dict[str, Any] = {}

    async def snapshot_early() -> None:
        await asyncio.sleep(early_s)
        early.update(await server.stats(http))

    async with ModelHub(settings) as hub:
        models = hub.stage_models()
        engine = ResearchEngine(models if mode == "adaptive" else fixed(models), [corpus(shape.tool_latency_s)],
                                EngineConfig.from_settings(settings))
        watcher = asyncio.create_task(snapshot_early())
        started = time.perf_counter()
        error = ""
        try:
            result = await engine.run(QUESTION)
        except Exception as exc:  # a failed run is a measurement here, not a crash of the bench
            result, error = None, f"{type(exc).__name__}: {exc}"
        wall = time.perf_counter() - started
        watcher.cancel()
        limit = hub.services.snapshot()["openai"]["limit"]
    after = await server.stats(http)
    early = early or after

    def delta(key: str, later: dict[str, Any], earlier: dict[str, Any]) -> int:
        return int(later[key]) - int(earlier[key])

    failed_units = sum(1 for u in result.units if not u.ok) if result is not None else 0
    fallbacks = int(result.usage.get("fallbacks", 0)) if result is not None else 0
    return Run(mode, wall, result is None or failed_units > 0 or fallbacks > 0, failed_units, fallbacks,
               delta("calls", after, before), delta("rejected_capacity", after, before),
               delta("calls", after, early), delta("rejected_capacity", after, early),
               limit if mode == "adaptive" else None, error)


@dataclass(slots=True)
class Storm:
    shape: Shape
    capacity: int
    ideal_s: float
    runs: list[Run] = field(default_factory=list)


async def storm(shape: Shape, workdir: Path, *, capacity: int, retry_after_s: float, repeats: int,
                early_s: float) -> Storm:
    out = Storm(shape, capacity, ideal_wall_s(shape, capacity))
    for i in range(repeats):
        for mode in MODES:
            place = workdir / f"storm-{mode}-{i}"
            place.mkdir()
            args = ("--capacity", str(capacity), "--retry-after", f"{retry_after_s:g}")
            async with ServerProcess(shape.scenario(), place, args) as server, httpx2.AsyncClient() as http:
                print(f"  storm {mode} run {i + 1} ...", file=sys.stderr, flush=True)
                out.runs.append(await research_once(shape, server, http, mode, early_s))
    return out


async def no_cost(shape: Shape, workdir: Path, repeats: int) -> dict[str, list[float]]:
    """Both modes on one server, alternating run by run, after one unmeasured warm-up run each."""
    walls: dict[str, list[float]] = {mode: [] for mode in MODES}
    place = workdir / "no-cost"
    place.mkdir()
    async with ServerProcess(shape.scenario(), place) as server:
        settings = shape.settings(server.url)
        async with ModelHub(settings) as hub:
            models = hub.stage_models()
            engines = {mode: ResearchEngine(models if mode == "adaptive" else fixed(models), [corpus(0.0)],
                                            EngineConfig.from_settings(settings)) for mode in MODES}
            for i in range(repeats + 1):
                for mode in MODES if i % 2 else reversed(MODES):
                    started = time.perf_counter()
                    result = await engines[mode].run(QUESTION)
                    if i:
                        walls[mode].append(time.perf_counter() - started)
                    assert all(u.ok for u in result.units), "a zero-latency run failed"
    return walls


@dataclass(slots=True)
class SickCase:
    name: str
    sick_args: tuple[str, ...]
    group_walls: list[float] = field(default_factory=list)
    alone_walls: list[float] = field(default_factory=list)
    healthy_calls: int = 0  # requests the healthy endpoint got during the measured runs
    sick_calls: int = 0  # ... the sick one (served, refused or failed)
    failed_runs: int = 0
    members_after: list[dict[str, Any]] = field(default_factory=list)


def _requests(stats: dict[str, Any]) -> int:
    return int(stats["calls"]) + int(stats["rejected_capacity"]) + int(stats["random_errors"])


async def sick_endpoint(shape: Shape, workdir: Path, case: SickCase, repeats: int) -> SickCase:
    """Two endpoints of one model, one of them sick, as a group; against the healthy one alone. One warm-up run
    each (not counted: the group learns its members there), then `repeats` runs each, alternating."""
    place = workdir / f"sick-{case.name}"
    (place / "healthy").mkdir(parents=True)
    (place / "sick").mkdir()
    async with ServerProcess(shape.scenario(), place / "healthy") as healthy, \
            ServerProcess(shape.scenario(), place / "sick", case.sick_args) as sick, httpx2.AsyncClient() as http:
        base = shape.settings(healthy.url)
        # The sick member first, so a tie goes to it: the harder case for the balancer.
        grouped = base.model_copy(update={"services": {"openai": ServiceSettings(endpoints=[
            EndpointSettings(base_url=sick.url + "/v1"), EndpointSettings(base_url=healthy.url + "/v1")])}})
        async with ModelHub(grouped) as group_hub, ModelHub(base) as alone_hub:
            engines = {name: ResearchEngine(hub.stage_models(), [corpus(shape.tool_latency_s)],
                                            EngineConfig.from_settings(base))
                       for name, hub in (("group", group_hub), ("alone", alone_hub))}
            for i in range(repeats + 1):
                for name in ("group", "alone") if i % 2 else ("alone", "group"):
                    before = (await healthy.stats(http), await sick.stats(http))
                    started = time.perf_counter()
                    result = await engines[name].run(QUESTION)
                    wall = time.perf_counter() - started
                    after = (await healthy.stats(http), await sick.stats(http))
                    if not i:
                        continue  # warm-up
                    failed = any(not u.ok for u in result.units) or int(result.usage.get("fallbacks", 0)) > 0
                    case.failed_runs += failed
                    if name == "group":
                        case.group_walls.append(wall)
                        case.healthy_calls += _requests(after[0]) - _requests(before[0])
                        case.sick_calls += _requests(after[1]) - _requests(before[1])
                    else:
                        case.alone_walls.append(wall)
            case.members_after = group_hub.services.snapshot()["openai"]["members"]
    return case


def sick_table(cases: list[SickCase]) -> str:
    lines = ["| sick endpoint | share of calls to the healthy one | wall, group (s) | wall, healthy alone (s) "
             "| group / alone | failed runs |", "|---|---:|---:|---:|---:|---:|"]
    for c in cases:
        total = c.healthy_calls + c.sick_calls
        group, alone = statistics.median(c.group_walls), statistics.median(c.alone_walls)
        lines.append(f"| {c.name} | {c.healthy_calls} of {total} ({100 * c.healthy_calls / max(1, total):.1f}%) "
                     f"| {group:.2f} | {alone:.2f} | {group / alone:.3f} | {c.failed_runs} |")
    return "\n".join(lines)


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident set (VmRSS) or its peak since the last reset (VmHWM), from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux ≥ 4.0)


async def memory_runs(workdir: Path, runs: int, cache_memory_bytes: int | None = None) -> dict[int, float]:
    """RSS after runs 1, 10, 100 ...: research runs back to back in one process, as a server does them, each a
    new question (so nothing is answered from the cache), with the cache on as a server has it. What grows is the
    cache: its memory level (about 25 KB of Python objects a run here), bounded by `cache_memory_max_bytes` (64 MiB),
    and SQLite's page cache and memory map of the disk level, bounded by `cache_disk_memory_max_bytes` (16 MiB).
    `cache_memory_bytes` sets both bounds smaller, so a hundred runs reach them and show RSS flat past them."""
    from deep_research_mcp.cache import open_cache

    shape = Shape(topics=5, tool_calls=3, llm_latency_s=0.0, tool_latency_s=0.0, concurrency=5)
    place = workdir / f"memory-{cache_memory_bytes}"
    place.mkdir()
    marks = {1, 10, 50, runs}
    out: dict[int, float] = {}
    async with ServerProcess(shape.scenario(), place) as server:
        update: dict[str, Any] = {"data_dir": place / "data"}
        if cache_memory_bytes is not None:
            update["cache_memory_max_bytes"] = update["cache_disk_memory_max_bytes"] = cache_memory_bytes
        settings = shape.settings(server.url).model_copy(update=update)
        async with open_cache(settings) as cache, ModelHub(settings, cache=cache) as hub:
            engine = ResearchEngine(hub.stage_models(), [corpus(0.0)], EngineConfig.from_settings(settings))
            for i in range(1, runs + 1):
                await engine.run(f"{QUESTION} (variant {i})")
                if i in marks:
                    gc.collect()
                    out[i] = rss_mb()
    return out


async def memory_big_result(chars: int) -> dict[str, float]:
    """Peak RSS added by one upstream tool result of `chars` characters (kept for the model: maxResultChars), from
    our own test server over streamable HTTP. Over stdio, and with medians over fresh processes: `memory_bench.py`."""
    from deep_research_mcp.errors import ToolCallError
    from deep_research_mcp.tools.upstream import UpstreamManager, parse_mcp_config

    server = Path(__file__).resolve().parent.parent / "tests" / "tools" / "upstream" / "search_server.py"
    proc = await asyncio.create_subprocess_exec(sys.executable, str(server), "--http", "--port", "0",
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        port = line.strip().removeprefix("PORT=")
        config = parse_mcp_config({"mcpServers": {"s": {"url": f"http://127.0.0.1:{port}/mcp",
                                                         "timeoutSeconds": 300}}})
        async with UpstreamManager(config) as manager:
            tools = {t.upstream_name: t for t in await manager.tools()}
            await tools["big"].call({"chars": 1000})  # warm: session open, code paths loaded
            gc.collect()
            before = rss_mb()
            reset_peak_rss()
            started = time.perf_counter()
            try:
                result = await tools["big"].call({"chars": chars})
                outcome = f"{sum(len(d.content) for d in result.documents) + len(result.text)} characters kept"
                del result
            except ToolCallError as exc:
                outcome = f"refused: {exc}"
            took = time.perf_counter() - started
            peak = rss_mb("VmHWM")
            gc.collect()
            return {"result_mb": chars / 1e6, "rss_before_mb": before, "peak_mb": peak, "peak_added_mb": peak - before,
                    "rss_after_mb": rss_mb(), "outcome": outcome, "seconds": took}
    finally:
        proc.terminate()
        await proc.wait()


async def upstream_sick(calls: int, concurrency: int, latency_s: float, warmup: int) -> dict[str, Any]:
    """Two stdio mirrors of our search server in one upstream group, one answering every search `latency_s` late:
    `calls` searches from `concurrency` callers after `warmup` calls; the share the healthy mirror took and the wall,
    against the same calls to the healthy mirror alone (not in a group)."""
    from deep_research_mcp.tools.upstream import UpstreamManager, parse_mcp_config

    server = Path(__file__).resolve().parent.parent / "tests" / "tools" / "upstream" / "search_server.py"
    entry = {"command": sys.executable, "maxConcurrency": concurrency}
    grouped = {"sick": {**entry, "args": [str(server), "--latency", str(latency_s)], "group": "mirrors"},
               "well": {**entry, "args": [str(server)], "group": "mirrors"}}
    alone = {"well": {**entry, "args": [str(server)]}}

    async def run(servers: dict[str, Any]) -> tuple[float, dict[str, int]]:
        async with UpstreamManager(parse_mcp_config({"mcpServers": servers})) as manager:
            (tool,) = [t for t in await manager.tools() if t.upstream_name == "search"]
            limit = asyncio.Semaphore(concurrency)

            async def one(i: int) -> None:
                async with limit:
                    await tool.call({"query": f"tidal energy {i}"})

            async def batch(n: int) -> None:
                async with asyncio.TaskGroup() as tg:
                    for i in range(n):
                        tg.create_task(one(i))

            await batch(warmup)
            group = manager.groups.get("mirrors")
            before = {m.name: m.calls for m in group.service.members} if group else {}
            started = time.perf_counter()
            await batch(calls)
            wall = time.perf_counter() - started
            counts = {m.name: m.calls - before[m.name] for m in group.service.members} if group else {}
            return wall, counts

    group_wall, counts = await run(grouped)
    alone_wall, _ = await run(alone)
    return {"calls": calls, "concurrency": concurrency, "latency_s": latency_s, "group_wall_s": group_wall,
            "alone_wall_s": alone_wall, "to_healthy": counts.get("mcp:well", 0), "to_sick": counts.get("mcp:sick", 0)}


def storm_table(s: Storm, early_s: float) -> str:
    lines = [f"| mode | wall s | vs ideal at {s.capacity} ({s.ideal_s:.1f} s) | failed runs | failed researchers "
             f"| fallback steps | 429s | 429s after {early_s:g} s | limit after |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for mode in MODES:
        runs = [r for r in s.runs if r.mode == mode]
        wall = statistics.median(r.wall_s for r in runs)
        late = sum(r.refused_late for r in runs)
        late_all = sum(r.refused_late + r.calls_late for r in runs)
        share = f"{late} of {late_all} ({100 * late / late_all:.1f}%)" if late_all else "0"
        limits = ", ".join(str(r.limit_after) for r in runs if r.limit_after is not None) or "—"
        lines.append(f"| {mode} | {wall:.2f} | {wall / s.ideal_s:.3f} | {sum(r.failed for r in runs)} of {len(runs)} "
                     f"| {sum(r.researchers_failed for r in runs)} | {sum(r.fallbacks for r in runs)} "
                     f"| {sum(r.refused for r in runs)} | {share} | {limits} |")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> int:
    scale = QUICK_SCALE if args.quick else 1.0
    early_s = 10.0 * scale
    # The SDK is imported on the first call otherwise, inside whichever run comes first.
    importlib.import_module("deep_research_mcp.llm.openai_chat")
    load_before = load_average()
    report: dict[str, Any] = {"date": dt.date.today().isoformat(), "machine": machine(), "quick": args.quick}
    print(f"Limits benchmark — {report['date']} — {machine()}{' — QUICK' if args.quick else ''}")
    with tempfile.TemporaryDirectory(prefix="limits-bench-") as tmp:
        if not args.only or "storm" in args.only:
            shape = Shape(topics=20, tool_calls=3, llm_latency_s=2.0, tool_latency_s=1.0, concurrency=20).scaled(scale)
            print("running storm ...", file=sys.stderr, flush=True)
            result = await storm(shape, Path(tmp), capacity=8, retry_after_s=1.0 * scale, repeats=args.repeats,
                                 early_s=early_s)
            print(f"\n## 429 storm: provider capacity 8 (429 + Retry-After {scale:g} s beyond), 20 topics × 3 tools, "
                  f"LLM {shape.llm_latency_s:g} s, tool {shape.tool_latency_s:g} s, concurrency 20\n")
            print(storm_table(result, early_s))
            report["storm"] = {"shape": dataclasses.asdict(shape), "ideal_s": result.ideal_s,
                               "runs": [dataclasses.asdict(r) for r in result.runs]}
        if not args.only or "sick" in args.only:
            shape = Shape(topics=10, tool_calls=3, llm_latency_s=2.0, tool_latency_s=1.0, concurrency=10).scaled(scale)
            cases = [SickCase("5 s latency", ("--latency", f"{5.0 * scale:g}")),
                     SickCase("50% errors", ("--error-rate", "0.5"))]
            for case in cases:
                print(f"running sick endpoint: {case.name} ...", file=sys.stderr, flush=True)
                await sick_endpoint(shape, Path(tmp), case, args.repeats)
            print(f"\n## A sick endpoint: a group of two endpoints, 10 topics × 3 tools, "
                  f"LLM {shape.llm_latency_s:g} s, tool {shape.tool_latency_s:g} s, concurrency 10; "
                  f"{args.repeats} run(s) after one warm-up\n")
            print(sick_table(cases))
            report["sick"] = [dataclasses.asdict(c) for c in cases]
        if args.only and "memory" in args.only:
            print("running memory ...", file=sys.stderr, flush=True)
            after = await memory_runs(Path(tmp), args.memory_runs)
            small = args.memory_cache_mb
            bounded = await memory_runs(Path(tmp), args.memory_runs, int(small * 2**20)) if small else {}
            print(f"\n## Memory: {args.memory_runs} zero-latency research runs back to back in one process\n")
            print("| after run | RSS MB (cache bounds 64 + 16 MiB) |" + (f" RSS MB (both {small:g} MiB) |"
                                                                 if small else "") + "\n|---:|---:|"
                  + ("---:|" if small else ""))
            for run, mb in sorted(after.items()):
                print(f"| {run} | {mb:.1f} |" + (f" {bounded[run]:.1f} |" if small else ""))
            big = [await memory_big_result(chars) for chars in (5_000_000, 50_000_000)]
            print("\n| upstream tool result (HTTP) | RSS before MB | peak MB | peak added MB | RSS after MB | outcome |"
                  "\n|---:|---:|---:|---:|---:|---|")
            for b in big:
                print(f"| {b['result_mb']:g} MB | {b['rss_before_mb']:.1f} | {b['peak_mb']:.1f} "
                      f"| {b['peak_added_mb']:.1f} | {b['rss_after_mb']:.1f} "
                      f"| {b['outcome'][:120]} ({b['seconds']:.1f} s) |")
            report["memory"] = {"rss_after_run_mb": after, "rss_after_run_mb_small_cache": bounded,
                                "big_result": big}
        if args.only and "upstream-sick" in args.only:
            print("running upstream-sick ...", file=sys.stderr, flush=True)
            rows = [await upstream_sick(1000, 8, 0.5, 40) for _ in range(args.repeats)]
            print("\n## A slow upstream mirror: two stdio search servers in one group, one 0.5 s slower; 1000 calls "
                  "from 8 callers after 40 warm-up calls\n")
            print("| run | to the healthy one | group wall s | healthy alone wall s | ratio |"
                  "\n|---:|---:|---:|---:|---:|")
            for i, r in enumerate(rows, 1):
                group, alone = r["group_wall_s"], r["alone_wall_s"]
                print(f"| {i} | {r['to_healthy']} of {r['calls']} ({100 * r['to_healthy'] / r['calls']:.1f}%) "
                      f"| {group:.2f} | {alone:.2f} | {group / alone:.3f} |")
            ratio = statistics.median(r["group_wall_s"] / r["alone_wall_s"] for r in rows)
            print(f"\nmedian ratio: {ratio:.3f}")
            report["upstream_sick"] = rows
        if not args.only or "no-cost" in args.only:
            shape = Shape(topics=5, tool_calls=3, llm_latency_s=0.0, tool_latency_s=0.0, concurrency=5)
            print("running no-cost ...", file=sys.stderr, flush=True)
            walls = await no_cost(shape, Path(tmp), args.no_cost_repeats)
            med = {mode: statistics.median(w) for mode, w in walls.items()}
            print(f"\n## No cost when nothing pushes back: 5 topics × 3 tools, zero latency, "
                  f"{args.no_cost_repeats} runs each, alternating\n")
            print("| mode | median s | min s |\n|---|---:|---:|")
            for mode in MODES:
                print(f"| {mode} | {med[mode]:.4f} | {min(walls[mode]):.4f} |")
            print(f"\nadaptive / fixed: {med['adaptive'] / med['fixed']:.3f}")
            report["no_cost"] = walls
    load_after = load_average()
    report["load_average_1min"] = {"before": load_before, "after": load_after}
    print(f"\nLoad average (1 min): {load_before} before, {load_after} after")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"scale every latency by {QUICK_SCALE} (smoke run)")
    parser.add_argument("--only", action="append", choices=["storm", "sick", "no-cost", "memory", "upstream-sick"],
                        help="run only this (repeatable)")
    parser.add_argument("--repeats", type=int, default=1, help="measured storm and sick-endpoint runs per mode")
    parser.add_argument("--no-cost-repeats", type=int, default=9, help="zero-latency runs per mode")
    parser.add_argument("--memory-runs", type=int, default=100, help="research runs of the memory measure")
    parser.add_argument("--memory-cache-mb", type=float, default=1.0,
                        help="also measure the runs with both cache memory bounds (L1, SQLite) at this MiB (0: not)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the measurements as JSON")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(main_async(args))
    except KeyboardInterrupt:
        print("interrupted; the scripted server was stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
