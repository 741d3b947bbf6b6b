"""A flood of unauthenticated `initialize` requests on loopback: memory stays bounded, a new client is served,
and the server still stops promptly. Bounded in count (2,000) and in time (a few seconds)."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter
from pathlib import Path

import httpx2
import jwt
import pytest
from mcp.client import Client
from mcp_types.version import LATEST_HANDSHAKE_VERSION

from ..server.conftest import http_server, server_env, write_corpus

FLOOD = 1_000
WORKERS = 8
MAX_SESSIONS = 100
RSS_GROWTH_BOUND_MB = 30  # 100 idle sessions are ~4 MB; without limits 2,000 sessions grew RSS by ~70 MB
INITIALIZE = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                         "params": {"protocolVersion": LATEST_HANDSHAKE_VERSION, "capabilities": {},
                                    "clientInfo": {"name": "flood", "version": "0"}}})
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc")


async def flood(url: str, count: int = FLOOD, headers: dict[str, str] | None = None) -> Counter[int]:
    statuses: Counter[int] = Counter()
    sent = iter(range(count))
    sent_headers = {**HEADERS, **(headers or {})}

    async def worker(http: httpx2.AsyncClient) -> None:
        for _ in sent:
            statuses[(await http.post(url, content=INITIALIZE, headers=sent_headers)).status_code] += 1

    async with httpx2.AsyncClient(timeout=httpx2.Timeout(30.0)) as http, asyncio.TaskGroup() as group:
        for _ in range(WORKERS):
            group.create_task(worker(http))
    return statuses


async def open_session(http: httpx2.AsyncClient, url: str, headers: dict[str, str] | None = None) -> str:
    """A raw session: initialize, then the initialized notification; returns its id."""
    sent = {**HEADERS, **(headers or {})}
    opened = await http.post(url, content=INITIALIZE, headers=sent)
    assert opened.status_code == 200, opened.text
    session = opened.headers["mcp-session-id"]
    notified = await http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                               headers={**sent, "mcp-session-id": session})
    assert notified.status_code == 202, notified.text
    return session


async def still_open(http: httpx2.AsyncClient, url: str, session: str, headers: dict[str, str] | None = None) -> bool:
    listed = await http.post(url, json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                             headers={**HEADERS, **(headers or {}), "mcp-session-id": session})
    assert listed.status_code in (200, 404), listed.text
    return listed.status_code == 200


@pytest.mark.slow
async def test_an_initialize_flood_leaves_memory_bounded_and_new_clients_served(tmp_path: Path) -> None:
    env = server_env(tmp_path / "data", write_corpus(tmp_path / "docs"),
                     {"DEEP_RESEARCH_HTTP_MAX_SESSIONS": str(MAX_SESSIONS)})
    with http_server(env, tmp_path / "logs") as server:
        async with Client(server.url) as client:  # warm up what a first client allocates
            await client.list_tools()
        before = rss_mb(server.popen.pid)
        async with httpx2.AsyncClient(timeout=httpx2.Timeout(30.0)) as http:
            first = await open_session(http, server.url)
            started = time.monotonic()
            statuses = await flood(server.url)
            flood_s = time.monotonic() - started
            first_still_open = await still_open(http, server.url, first)
        after = rss_mb(server.popen.pid)
        async with Client(server.url) as client:
            tools = (await client.list_tools()).tools
            status = await client.call_tool("research_status", {"run_id": "no-such-run"})
        started = time.monotonic()
        server.popen.send_signal(signal.SIGTERM)
        server.popen.wait(timeout=10)
        stop_s = time.monotonic() - started
    print(f"flood of {FLOOD} initialize in {flood_s:.1f} s: {dict(statuses)}; RSS {before:.0f} -> {after:.0f} MB; "
          f"SIGTERM after the flood: exited in {stop_s:.2f} s")
    assert statuses == {200: FLOOD}, statuses  # room is made for each newcomer: nobody is locked out
    assert not first_still_open  # the longest-idle session made room: the table stays bounded
    assert after - before < RSS_GROWTH_BOUND_MB, (before, after)
    assert len(tools) == 7 and status.is_error and "unknown run id" in status.content[0].text
    assert server.popen.returncode == 0


async def test_one_credential_flooding_closes_only_its_own_idle_sessions(tmp_path: Path) -> None:
    secret = "flood-test-secret-that-is-at-least-32-bytes"
    env = server_env(tmp_path / "data", write_corpus(tmp_path / "docs"),
                     {"DEEP_RESEARCH_AUTH_JWT_SECRET": secret, "DEEP_RESEARCH_HTTP_MAX_SESSIONS": "20",
                      "DEEP_RESEARCH_HTTP_MAX_SESSIONS_PER_CLIENT": "5"})
    with http_server(env, tmp_path / "logs") as server:

        def bearer(subject: str) -> dict[str, str]:
            claims = {"sub": subject, "aud": server.url, "exp": int(time.time()) + 300}
            return {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}

        async with httpx2.AsyncClient(timeout=httpx2.Timeout(30.0)) as http:
            bystander = await open_session(http, server.url, bearer("bystander"))
            flooders_first = await open_session(http, server.url, bearer("flooder"))
            statuses = await flood(server.url, 60, bearer("flooder"))
            assert await still_open(http, server.url, bystander, bearer("bystander"))
            assert not await still_open(http, server.url, flooders_first, bearer("flooder"))
    assert statuses == {200: 60}, statuses
