"""Distributed runs on the task queue: throughput per worker count, failover under kill -9, cancel latency.

Everything is real and on 127.0.0.1: a redis-server on a free port, `deep-research worker` subprocesses (each at
most 2 runs at once), two in-process MCP front-ends (the server built by `build_server`, driven by the SDK client),
and the scripted LLM server (1 s per model call, 2 researchers per run).

- throughput: 40 runs on 1, 2 and 4 workers; goals: ≥ 1.8× from 1 to 2 workers and ≥ 3.2× from 1 to 4.
- failover: 3 workers, 30 runs through 2 front-ends; one worker is SIGKILLed while its runs research. Goal: 30 of
  30 complete, and the resumed runs repeat no model call that had finished (only calls in flight at the kill).
- cancel: a cancel asked on a front-end ends the run on its worker; goal ≤ 2 s.

Redis is flushed between scenarios, so no run finds another scenario's answers in the cache.

Run: .venv/bin/python bench/queue_bench.py [--quick] (--quick: 10 runs, 0.3 s latency; a smoke test, ~1 min)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp.client import Client

from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer
from deep_research_mcp.server.app import build_server
from deep_research_mcp.settings import Settings

READY = re.compile(r"deep-research worker (\S+) ready")
HEARTBEAT_S, SWEEP_S = 5, 2  # a killed worker's runs are back in the queue within about 5 + 2 + 1 s
TOPICS = 2
CONCURRENCY = 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed: apt-get install -y redis-server")
    port = free_port()
    process = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly",
                                "no", "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(64).startswith(b"+PONG"):
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def flush(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushall()
    client.close()


@dataclass
class Worker:
    popen: subprocess.Popen[bytes]
    log: Path
    name: str = ""


@contextlib.contextmanager
def workers(count: int, env: dict[str, str], folder: Path) -> Iterator[list[Worker]]:
    script = str(Path(sys.executable).with_name("deep-research"))
    started: list[Worker] = []
    try:
        for i in range(count):
            log = folder / f"worker-{time.monotonic_ns()}-{i}.log"
            data = folder / f"data-{time.monotonic_ns()}-{i}"
            with log.open("wb") as err:
                popen = subprocess.Popen([script, "worker"], env={**env, "DEEP_RESEARCH_DATA_DIR": str(data)},
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
            started.append(Worker(popen, log))
        deadline = time.monotonic() + 120
        for worker in started:
            while not (found := READY.search(worker.log.read_text(errors="replace"))):
                if worker.popen.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"worker did not start:\n{worker.log.read_text(errors='replace')}")
                time.sleep(0.05)
            worker.name = found.group(1)
        yield started
    finally:
        for worker in started:
            if worker.popen.poll() is None:
                worker.popen.terminate()
        for worker in started:
            try:
                worker.popen.wait(15)
            except subprocess.TimeoutExpired:
                worker.popen.kill()
                worker.popen.wait(5)


@contextlib.asynccontextmanager
async def front_ends(settings: Settings, count: int = 2) -> AsyncIterator[list[Client]]:
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for i in range(count):
            front = settings.model_copy(update={"data_dir": settings.data_dir / f"front{i}"})
            clients.append(await stack.enter_async_context(Client(build_server(front), read_timeout_seconds=60)))
        yield clients


async def statuses(client: Client, run_ids: list[str]) -> list[dict[str, Any]]:
    async def one(run_id: str) -> dict[str, Any]:
        return (await client.call_tool("research_status", {"run_id": run_id})).structured_content

    return list(await asyncio.gather(*(one(r) for r in run_ids)))


async def start_runs(clients: list[Client], questions: list[str]) -> list[str]:
    async def start(i: int, question: str) -> str:
        result = await clients[i % len(clients)].call_tool("research_start", {"question": question})
        return str(result.structured_content["run_id"])

    return list(await asyncio.gather(*(start(i, q) for i, q in enumerate(questions))))


async def wait_all(client: Client, run_ids: list[str], timeout_s: float = 1800) -> list[dict[str, Any]]:
    async with asyncio.timeout(timeout_s):
        while True:
            seen = await statuses(client, run_ids)
            if all(s["finished"] for s in seen):
                return seen
            await asyncio.sleep(0.25)


def questions(tag: str, n: int) -> list[str]:
    return [f"{tag} question {i}: how do tidal lagoons and pumped hydro store energy?" for i in range(n)]


async def throughput(settings: Settings, env: dict[str, str], folder: Path, url: str, runs: int) -> dict[int, float]:
    out: dict[int, float] = {}
    for count in (1, 2, 4):
        flush(url)
        with workers(count, env, folder):
            async with front_ends(settings) as clients:
                began = time.monotonic()
                run_ids = await start_runs(clients, questions(f"w{count}", runs))
                final = await wait_all(clients[0], run_ids)
                took = time.monotonic() - began
        done = sum(s["status"] == "completed" for s in final)
        for s in final:
            if s["status"] != "completed":
                print(f"  run {s['run_id']} ended {s['status']}: {s['message']}", flush=True)
        out[count] = runs / took * 60
        print(f"  {count} worker(s): {done}/{runs} completed in {took:.1f} s = {out[count]:.1f} runs/min "
              f"({out[count] / out[1]:.2f}x)", flush=True)
    return out


async def failover(settings: Settings, env: dict[str, str], folder: Path, url: str, llm: ScriptedLLMServer,
                   runs: int) -> None:
    flush(url)
    llm.reset_stats()
    with workers(3, env, folder) as started:
        async with front_ends(settings) as clients:
            began = time.monotonic()
            run_ids = await start_runs(clients, questions("failover", runs))
            victim = started[1]
            while True:  # kill the worker once all its runs are researching (brief and first turn done)
                seen = await statuses(clients[0], run_ids)
                mine = [s for s in seen if s["worker"] == victim.name and not s["finished"]]
                if len(mine) == CONCURRENCY and all(s["researchers_running"] for s in mine):
                    break
                await asyncio.sleep(0.1)
            victim.popen.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            killed = {s["run_id"] for s in mine}
            back: float | None = None
            while True:
                seen = await statuses(clients[1], run_ids)
                if back is None and any(s["run_id"] in killed and s["attempts"] == 2 for s in seen):
                    back = time.monotonic() - killed_at
                if all(s["finished"] for s in seen):
                    break
                await asyncio.sleep(0.25)
            took = time.monotonic() - began
            results = {r: (await clients[0].call_tool("research_result", {"run_id": r})).structured_content
                       for r in run_ids}
    completed = sum(s["status"] == "completed" for s in seen)
    resumed = [s["run_id"] for s in seen if s["attempts"] > 1]
    paid = sum(r["usage"]["model_calls"] for r in results.values())
    replayed = sum(results[r]["usage"]["cache_hits"] for r in resumed)
    lost = llm.stats.calls - paid - replayed
    print(f"  {completed}/{runs} completed in {took:.1f} s; worker {victim.name} killed with {len(killed)} runs "
          f"researching; first resumed on another worker {back or 0:.1f} s after the kill "
          f"(heartbeat {HEARTBEAT_S} s, sweep {SWEEP_S} s)", flush=True)
    print(f"  resumed runs: {len(resumed)} (attempts 2), their cache hits: "
          f"{[results[r]['usage']['cache_hits'] for r in resumed]}; model calls: {llm.stats.calls} answered = "
          f"{paid} paid by final attempts + {replayed} made before the kill and replayed from the cache + "
          f"{lost} in flight at the kill (bound: {TOPICS * len(killed)})", flush=True)


async def cancel_latency(settings: Settings, env: dict[str, str], folder: Path, url: str, n: int) -> None:
    flush(url)
    took: list[float] = []
    with workers(1, env, folder):
        async with front_ends(settings, count=1) as (client,):
            for i in range(n):
                (run_id,) = await start_runs([client], questions(f"cancel{i}", 1))
                while not (await statuses(client, [run_id]))[0]["researchers_running"]:
                    await asyncio.sleep(0.05)
                asked = time.monotonic()
                await client.call_tool("research_cancel", {"run_id": run_id})
                while (status := (await statuses(client, [run_id]))[0])["status"] == "running":
                    await asyncio.sleep(0.02)
                took.append(time.monotonic() - asked)
                assert status["status"] == "cancelled", status
    print(f"  {n} cancels: median {statistics.median(took):.2f} s, max {max(took):.2f} s (goal ≤ 2 s)", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 runs at 0.3 s latency (smoke test)")
    args = parser.parse_args()
    latency, runs, failover_runs = (0.3, 10, 9) if args.quick else (1.0, 40, 30)
    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as url:
        folder = Path(tmp)
        docs = folder / "docs"
        docs.mkdir()
        for i in range(10):
            (docs / f"note{i}.md").write_text(f"# Note {i}\n\nTidal lagoons store energy behind wall {i}.\n")
        async with ScriptedLLMServer(Scenario(latency_s=latency, topics=TOPICS)) as llm:
            common = {"QUEUE_URL": url, "RESEARCH_MODEL": "openai:scripted", "OPENAI_BASE_URL": llm.openai_base_url,
                      "ALLOW_CLARIFICATION": "false", "FETCH_ENABLED": "false", "DOCS_DIR": str(docs),
                      "WORKER_CONCURRENCY": str(CONCURRENCY), "QUEUE_HEARTBEAT_S": str(HEARTBEAT_S),
                      "QUEUE_SWEEP_INTERVAL_S": str(SWEEP_S), "CACHE_REDIS_TIMEOUT_S": "2"}
            env = {k: v for k, v in os.environ.items() if not k.startswith("DEEP_RESEARCH_")}
            env.update({f"DEEP_RESEARCH_{k}": v for k, v in common.items()}, OPENAI_API_KEY="x")
            settings = Settings(research_model="openai:scripted", openai_base_url=llm.openai_base_url,
                                openai_api_key="x", docs_dir=docs, data_dir=folder / "fronts", fetch_enabled=False,
                                allow_clarification=False, queue_url=url, cache_redis_timeout_s=2.0,
                                queue_heartbeat_s=HEARTBEAT_S)
            print(f"throughput: {runs} runs, model latency {latency:g} s, {CONCURRENCY} runs at once per worker",
                  flush=True)
            rates = await throughput(settings, env, folder, url, runs)
            print(f"  scaling: 2 workers {rates[2] / rates[1]:.2f}x (goal ≥ 1.8), 4 workers "
                  f"{rates[4] / rates[1]:.2f}x (goal ≥ 3.2)", flush=True)
            print(f"failover: 3 workers, {failover_runs} runs through 2 front-ends, one worker killed (SIGKILL)",
                  flush=True)
            await failover(settings, env, folder, url, llm, failover_runs)
            print("cancel: from a front-end to the run on its worker", flush=True)
            await cancel_latency(settings, env, folder, url, 5)


if __name__ == "__main__":
    asyncio.run(main())
