"""Stopping the server the ways hosts and operators do: SIGINT and SIGTERM over stdio (with stdin still open) and
HTTP, and kill -9 followed by a restart. Every run in progress must end up recorded `interrupted`, at once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.client import Client
from mcp_types.version import LATEST_HANDSHAKE_VERSION

from ..server.conftest import Process, scripted_env, scripted_llm, serve_command, server_env, write_corpus
from ..server.test_stdio import RawStdio

EXIT_BOUND_S = 10.0  # a bound, not a measurement: without the fix the stdio server never exits while stdin is open
SLOW_LLM = {"latency_s": 0.5, "topics": 2}


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    with scripted_llm(SLOW_LLM, tmp_path_factory.mktemp("llm")) as process:
        yield process


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "docs")


def record(data_dir: Path, run_id: str) -> dict[str, Any]:
    return json.loads((data_dir / "runs" / f"{run_id}.json").read_text())


async def wait_exit(process: asyncio.subprocess.Process) -> float:
    started = time.monotonic()
    async with asyncio.timeout(EXIT_BOUND_S):
        await process.wait()
    return time.monotonic() - started


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
async def test_stdio_stops_on_a_signal_with_stdin_open_and_records_the_run_interrupted(
    llm: Process, docs: Path, tmp_path: Path, signum: int, code: int
) -> None:
    data = tmp_path / "data"
    stderr_path = tmp_path / "serve.stderr"
    env = server_env(data, docs, scripted_env(llm))
    with stderr_path.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(*serve_command(), env=env, stdin=asyncio.subprocess.PIPE,
                                                       stdout=asyncio.subprocess.PIPE, stderr=stderr)
    server = RawStdio(process)
    try:
        async with asyncio.timeout(30):
            await server.send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                               "params": {"protocolVersion": LATEST_HANDSHAKE_VERSION, "capabilities": {},
                                          "clientInfo": {"name": "signals", "version": "0"}}})
            await server.response(1)
            await server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            await server.send({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                               "params": {"name": "research_start", "arguments": {"question": "Tides?"}}})
            run_id = (await server.response(2))["result"]["structuredContent"]["run_id"]
        process.send_signal(signum)
        took = await wait_exit(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    said = stderr_path.read_text(errors="replace")
    assert process.returncode == code, said
    assert f"stopped ({signal.Signals(signum).name})" in said and "Traceback" not in said, said
    stored = record(data, run_id)
    assert stored["status"] == "interrupted", stored
    print(f"stdio {signal.Signals(signum).name}: exited in {took:.2f} s")


def spawn_http(env: dict[str, str], logs: Path, name: str) -> tuple[subprocess.Popen[bytes], Path]:
    command = [*serve_command(), "--http", "--host", "127.0.0.1", "--port", "0"]
    logs.mkdir(parents=True, exist_ok=True)
    stderr_path = logs / f"{name}.stderr"
    with stderr_path.open("wb") as err:
        popen = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    return popen, stderr_path


async def url_of(popen: subprocess.Popen[bytes], stderr_path: Path) -> str:
    async with asyncio.timeout(30):
        while True:
            for line in stderr_path.read_text(errors="replace").splitlines():
                if "listening on " in line:
                    return line.rsplit(" ", 1)[1]
            assert popen.poll() is None, stderr_path.read_text(errors="replace")
            await asyncio.sleep(0.05)


async def start_run(url: str) -> str:
    async with Client(url) as client:
        started = await client.call_tool("research_start", {"question": "Tides?"})
    assert not started.is_error, started.content
    return str(started.structured_content["run_id"])


async def test_http_sigterm_stops_and_records_the_run_interrupted(
    llm: Process, docs: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    popen, stderr_path = spawn_http(server_env(data, docs, scripted_env(llm)), tmp_path, "http")
    try:
        run_id = await start_run(await url_of(popen, stderr_path))
        started = time.monotonic()
        popen.send_signal(signal.SIGTERM)
        popen.wait(timeout=EXIT_BOUND_S)
        took = time.monotonic() - started
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait()
    assert popen.returncode == 0, stderr_path.read_text(errors="replace")
    assert record(data, run_id)["status"] == "interrupted"
    print(f"http SIGTERM: exited in {took:.2f} s")


async def test_after_kill_9_a_restarted_server_reports_the_run_interrupted_at_once(
    llm: Process, docs: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    env = server_env(data, docs, scripted_env(llm))
    first, first_log = spawn_http(env, tmp_path, "first")
    try:
        run_id = await start_run(await url_of(first, first_log))
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    assert record(data, run_id)["status"] == "running"  # nothing got to write the end
    second, second_log = spawn_http(env, tmp_path, "second")
    try:
        async with Client(await url_of(second, second_log)) as client:
            status = (await client.call_tool("research_status", {"run_id": run_id})).structured_content
            listed = json.loads((await client.read_resource("research://runs")).contents[0].text)
    finally:
        second.terminate()
        second.wait(timeout=EXIT_BOUND_S)
    assert status["status"] == "interrupted" and status["finished"], status
    assert {r["run_id"]: r["status"] for r in listed}[run_id] == "interrupted"
