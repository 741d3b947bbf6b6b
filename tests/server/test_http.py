"""`deep-research serve --http` as a real subprocess, driven by the SDK `Client` over streamable HTTP and by raw HTTP
requests: start/status/result, a research that outlasts the client's per-request timeout (and its session), a call
cut off by that timeout, cancel, bad input, bearer auth (static token; HS256 JWTs and their audience), Host/Origin
and body-size protection, and the configurations the server must refuse before it serves.

One server process per configuration serves the whole module (each with its own temporary data dir).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest
from mcp import MCPError
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import INVALID_PARAMS, REQUEST_TIMEOUT, CallToolResult
from mcp_types.version import LATEST_HANDSHAKE_VERSION

from .conftest import (
    FACT,
    QUESTION,
    TOOLS,
    Process,
    http_server,
    scripted_env,
    scripted_llm,
    serve_command,
    server_env,
)
from .test_tools import TasksClient, get_task

# Each model call of the scripted LLM waits this long: a research takes a few seconds (about ten calls one after
# another), long enough to outlast a 1 s client timeout and to be cancelled mid-run.
SLOW_SCENARIO = {"latency_s": 0.35, "topics": 2, "tool_calls_per_researcher": 2}
CLIENT_TIMEOUT_S = 1.0
TOKEN = "static-test-token-5f3a9c"
JWT_SECRET = "jwt-test-secret-that-is-at-least-32-bytes-long"
APP_ORIGIN = "http://app.example"


def text_of(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def poll_status(
    client: Client, run_id: str, until: Callable[[dict[str, Any]], bool], deadline_s: float = 30.0
) -> dict[str, Any]:
    """research_status until `until(status)` holds; fail at the deadline with the last status seen."""
    last: dict[str, Any] = {}
    try:
        async with asyncio.timeout(deadline_s):
            while True:
                result = await client.call_tool("research_status", {"run_id": run_id})
                assert not result.is_error, text_of(result)
                last = result.structured_content
                if until(last):
                    return last
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"run {run_id} did not reach the expected state within {deadline_s} s; last status: {last}")


async def poll_until_finished(client: Client, run_id: str) -> dict[str, Any]:
    return await poll_status(client, run_id, lambda status: status["finished"])


@contextlib.asynccontextmanager
async def bearer_client(url: str, token: str, **options: Any) -> AsyncIterator[Client]:
    """The SDK client with an Authorization header: an httpx2 client carrying it, handed to the transport."""
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30.0)) as http,
        Client(streamable_http_client(url, http_client=http), **options) as client,
    ):
        yield client


async def raw_initialize(url: str, headers: dict[str, str] | None = None) -> httpx2.Response:
    """One JSON-RPC initialize POST, as any HTTP client would send it."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": LATEST_HANDSHAKE_VERSION, "capabilities": {},
                       "clientInfo": {"name": "raw-test", "version": "0"}}}
    sent = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **(headers or {})}
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(10.0)) as http:
        return await http.post(url, content=json.dumps(body), headers=sent)


