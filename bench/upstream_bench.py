"""Upstream MCP tools benchmark: session sharing and the per-call cost of our wrapper.

    python bench/upstream_bench.py [--calls N] [--json PATH]

1. Sessions: 5 concurrent researchers make 100 tool calls between them to one stdio upstream (our test search
   server, tests/tools/upstream/search_server.py). Goal: exactly 1 session opened.
2. Overhead: N sequential `search` calls through our `UpstreamTool.call` (semaphore, timeout, reconnect guard,
   result -> documents) against N raw SDK `ClientSession.call_tool` calls, each over its own connection to its own
   copy of the same server. Calls alternate between the two so drift on the machine hits both alike; the figure
   that matters is the difference of the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

from deep_research_mcp.tools.upstream import StdioServerConfig, UpstreamManager, UpstreamTool

SEARCH_SERVER = Path(__file__).resolve().parents[1] / "tests" / "tools" / "upstream" / "search_server.py"
RESEARCHERS = 5
TOTAL_CALLS = 100
WARMUP_CALLS = 20
ARGUMENTS = {"query": "tidal energy storage", "k": 3}


def server_config() -> StdioServerConfig:
    return StdioServerConfig(command=sys.executable, args=[str(SEARCH_SERVER)])


async def sessions_for_shared_calls() -> dict[str, Any]:
    async with UpstreamManager({"corpus": server_config()}, errlog=sys.stderr) as manager:
        started = time.perf_counter()
        tools = {tool.name: tool for tool in await manager.tools()}
        search = tools["corpus__search"]
        done = 0

        async def researcher(i: int) -> None:
            nonlocal done
            for j in range(TOTAL_CALLS // RESEARCHERS):
                result = await search.call({"query": f"tidal energy {i} {j}"})
                assert result.documents, "the upstream returned no documents"
                done += 1

        async with asyncio.TaskGroup() as tg:
            for i in range(RESEARCHERS):
                tg.create_task(researcher(i))
        wall = time.perf_counter() - started
        return {"calls": done, "researchers": RESEARCHERS, "sessions_opened": manager.sessions_opened,
                "wall_s": wall}


async def overhead(n: int) -> dict[str, Any]:
    params = StdioServerParameters(command=sys.executable, args=[str(SEARCH_SERVER)])
    async with (
        UpstreamManager({"corpus": server_config()}, errlog=sys.stderr) as manager,
        Client(params, cache=None) as raw,
    ):
        ours: UpstreamTool = {tool.name: tool for tool in await manager.tools()}["corpus__search"]
        session = raw.session
        await session.list_tools()  # the SDK validates structured results against the listed output schema
        for _ in range(WARMUP_CALLS):
            await session.call_tool("search", ARGUMENTS)
            await ours.call(ARGUMENTS)
        raw_s: list[float] = []
        ours_s: list[float] = []
        for _ in range(n):
            t0 = time.perf_counter()
            await session.call_tool("search", ARGUMENTS)
            t1 = time.perf_counter()
            await ours.call(ARGUMENTS)
            t2 = time.perf_counter()
            raw_s.append(t1 - t0)
            ours_s.append(t2 - t1)
    raw_med, ours_med = statistics.median(raw_s), statistics.median(ours_s)
    return {
        "n": n,
        "raw_median_us": raw_med * 1e6,
        "ours_median_us": ours_med * 1e6,
        "overhead_median_us": (ours_med - raw_med) * 1e6,
        "raw_p90_us": _p90(raw_s) * 1e6,
        "ours_p90_us": _p90(ours_s) * 1e6,
    }


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


async def main_async(n: int, json_path: Path | None) -> int:
    print("running: 100 calls from 5 researchers ...", file=sys.stderr, flush=True)
    shared = await sessions_for_shared_calls()
    print(f"running: {n} alternating calls, ours vs raw SDK ...", file=sys.stderr, flush=True)
    cost = await overhead(n)
    ok = shared["sessions_opened"] == 1
    print()
    print(f"Upstream MCP benchmark — {dt.date.today().isoformat()} — {platform.python_implementation()} "
          f"{platform.python_version()} on {platform.machine()}")
    print()
    print(f"Sessions: {shared['calls']} calls from {shared['researchers']} concurrent researchers opened "
          f"{shared['sessions_opened']} session(s) (goal 1 {'✓' if ok else '✗'}) in {shared['wall_s']:.2f} s "
          f"(open and tool listing included)")
    print()
    print(f"Per call, median of {cost['n']} (p90):")
    print(f"  raw ClientSession.call_tool   {cost['raw_median_us']:8.0f} µs  ({cost['raw_p90_us']:.0f} µs)")
    print(f"  UpstreamTool.call             {cost['ours_median_us']:8.0f} µs  ({cost['ours_p90_us']:.0f} µs)")
    print(f"  our overhead                  {cost['overhead_median_us']:8.0f} µs")
    if json_path is not None:
        json_path.write_text(json.dumps({"sessions": shared, "overhead": cost}, indent=2) + "\n")
        print(f"\nresults written to {json_path}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200, metavar="N", help="calls per side for the overhead figure")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    return asyncio.run(main_async(args.calls, args.json))


if __name__ == "__main__":
    sys.exit(main())
