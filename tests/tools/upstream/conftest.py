"""Upstream-tool fixtures: our search server over stdio and streamable HTTP, and managers that always get closed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from deep_research_mcp.tools.upstream import HttpServerConfig, StdioServerConfig, UpstreamManager, UpstreamTool

SEARCH_SERVER = Path(__file__).with_name("search_server.py")
HTTP_START_TIMEOUT_S = 20.0


def stdio_config(**extras: Any) -> StdioServerConfig:
    """Our search server over stdio, with any of our per-server keys (by their JSON names) on top."""
    return StdioServerConfig.model_validate({"command": sys.executable, "args": [str(SEARCH_SERVER)], **extras})


def by_name(tools: list[UpstreamTool]) -> dict[str, UpstreamTool]:
    return {tool.name: tool for tool in tools}


ManagerFactory = Callable[..., UpstreamManager]


@pytest.fixture
async def make_manager() -> AsyncIterator[ManagerFactory]:
    """Build managers from {name: config}; every one is closed at teardown, so no upstream process outlives a test."""
    managers: list[UpstreamManager] = []

    def factory(servers: dict[str, StdioServerConfig | HttpServerConfig]) -> UpstreamManager:
        manager = UpstreamManager(servers)
        managers.append(manager)
        return manager

    yield factory
    for manager in managers:
        await manager.close()


class HttpSearchServer:
    """Our search server over streamable HTTP on 127.0.0.1, in its own process; `restart()` keeps the port."""

    def __init__(self, *extra: str) -> None:
        self.port = 0
        self.extra = extra  # more search_server arguments, e.g. "--chunked"
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self) -> None:
        proc = subprocess.Popen(
            [sys.executable, str(SEARCH_SERVER), "--http", "--port", str(self.port), *self.extra],
            stdout=subprocess.PIPE, text=True,
        )
        self.proc = proc
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()  # the server prints the port it bound before it serves
        if not line.startswith("PORT="):
            self.stop()
            pytest.fail(f"search server did not report its port (got {line!r}, exit code {proc.poll()})")
        self.port = int(line.removeprefix("PORT="))

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.kill()
        try:
            proc.wait(timeout=HTTP_START_TIMEOUT_S)
        finally:
            if proc.stdout is not None:
                proc.stdout.close()

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    """One HTTP search server shared by a module's read-only tests."""
    server = HttpSearchServer()
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def http_server() -> Iterator[HttpSearchServer]:
    """An HTTP search server of the test's own, for tests that kill it."""
    server = HttpSearchServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
