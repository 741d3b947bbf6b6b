"""The MCP Inspector CLI (npm, a real third-party client) against `deep-research serve`, over stdio and streamable
HTTP: list the tools, call clarify, and run a research through research_start / research_status / research_result.

The Inspector is installed by `.ci/npm-tools.sh` into .ci/npm (CI runs it). Without it these tests fail, saying so:
they are the proof that a client we did not write can use the server.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from .conftest import FACT, QUESTION, TOOLS, Process, http_server, serve_command, server_env

ROOT = Path(__file__).resolve().parents[2]
NPM_TOOLS = ROOT / ".ci" / "npm-tools.sh"
NPM_DIR = ROOT / ".ci" / "npm"
INSPECTOR = NPM_DIR / "node_modules" / ".bin" / "mcp-inspector"
INSPECTOR_MANIFEST = NPM_DIR / "node_modules" / "@modelcontextprotocol" / "inspector" / "package.json"
CALL_TIMEOUT_S = 30.0
POLL_DEADLINE_S = 30.0


def pinned_version() -> str:
    found = re.search(r'^INSPECTOR_VERSION="([^"]+)"', NPM_TOOLS.read_text(encoding="utf-8"), re.M)
    assert found, f"no INSPECTOR_VERSION in {NPM_TOOLS}"
    return found.group(1)


@pytest.fixture(scope="module")
def inspector() -> list[str]:
    """The Inspector's CLI mode; fails (not skips) with what to run when it is missing or stale."""
    install = f"run `bash {NPM_TOOLS.relative_to(ROOT)}` (CI does) to install it into {NPM_DIR.relative_to(ROOT)}"
    if shutil.which("node") is None:
        pytest.fail(f"node is not on PATH: the MCP Inspector CLI needs Node.js 20+; install it, then {install}")
    if not INSPECTOR.exists() or not INSPECTOR_MANIFEST.is_file():
        pytest.fail(f"the MCP Inspector CLI is not installed: {install}")
    version = json.loads(INSPECTOR_MANIFEST.read_text(encoding="utf-8"))["version"]
    if version != pinned_version():
        pytest.fail(f"the MCP Inspector in {NPM_DIR} is {version}, the pinned one is {pinned_version()}: {install}")
    return [str(INSPECTOR), "--cli"]


