"""Fixtures for the real-client transport tests: a small docs corpus, and `deep-research serve` (and the scripted
LLM server) as real subprocesses on 127.0.0.1 port 0, each with its own temporary data dir, killed at teardown.

The in-process tests (test_tools.py) build the server object; these start the console script a host would run.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..processes import stop_process

START_DEADLINE_S = 30.0
LISTENING = re.compile(r"deep-research MCP server listening on (http://\S+)")
TOOLS = {"clarify", "research", "research_start", "research_status", "research_result", "research_cancel", "write"}

# A few facts the offline engine can find and quote; the tests look for them in answers and reports.
CORPUS = {
    "tidal-lagoons.md": "# Tidal lagoons\n\nTidal lagoons store energy by holding water behind a wall at high tide "
    "and releasing it through turbines. The Swansea Bay design had a 9.5 km wall.\n",
    "pumped-hydro.md": "# Pumped hydro\n\nPumped hydro stores energy by pumping water uphill into a reservoir. "
    "It returns about 80% of the energy put in.\n",
    "flywheels.md": "# Flywheels\n\nFlywheels store energy as rotation. They deliver power within milliseconds.\n",
}
QUESTION = "How do tidal lagoons store energy?"
FACT = "holding water behind a wall"

# Variables of the developer's shell that would change what the server does.
_PROVIDER_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL")

_serial = itertools.count()


def serve_command() -> list[str]:
    """The console script a host spawns, from this interpreter's environment."""
    script = Path(sys.executable).with_name("deep-research")
    assert script.is_file(), f"{script} is missing: install the package (pip install -e '.[dev]')"
    return [str(script), "serve"]


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in CORPUS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def server_env(data_dir: Path, docs: Path | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A clean environment for a server: none of the developer's DEEP_RESEARCH_* or provider settings, a fresh
    data dir, no fetching (no network), and whatever the test adds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEP_RESEARCH_") and k not in _PROVIDER_VARS}
    env["DEEP_RESEARCH_DATA_DIR"] = str(data_dir)
    env["DEEP_RESEARCH_FETCH_ENABLED"] = "false"
    if docs is not None:
        env["DEEP_RESEARCH_DOCS_DIR"] = str(docs)
    env.update(extra or {})
    return env


@dataclass
class Process:
    """A subprocess whose stdout and stderr go to files (no pipe to fill up and stall it)."""

    popen: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    url: str = ""

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def describe(self) -> str:
        return f"exit code {self.popen.poll()}\n--- stderr ---\n{self.stderr()}\n--- stdout ---\n{self.stdout()}"

    def wait_for(self, stream: Callable[[], str], pattern: re.Pattern[str], what: str) -> re.Match[str]:
        """Poll the output file until `pattern` shows up; fail with the process's output if it exits or the
        deadline passes first."""
        deadline = time.monotonic() + START_DEADLINE_S
        while True:
            found = pattern.search(stream())
            if found:
                return found
            if self.popen.poll() is not None:
                pytest.fail(f"{what} exited before it was ready: {self.describe()}")
            if time.monotonic() > deadline:
                pytest.fail(f"{what} not ready within {START_DEADLINE_S:.0f} s: {self.describe()}")
            time.sleep(0.05)

    def stop(self) -> None:
        stop_process(self.popen)


@contextlib.contextmanager
def spawn(command: list[str], env: Mapping[str, str], logs: Path, name: str) -> Iterator[Process]:
    logs.mkdir(parents=True, exist_ok=True)
    serial = next(_serial)
    stdout_path, stderr_path = logs / f"{name}-{serial}.stdout", logs / f"{name}-{serial}.stderr"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        popen = subprocess.Popen(command, env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    process = Process(popen, stdout_path, stderr_path)
    try:
        yield process
    finally:
        process.stop()


@contextlib.contextmanager
def http_server(env: Mapping[str, str], logs: Path, *args: str) -> Iterator[Process]:
    """`deep-research serve --http --host 127.0.0.1 --port 0 [args]`; yields it once it announced its URL."""
    command = [*serve_command(), "--http", "--host", "127.0.0.1", "--port", "0", *args]
    with spawn(command, env, logs, "serve") as process:
        process.url = process.wait_for(process.stderr, LISTENING, "deep-research serve --http").group(1)
        assert process.url.startswith("http://127.0.0.1:") and process.url.endswith("/mcp"), process.url
        yield process


@contextlib.contextmanager
def scripted_llm(scenario: Mapping[str, object], logs: Path) -> Iterator[Process]:
    """`python -m deep_research_mcp.llm.scripted --scenario FILE` on a free port; `url` is its OpenAI base URL."""
    logs.mkdir(parents=True, exist_ok=True)
    scenario_path = logs / f"scenario-{next(_serial)}.json"
    scenario_path.write_text(json.dumps(scenario), encoding="utf-8")
    command = [sys.executable, "-m", "deep_research_mcp.llm.scripted", "--scenario", str(scenario_path)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEP_RESEARCH_")}
    with spawn(command, env, logs, "scripted-llm") as process:
        base = process.wait_for(process.stdout, re.compile(r"^(http://127\.0\.0\.1:\d+)\s*$", re.M),
                                "the scripted LLM server").group(1)
        process.url = base + "/v1"
        yield process


def scripted_env(llm: Process) -> dict[str, str]:
    """Settings that point the server's models at the scripted LLM server."""
    return {"DEEP_RESEARCH_RESEARCH_MODEL": "openai:scripted", "DEEP_RESEARCH_OPENAI_BASE_URL": llm.url,
            "OPENAI_API_KEY": "x", "DEEP_RESEARCH_ALLOW_CLARIFICATION": "false",
            "DEEP_RESEARCH_RETRY_BASE_DELAY_S": "0.01"}


@contextlib.contextmanager
def scripted_server_env(scenario: Mapping[str, object], docs: Path,
                        tmp: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A server's environment with its models on a scripted LLM server (running until the block ends)."""
    with scripted_llm(scenario, tmp.mktemp("logs")) as llm:
        yield server_env(tmp.mktemp("data"), docs, {**scripted_env(llm), "DEEP_RESEARCH_MAX_CONCURRENT_RUNS": "4"})


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "docs")


@pytest.fixture(scope="module")
def module_docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("docs"))


@pytest.fixture
def start_http_server(tmp_path: Path) -> Iterator[Callable[..., Process]]:
    """Start `deep-research serve --http --port 0` with the given environment (see `server_env`) and extra CLI
    arguments; returns the running process (its `url` parsed from stderr). Every server is stopped at teardown."""
    with contextlib.ExitStack() as stack:

        def start(env: Mapping[str, str], *args: str) -> Process:
            return stack.enter_context(http_server(env, tmp_path / "logs", *args))

        yield start
