"""Memory benchmark: RSS over research runs in one process, and the peak of one 50 MB upstream tool result.

    python bench/memory_bench.py [--repeats 3] [--runs 100] [--only runs|http|stdio] [--sdk-timeout 60] [--json PATH]

Each measurement runs in a fresh child process (this script with `--child`), so one cannot inherit another's heap or
peak; the table gives the median over `--repeats` children.

- **runs**: RSS after research runs 1, 10, 50 and 100 back to back in one process (the scripted LLM server at zero
  latency, a new question each run, the cache on as a server has it); see `limits_bench.memory_runs`.
- **one 50 MB result**: our search server's `big_text` tool answers 50,000,000 characters as one text block (one
  copy on the wire: a 50 MB JSON answer over HTTP, one 50 MB line over stdio). Peak RSS (VmHWM, reset after a warm-up
  call) added by that one call, and RSS after it:
  - HTTP, `maxResponseBytes` raised past the answer ("uncapped": read whole, as before the cap) and at its default
    16 MB ("capped");
  - stdio through the SDK's own `stdio_client` ("SDK reader", what the project used before its own transport), given
    `--sdk-timeout` seconds; through our transport uncapped; and capped at the default 16 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_bench import load_average, machine  # noqa: E402
from limits_bench import memory_runs, reset_peak_rss, rss_mb  # noqa: E402

SERVER = Path(__file__).resolve().parent.parent / "tests" / "tools" / "upstream" / "search_server.py"
CHARS = 50_000_000
UNCAPPED = 1_000_000_000
CASES = {
    "http": ["uncapped", "capped"],
    "stdio": ["sdk", "uncapped", "capped"],
}


async def _http_server() -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, str(SERVER), "--http", "--port", "0",
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
    return proc, f"http://127.0.0.1:{line.strip().removeprefix('PORT=')}/mcp"


async def _measure(call: Any, timeout_s: float) -> dict[str, Any]:
    """Peak and after RSS of one `call()` (after a warm-up of the same path)."""
    gc.collect()
    before = rss_mb()
    reset_peak_rss()
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            outcome = await call()
    except TimeoutError:
        outcome = f"did not arrive within {timeout_s:g} s"
    except Exception as exc:
        outcome = f"failed: {' '.join(str(exc).split())[:160]}"
    took = time.perf_counter() - started
    peak = rss_mb("VmHWM")
    gc.collect()
    return {"before_mb": before, "peak_added_mb": peak - before, "after_added_mb": rss_mb() - before,
            "seconds": took, "outcome": outcome}


async def big_result(transport: str, mode: str, timeout_s: float) -> dict[str, Any]:
    from deep_research_mcp.tools.upstream import UpstreamManager, parse_mcp_config

    if mode == "sdk":
        return await _sdk_stdio(timeout_s)
    limit = {"maxResponseBytes": UNCAPPED} if mode == "uncapped" else {}
    proc = None
    if transport == "http":
        proc, url = await _http_server()
        entry: dict[str, Any] = {"url": url}
    else:
        entry = {"command": sys.executable, "args": [str(SERVER)]}
    config = parse_mcp_config({"mcpServers": {"s": {**entry, **limit, "timeoutSeconds": timeout_s}}})
    try:
        async with UpstreamManager(config) as manager:
            tools = {t.upstream_name: t for t in await manager.tools()}
            await tools["big_text"].call({"chars": 1000})  # warm: the session open, the code paths loaded

            async def call() -> str:
                result = await tools["big_text"].call({"chars": CHARS})
                return f"{sum(len(d.content) for d in result.documents)} characters kept"

            return await _measure(call, timeout_s)
    finally:
        if proc is not None:
            proc.terminate()
            await proc.wait()


async def _sdk_stdio(timeout_s: float) -> dict[str, Any]:
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=sys.executable, args=[str(SERVER)])
    async with Client(stdio_client(params)) as client:
        await client.call_tool("big_text", {"chars": 1000})

        async def call() -> str:
            result = await client.call_tool("big_text", {"chars": CHARS})
            return f"{sum(len(getattr(b, 'text', '')) for b in result.content)} characters read"

        return await _measure(call, timeout_s)


def child(args: argparse.Namespace) -> None:
    what = args.child
    if what == "runs":
        with tempfile.TemporaryDirectory(prefix="memory-bench-") as tmp:
            out: Any = asyncio.run(memory_runs(Path(tmp), args.runs))
    else:
        transport, mode = what.split(":")
        out = asyncio.run(big_result(transport, mode, args.sdk_timeout if mode == "sdk" else 300.0))
    print(json.dumps(out))


def run_child(what: str, args: argparse.Namespace) -> Any:
    cmd = [sys.executable, __file__, "--child", what, "--runs", str(args.runs), "--sdk-timeout", str(args.sdk_timeout)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="child processes per measurement (median)")
    parser.add_argument("--runs", type=int, default=100, help="research runs of the RSS-over-runs measure")
    parser.add_argument("--sdk-timeout", type=float, default=60.0, help="how long the SDK's stdio reader gets")
    parser.add_argument("--only", action="append", choices=["runs", "http", "stdio"])
    parser.add_argument("--json", type=Path, metavar="PATH")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    only = args.only or ["runs", "http", "stdio"]
    report: dict[str, Any] = {"machine": machine(), "load_before": load_average(), "repeats": args.repeats}
    print(f"# Memory benchmark ({args.repeats} child processes per row, medians)\n")
    if "runs" in only:
        samples = [run_child("runs", args) for _ in range(args.repeats)]
        marks = sorted(int(k) for k in samples[0])
        med = {m: statistics.median(s[str(m)] for s in samples) for m in marks}
        report["runs"] = samples
        print(f"## RSS after research runs in one process (zero-latency scripted LLM, {args.runs} runs)\n")
        print("| after run | RSS MB (median) | each |\n|---:|---:|---|")
        for m in marks:
            print(f"| {m} | {med[m]:.1f} | {', '.join(f'{s[str(m)]:.1f}' for s in samples)} |")
        print(f"\nrun {marks[-1]} vs run 1: {100 * (med[marks[-1]] / med[marks[0]] - 1):+.1f}%\n")
    rows = [(t, m) for t in ("http", "stdio") if t in only for m in CASES[t]]
    if rows:
        print(f"## One {CHARS / 1e6:g} MB tool result\n")
        print("| transport | reader | peak RSS added MB (median) | RSS after, added MB | s | outcome |"
              "\n|---|---|---:|---:|---:|---|")
    for transport, mode in rows:
        repeats = 1 if mode == "sdk" else args.repeats  # the SDK reader's row is bounded by its timeout
        samples = [run_child(f"{transport}:{mode}", args) for _ in range(repeats)]
        report[f"{transport}:{mode}"] = samples
        peak = statistics.median(s["peak_added_mb"] for s in samples)
        after = statistics.median(s["after_added_mb"] for s in samples)
        took = statistics.median(s["seconds"] for s in samples)
        print(f"| {transport} | {mode} | {peak:.1f} | {after:.1f} | {took:.1f} | {samples[0]['outcome'][:110]} |",
              flush=True)
    report["load_after"] = load_average()
    print(f"\nLoad average (1 min): {report['load_before']} before, {report['load_after']} after")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
