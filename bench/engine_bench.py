"""Engine benchmark: how close a research run gets to the latency floor its call graph allows.

The scripted LLM server runs in its own subprocess (restarted per scenario, since latency is a scenario setting),
so this process's peak RSS is the engine's and the SDKs' alone. The engine talks to it over real HTTP through
the real OpenAI SDK, exactly as it would talk to a provider.

    python bench/engine_bench.py [--quick] [--json PATH] [--only NAME ...]

See bench/README.md for what each scenario measures and how the floor is derived.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import math
import os
import platform
import resource
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx2

from deep_research_mcp.engine.config import EngineConfig
from deep_research_mcp.engine.events import Event
from deep_research_mcp.engine.run import ResearchEngine
from deep_research_mcp.llm.factory import ModelHub
from deep_research_mcp.settings import Settings
from deep_research_mcp.tools.base import Document
from deep_research_mcp.tools.memory import InMemoryDocuments

# Taken right after the imports above: the engine's "bare import" footprint, before any run allocates anything.
BASELINE_RSS_KIB = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

QUESTION = "How do tidal power plants store energy?"
RSS_TARGET_MB = 150.0
SERVER_START_TIMEOUT_S = 30.0
SERVER_STOP_TIMEOUT_S = 5.0
QUICK_SCALE = 0.1


@dataclass(frozen=True, slots=True)
class Spec:
    name: str
    topics: int
    tool_calls: int  # K: search calls per researcher, one per researcher turn
    llm_latency_s: float  # L
    tool_latency_s: float  # T
    concurrency: int
    repeats: int = 1
    max_ratio: float | None = None
    max_overhead_s: float | None = None

    @property
    def title(self) -> str:
        shape = f"{self.topics} topics × {self.tool_calls} tools"
        if self.llm_latency_s == 0 and self.tool_latency_s == 0:
            return f"{shape}, zero latency, concurrency {self.concurrency}"
        return f"{shape}, LLM {self.llm_latency_s:g} s, tool {self.tool_latency_s:g} s, concurrency {self.concurrency}"

    @property
    def waves(self) -> int:
        return math.ceil(self.topics / self.concurrency)

    def scaled(self, factor: float) -> Spec:
        return dataclasses.replace(
            self, llm_latency_s=self.llm_latency_s * factor, tool_latency_s=self.tool_latency_s * factor
        )

    def phase_floors(self) -> dict[str, float]:
        """The latencies each phase must await one after another; they sum to the run's floor."""
        lat, tool, k = self.llm_latency_s, self.tool_latency_s, self.tool_calls
        # One researcher: K turns each followed by its tool call, a closing turn (ResearchComplete), compression.
        researcher = k * (lat + tool) + lat + lat
        return {
            "scope": 2 * lat,  # clarify, brief
            "research": lat + self.waves * researcher + lat,  # fan-out supervisor turn ... closing supervisor turn
            "write": lat,  # report
        }

    def floor_s(self) -> float:
        return sum(self.phase_floors().values())

    def expected_calls(self) -> dict[str, int]:
        """Model calls by stage that the floor formula assumes; checked against the server's own counters."""
        return {
            "clarify": 1,
            "brief": 1,
            "supervisor": 2,
            "researcher": self.topics * (self.tool_calls + 1),
            "compress": self.topics,
            "report": 1,
        }

    def critical_calls(self) -> dict[str, int]:
        """The calls on the chain the floor formula sums, by stage ("tool" for the search calls)."""
        return dict(sorted({"clarify": 1, "brief": 1, "supervisor": 2, "researcher": self.waves * (self.tool_calls + 1),
                            "tool": self.waves * self.tool_calls, "compress": self.waves, "report": 1}.items()))

    def scenario_json(self) -> dict[str, Any]:
        # A plain dict rather than the Scenario model: importing the scripted package would pull the server's
        # code into this process and blur the RSS figure. The server validates the file (extra="forbid").
        return {
            "topics": self.topics,
            "supervisor_rounds": 1,
            "tool_calls_per_researcher": self.tool_calls,
            "tool_calls_per_turn": 1,
            "needs_clarification": False,
            "latency_s": self.llm_latency_s,
            "latency_per_output_token_s": 0.0,
        }


