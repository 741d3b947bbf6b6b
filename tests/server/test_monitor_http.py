"""The performance monitor as served: `research://metrics` and each run's timeline as MCP resources, `/metrics` in
the Prometheus text format and the monitor page behind the same bearer auth as /mcp, and the page itself loaded in
a real headless Chromium (Debian's), whose lanes and bars must be the run's timeline.

One server process (bearer auth, models on the scripted LLM server) serves one test, which checks everything that
needs it in turn: spread over several tests, pytest-xdist would start a module-scoped server once per worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from starlette.requests import Request

from deep_research_mcp.cli import main
from deep_research_mcp.server.monitor_web import refusal
from deep_research_mcp.server.store import RunRecord
from deep_research_mcp.settings import Settings

from .conftest import QUESTION, Process, http_server, scripted_env, scripted_llm, server_env

TOKEN = "monitor-test-token-8c1e"
SCENARIO = {"topics": 2, "tool_calls_per_researcher": 2}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_TIMEOUT_S = 30.0


@pytest.fixture
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def server(module_docs: Path, data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    logs = tmp_path_factory.mktemp("logs")
    with scripted_llm(SCENARIO, logs) as llm:
        env = server_env(data, module_docs, {**scripted_env(llm), "DEEP_RESEARCH_AUTH_TOKEN": TOKEN})
        with http_server(env, logs) as process:
            yield process


@contextlib.asynccontextmanager
async def client(url: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=httpx2.Timeout(30.0)) as http,
        Client(streamable_http_client(url, http_client=http)) as mcp,
    ):
        yield mcp


async def finished_run(url: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Research once; the run id, its timeline resource and the metrics resource afterwards."""
    async with client(url) as mcp:
        started = await mcp.call_tool("research_start", {"question": QUESTION})
        run_id = started.structured_content["run_id"]
        async with asyncio.timeout(30):
            while not (await mcp.call_tool("research_status", {"run_id": run_id})).structured_content["finished"]:
                await asyncio.sleep(0.05)
        timeline = await mcp.read_resource(f"research://runs/{run_id}/timeline")
        metrics = await mcp.read_resource("research://metrics")
    return run_id, json.loads(timeline.contents[0].text), json.loads(metrics.contents[0].text)


def base(server: Process) -> str:
    return server.url.removesuffix("/mcp")


Run = tuple[str, dict[str, Any], dict[str, Any]]


def test_the_monitor_as_served(server: Process, data: Path, capsys: pytest.CaptureFixture[str],
                               tmp_path: Path) -> None:
    run = asyncio.run(finished_run(server.url))
    check_resources(run)
    check_auth_and_prometheus(server, run)
    check_a_run_read_through_the_run_manager(server, data, run)
    check_stats(server, run, capsys)
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium): the page was not loaded")
    check_page_in_a_browser(server, run, tmp_path)


def check_resources(run: Run) -> None:
    _, timeline, metrics = run
    # 2 topics × 2 tool calls: brief, supervisor ×2, researcher 2 × 3, compress 2, report 1 = 12 model calls.
    assert timeline["totals"]["model_calls"] == 12 and timeline["totals"]["tool_calls"] == 4
    assert [lane["id"] for lane in timeline["lanes"]] == ["run", "R1", "R2"]
    assert 0 < timeline["floor_s"] <= timeline["wall_s"]
    models = [name for name, s in metrics["services"].items() if s["kind"] == "model"]
    assert len(models) == 1 and models[0].startswith("openai:scripted@http://127.0.0.1:")
    assert metrics["services"][models[0]]["calls"] == 12
    # The endpoint's adaptive limit is shown under the same name as its calls, not as a second service.
    assert metrics["services"][models[0]]["limits"]["name"] == "openai"
    assert all(s["kind"] for s in metrics["services"].values()), metrics["services"]
    assert metrics["stages"]["tool"]["calls"] == 4 and metrics["runs"]["finished"] == 1


