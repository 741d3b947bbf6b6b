"""Node clients people use, against `deep-research serve` as a real subprocess: the MCP Inspector 2.x CLI and
`@apify/mcpc` (both on Node 22), and the MCP conformance suite against the HTTP server.

Inspector 2.x speaks 2025-11-25 and declares the tasks extension (so `research` must not come back as a task); mcpc
keeps a session in a bridge process. Each client runs research (short and blocking, longer than a 0 s wait bound
then research_result, and start/status/result), write, a resource read and a cancel, against the scripted LLM
server (a research takes a few seconds). They are installed into .ci/npm22 by `.ci/npm-tools.sh`; without them
these tests fail, saying what to run. Every client's state goes into the test's temporary folder (HOME).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import QUESTION, TOOLS, Process, http_server, scripted_server_env, serve_command, server_env

ROOT = Path(__file__).resolve().parents[2]
NPM_TOOLS = ROOT / ".ci" / "npm-tools.sh"
NODE22_BIN = ROOT / ".ci" / "npm22" / "node_modules" / ".bin"
CALL_TIMEOUT_S = 60.0
CONFORMANCE_BASELINE = Path(__file__).with_name("conformance-baseline.yml")
# A research is about seven quick model calls; one whose question says "stalled" hangs at its first model call until
# it is cancelled, so a cancel sent by a client that starts a process per command still finds it running.
SCENARIO = {"latency_s": 0.05, "topics": 1, "tool_calls_per_researcher": 1,
            "failures": [{"kind": "hang", "match": "stalled", "times": None}]}


def pinned(name: str) -> str:
    found = re.search(rf'^{name}="([^"]+)"', NPM_TOOLS.read_text(encoding="utf-8"), re.M)
    assert found, f"no {name} in {NPM_TOOLS}"
    return found.group(1)


@pytest.fixture(scope="module")
def node22(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment for the Node 22 clients: their bin folder first on PATH, HOME in a temporary folder. Fails
    (not skips) with what to run when they are missing or stale."""
    install = f"run `bash {NPM_TOOLS.relative_to(ROOT)}` (CI does) to install them into {NODE22_BIN.parents[1]}"
    packages = {"inspector": ("@modelcontextprotocol/inspector", "INSPECTOR2_VERSION"),
                "mcpc": ("@apify/mcpc", "MCPC_VERSION"), "conformance": ("@modelcontextprotocol/conformance",
                                                                      "CONFORMANCE_VERSION")}
    for package, variable in packages.values():
        manifest = NODE22_BIN.parent / package / "package.json"
        if not manifest.is_file():
            pytest.fail(f"{package} is not installed: {install}")
        version = json.loads(manifest.read_text(encoding="utf-8"))["version"]
        if version != pinned(variable):
            pytest.fail(f"{package} in {NODE22_BIN.parents[1]} is {version}, the pinned one is {pinned(variable)}: "
                        f"{install}")
    if not (NODE22_BIN / "node").exists():
        pytest.fail(f"Node 22 (the npm package `node`) is not installed: {install}")
    home = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEP_RESEARCH_")}
    env.update(PATH=f"{NODE22_BIN}{os.pathsep}{env.get('PATH', '')}", HOME=str(home),
               MCPC_HOME_DIR=str(home / "mcpc"), MCP_CATALOG_PATH=str(home / "inspector-catalog.json"),
               # Node 22's on-disk code cache: each client command is a new Node process that otherwise compiles
               # the client's modules again (~0.3 s of ~1 s a start); the code that runs is the same.
               NODE_COMPILE_CACHE=str(home / "node-compile-cache"))
    return env