SPECS = [
    Spec("5-topics", topics=5, tool_calls=3, llm_latency_s=2.0, tool_latency_s=1.0, concurrency=5, max_ratio=1.03),
    Spec("5-topics-serial", topics=5, tool_calls=3, llm_latency_s=2.0, tool_latency_s=1.0, concurrency=1,
         max_ratio=1.03),
    Spec("20-topics", topics=20, tool_calls=3, llm_latency_s=2.0, tool_latency_s=1.0, concurrency=20,
         max_ratio=1.05),
    # At zero latency the floor is 0, so the whole wall time is the engine's (and the local HTTP round trips').
    Spec("zero-latency", topics=5, tool_calls=3, llm_latency_s=0.0, tool_latency_s=0.0, concurrency=5, repeats=5,
         max_overhead_s=0.1),
]


@dataclass(slots=True)
class RunMeasure:
    wall_s: float
    model_calls: int
    researchers_ok: int
    researchers_failed: int
    tool_calls: int
    calls_by_stage: dict[str, int]
    phases_s: dict[str, float]
    researcher_s: list[float]
    citations: int
    warnings: list[str]
    engine_cpu_s: float
    server_cpu_s: float | None
    # From the run's own timeline (monitor.timeline): its critical-path floor, and the calls on that path.
    timeline_floor_s: float | None = None
    critical_calls: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class ScenarioResult:
    spec: Spec
    runs: list[RunMeasure]
    warmup_wall_s: float | None = None
    rss_after_mb: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def walls(self) -> list[float]:
        return [r.wall_s for r in self.runs]

    @property
    def wall_s(self) -> float:
        return statistics.median(self.walls)

    @property
    def floor_s(self) -> float:
        return self.spec.floor_s()

    @property
    def ratio(self) -> float | None:
        return self.wall_s / self.floor_s if self.floor_s > 0 else None

    @property
    def overhead_s(self) -> float:
        return self.wall_s - self.floor_s

    @property
    def timeline_floor_s(self) -> float | None:
        return self.runs[len(self.runs) // 2].timeline_floor_s

    @property
    def critical_calls(self) -> dict[str, int]:
        return self.runs[len(self.runs) // 2].critical_calls

    def path_floor_s(self) -> float:
        """The floor of the calls on the timeline's critical path at their nominal latencies (L per model call, T
        per tool call): the formula's floor when the timeline found the chain the formula describes. The measured
        floor (`timeline_floor_s`) adds what each call took beyond L or T: the SDK, HTTP, the first call's lazy
        imports, and the machine's load."""
        calls = self.critical_calls
        model = sum(n for stage, n in calls.items() if stage != "tool")
        return model * self.spec.llm_latency_s + calls.get("tool", 0) * self.spec.tool_latency_s

    def timeline_floor_matches(self) -> bool | None:
        """None at zero latency, where every call takes about as long as the engine between calls and no chain
        stands out."""
        if self.timeline_floor_s is None or self.floor_s == 0:
            return None
        return math.isclose(self.path_floor_s(), self.floor_s) and self.critical_calls == self.spec.critical_calls()

    def passed(self) -> bool | None:
        if self.spec.max_ratio is not None and self.ratio is not None:
            return self.ratio <= self.spec.max_ratio
        if self.spec.max_overhead_s is not None:
            return self.overhead_s <= self.spec.max_overhead_s
        return None


# --- the scripted server, in its own process ---


class ServerProcess:
    """`python -m deep_research_mcp.llm.scripted` on port 0; always stopped on exit, killed if it will not stop."""

    def __init__(self, scenario: dict[str, Any], workdir: Path, args: tuple[str, ...] = ()) -> None:
        self.scenario = scenario
        self.workdir = workdir
        self.args = args  # more flags, e.g. the server's limits (--capacity 8)
        self.url = ""
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr_path = workdir / "server.stderr"

    async def __aenter__(self) -> ServerProcess:
        path = self.workdir / "scenario.json"
        path.write_text(json.dumps(self.scenario), encoding="utf-8")
        with self._stderr_path.open("wb") as stderr:
            # stderr goes to a file, not a pipe: nobody drains it during a run, and a full pipe would stall the server.
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "deep_research_mcp.llm.scripted", "--scenario", str(path), "--port", "0",
                *self.args, stdout=asyncio.subprocess.PIPE, stderr=stderr,
            )
        try:
            assert self._proc.stdout is not None
            line = await asyncio.wait_for(self._proc.stdout.readline(), SERVER_START_TIMEOUT_S)
            self.url = line.decode().strip()
            if not line:
                # EOF: the server is exiting by itself. Let it finish, so stop() does not signal a dead process
                # (Popen.send_signal reaps it first and races asyncio's child watcher, which then logs a warning).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._proc.wait(), SERVER_STOP_TIMEOUT_S)
            if not self.url.startswith("http://"):
                raise RuntimeError(f"scripted server did not start: {self._stderr()}")
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _stderr(self) -> str:
        with contextlib.suppress(OSError):
            return self._stderr_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        return ""

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        try:
            with contextlib.suppress(ProcessLookupError):  # it may have exited since the check above
                proc.terminate()
            await asyncio.wait_for(proc.wait(), SERVER_STOP_TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        finally:
            if proc.returncode is None:
                # Interrupted while waiting (a second Ctrl-C): still never leave the server running.
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()

    def cpu_s(self) -> float | None:
        """The server's CPU seconds so far (Linux /proc), to tell its share of the overhead from the engine's."""
        if self._proc is None:
            return None
        try:
            fields = Path(f"/proc/{self._proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        # utime and stime are fields 14 and 15 of stat(5); the split above starts at field 3.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def stats(self, client: httpx2.AsyncClient) -> dict[str, Any]:
        response = await client.get(self.url + "/stats")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


# --- one scenario ---


def corpus(latency_s: float) -> InMemoryDocuments:
    documents = [
        Document(f"https://docs.example/tidal/{i}", f"Tidal storage note {i}",
                 f"Tidal power plants store energy using lagoon {i}. Topic aspect detail {i}. " * 20)
        for i in range(1, 13)
    ]
    return InMemoryDocuments(documents, latency_s=latency_s)


def settings_for(spec: Spec, server_url: str) -> Settings:
    return Settings(
        research_model="openai:scripted",
        openai_base_url=server_url + "/v1",
        allow_clarification=True,
        max_concurrent_research_units=spec.concurrency,
        # Must exceed K: at exactly K the engine stops after the K-th tool call without the closing researcher turn,
        # and the run would no longer be the call graph the floor formula describes.
        max_tool_calls=max(10, spec.tool_calls + 1),
        max_supervisor_iterations=6,
        # No retries: one would hide inside the wall time; without them any failure shows as a failed researcher
        # or a call-count mismatch.
        max_retries=0,
        call_timeout_s=max(30.0, 10 * spec.llm_latency_s),
        researcher_timeout_s=900.0,
        tool_timeout_s=max(30.0, 10 * spec.tool_latency_s),
        http_max_connections=max(50, 2 * spec.concurrency),
    )


class PhaseClock:
    """Timestamps the engine's own progress events, so time can be split into phases and researchers."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.phase_at: dict[str, float] = {}
        self._unit_start: dict[str, float] = {}
        self.unit_s: list[float] = []

    def __call__(self, event: Event) -> None:
        now = time.perf_counter() - self.started
        if event.kind == "phase":
            self.phase_at.setdefault(str(event.data.get("phase")), now)
        elif event.kind == "researcher_started":
            self._unit_start[str(event.data.get("topic"))] = now
        elif event.kind == "researcher_finished":
            begun = self._unit_start.pop(str(event.data.get("topic")), None)
            if begun is not None:
                self.unit_s.append(now - begun)

    def phases(self, wall_s: float) -> dict[str, float]:
        marks = [("scope", self.phase_at.get("scope", 0.0)), ("research", self.phase_at.get("research", 0.0)),
                 ("write", self.phase_at.get("write", wall_s)), ("end", wall_s)]
        return {name: marks[i + 1][1] - at for i, (name, at) in enumerate(marks[:-1])}


async def run_once(engine: ResearchEngine, tool: InMemoryDocuments, server: ServerProcess,
                   client: httpx2.AsyncClient) -> RunMeasure:
    before = await server.stats(client)
    tools_before = tool.calls
    server_cpu = server.cpu_s()
    clock = PhaseClock()
    cpu = time.process_time()
    clock.started = started = time.perf_counter()
    result = await engine.run(QUESTION, on_event=clock)
    wall = time.perf_counter() - started
    engine_cpu = time.process_time() - cpu
    server_cpu_after = server.cpu_s()
    after = await server.stats(client)
    # Deltas, because repeats of a scenario share one server whose counters only grow.
    by_stage = {
        stage: n - before["calls_by_stage"].get(stage, 0)
        for stage, n in after["calls_by_stage"].items()
        if n - before["calls_by_stage"].get(stage, 0)
    }
    ok = sum(1 for u in result.units if u.ok)
    path = [s for s in result.timeline.get("spans", []) if s["critical"]]
    return RunMeasure(
        wall_s=wall,
        model_calls=int(result.usage["calls"]),
        researchers_ok=ok,
        researchers_failed=len(result.units) - ok,
        tool_calls=tool.calls - tools_before,
        calls_by_stage=by_stage,
        phases_s=clock.phases(wall),
        researcher_s=clock.unit_s,
        citations=result.citations.cited,
        warnings=result.warnings,
        engine_cpu_s=engine_cpu,
        server_cpu_s=None if server_cpu is None or server_cpu_after is None else server_cpu_after - server_cpu,
        timeline_floor_s=result.timeline.get("floor_s"),
        critical_calls=dict(sorted(Counter(s["stage"] for s in path).items())),
    )


def check_run(spec: Spec, run: RunMeasure) -> list[str]:
    """Everything that would make the floor comparison meaningless: a different call graph or failed work."""
    problems: list[str] = []
    expected = spec.expected_calls()
    if run.calls_by_stage != expected:
        problems.append(f"server calls_by_stage {run.calls_by_stage} != expected {expected}")
    if run.model_calls != sum(expected.values()):
        problems.append(f"engine counted {run.model_calls} model calls, expected {sum(expected.values())}")
    if run.tool_calls != spec.topics * spec.tool_calls:
        problems.append(f"{run.tool_calls} tool calls, expected {spec.topics * spec.tool_calls}")
    if run.researchers_failed or run.researchers_ok != spec.topics:
        problems.append(f"researchers ok={run.researchers_ok} failed={run.researchers_failed}")
    problems += [f"engine warning: {w}" for w in run.warnings]
    return problems


async def run_scenario(spec: Spec, workdir: Path, *, warmup: bool) -> ScenarioResult:
    async with ServerProcess(spec.scenario_json(), workdir) as server, httpx2.AsyncClient(timeout=10.0) as client:
        settings = settings_for(spec, server.url)
        tool = corpus(spec.tool_latency_s)
        async with ModelHub(settings) as hub:
            engine = ResearchEngine(hub.stage_models(), [tool], EngineConfig.from_settings(settings))
            warm: float | None = None
            if warmup:
                # Not counted: the first run also opens the connection pool and touches lazily imported SDK code.
                warm = (await run_once(engine, tool, server, client)).wall_s
            runs = [await run_once(engine, tool, server, client) for _ in range(spec.repeats)]
    result = ScenarioResult(spec, runs, warmup_wall_s=warm, rss_after_mb=peak_rss_mb())
    for i, run in enumerate(runs):
        result.problems += [f"run {i + 1}: {p}" for p in check_run(spec, run)]
    if result.timeline_floor_matches() is False:
        result.problems.append(f"the timeline's critical path {json.dumps(result.critical_calls)} (nominal "
                               f"{result.path_floor_s():.2f} s) is not the formula's "
                               f"{json.dumps(spec.critical_calls())} ({result.floor_s:.2f} s)")
    return result


# --- reporting ---


def rss_mb(raw: int) -> float:
    # ru_maxrss is KiB on Linux but bytes on macOS.
    return raw / (1024 * 1024 if sys.platform == "darwin" else 1024)


def peak_rss_mb() -> float:
    return rss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def target_cell(r: ScenarioResult) -> str:
    verdict = {True: " ✓", False: " ✗", None: ""}[r.passed()]
    if r.spec.max_ratio is not None:
        return f"ratio ≤ {r.spec.max_ratio:.2f}{verdict}"
    return f"overhead ≤ {r.spec.max_overhead_s:g} s{verdict}"


def table(results: list[ScenarioResult]) -> str:
    lines = ["| scenario | wall s | floor s | ratio | target | model calls | timeline's critical path s |",
             "|---|---:|---:|---:|---|---:|---:|"]
    for r in results:
        if r.ratio is None:
            wall = f"{r.wall_s:.3f} (median of {len(r.runs)}; min {min(r.walls):.3f})"
            ratio = f"overhead {r.overhead_s:.3f} s"
        else:
            wall, ratio = f"{r.wall_s:.2f}", f"{r.ratio:.3f}"
        found = r.timeline_floor_s
        verdict = {True: " ✓", False: " ✗", None: ""}[r.timeline_floor_matches()]
        timeline = "n/a" if found is None else f"{r.path_floor_s():.2f} (measured {found:.3f}){verdict}"
        lines.append(
            f"| {r.spec.title} | {wall} | {r.floor_s:.2f} | {ratio} | {target_cell(r)} | {r.runs[0].model_calls} "
            f"| {timeline} |"
        )
    return "\n".join(lines)


def details(r: ScenarioResult) -> str:
    spec, run = r.spec, r.runs[len(r.runs) // 2]
    floors = spec.phase_floors()
    out = [f"### {spec.name}: {spec.title}"]
    out.append(
        f"- floor = clarify L + brief L + supervisor L + {spec.waves} wave(s) × ({spec.tool_calls} × (L + T) + L + L)"
        f" + supervisor L + report L, L={spec.llm_latency_s:g} s, T={spec.tool_latency_s:g} s"
        f" → {r.floor_s:.2f} s"
    )
    expected = spec.expected_calls()
    verdict = "matches" if run.calls_by_stage == expected else "DIFFERS FROM"
    out.append(f"- server calls_by_stage {json.dumps(run.calls_by_stage)} {verdict} the formula's "
               f"{json.dumps(expected)}; tool calls {run.tool_calls} (expected {spec.topics * spec.tool_calls})")
    if run.timeline_floor_s is not None:
        out.append(f"- the run's timeline: critical path {json.dumps(run.critical_calls)} (tool = search calls), "
                   f"{r.path_floor_s():.2f} s at nominal latencies, {run.timeline_floor_s:.3f} s measured")
    out.append(f"- researchers ok {run.researchers_ok} / failed {run.researchers_failed}; "
               f"engine model calls {run.model_calls}; citations in report {run.citations}")
    phases = ", ".join(
        f"{name} {run.phases_s[name]:.3f} s (floor {floors[name]:.2f}, +{run.phases_s[name] - floors[name]:.3f})"
        for name in floors
    )
    out.append(f"- phases: {phases}")
    if run.researcher_s:
        unit_floor = spec.tool_calls * (spec.llm_latency_s + spec.tool_latency_s) + 2 * spec.llm_latency_s
        out.append(f"- one researcher: mean {statistics.mean(run.researcher_s):.3f} s, max {max(run.researcher_s):.3f}"
                   f" s (floor {unit_floor:.2f} s)")
    server_cpu = "n/a" if run.server_cpu_s is None else f"{run.server_cpu_s:.2f} s"
    out.append(f"- CPU during the run: engine process {run.engine_cpu_s:.3f} s, scripted server {server_cpu}"
               " (2 cores shared; clock-tick resolution for the server)")
    if len(r.runs) > 1:
        serial = 5 + spec.waves * (spec.tool_calls + 2)
        out.append(f"- walls: {', '.join(f'{w:.3f}' for w in r.walls)} s; median {r.wall_s:.3f}, min {min(r.walls):.3f}"
                   f"; ≈ {1000 * r.wall_s / serial:.1f} ms per model call on the critical path ({serial} calls),"
                   f" {1000 * r.wall_s / run.model_calls:.1f} ms per model call overall")
    if r.warmup_wall_s is not None:
        out.append(f"- warm-up run (not counted): {r.warmup_wall_s:.3f} s")
    out.append(f"- peak RSS after this scenario: {r.rss_after_mb:.1f} MB")
    out += [f"- PROBLEM: {p}" for p in r.problems]
    return "\n".join(out)


def machine() -> str:
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def load_average() -> float | None:
    # Other work on the machine shows up as overhead (the zero-latency run is CPU-bound), so it is printed alongside.
    with contextlib.suppress(OSError, AttributeError):
        return os.getloadavg()[0]
    return None


def as_json(results: list[ScenarioResult], quick: bool, rss: dict[str, Any], load: dict[str, Any]) -> dict[str, Any]:
    return {
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "load_average_1min": load,
        "quick": quick,
        "rss": rss,
        "scenarios": [
            {
                "spec": asdict(r.spec),
                "floor_s": r.floor_s,
                "phase_floors_s": r.spec.phase_floors(),
                "expected_calls_by_stage": r.spec.expected_calls(),
                "wall_s": r.wall_s,
                "wall_min_s": min(r.walls),
                "ratio": r.ratio,
                "overhead_s": r.overhead_s,
                "timeline_floor_s": r.timeline_floor_s,
                "timeline_path_floor_s": r.path_floor_s(),
                "timeline_floor_matches": r.timeline_floor_matches(),
                "passed": r.passed(),
                "warmup_wall_s": r.warmup_wall_s,
                "rss_after_mb": r.rss_after_mb,
                "problems": r.problems,
                "runs": [asdict(run) for run in r.runs],
            }
            for r in results
        ],
    }


async def main_async(specs: list[Spec], *, quick: bool, json_path: Path | None) -> int:
    results: list[ScenarioResult] = []
    main_task = asyncio.current_task()
    if main_task is not None and sys.platform != "win32":
        # SIGTERM would otherwise end the process on the spot and orphan the server; cancelling runs the finallys.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as tmp:
        for spec in specs:
            print(f"running {spec.name}: {spec.title}, floor {spec.floor_s():.2f} s ...", file=sys.stderr, flush=True)
            workdir = Path(tmp) / spec.name
            workdir.mkdir()
            result = await run_scenario(spec, workdir, warmup=spec.repeats > 1)
            results.append(result)
            print(f"  wall {result.wall_s:.3f} s", file=sys.stderr, flush=True)

    load_after = load_average()
    # The RSS figure is the one after the widest fan-out (20 topics); without that scenario, after the last one.
    widest = next((r for r in results if r.spec.name == "20-topics"), results[-1])
    rss_label, peak = widest.spec.name, widest.rss_after_mb
    base = rss_mb(BASELINE_RSS_KIB)
    rss_ok = peak <= RSS_TARGET_MB
    print()
    mode = " — QUICK (latencies × 0.1)" if quick else ""
    print(f"Engine benchmark — {dt.date.today().isoformat()} — {machine()}{mode}")
    if load_before is not None and load_after is not None:
        print(f"Load average (1 min): {load_before:.2f} before, {load_after:.2f} after")
    print()
    print(table(results))
    print()
    print(f"Peak RSS after {rss_label}: {peak:.1f} MB (target ≤ {RSS_TARGET_MB:g} MB {'✓' if rss_ok else '✗'}); "
          f"bare-import baseline {base:.1f} MB, so runs added {peak - base:.1f} MB.")
    print("Reference: the best open system measured 1.18× the floor and ~2 s overhead.")
    if quick:
        print("Quick mode: fixed overhead weighs 10× more against the shortened floors; judge ratios on a full run.")
    print()
    for r in results:
        print(details(r))
        print()
    problems = [p for r in results for p in r.problems]
    if json_path is not None:
        rss = {"baseline_mb": base, "peak_mb": peak, "after": rss_label, "target_mb": RSS_TARGET_MB}
        load = {"before": load_before, "after": load_after}
        json_path.write_text(json.dumps(as_json(results, quick, rss, load), indent=2), encoding="utf-8")
        print(f"results written to {json_path}")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"scale every latency by {QUICK_SCALE} (smoke run)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--only", action="append", metavar="NAME", choices=[s.name for s in SPECS],
                        help="run only this scenario (repeatable)")
    args = parser.parse_args(argv)
    specs = [s for s in SPECS if not args.only or s.name in args.only]
    if args.quick:
        specs = [s.scaled(QUICK_SCALE) for s in specs]
    try:
        return asyncio.run(main_async(specs, quick=args.quick, json_path=args.json))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; the scripted server was stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