def mint_jwt(audience: str, *, secret: str = JWT_SECRET, expires_in_s: float = 300.0, **claims: Any) -> str:
    payload = {"sub": "tester", "aud": audience, "exp": int(time.time() + expires_in_s), **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


# -- servers, one per configuration for the whole module ----------------------------------------------------------


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="module")
def offline_server(module_docs: Path, logs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """No model: the offline engine over the corpus; one extra browser Origin allowed."""
    env = server_env(tmp_path_factory.mktemp("data"), module_docs,
                     {"DEEP_RESEARCH_ALLOWED_ORIGINS": json.dumps([APP_ORIGIN])})
    with http_server(env, logs) as server:
        yield server


@pytest.fixture(scope="module")
def slow_server(module_docs: Path, logs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """Models served by the scripted LLM server with latency: each research takes a few seconds."""
    with scripted_llm(SLOW_SCENARIO, logs) as llm:
        env = server_env(tmp_path_factory.mktemp("data"), module_docs,
                         {**scripted_env(llm), "DEEP_RESEARCH_MAX_CONCURRENT_RUNS": "4"})
        with http_server(env, logs) as server:
            yield server


@pytest.fixture(scope="module")
def auth_server(module_docs: Path, logs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """Bearer auth: a static token and HS256 JWTs whose audience is the server's own URL (the default)."""
    env = server_env(tmp_path_factory.mktemp("data"), module_docs,
                     {"DEEP_RESEARCH_AUTH_TOKEN": TOKEN, "DEEP_RESEARCH_AUTH_JWT_SECRET": JWT_SECRET})
    with http_server(env, logs) as server:
        yield server


# -- start / status / result ----------------------------------------------------------------------------------------


async def test_start_status_result_over_http(offline_server: Process) -> None:
    async with Client(offline_server.url) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        started = await client.call_tool("research_start", {"question": QUESTION})
        assert not started.is_error, text_of(started)
        run_id = started.structured_content["run_id"]
        assert started.structured_content["status"] == "running"
        status = await poll_until_finished(client, run_id)
        result = await client.call_tool("research_result", {"run_id": run_id})
        report = (await client.read_resource(result.structured_content["report_uri"])).contents[0].text
        listed = json.loads((await client.read_resource("research://runs")).contents[0].text)
    assert tools == TOOLS
    assert status["status"] == "completed" and status["researchers_done"] >= 1 and status["findings_so_far"]
    assert not result.is_error, text_of(result)
    summary = result.structured_content
    assert summary["run_id"] == run_id and summary["status"] == "completed"
    assert FACT in summary["answer"] and summary["sources_count"] >= 1
    assert any(source["locator"].endswith("tidal-lagoons.md") for source in summary["sources"])
    links = [block for block in result.content if block.type == "resource_link"]
    assert [str(link.uri) for link in links] == [f"research://runs/{run_id}/report"]
    assert FACT in report and "## Sources" in report
    assert run_id in [run["run_id"] for run in listed]


async def test_a_research_that_outlasts_the_client_timeout_and_session_completes_through_start_status_result(
    slow_server: Process,
) -> None:
    async with Client(slow_server.url, read_timeout_seconds=CLIENT_TIMEOUT_S) as first:
        started = await first.call_tool("research_start", {"question": QUESTION})
        assert not started.is_error, text_of(started)
        run_id = started.structured_content["run_id"]
    # The first client has gone (its HTTP session deleted); the run goes on, and another client follows it up.
    # Every call of the start/status/result route answers well within the 1 s timeout.
    async with Client(slow_server.url, read_timeout_seconds=CLIENT_TIMEOUT_S) as client:
        status = await poll_until_finished(client, run_id)
        result = await client.call_tool("research_result", {"run_id": run_id})
        report = (await client.read_resource(f"research://runs/{run_id}/report")).contents[0].text
    assert status["status"] == "completed", status
    assert status["researchers_done"] == SLOW_SCENARIO["topics"]
    assert not result.is_error, text_of(result)
    summary = result.structured_content
    assert summary["status"] == "completed" and summary["sources_count"] >= 1 and summary["answer"]
    assert summary["usage"]["model_calls"] >= 5  # the scripted models did the work, not the offline engine
    assert summary["elapsed_s"] > CLIENT_TIMEOUT_S  # the premise: one call waiting for it all would have timed out
    assert report.startswith("# ")


async def test_a_research_call_cut_off_by_the_client_timeout_had_progress_and_is_cancelled(
    slow_server: Process,
) -> None:
    progress: list[str | None] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    question = "Which run does a timed-out research call leave behind?"
    async with Client(slow_server.url, read_timeout_seconds=CLIENT_TIMEOUT_S) as client:
        with pytest.raises(MCPError) as timed_out:
            await client.call_tool("research", {"question": question}, progress_callback=on_progress)
        assert timed_out.value.error.code == REQUEST_TIMEOUT
        listed = json.loads((await client.read_resource("research://runs")).contents[0].text)
        runs = [run for run in listed if run["question"] == question]
        assert len(runs) == 1, listed
        # The SDK sends notifications/cancelled for the request it gave up on; the server stops the run.
        status = await poll_until_finished(client, runs[0]["run_id"])
    assert status["status"] == "cancelled", status
    assert progress and all(progress), f"progress over HTTP: {progress}"  # it did report, in words, while it ran


async def test_cancel_mid_run_then_cancel_again(slow_server: Process) -> None:
    async with Client(slow_server.url) as client:
        started = await client.call_tool("research_start", {"question": "How do flywheels store energy?"})
        run_id = started.structured_content["run_id"]
        running = await poll_status(client, run_id, lambda s: s["phase"] == "research" or s["finished"])
        assert not running["finished"], f"the run ended before it could be cancelled: {running}"
        first = await client.call_tool("research_cancel", {"run_id": run_id})
        status = await client.call_tool("research_status", {"run_id": run_id})
        second = await client.call_tool("research_cancel", {"run_id": run_id})
        result = await client.call_tool("research_result", {"run_id": run_id})
    assert not first.is_error, text_of(first)
    assert first.structured_content["status"] == "cancelled", first.structured_content
    assert status.structured_content["status"] == "cancelled" and status.structured_content["finished"]
    assert not second.is_error, text_of(second)
    assert second.structured_content["status"] == "cancelled"
    assert "already ended" in second.structured_content["message"]
    assert result.is_error and result.structured_content["status"] == "cancelled"
    assert "cancelled" in text_of(result)


# -- bad input -------------------------------------------------------------------------------------------------------


BAD_CALLS: list[tuple[str, str, dict[str, Any], str]] = [
    ("empty question", "research_start", {"question": ""}, "question"),
    ("blank question", "research", {"question": "   \n "}, "question"),
    ("missing question", "research_start", {}, "question"),
    ("too many researchers", "research_start", {"question": QUESTION, "options": {"max_researchers": 99}},
     "max_researchers"),
    ("zero tool calls", "research_start", {"question": QUESTION, "options": {"max_tool_calls": 0}}, "max_tool_calls"),
    ("options of the wrong type", "research_start", {"question": QUESTION, "options": "lots"}, "options"),
    ("question over the limit", "research_start", {"question": "x" * 20_001}, "question"),
    ("unknown run id", "research_status", {"run_id": "no-such-run"}, "unknown run id"),
    ("unknown run id, result", "research_result", {"run_id": "20200101-000000-deadbeef"}, "unknown run id"),
    ("unknown run id, cancel", "research_cancel", {"run_id": "no-such-run"}, "unknown run id"),
    ("unknown run id, write", "write", {"run_id": "no-such-run"}, "unknown run id"),
    ("path-like run id", "research_result", {"run_id": "../../etc/passwd"}, "unknown run id"),
    ("empty run id", "research_status", {"run_id": ""}, "run_id"),
    ("missing run id", "research_status", {}, "run_id"),
]


@pytest.mark.parametrize(("tool", "arguments", "expected"), [case[1:] for case in BAD_CALLS],
                         ids=[case[0] for case in BAD_CALLS])
async def test_invalid_arguments_give_clear_error_results(
    offline_server: Process, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    async with Client(offline_server.url) as client:
        result = await client.call_tool(tool, arguments)
    text = text_of(result)
    assert result.is_error, f"{tool}({arguments}) was accepted: {text[:500]}"
    assert expected in text, text
    assert "Traceback" not in text and 'File "' not in text, text
    assert len(text) < 2_000, text  # one clear message, not a dump


async def test_result_before_completion_says_running_and_rewriting_a_running_run_is_a_clear_error(
    slow_server: Process
) -> None:
    async with Client(slow_server.url) as client:
        run_id = (await client.call_tool("research_start", {"question": "How does pumped hydro store energy?"})
                  ).structured_content["run_id"]
        early = await client.call_tool("research_result", {"run_id": run_id, "wait_s": 0})
        rewrite = await client.call_tool("write", {"run_id": run_id, "instructions": "shorter"})
        status = await client.call_tool("research_status", {"run_id": run_id})
        await client.call_tool("research_cancel", {"run_id": run_id})
    assert not early.is_error and early.structured_content["status"] == "running", text_of(early)
    assert "still running" in text_of(early) and "research_result" in text_of(early)
    assert rewrite.is_error and "only a completed research run" in text_of(rewrite), text_of(rewrite)
    for result in (early, rewrite):
        assert "Traceback" not in text_of(result)
    assert status.structured_content["status"] == "running"  # asking early lost nothing



async def test_reading_an_unknown_runs_report_is_a_not_found_error(offline_server: Process) -> None:
    async with Client(offline_server.url) as client:
        with pytest.raises(MCPError) as missing:
            await client.read_resource("research://runs/no-such-run/report")
    assert "unknown run id" in missing.value.error.message and "Traceback" not in missing.value.error.message
    assert missing.value.error.code == INVALID_PARAMS, missing.value.error


# -- bearer auth -------------------------------------------------------------------------------------------------------


async def test_missing_or_wrong_bearer_token_is_refused(auth_server: Process) -> None:
    missing = await raw_initialize(auth_server.url)
    wrong = await raw_initialize(auth_server.url, {"Authorization": "Bearer not-the-token"})
    not_bearer = await raw_initialize(auth_server.url, {"Authorization": f"Basic {TOKEN}"})
    for response in (missing, wrong, not_bearer):
        assert response.status_code == 401, (response.status_code, response.text)
        assert "bearer" in response.headers.get("www-authenticate", "").lower()
        assert TOKEN not in response.text


async def test_the_right_bearer_token_works(auth_server: Process) -> None:
    async with bearer_client(auth_server.url, TOKEN) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        clarified = await client.call_tool("clarify", {"question": QUESTION})
    assert tools == TOOLS
    assert not clarified.is_error, text_of(clarified)
    assert clarified.structured_content["need_clarification"] is False


async def test_a_jwt_for_this_server_works(auth_server: Process) -> None:
    async with bearer_client(auth_server.url, mint_jwt(auth_server.url)) as client:
        started = await client.call_tool("research_start", {"question": QUESTION})
        assert not started.is_error, text_of(started)
        status = await poll_until_finished(client, started.structured_content["run_id"])
    assert status["status"] == "completed"


RUN_RESOURCES = ("report", "sources", "claims", "notes", "timeline", "report.json")


async def run_access(client: Client, run_id: str) -> dict[str, str]:
    """What each way of reaching a run answers (tools, resources, a follow-up), with the run id written as RUN so
    that two ids' answers compare."""
    seen: dict[str, str] = {}
    calls = {"status": ("research_status", {}), "result": ("research_result", {"wait_s": 0}),
             "cancel": ("research_cancel", {}), "write": ("write", {"instructions": "Shorter.", "wait_s": 30}),
             "follow-up": ("research_start", {"question": QUESTION, "follow_up_of": run_id})}
    for name, (tool, arguments) in calls.items():
        result = await client.call_tool(tool, {"run_id": run_id, **arguments} if name != "follow-up" else arguments)
        seen[name] = f"error: {text_of(result)}" if result.is_error else "ok"
    for resource in RUN_RESOURCES:
        try:
            await client.read_resource(f"research://runs/{run_id}/{resource}")
            seen[resource] = "ok"
        except MCPError as exc:
            seen[resource] = f"error {exc.error.code}: {exc.error.message}"
    return {name: answer.replace(run_id, "RUN") for name, answer in seen.items()}


def listed_runs(listing: str) -> set[str]:
    return {run["run_id"] for run in json.loads(listing)}


async def test_a_run_is_its_principal_s_alone_and_another_s_answers_as_an_unknown_id(auth_server: Process) -> None:
    """Over authenticated HTTP a run belongs to who started it: to anyone else its id is unknown, in every tool,
    every resource, the run list, the tasks extension's ids and the monitor's API, word for word as for an id that
    never existed."""
    alice_token, bob_token = mint_jwt(auth_server.url, sub="alice"), mint_jwt(auth_server.url, sub="bob")
    async with bearer_client(auth_server.url, alice_token) as alice:
        first = await alice.call_tool("research", {"question": QUESTION, "wait_s": 30})
        assert not first.is_error and first.structured_content["status"] == "completed", text_of(first)
        run_id = first.structured_content["run_id"]
        async with bearer_client(auth_server.url, bob_token, extensions=[TasksClient()]) as bob:
            bobs = await run_access(bob, run_id)
            unknown = await run_access(bob, "no-such-run-" + run_id[-6:])
            for name, task_id in (("bobs", run_id), ("unknown", "no-such-run-" + run_id[-6:])):
                for method in ("tasks/get", "tasks/cancel"):
                    with pytest.raises(MCPError) as refused:
                        await get_task(bob.session, task_id, method)
                    (bobs if name == "bobs" else unknown)[method] = f"{refused.value.error.code}: {refused.value}"
            bob_lists = listed_runs((await bob.read_resource("research://runs")).contents[0].text)
        own = await run_access(alice, run_id)
        alice_lists = listed_runs((await alice.read_resource("research://runs")).contents[0].text)
    base = auth_server.url.removesuffix("/mcp")
    async with httpx2.AsyncClient(base_url=base, timeout=httpx2.Timeout(10.0)) as http:
        monitor = {who: ((await http.get("/monitor/api/runs", headers=auth)).json(),
                         await http.get(f"/monitor/api/runs/{run_id}", headers=auth))
                   for who, auth in (("alice", {"Authorization": f"Bearer {alice_token}"}),
                                     ("bob", {"Authorization": f"Bearer {bob_token}"}))}
        never = await http.get(f"/monitor/api/runs/no-such-run-{run_id[-6:]}",
                               headers={"Authorization": f"Bearer {bob_token}"})
    assert bobs == unknown, (bobs, unknown)
    assert all(answer.startswith("error") and "unknown run id 'RUN'" in answer
               for name, answer in bobs.items() if not name.startswith("tasks/")), bobs
    assert bobs["tasks/get"] == bobs["tasks/cancel"] == "-32602: Failed to retrieve task: Task not found", bobs
    assert set(own.values()) == {"ok"}, own
    assert run_id in alice_lists and run_id not in bob_lists and len(alice_lists) >= 3  # with a rewrite, a follow-up
    assert run_id in {run["run_id"] for run in monitor["alice"][0]} and monitor["alice"][1].status_code == 200
    assert run_id not in {run["run_id"] for run in monitor["bob"][0]} and monitor["bob"][1].status_code == 404
    # The monitor reads through the run manager and answers in the tools' words: another's run is an unknown id there.
    said = {"bobs": monitor["bob"][1].json()["error"].replace(run_id, "RUN"),
            "unknown": never.json()["error"].replace(f"no-such-run-{run_id[-6:]}", "RUN")}
    assert never.status_code == 404 and said["bobs"] == said["unknown"], said
    assert said["bobs"].startswith("unknown run id 'RUN'") and bobs["status"].endswith(f": {said['bobs']}"), said


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda url: mint_jwt("https://other.example/mcp"), id="wrong audience"),
        pytest.param(lambda url: mint_jwt(url, secret="another-secret-that-is-also-32-bytes-long"), id="wrong key"),
        pytest.param(lambda url: mint_jwt(url, expires_in_s=-120), id="expired"),
        pytest.param(lambda url: jwt.encode({"sub": "x", "aud": url}, JWT_SECRET, algorithm="HS256"), id="no exp"),
        pytest.param(lambda url: jwt.encode({"sub": "x", "exp": int(time.time()) + 300}, JWT_SECRET,
                                            algorithm="HS256"), id="no audience"),
        pytest.param(lambda url: jwt.encode({"sub": "x", "aud": url, "exp": int(time.time()) + 300}, None,
                                            algorithm="none"), id="unsigned"),
    ],
)
async def test_a_jwt_not_for_this_server_is_refused(auth_server: Process, token: Any) -> None:
    response = await raw_initialize(auth_server.url, {"Authorization": f"Bearer {token(auth_server.url)}"})
    assert response.status_code == 401, (response.status_code, response.text)


async def test_jwt_only_with_a_configured_audience(
    start_http_server: Callable[..., Process], docs: Path, tmp_path: Path
) -> None:
    audience = "urn:deep-research:tests"
    server = start_http_server(server_env(tmp_path / "data", docs, {
        "DEEP_RESEARCH_AUTH_JWT_SECRET": JWT_SECRET, "DEEP_RESEARCH_AUTH_AUDIENCE": audience}))
    async with bearer_client(server.url, mint_jwt(audience)) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
    own_url = await raw_initialize(server.url, {"Authorization": f"Bearer {mint_jwt(server.url)}"})
    no_token = await raw_initialize(server.url)
    assert tools == TOOLS
    assert own_url.status_code == 401, own_url.text  # the configured audience replaces the URL, it does not add to it
    assert no_token.status_code == 401


# -- DNS-rebinding protection and where the server listens ---------------------------------------------------------


async def test_a_foreign_origin_is_refused_and_a_configured_one_allowed(offline_server: Process) -> None:
    evil = await raw_initialize(offline_server.url, {"Origin": "http://evil.example"})
    allowed = await raw_initialize(offline_server.url, {"Origin": APP_ORIGIN})
    local = await raw_initialize(offline_server.url, {"Origin": offline_server.url.removesuffix("/mcp")})
    assert evil.status_code == 403, (evil.status_code, evil.text)
    assert allowed.status_code == 200, (allowed.status_code, allowed.text)
    assert local.status_code == 200, (local.status_code, local.text)
    assert '"result"' in allowed.text


async def test_a_foreign_host_header_is_refused(offline_server: Process) -> None:
    response = await raw_initialize(offline_server.url, {"Host": "evil.example"})
    assert response.status_code == 421, (response.status_code, response.text)


async def test_an_oversized_request_body_is_refused(offline_server: Process) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": {"name": "research_start", "arguments": {"question": "x" * (5 * 1024 * 1024)}}})
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(30.0)) as http:
        response = await http.post(offline_server.url, content=body, headers={
            "Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
    assert response.status_code == 413, (response.status_code, response.text[:500])


def test_bad_configurations_exit_with_a_clear_error_before_serving(module_docs: Path, tmp_path: Path) -> None:
    """Beyond loopback without auth, or a docs folder that is not there: the process ends with exit code 2 and one
    line on stderr saying what to fix; nothing listens, nothing reaches stdout (over stdio, not one byte before the
    protocol). Started together: each spends most of its time importing."""
    env = server_env(tmp_path / "data", module_docs)
    cases = {
        "refusing to listen on 0.0.0.0 without authentication": ["--http", "--host", "0.0.0.0", "--port", "0"],
        "does not exist": ["--docs", str(tmp_path / "no-such-folder")],
    }
    processes = {expected: subprocess.Popen([*serve_command(), *args], env=env, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for expected, args in cases.items()}
    try:
        outputs = {expected: process.communicate(timeout=30) for expected, process in processes.items()}
    except subprocess.TimeoutExpired:  # one of them is serving instead of refusing
        pytest.fail(f"a bad configuration did not end the server: {cases}")
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
    for expected, (stdout, stderr) in outputs.items():
        assert processes[expected].returncode == 2, (cases[expected], processes[expected].returncode, stderr)
        assert expected in stderr, (cases[expected], stderr)
        assert "listening on http" not in stderr and "Traceback" not in stderr, stderr
        assert stdout == "", (cases[expected], stdout)
    assert "DEEP_RESEARCH_AUTH_TOKEN" in outputs["refusing to listen on 0.0.0.0 without authentication"][1]