def run(env: dict[str, str], *command: str, expect: int = 0, timeout: float = CALL_TIMEOUT_S) -> str:
    """One client command; its stdout. Fails with its output when it exits otherwise than `expect`."""
    try:
        done = subprocess.run(list(command), env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{command[:6]} did not finish within {timeout} s\nstdout: {exc.stdout!r}\nstderr: {exc.stderr!r}")
    assert done.returncode == expect, f"{command} exited {done.returncode}\nstderr: {done.stderr}\nout: {done.stdout}"
    return done.stdout


def as_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pytest.fail(f"the client printed no JSON: {text!r}")


@pytest.fixture(scope="module")
def settings(module_docs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with scripted_server_env(SCENARIO, module_docs, tmp_path_factory) as env:
        yield env


@pytest.fixture(scope="module")
def served(settings: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    with http_server(settings, tmp_path_factory.mktemp("logs")) as server:
        yield server


Call = Callable[..., dict[str, Any]]


def every_operation(call: Call, read: Callable[[str], dict[str, Any]]) -> None:
    """The operations each client must carry: `call(tool, **arguments)` returns the CallToolResult as JSON."""
    short = call("research", question=QUESTION)
    assert short["isError"] is False and short["structuredContent"]["status"] == "completed", short

    first = call("research", question="Pumped hydro?", wait_s=0)
    assert first["isError"] is False and first["structuredContent"]["status"] == "running", first
    run_id = first["structuredContent"]["run_id"]
    assert f"research_result with run_id '{run_id}'" in first["content"][0]["text"]
    final = call("research_result", run_id=run_id)
    assert final["structuredContent"]["status"] == "completed", final

    started = call("research_start", question="Flywheels?")["structuredContent"]
    status = call("research_status", run_id=started["run_id"])["structuredContent"]
    result = call("research_result", run_id=started["run_id"])["structuredContent"]
    assert status["run_id"] == started["run_id"] and result["status"] == "completed", result
    rewritten = call("write", run_id=started["run_id"], instructions="One paragraph.")
    assert rewritten["structuredContent"]["status"] == "completed", rewritten
    report = read(f"research://runs/{started['run_id']}/report")
    assert report["contents"][0]["text"].startswith("# ")

    doomed = call("research_start", question="Tidal lagoons, stalled?")["structuredContent"]["run_id"]
    cancelled = call("research_cancel", run_id=doomed)["structuredContent"]
    assert cancelled["status"] == "cancelled", cancelled


# -- MCP Inspector 2.x --------------------------------------------------------------------------------------------


def inspector(env: dict[str, str], target: list[str], *args: str, expect: int = 0) -> str:
    return run(env, str(NODE22_BIN / "mcp-inspector"), "--cli", *target, *args, expect=expect)


def test_inspector_2_over_stdio_lists_portable_schemas_and_researches(
    node22: dict[str, str], module_docs: Path, tmp_path: Path
) -> None:
    # Inspector 2.x hands the server only the variables given with -e.
    settings = {"DEEP_RESEARCH_DATA_DIR": str(tmp_path / "data"), "DEEP_RESEARCH_DOCS_DIR": str(module_docs),
                "DEEP_RESEARCH_FETCH_ENABLED": "false"}
    target = [option for key, value in settings.items() for option in ("-e", f"{key}={value}")] + serve_command()
    # --strict: the Inspector's schema portability checks, exit 6 on an error-severity problem.
    listed = as_json(inspector(node22, target, "--method", "tools/list", "--strict"))
    research = as_json(inspector(node22, target, "--method", "tools/call", "--tool-name", "research",
                                 "--tool-arg", f"question={QUESTION}", "wait_s=30"))
    assert {tool["name"] for tool in listed["tools"]} == TOOLS
    assert research["isError"] is False and research["structuredContent"]["status"] == "completed", research


def test_inspector_2_over_http_does_every_operation(node22: dict[str, str], served: Process) -> None:
    target = [served.url, "--transport", "http"]

    def call(tool: str, **arguments: Any) -> dict[str, Any]:
        pairs = [f"{key}={value}" for key, value in arguments.items()]
        return as_json(inspector(node22, target, "--method", "tools/call", "--tool-name", tool, "--tool-arg", *pairs))

    def read(uri: str) -> dict[str, Any]:
        return as_json(inspector(node22, target, "--method", "resources/read", "--uri", uri))

    every_operation(call, read)


# -- mcpc ---------------------------------------------------------------------------------------------------------


class Mcpc:
    """One mcpc session (its bridge process runs until `close`)."""

    def __init__(self, env: dict[str, str], session: str) -> None:
        self.env, self.session = env, session

    def __call__(self, *args: str, expect: int = 0) -> str:
        return run(self.env, str(NODE22_BIN / "mcpc"), *args, expect=expect)

    def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        pairs = [f"{key}:={json.dumps(value) if not isinstance(value, str) else value}"
                 for key, value in arguments.items()]
        return as_json(self("--json", self.session, "tools-call", tool, *pairs))

    def read(self, uri: str) -> dict[str, Any]:
        return as_json(self("--json", self.session, "resources-read", uri))

    def close(self) -> None:
        self("close", self.session)
        sessions = json.loads((Path(self.env["MCPC_HOME_DIR"]) / "sessions.json").read_text(encoding="utf-8"))
        assert self.session not in sessions.get("sessions", {}), sessions


@pytest.fixture
def mcpc(node22: dict[str, str]) -> Iterator[Callable[[str, str], Mcpc]]:
    opened: list[Mcpc] = []

    def connect(server: str, session: str) -> Mcpc:
        client = Mcpc(node22, session)
        client("connect", server, session)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.close()


# Twelve mcpc commands, each a Node process (~1.5-2.5 s alone): in a full suite at load ~5 the call took 50 s and,
# with its setup and the session's close, the whole item passed the default 60 s (an error at teardown).
@pytest.mark.timeout(180)
def test_mcpc_over_http_does_every_operation(mcpc: Callable[[str, str], Mcpc], served: Process) -> None:
    client = mcpc(served.url, "@dr-http")
    every_operation(client.call, client.read)


def test_mcpc_over_stdio_from_a_config_file(
    mcpc: Callable[[str, str], Mcpc], settings: dict[str, str], tmp_path: Path
) -> None:
    command, *args = serve_command()
    env = {key: value for key, value in settings.items() if key.startswith("DEEP_RESEARCH_") or key == "OPENAI_API_KEY"}
    env["DEEP_RESEARCH_DATA_DIR"] = str(tmp_path / "data")
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"deep-research": {"command": command, "args": args, "env": env}}}))
    client = mcpc(f"{config}:deep-research", "@dr-stdio")
    listed = as_json(client("--json", "@dr-stdio", "tools-list"))
    started = client.call("research_start", question=QUESTION)["structuredContent"]
    result = client.call("research_result", run_id=started["run_id"], wait_s=30)
    assert {tool["name"] for tool in listed} == TOOLS
    assert result["structuredContent"]["status"] == "completed", result


# -- the conformance suite ----------------------------------------------------------------------------------------


def test_conformance_suite_passes_all_but_the_fixture_scenarios(
    node22: dict[str, str], module_docs: Path, tmp_path: Path
) -> None:
    """The suite's other scenarios call its own fixture tools, prompts and resources (`test_simple_text`, ...) or
    optional methods this server does not offer; the baseline lists them, and the suite fails on any other failure
    and on a baseline entry that starts passing."""
    env = server_env(tmp_path / "data", module_docs)
    with http_server(env, tmp_path / "logs") as server:
        out = run(node22, str(NODE22_BIN / "conformance"), "server", "--url", server.url,
                  "--expected-failures", str(CONFORMANCE_BASELINE), timeout=120)
    assert "Baseline check passed" in out, out
