"""The python SDK's `Client` against `deep-research serve` as a real subprocess, over stdio and streamable HTTP, on
each protocol a host speaks: 2025-11-25 (the initialize handshake) without and with the tasks extension declared
(MCP Inspector 2.x declares it), and 2026-07-28 (per-request envelope; `research` becomes a task there).

Every message goes through real JSON-RPC serialization, which the in-process tests skip: that is where a task handle
sent on 2025-11-25 turned into -32603 with an orphaned run. Each case covers research (short and blocking, longer
than its wait bound, and start/status/result), write, resources and cancel, against the scripted LLM server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp.client import Client, ClientExtension, advertise
from mcp.client.stdio import StdioServerParameters
from mcp_types import CallToolResult

from deep_research_mcp.server.tasks import TASKS

from .conftest import QUESTION, Process, http_server, scripted_server_env, serve_command
from .test_tools import TasksClient

# A research is a handful of model calls of 0.1 s: long enough to outlast a 0 s wait bound and to be cancelled.
SCENARIO = {"latency_s": 0.1, "topics": 1, "tool_calls_per_researcher": 1}

PROTOCOLS = {
    # name: (Client mode, the extensions it declares, whether `research` comes back as a task)
    "2025-11-25": ("legacy", [], False),
    "2025-11-25+tasks": ("legacy", [advertise(TASKS, {})], False),
    "2026-07-28+tasks": ("2026-07-28", ["tasks"], True),
}


def text_of(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


@pytest.fixture(scope="module")
def server_settings(module_docs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with scripted_server_env(SCENARIO, module_docs, tmp_path_factory) as env:
        yield env


@pytest.fixture(scope="module")
def http(server_settings: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    with http_server(server_settings, tmp_path_factory.mktemp("logs")) as server:
        yield server


def connect(transport: str, protocol: str, server_settings: dict[str, str], http: Process | None,
            tasks: TasksClient) -> Client:
    mode, declared, _ = PROTOCOLS[protocol]
    extensions: list[ClientExtension] = [tasks if item == "tasks" else item for item in declared]
    if transport == "http":
        assert http is not None
        return Client(http.url, mode=mode, extensions=extensions, read_timeout_seconds=30)
    command, *args = serve_command()
    target = StdioServerParameters(command=command, args=args, env=server_settings)
    return Client(target, mode=mode, extensions=extensions, read_timeout_seconds=30)


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_every_operation(
    transport: str, protocol: str, server_settings: dict[str, str], request: pytest.FixtureRequest
) -> None:
    http = request.getfixturevalue("http") if transport == "http" else None
    tasks = TasksClient()
    as_task = PROTOCOLS[protocol][2]
    async with connect(transport, protocol, server_settings, http, tasks) as client:
        assert client.protocol_version == protocol.split("+")[0]
        short = await client.call_tool("research", {"question": QUESTION})
        long_first = await client.call_tool("research", {"question": "Pumped hydro?", "wait_s": 0})
        long_run = long_first.structured_content["run_id"]
        long_final = await wait_until_finished(client, long_first)
        started = await client.call_tool("research_start", {"question": "Flywheels?"})
        run_id = started.structured_content["run_id"]
        status = await client.call_tool("research_status", {"run_id": run_id})
        result = await client.call_tool("research_result", {"run_id": run_id})
        rewritten = await client.call_tool("write", {"run_id": run_id, "instructions": "One paragraph."})
        report = await client.read_resource(f"research://runs/{run_id}/report")
        claims = json.loads((await client.read_resource(f"research://runs/{run_id}/claims")).contents[0].text)
        listed = json.loads((await client.read_resource("research://runs")).contents[0].text)
        doomed = (await client.call_tool("research_start", {"question": "Tidal lagoons?"})).structured_content
        cancelled = await client.call_tool("research_cancel", {"run_id": doomed["run_id"]})
        after = await client.call_tool("research_result", {"run_id": doomed["run_id"], "wait_s": 0})

    summary = short.structured_content
    assert not short.is_error and summary["status"] == "completed" and summary["sources_count"] >= 1, short.content
    assert len(tasks.handles) == (2 if as_task else 0)  # research came back as a task exactly when it may
    if not as_task:
        assert long_first.structured_content["status"] == "running", long_first.content
        assert f"research_result with run_id '{long_run}'" in text_of(long_first)
    assert long_final["status"] == "completed" and long_final["run_id"] == long_run
    assert not started.is_error and not status.is_error and status.structured_content["run_id"] == run_id
    assert result.structured_content["status"] == "completed" and result.structured_content["report_uri"]
    assert rewritten.structured_content["status"] == "completed", rewritten.content
    # The scripted writer's "Finding n is described in detail by its source" is not what the sources say.
    assert claims["run_id"] == run_id and claims["claims"], claims
    assert {c["verdict"] for c in claims["claims"]} == {"unsupported"} and all(c["reason"] for c in claims["claims"])
    assert claims["summary"]["unsupported"] == len(claims["claims"]) == result.structured_content["unsupported_claims"]
    assert result.structured_content["claim_check"] == claims["summary"]["line"] != ""
    assert f"Claim check: {claims['summary']['line']}" in text_of(result)
    assert rewritten.structured_content["run_id"] != run_id
    assert report.contents[0].text.startswith("# ")
    assert {summary["run_id"], long_run, run_id, rewritten.structured_content["run_id"]} <= {
        run["run_id"] for run in listed}
    assert cancelled.structured_content["status"] == "cancelled", cancelled.content
    assert after.is_error and after.structured_content["status"] == "cancelled"


async def wait_until_finished(client: Client, first: CallToolResult) -> dict[str, Any]:
    """What a model does with a research still running: call research_result again until it has finished."""
    current = first.structured_content
    for _ in range(60):
        if current["finished"]:
            return current
        current = (await client.call_tool("research_result", {"run_id": current["run_id"], "wait_s": 1})) \
            .structured_content
    pytest.fail(f"run {current['run_id']} still running after 60 research_result calls: {current}")


async def test_a_client_left_to_choose_discovers_2026_07_28(http: Process) -> None:
    # mode="auto", the SDK client's default: it probes server/discover and speaks the newest revision offered.
    async with Client(http.url) as client:
        assert client.protocol_version == "2026-07-28"
        listed = await client.list_tools()
    assert [tool.name for tool in listed.tools][:2] == ["clarify", "research"] and listed.ttl_ms == 3_600_000


async def test_raw_2025_11_25_with_the_tasks_extension_gets_a_tool_result(http: Process) -> None:
    """Byte for byte what MCP Inspector 2.x sends; this was -32603 "Handler returned an invalid result"."""
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {"extensions": {TASKS: {}}},
        "clientInfo": {"name": "raw", "version": "0"}}}
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "research", "arguments": {"question": QUESTION}}}
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(60.0)) as client:
        opened = await client.post(http.url, json=initialize, headers=headers)
        session = {**headers, "Mcp-Session-Id": opened.headers["mcp-session-id"], "MCP-Protocol-Version": "2025-11-25"}
        await client.post(http.url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session)
        answered = await client.post(http.url, json=call, headers=session)
    [message] = [json.loads(line[5:]) for line in answered.text.splitlines() if line.startswith("data:")
                 and '"id":2' in line.replace(" ", "")]
    assert "error" not in message, message
    assert message["result"]["structuredContent"]["status"] == "completed" and message["result"]["content"]
