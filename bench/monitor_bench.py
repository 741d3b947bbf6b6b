"""What the performance monitor costs, and a picture of what it shows.

    python bench/monitor_bench.py [--pairs N]          # overhead: zero-latency 5-topic runs, monitor on vs off
    python bench/monitor_bench.py --screenshot PATH    # the monitor page for the 5-topic run (L 2 s, T 1 s), as PNG

Overhead: one scripted LLM server, one model hub, two engines that differ only in their `Monitor` (on: every call
into the per-service metrics and the run's timeline, the critical path computed at the end; off: `enabled=False`,
every hook a no-op). After a warm-up run of each, the runs alternate on/off in pairs, so drift in the machine's
load falls on both sides alike; the medians and the ratio are printed.

Screenshot: runs engine_bench's `5-topics` scenario, keeps the run in a temporary run store, serves that store with
`deep-research serve --http`, and has Debian's headless chromium save the monitor page for the run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import engine_bench as eb
from deep_research_mcp.engine.config import EngineConfig
from deep_research_mcp.engine.run import ResearchEngine
from deep_research_mcp.llm.factory import ModelHub
from deep_research_mcp.monitor import Monitor
from deep_research_mcp.server.runs import apply_result
from deep_research_mcp.server.store import DiskRunStore, RunRecord

START_TIMEOUT_S = 60.0


async def overhead(pairs: int) -> int:
    spec = next(s for s in eb.SPECS if s.name == "zero-latency")
    with tempfile.TemporaryDirectory(prefix="monitor-bench-") as tmp:
        async with eb.ServerProcess(spec.scenario_json(), Path(tmp)) as server:
            settings = eb.settings_for(spec, server.url)
            async with ModelHub(settings) as hub:
                config = EngineConfig.from_settings(settings)
                engines = {
                    "on": ResearchEngine(hub.stage_models(), [eb.corpus(0.0)], config, monitor=Monitor()),
                    "off": ResearchEngine(hub.stage_models(), [eb.corpus(0.0)], config,
                                          monitor=Monitor(enabled=False)),
                }
                walls: dict[str, list[float]] = {"on": [], "off": []}
                cpus: dict[str, list[float]] = {"on": [], "off": []}
                for name in ("on", "off"):  # warm-up: the connection pool and lazily imported SDK code
                    await engines[name].run(eb.QUESTION)
                for i in range(pairs):
                    for name in ("on", "off") if i % 2 == 0 else ("off", "on"):
                        started, cpu = time.perf_counter(), time.process_time()
                        result = await engines[name].run(eb.QUESTION)
                        walls[name].append(time.perf_counter() - started)
                        cpus[name].append(time.process_time() - cpu)
                        assert bool(result.timeline) == (name == "on")
    load = os.getloadavg()[0]
    print(f"zero-latency 5-topic runs, {pairs} pairs, load average {load:.2f}, {eb.machine()}")
    # Engine CPU seconds are the steadier figure on a shared machine: other processes stretch wall time, not them.
    print("| monitor | median wall s | min wall s | median engine CPU s | min engine CPU s |")
    print("|---|---:|---:|---:|---:|")
    for name in ("on", "off"):
        print(f"| {name} | {statistics.median(walls[name]):.4f} | {min(walls[name]):.4f} | "
              f"{statistics.median(cpus[name]):.4f} | {min(cpus[name]):.4f} |")
    for what, values in (("wall", walls), ("CPU", cpus)):
        print(f"on / off, {what}: {statistics.median(values['on']) / statistics.median(values['off']):.3f} (median), "
              f"{min(values['on']) / min(values['off']):.3f} (min)")
    hooks = min([await hooks_per_run() for _ in range(20)])
    print(f"the hooks of one such run alone (30 model calls, 15 tool calls, 5 researchers, finish): "
          f"{hooks * 1e3:.3f} ms CPU, best of 20 = {hooks / statistics.median(cpus['off']):.2%} of a run's engine CPU")
    return 0


async def hooks_per_run() -> float:
    """CPU seconds of exactly what the monitor adds to a 5-topic run, without the run: steadier under load than the
    difference of two noisy run times."""
    started = time.process_time()
    recorder = Monitor().recorder("bench")
    for stage in ("clarify", "brief", "supervisor"):
        async with recorder.model("openai:scripted", "openai:scripted@http://127.0.0.1:1/v1", stage):
            pass
        recorder.usage(stage, "openai:scripted", 500, 50, None, 0.0)
    for topic in range(5):
        lane = recorder.open_lane(f"topic {topic}")
        recorder.lane_started(lane)
        for _ in range(3):
            async with recorder.model("openai:scripted", "openai:scripted@http://127.0.0.1:1/v1", "researcher"):
                pass
            recorder.usage("researcher", "openai:scripted", 500, 50, None, 0.0)
            async with recorder.tool("search_documents", "search_documents"):
                pass
        for stage in ("researcher", "compress"):
            async with recorder.model("openai:scripted", "openai:scripted@http://127.0.0.1:1/v1", stage):
                pass
            recorder.usage(stage, "openai:scripted", 500, 50, None, 0.0)
        recorder.lane_finished(lane, True)
    for stage in ("supervisor", "report"):
        async with recorder.model("openai:scripted", "openai:scripted@http://127.0.0.1:1/v1", stage):
            pass
        recorder.usage(stage, "openai:scripted", 500, 50, None, 0.0)
    recorder.finish()
    return time.process_time() - started


async def screenshot(path: Path) -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    spec = next(s for s in eb.SPECS if s.name == "5-topics")
    with tempfile.TemporaryDirectory(prefix="monitor-page-") as tmp:
        runs_dir = Path(tmp) / "runs"
        async with eb.ServerProcess(spec.scenario_json(), Path(tmp)) as llm:
            settings = eb.settings_for(spec, llm.url)
            async with ModelHub(settings) as hub:
                engine = ResearchEngine(hub.stage_models(), [eb.corpus(spec.tool_latency_s)],
                                        EngineConfig.from_settings(settings), monitor=Monitor())
                # One call first, so the run's first call does not also pay for importing the SDK and opening the
                # connection pool (seconds on a loaded machine) and the page shows the run's own call graph.
                await engine.clarify(eb.QUESTION)
                print(f"running {spec.name} ({spec.floor_s():.0f} s floor) ...", file=sys.stderr)
                result = await engine.run(eb.QUESTION)
            record = RunRecord(run_id=result.run_id, question=eb.QUESTION)
            apply_result(record, result)
            await DiskRunStore(runs_dir).put(record)
            timeline = result.timeline
            print(f"wall {timeline['wall_s']:.2f} s, critical-path floor {timeline['floor_s']:.2f} s",
                  file=sys.stderr)
            env = {k: v for k, v in os.environ.items() if not k.startswith("DEEP_RESEARCH_")}
            env.update({"DEEP_RESEARCH_DATA_DIR": str(Path(tmp) / "data"), "DEEP_RESEARCH_RUNS_DIR": str(runs_dir),
                        "DEEP_RESEARCH_RESEARCH_MODEL": "openai:scripted", "OPENAI_API_KEY": "unused",
                        "DEEP_RESEARCH_OPENAI_BASE_URL": llm.url + "/v1"})
            script = Path(sys.executable).with_name("deep-research")
            log = Path(tmp) / "serve.stderr"
            with log.open("wb") as err:
                serve = subprocess.Popen([str(script), "serve", "--http", "--host", "127.0.0.1", "--port", "0"],
                                         env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
            try:
                url = await _listening(log)
                page = f"{url.removesuffix('/mcp')}/monitor/#run={result.run_id}"
                subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                f"--user-data-dir={Path(tmp) / 'profile'}", "--window-size=1400,1250",
                                "--virtual-time-budget=4000", f"--screenshot={path.resolve()}", page],
                               check=True, capture_output=True, timeout=60)
            finally:
                serve.terminate()
                serve.wait(10)
    print(f"saved {path}", file=sys.stderr)
    return 0


async def _listening(log: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if "listening on " in line:
                return line.rsplit(" ", 1)[-1]
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the server did not start: {log.read_text(errors='replace')[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=15, help="on/off pairs of zero-latency runs (default 15)")
    parser.add_argument("--screenshot", type=Path, metavar="PATH", help="save the monitor page for 5-topics")
    args = parser.parse_args()
    if args.screenshot is not None:
        return asyncio.run(screenshot(args.screenshot))
    return asyncio.run(overhead(args.pairs))


if __name__ == "__main__":
    sys.exit(main())