def check_auth_and_prometheus(server: Process, run: Run) -> None:
    """/metrics and the page's data need the token; the page's static shell does not."""
    with httpx2.Client(base_url=base(server), timeout=10.0) as http:
        for path in ("/metrics", "/monitor/api/runs", "/monitor/api/metrics", f"/monitor/api/runs/{run[0]}"):
            assert http.get(path).status_code == 401, path
            assert http.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401, path
        page = http.get("/monitor/")
        assert page.status_code == 200 and "app.js" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        scraped = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert http.get("/monitor/api/runs/..%2Fx", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    assert re.search(r'deep_research_service_calls_total\{kind="model",service="openai:scripted@[^"]+"\} 12\.0', text)
    assert 'deep_research_stage_latency_seconds_bucket{le="+Inf",stage="researcher"} 6.0' in text
    assert "deep_research_runs_finished_total 1.0" in text
    assert "python_gc" not in text  # a private registry: none of the library's default collectors


def check_a_run_read_through_the_run_manager(server: Process, data: Path, run: Run) -> None:
    """The monitor reads a run as every tool does: a run left "running" by a replica that is gone reads as
    interrupted, as research_status says, not as the stale record the store holds."""
    runs = data / "runs"
    mine = RunRecord.model_validate_json((runs / f"{run[0]}.json").read_bytes())
    stale = RunRecord(run_id="stale-run", question=QUESTION, owner="a-replica-long-gone", principal=mine.principal,
                      updated_at="2020-01-01T00:00:00.000Z")
    (runs / "stale-run.json").write_text(stale.model_dump_json(), encoding="utf-8")
    with httpx2.Client(base_url=base(server), timeout=10.0) as http:
        shown = http.get("/monitor/api/runs/stale-run", headers={"Authorization": f"Bearer {TOKEN}"})
    assert shown.status_code == 200 and shown.json()["status"] == "interrupted", shown.text


def check_stats(server: Process, run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    """`deep-research stats --url` reads the running server's live metrics."""
    assert main(["stats", "--url", server.url, "--token", TOKEN, "--json"]) == 0
    live = json.loads(capsys.readouterr().out)
    assert live["services"]["search_documents"]["calls"] == run[1]["totals"]["tool_calls"]
    assert main(["stats", "--url", server.url]) == 2  # no token: the server's 401, said in one line
    assert "HTTP 401" in capsys.readouterr().err


def request(client: str, host: str, user: Any = None) -> Request:
    scope = {"type": "http", "method": "GET", "path": "/metrics", "headers": [(b"host", host.encode())],
             "client": (client, 5555), "query_string": b""}
    if user is not None:
        scope["user"] = user
    return Request(scope)


def test_without_auth_only_loopback_clients_naming_a_loopback_host_are_served() -> None:
    settings = Settings()
    assert refusal(request("127.0.0.1", "127.0.0.1:8000"), settings) is None
    assert refusal(request("::1", "[::1]:8000"), settings) is None
    assert refusal(request("127.0.0.1", "localhost"), settings) is None
    refused = refusal(request("10.1.2.3", "127.0.0.1:8000"), settings)
    assert refused is not None and refused.status_code == 403
    rebound = refusal(request("127.0.0.1", "evil.example:8000"), settings)  # a DNS-rebinding page
    assert rebound is not None and rebound.status_code == 403
    assert refusal(request("127.0.0.1", "127.0.0.1:8000"), Settings(auth_token="t")).status_code == 401


class Bars(HTMLParser):
    """The Gantt chart's lanes and bars as the browser built them."""

    def __init__(self) -> None:
        super().__init__()
        self.lane = ""
        self.lanes: list[str] = []
        self.bars: Counter[tuple[str, str]] = Counter()
        self.critical = 0
        self.ready = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "body":
            self.ready = values.get("data-ready") or ""
        if tag == "g" and values.get("data-lane"):
            self.lane = values["data-lane"] or ""
            self.lanes.append(self.lane)
        if tag == "rect" and "bar" in (values.get("class") or "").split():
            self.bars[(self.lane, values.get("data-kind") or "")] += 1
            self.critical += values.get("data-critical") == "true"


def check_page_in_a_browser(server: Process, run: Run, tmp_path: Path) -> None:
    """The page, loaded in headless chromium for the run, draws the run's lanes and bars; screenshot in tmp_path."""
    run_id, timeline, _ = run
    url = f"{base(server)}/monitor/#run={run_id}&token={TOKEN}"
    assert CHROMIUM is not None
    screenshot = tmp_path / "monitor.png"
    # One browser start both dumps the DOM and takes the screenshot; the virtual-time budget lets the page's
    # fetches finish before either is taken.
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
               f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1100", "--hide-scrollbars",
               "--virtual-time-budget=4000", f"--screenshot={screenshot}", "--dump-dom", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S, check=False)
    page = Bars()
    page.feed(done.stdout)
    assert page.ready == "true", f"the page did not load its data: {done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    assert page.lanes == [lane["id"] for lane in timeline["lanes"]]
    assert page.bars == Counter((s["lane"], s["kind"]) for s in timeline["spans"])
    assert page.critical == sum(s["critical"] for s in timeline["spans"]) > 0
    assert screenshot.stat().st_size > 10_000