def run_inspector(inspector: list[str], target: list[str], *args: str, env: Mapping[str, str] | None = None,
                  cwd: Path | None = None) -> dict[str, Any]:
    """One Inspector CLI call; returns the JSON it prints. Fails with its output when it does not succeed."""
    command = [*inspector, *target, *args]
    try:
        done = subprocess.run(command, env=dict(env) if env is not None else None, cwd=cwd,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=CALL_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the Inspector did not finish within {CALL_TIMEOUT_S} s: {args}\n{exc.stderr!r}")
    assert done.returncode == 0, f"{args} exited {done.returncode}\nstderr: {done.stderr}\nstdout: {done.stdout}"
    try:
        return json.loads(done.stdout)
    except ValueError:
        pytest.fail(f"the Inspector printed no JSON for {args}: {done.stdout!r}\nstderr: {done.stderr}")


def call_tool(inspector: list[str], target: list[str], tool: str, env: Mapping[str, str] | None = None,
              **arguments: str) -> dict[str, Any]:
    pairs = [f"{key}={value}" for key, value in arguments.items()]
    args = ["--method", "tools/call", "--tool-name", tool, *(["--tool-arg", *pairs] if pairs else [])]
    return run_inspector(inspector, target, *args, env=env)


@pytest.fixture(scope="module")
def served(module_docs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    env = server_env(tmp_path_factory.mktemp("data"), module_docs)
    with http_server(env, tmp_path_factory.mktemp("logs")) as server:
        yield server


def test_inspector_lists_tools_over_stdio(inspector: list[str], docs: Path, tmp_path: Path) -> None:
    # The Inspector spawns the server itself, passing its own environment on to it.
    listed = run_inspector(inspector, serve_command(), "--method", "tools/list", env=server_env(tmp_path / "d", docs))
    assert {tool["name"] for tool in listed["tools"]} == TOOLS
    research = next(tool for tool in listed["tools"] if tool["name"] == "research_start")
    assert "question" in research["inputSchema"]["properties"] and research["description"]


def test_inspector_lists_tools_and_clarifies_over_http(inspector: list[str], served: Process) -> None:
    target = [served.url, "--transport", "http"]
    listed = run_inspector(inspector, target, "--method", "tools/list")
    clarified = call_tool(inspector, target, "clarify", question=QUESTION)
    assert {tool["name"] for tool in listed["tools"]} == TOOLS
    assert clarified["isError"] is False, clarified
    assert clarified["structuredContent"]["need_clarification"] is False
    assert QUESTION.rstrip("?") in clarified["structuredContent"]["brief"]


def test_inspector_runs_a_research_through_start_status_result(inspector: list[str], served: Process) -> None:
    target = [served.url, "--transport", "http"]
    started = call_tool(inspector, target, "research_start", question=QUESTION)
    assert started["isError"] is False, started
    run_id = started["structuredContent"]["run_id"]
    deadline = time.monotonic() + POLL_DEADLINE_S
    while True:
        status = call_tool(inspector, target, "research_status", run_id=run_id)
        assert status["isError"] is False, status
        if status["structuredContent"]["finished"]:
            break
        assert time.monotonic() < deadline, f"run {run_id} not finished within {POLL_DEADLINE_S} s: {status}"
        time.sleep(0.2)  # each poll is a new Inspector process: pace them
    result = call_tool(inspector, target, "research_result", run_id=run_id)
    report = run_inspector(inspector, target, "--method", "resources/read", "--uri",
                           f"research://runs/{run_id}/report")
    assert status["structuredContent"]["status"] == "completed", status
    assert result["isError"] is False, result
    summary = result["structuredContent"]
    assert summary["run_id"] == run_id and summary["status"] == "completed" and FACT in summary["answer"]
    links = [block for block in result["content"] if block["type"] == "resource_link"]
    assert [link["uri"] for link in links] == [f"research://runs/{run_id}/report"]
    assert FACT in report["contents"][0]["text"]


def test_inspector_gets_a_research_back_within_its_wait_and_waits_again(inspector: list[str], served: Process) -> None:
    # Inspector 0.15 ends a call at 60 s: research answers within its bound (here 0 s) and research_result waits
    # again. The CLI types `wait_s=0` by the schema's `type`, so it arrives as a number.
    target = [served.url, "--transport", "http"]
    first = call_tool(inspector, target, "research", question=QUESTION, wait_s="0")
    assert first["isError"] is False and first["structuredContent"]["status"] == "running", first
    result = call_tool(inspector, target, "research_result", run_id=first["structuredContent"]["run_id"])
    assert result["structuredContent"]["status"] == "completed" and FACT in result["structuredContent"]["answer"]


def test_inspector_sees_bad_input_as_an_error_result(inspector: list[str], served: Process) -> None:
    target = [served.url, "--transport", "http"]
    unknown = call_tool(inspector, target, "research_status", run_id="no-such-run")
    assert unknown["isError"] is True, unknown
    text = " ".join(block.get("text", "") for block in unknown["content"])
    assert "unknown run id" in text and "Traceback" not in text


def test_the_repository_mcp_json_works_in_the_inspector(inspector: list[str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEP_RESEARCH_")}
    env["DEEP_RESEARCH_DATA_DIR"] = str(tmp_path / "data")
    listed = run_inspector(inspector, ["--config", "mcp.json", "--server", "deep-research"],
                           "--method", "tools/list", env=env, cwd=ROOT)
    assert {tool["name"] for tool in listed["tools"]} == TOOLS
