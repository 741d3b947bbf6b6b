"""`deep-research serve` over stdio, as desktop hosts spawn it: the SDK `Client` end to end, and a raw JSON-RPC
conversation that checks stdout carries protocol only (every log line goes to stderr)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from mcp.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp_types.version import LATEST_HANDSHAKE_VERSION

from .conftest import FACT, QUESTION, TOOLS, serve_command

DEADLINE_S = 30.0


def stdio_env(data_dir: Path, log_level: str = "INFO") -> dict[str, str]:
    """What a host config passes as `env` (the SDK adds only PATH, HOME and the like). INFO logging makes the
    server write to stderr while it works: any of it on stdout would break the protocol."""
    return {"DEEP_RESEARCH_DATA_DIR": str(data_dir), "DEEP_RESEARCH_FETCH_ENABLED": "false",
            "DEEP_RESEARCH_LOG_LEVEL": log_level}


async def test_sdk_client_over_stdio_lists_clarifies_researches_and_reads_the_report(
    docs: Path, tmp_path: Path
) -> None:
    command, *args = serve_command()
    params = StdioServerParameters(command=command, args=[*args, "--docs", str(docs)], env=stdio_env(tmp_path / "d"))
    progress: list[str | None] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    async with asyncio.timeout(DEADLINE_S), Client(params) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        prompts = {prompt.name for prompt in (await client.list_prompts()).prompts}
        clarified = await client.call_tool("clarify", {"question": QUESTION})
        result = await client.call_tool("research", {"question": QUESTION, "brief": clarified.structured_content[
            "brief"]}, progress_callback=on_progress)
        assert not result.is_error, result.content
        links = [block for block in result.content if block.type == "resource_link"]
        assert len(links) == 1, result.content
        report = (await client.read_resource(links[0].uri)).contents[0].text
        sources = json.loads((await client.read_resource(
            f"research://runs/{result.structured_content['run_id']}/sources")).contents[0].text)
    assert tools == TOOLS
    assert "deep_research" in prompts
    assert not clarified.is_error and clarified.structured_content["need_clarification"] is False
    assert QUESTION.rstrip("?") in clarified.structured_content["brief"]
    summary = result.structured_content
    assert summary["status"] == "completed" and FACT in summary["answer"]
    assert str(links[0].uri) == summary["report_uri"] == f"research://runs/{summary['run_id']}/report"
    assert report.startswith("# ") and FACT in report and "## Sources" in report
    assert any(source["locator"].endswith("tidal-lagoons.md") for source in sources["cited"])
    assert progress, "no progress notification reached the client over stdio"


class RawStdio:
    """The server as a bare subprocess: JSON-RPC lines in, every stdout line kept."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[bytes] = []

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        await self.process.stdin.drain()

    async def response(self, request_id: int) -> dict[str, Any]:
        """Read stdout up to the response to `request_id`; every line on the way must be JSON-RPC."""
        assert self.process.stdout is not None
        while True:
            line = await self.process.stdout.readline()
            assert line, f"stdout ended before the response to request {request_id}; lines: {self.lines}"
            self.lines.append(line)
            message = parse_protocol_line(line)
            if message.get("id") == request_id and "method" not in message:
                return message


def parse_protocol_line(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError:
        raise AssertionError(f"a non-JSON line on stdout: {line!r}") from None
    assert isinstance(message, dict) and message.get("jsonrpc") == "2.0", f"not JSON-RPC on stdout: {line!r}"
    return message


@contextlib.asynccontextmanager
async def raw_server(docs: Path, tmp_path: Path) -> AsyncIterator[RawStdio]:
    stderr_path = tmp_path / "raw-serve.stderr"
    command = [*serve_command(), "--docs", str(docs)]
    env = {**stdio_env(tmp_path / "raw-data", log_level="DEBUG"), "PATH": os.environ.get("PATH", "")}
    with stderr_path.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(*command, env=env, stdin=asyncio.subprocess.PIPE,
                                                       stdout=asyncio.subprocess.PIPE, stderr=stderr)
    try:
        yield RawStdio(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def stderr_of(tmp_path: Path) -> str:
    return (tmp_path / "raw-serve.stderr").read_text(encoding="utf-8", errors="replace")


async def test_stdout_carries_json_rpc_only_and_logs_go_to_stderr(docs: Path, tmp_path: Path) -> None:
    async with asyncio.timeout(DEADLINE_S), raw_server(docs, tmp_path) as server:
        await server.send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                           "params": {"protocolVersion": LATEST_HANDSHAKE_VERSION, "capabilities": {},
                                      "clientInfo": {"name": "raw-test", "version": "0"}}})
        initialized = await server.response(1)
        await server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        await server.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        listed = await server.response(2)
        # A whole research with progress: the engine, the index and the run store all log while it runs.
        await server.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                           "params": {"name": "research", "arguments": {"question": QUESTION},
                                      "_meta": {"progressToken": "p1"}}})
        researched = await server.response(3)
        # A host closing the pipe ends the server; whatever it still writes must be protocol too.
        assert server.process.stdin is not None and server.process.stdout is not None
        server.process.stdin.close()
        rest = await server.process.stdout.read()
        await server.process.wait()
    assert server.process.returncode == 0, (server.process.returncode, stderr_of(tmp_path))
    for line in rest.splitlines():
        if line.strip():
            parse_protocol_line(line)
    assert initialized["result"]["serverInfo"]["name"] == "deep-research", initialized
    assert {tool["name"] for tool in listed["result"]["tools"]} == TOOLS
    assert researched["result"]["structuredContent"]["status"] == "completed", researched
    assert any(parse_protocol_line(line).get("method") == "notifications/progress" for line in server.lines)
    stderr = stderr_of(tmp_path)
    assert "deep-research server ready" in stderr, stderr  # the logs went somewhere: to stderr
    assert "Traceback" not in stderr, stderr

