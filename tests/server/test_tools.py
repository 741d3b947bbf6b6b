"""The server's tools, resources, prompt and tasks extension through the SDK's in-process `Client`.

The engine behind them is real: the scripted LLM server on 127.0.0.1 through the real openai SDK (with latency, so
runs last long enough to poll and cancel), or the offline engine over a small docs folder.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import pytest
from mcp.client import ClaimContext, Client, ClientExtension, ResultClaim, advertise
from mcp_types import CallToolResult, ElicitResult, Request, RequestParams, Result
from pydantic import ConfigDict, Field

from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer
from deep_research_mcp.llm.scripted.policy import Answer, ScriptedPolicy, ScriptedRequest
from deep_research_mcp.server.app import build_server
from deep_research_mcp.server.tasks import TASKS
from deep_research_mcp.settings import Settings

DOCS = {
    "tides.md": "# Tidal lagoons\n\nTidal lagoons store energy by holding water behind a wall at high tide. "
    "The Swansea design had a 9.5 km wall.\n",
    "pumped.md": "# Pumped hydro\n\nPumped hydro stores energy by pumping water uphill. It returns about 80% of it.\n",
}


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text)
    return folder


@pytest.fixture
async def llm() -> AsyncIterator[ScriptedLLMServer]:
    async with ScriptedLLMServer(Scenario(latency_s=0.25, topics=2)) as server:
        yield server


def scripted_settings(llm: ScriptedLLMServer, docs: Path, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "research_model": "openai:scripted", "openai_base_url": llm.openai_base_url, "openai_api_key": "x",
        "docs_dir": docs, "data_dir": tmp_path / "data", "fetch_enabled": False, "allow_clarification": False,
        "progress_interval_s": 0.1, "retry_base_delay_s": 0.01,
    }
    values.update(overrides)
    return Settings(**values)


def offline_settings(docs: Path, tmp_path: Path) -> Settings:
    return Settings(docs_dir=docs, data_dir=tmp_path / "data", fetch_enabled=False, progress_interval_s=0.1)


async def poll_until_finished(client: Client, run_id: str, deadline_s: float = 30.0) -> dict[str, Any]:
    async with asyncio.timeout(deadline_s):
        while True:
            status = await client.call_tool("research_status", {"run_id": run_id})
            assert not status.is_error, status.content
            if status.structured_content["finished"]:
                return status.structured_content
            await asyncio.sleep(0.05)


def text_of(result: CallToolResult) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


async def test_lists_the_tools_with_strict_compact_schemas(docs: Path, tmp_path: Path) -> None:
    async with Client(build_server(offline_settings(docs, tmp_path)), mode="legacy") as client:
        listed = await client.list_tools()
        again = await client.list_tools()
    tools = {t.name: t for t in listed.tools}
    names = ["clarify", "research", "research_start", "research_status", "research_result", "research_cancel", "write"]
    assert [t.name for t in listed.tools] == names == [t.name for t in again.tools]  # a stable order
    research = tools["research"]
    assert research.input_schema["required"] == ["question"]
    assert research.input_schema["additionalProperties"] is False
    options = research.input_schema["properties"]["options"]
    assert options["type"] == "object" and options["additionalProperties"] is False
    assert options["properties"]["max_researchers"] == {"description": "Researchers running at once", "maximum": 20,
                                                        "minimum": 1, "type": "integer"}
    assert research.input_schema["properties"]["wait_s"]["type"] == "number"  # not number-or-null
    assert research.output_schema is not None and "answer" in research.output_schema["properties"]
    for tool in listed.tools:
        assert tool.description and "\n" not in tool.description and len(tool.description) < 600, tool.name
        assert tool.input_schema["additionalProperties"] is False, tool.name
        assert '"title"' not in json.dumps(tool.input_schema).replace('"title": {', ""), tool.name
        assert '"description"' not in json.dumps(tool.output_schema or {}), tool.name
    assert tools["research_status"].annotations is not None and tools["research_status"].annotations.read_only_hint
    # tools/list was 15.1 KB (9.3 KB of output schemas) before schemas were made compact
    wire = json.dumps([t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in listed.tools],
                      separators=(",", ":"))
    # 12.8 KB with follow_up_of and language (two descriptions of under 80 characters), format, and the queue's
    # fields in research_status (attempts, worker, queue position and depth).
    assert len(wire) < 13_000


async def test_on_2026_07_28_the_tool_list_may_be_cached_for_an_hour(docs: Path, tmp_path: Path) -> None:
    async with Client(build_server(offline_settings(docs, tmp_path)), mode="2026-07-28") as client:
        listed = await client.list_tools()
        prompts = await client.list_prompts()
    assert (listed.ttl_ms, listed.cache_scope) == (3_600_000, "public")  # the SDK's default is 0: ask every time
    assert prompts.ttl_ms == 3_600_000


async def test_offline_research_returns_a_compact_answer_and_a_report_link(docs: Path, tmp_path: Path) -> None:
    async with Client(build_server(offline_settings(docs, tmp_path))) as client:
        result = await client.call_tool("research", {"question": "How do tidal lagoons store energy?"})
        assert not result.is_error, result.content
        summary = result.structured_content
        assert summary["status"] == "completed" and summary["sources_count"] >= 1
        assert "Tidal lagoons store energy" in summary["answer"]
        assert summary["sources"][0]["locator"].endswith("tides.md")
        links = [b for b in result.content if getattr(b, "type", "") == "resource_link"]
        assert [str(link.uri) for link in links] == [summary["report_uri"]]
        report = (await client.read_resource(summary["report_uri"])).contents[0].text
        assert report.startswith("# ") and "## Sources" in report
        assert len(json.dumps(summary)) < len(report) + 4000  # compact: never the whole report twice


async def test_research_sends_progress_while_it_runs(llm: ScriptedLLMServer, docs: Path, tmp_path: Path) -> None:
    messages: list[tuple[float, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append((progress, message))

    async with Client(build_server(scripted_settings(llm, docs, tmp_path))) as client:
        result = await client.call_tool("research", {"question": "How is energy stored with tides?"},
                                        progress_callback=on_progress)
    assert result.structured_content["status"] == "completed", result.content
    assert len(messages) >= 3
    values = [value for value, _ in messages]
    assert values == sorted(values) and len(set(values)) == len(values)  # strictly growing, as the spec asks
    assert any(m and "researchers" in m for _, m in messages)


async def test_start_status_result_outlive_a_short_client_timeout(
    llm: ScriptedLLMServer, docs: Path, tmp_path: Path
) -> None:
    async with Client(build_server(scripted_settings(llm, docs, tmp_path)), read_timeout_seconds=1.0) as client:
        started = await client.call_tool("research_start", {"question": "How is energy stored with tides?"})
        run_id = started.structured_content["run_id"]
        early = await client.call_tool("research_result", {"run_id": run_id, "wait_s": 0})
        assert not early.is_error and early.structured_content["status"] == "running", early.content
        assert not early.structured_content["finished"] and "research_result" in early.structured_content["next_step"]
        assert "still running" in text_of(early)
        status = await poll_until_finished(client, run_id)
        assert status["status"] == "completed" and status["researchers_done"] == 2
        assert len(status["findings_so_far"]) == 2
        result = await client.call_tool("research_result", {"run_id": run_id})
        assert result.structured_content["status"] == "completed"
        assert result.structured_content["elapsed_s"] > 1.0  # it did outlast the client's per-request timeout
        notes = (await client.read_resource(f"research://runs/{run_id}/notes")).contents[0].text
        sources = json.loads((await client.read_resource(f"research://runs/{run_id}/sources")).contents[0].text)
        listed = json.loads((await client.read_resource("research://runs")).contents[0].text)
    assert notes.count("\n## ") >= 2 and sources["read"] and sources["cited"]
    assert run_id in [run["run_id"] for run in listed]


async def test_cancel_mid_run_and_cancel_again(llm: ScriptedLLMServer, docs: Path, tmp_path: Path) -> None:
    async with Client(build_server(scripted_settings(llm, docs, tmp_path))) as client:
        run_id = (await client.call_tool("research_start", {"question": "Tides?"})).structured_content["run_id"]
        await poll_phase(client, run_id, "research")
        first = await client.call_tool("research_cancel", {"run_id": run_id})
        assert first.structured_content["status"] == "cancelled", first.content
        second = await client.call_tool("research_cancel", {"run_id": run_id})
        assert not second.is_error and "already ended" in second.structured_content["message"]
        result = await client.call_tool("research_result", {"run_id": run_id})
    assert result.is_error and result.structured_content["status"] == "cancelled"


async def test_write_rewrites_from_stored_findings_without_new_research(
    llm: ScriptedLLMServer, docs: Path, tmp_path: Path
) -> None:
    async with Client(build_server(scripted_settings(llm, docs, tmp_path))) as client:
        first = await client.call_tool("research", {"question": "How is energy stored with tides?"})
        calls_before = llm.stats.calls
        rewritten = await client.call_tool("write", {"run_id": first.structured_content["run_id"],
                                                     "instructions": "Two sentences, for a child."})
        calls_after = llm.stats.calls
    summary = rewritten.structured_content
    assert not rewritten.is_error and summary["status"] == "completed", rewritten.content
    assert summary["run_id"] != first.structured_content["run_id"] and summary["sources_count"] >= 1
    assert summary["usage"]["model_calls"] == 1  # the report call only: nothing was researched again
    assert calls_after == calls_before + 1


async def test_bad_input_gives_clear_error_results(docs: Path, tmp_path: Path) -> None:
    async with Client(build_server(offline_settings(docs, tmp_path))) as client:
        empty = await client.call_tool("research", {"question": "  "})
        too_many = await client.call_tool("research_start", {"question": "x", "options": {"max_researchers": 99}})
        unknown = await client.call_tool("research_status", {"run_id": "no-such-run"})
        bad_id = await client.call_tool("research_result", {"run_id": "../../etc/passwd"})
        write_unknown = await client.call_tool("write", {"run_id": "nope"})
    for result in (empty, too_many, unknown, bad_id, write_unknown):
        assert result.is_error
        assert "Traceback" not in text_of(result)
    assert "question" in text_of(empty)
    assert text_of(too_many) == "research_start: 'options.max_researchers' must be an integer from 1 to 20, not 99."
    assert "unknown run id" in text_of(unknown) and "unknown run id" in text_of(bad_id)


STRICT_CASES = [
    ("research", {}, "research: 'question' is required."),
    ("research", {"question": "Tides?", "depth": 3},
     "research: unknown argument 'depth'; the allowed ones are: question, brief, options, wait_s, follow_up_of."),
    ("research_start", {"question": "Tides?", "options": {"max_researchers": True}},
     "research_start: 'options.max_researchers' must be an integer from 1 to 20, not true."),
    ("research_start", {"question": "Tides?", "options": {"max_researchers": "3"}},
     "research_start: 'options.max_researchers' must be an integer from 1 to 20, not \"3\"."),
    ("research_start", {"question": "Tides?", "options": {"researchers": 3}},
     "research_start: unknown argument 'options.researchers'; the allowed ones are: max_researchers, max_tool_calls, "
     "max_iterations, language, length."),
    ("research", {"question": "\x00\x00\x00"},
     "research: 'question' must not contain control characters such as NUL."),
    ("research_start", {"question": "Tides?\x1b[2J"},
     "research_start: 'question' must not contain control characters such as NUL."),
    ("research", {"question": "Tides?", "wait_s": "5"},
     "research: 'wait_s' must be a number from 0 to 600, not \"5\"."),
    ("research_result", {"run_id": "x", "wait_s": 601},
     "research_result: 'wait_s' must be a number from 0 to 600, not 601."),
    ("research_status", {"run_id": 7}, "research_status: 'run_id' must be text of 1 to 64 characters, not 7."),
    ("clarify", {"question": 42}, "clarify: 'question' must be text of 0 to 20000 characters, not 42."),
    ("write", {"run_id": "x", "instructions": ["shorter"]},
     "write: 'instructions' must be text of 0 to 20000 characters, not [\"shorter\"]."),
]


async def test_arguments_are_strict_and_refusals_are_one_sentence(docs: Path, tmp_path: Path) -> None:
    async with Client(build_server(offline_settings(docs, tmp_path))) as client:
        results = [await client.call_tool(tool, arguments) for tool, arguments, _ in STRICT_CASES]
        listed = json.loads((await client.read_resource("research://runs")).contents[0].text)
        # Objects sent as JSON text (Claude Desktop does) are read as the objects they spell.
        spelled = await client.call_tool("research_start", {"question": "Tides?", "options": '{"max_researchers": 1}'})
    for (tool, arguments, expected), result in zip(STRICT_CASES, results, strict=True):
        assert result.is_error, (tool, arguments)
        assert text_of(result) == expected
    assert listed == []  # no refused call started a run
    assert not spelled.is_error, spelled.content


async def test_no_model_and_no_documents_says_what_to_set(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", fetch_enabled=False)
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("research_start", {"question": "anything"})
    assert result.is_error and "DEEP_RESEARCH_DOCS_DIR" in text_of(result)


async def test_clarify_and_the_prompt(llm: ScriptedLLMServer, docs: Path, tmp_path: Path) -> None:
    async with Client(build_server(scripted_settings(llm, docs, tmp_path))) as client:
        clarified = await client.call_tool("clarify", {"question": "How is energy stored with tides?"})
        prompt = await client.get_prompt("deep_research", {"question": "tides"})
    assert clarified.structured_content["need_clarification"] is False
    assert clarified.structured_content["brief"]
    assert "research_start" in prompt.messages[0].content.text


async def test_finished_runs_survive_a_restart_and_running_ones_end_interrupted(
    llm: ScriptedLLMServer, docs: Path, tmp_path: Path
) -> None:
    settings = scripted_settings(llm, docs, tmp_path)
    async with Client(build_server(settings)) as client:
        done = (await client.call_tool("research", {"question": "Tides?"})).structured_content["run_id"]
        running = (await client.call_tool("research_start", {"question": "Pumped hydro?"})).structured_content[
            "run_id"]
    async with Client(build_server(settings)) as client:  # a new server process on the same run store
        kept = await client.call_tool("research_result", {"run_id": done})
        stopped = await client.call_tool("research_status", {"run_id": running})
    assert kept.structured_content["status"] == "completed" and kept.structured_content["answer"]
    assert stopped.structured_content["status"] == "interrupted"


# -- the tasks extension -----------------------------------------------------------------------------------------


class TaskHandle(Result):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    result_type: Literal["task"] = Field(alias="resultType")
    task_id: str = Field(alias="taskId")
    status: str
    poll_interval_ms: int | None = Field(default=None, alias="pollIntervalMs")


class TaskIdParams(RequestParams):
    task_id: str = Field(alias="taskId")


class TaskRequest(Request[TaskIdParams, str]):
    name_param = "taskId"


class TaskState(Result):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    task_id: str = Field(alias="taskId")
    status: str
    result: dict[str, Any] | None = None


class TasksClient(ClientExtension):
    """What a tasks-aware host does: take the handle, poll tasks/get, hand back the inlined tool result."""

    identifier = TASKS

    def __init__(self) -> None:
        self.handles: list[TaskHandle] = []
        self.polls = 0

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=TaskHandle, resolve=self.resolve)]

    async def resolve(self, handle: TaskHandle, ctx: ClaimContext) -> CallToolResult:
        self.handles.append(handle)
        async with asyncio.timeout(30):
            while True:
                state = await get_task(ctx.session, handle.task_id)
                self.polls += 1
                if state.status not in ("working", "input_required"):
                    assert state.status == "completed" and state.result is not None, state
                    return CallToolResult.model_validate(state.result)
                await asyncio.sleep(0.05)


async def get_task(session: Any, task_id: str, method: str = "tasks/get") -> TaskState:
    request = TaskRequest(method=method, params=TaskIdParams(taskId=task_id))
    return await session.send_request(request, TaskState)


async def test_task_augmented_research(llm: ScriptedLLMServer, docs: Path, tmp_path: Path) -> None:
    extension = TasksClient()
    server = build_server(scripted_settings(llm, docs, tmp_path))
    async with Client(server, extensions=[extension]) as client:
        result = await client.call_tool("research", {"question": "How is energy stored with tides?"})
        status = await client.call_tool("research_status", {"run_id": extension.handles[0].task_id})
    assert result.structured_content["status"] == "completed", result.content
    assert extension.handles[0].status == "working" and extension.polls >= 2
    assert result.structured_content["run_id"] == extension.handles[0].task_id  # a task is a run
    assert status.structured_content["status"] == "completed"


async def test_a_2025_11_25_client_declaring_tasks_gets_a_plain_result_and_no_orphan_run(
    docs: Path, tmp_path: Path
) -> None:
    # MCP Inspector 2.x does this: the handshake-era protocol, with the tasks extension declared. A task handle cannot
    # be sent on that protocol (it was a -32603, with the run already started and never seen again).
    # (An ad-only declaration: the SDK client drops result-claiming extensions on a handshake-era connection.)
    declared = advertise(TASKS, {})
    async with Client(build_server(offline_settings(docs, tmp_path)), mode="legacy", extensions=[declared]) as client:
        assert client.protocol_version == "2025-11-25"
        result = await client.call_tool("research", {"question": "How do tidal lagoons store energy?"})
        runs = json.loads((await client.read_resource("research://runs")).contents[0].text)
    assert not result.is_error and result.structured_content["status"] == "completed", result.content
    assert [run["run_id"] for run in runs] == [result.structured_content["run_id"]]


async def test_tasks_cancel_and_unknown_task(llm: ScriptedLLMServer, docs: Path, tmp_path: Path) -> None:
    from mcp.shared.exceptions import MCPError

    server = build_server(scripted_settings(llm, docs, tmp_path))
    async with Client(server, extensions=[TasksClient()]) as client:
        run_id = (await client.call_tool("research_start", {"question": "Tides?"})).structured_content["run_id"]
        await client.session.send_request(TaskRequest(method="tasks/cancel", params=TaskIdParams(taskId=run_id)),
                                          Result)
        state = await get_task(client.session, run_id)
        with pytest.raises(MCPError) as missing:
            await get_task(client.session, "no-such-task")
    assert state.status == "cancelled"
    assert missing.value.error.code == -32602


async def test_clients_without_the_extension_get_a_plain_result_and_no_tasks_methods(
    docs: Path, tmp_path: Path
) -> None:
    from mcp.shared.exceptions import MCPError

    async with Client(build_server(offline_settings(docs, tmp_path))) as client:
        result = await client.call_tool("research", {"question": "How do tidal lagoons store energy?"})
        with pytest.raises(MCPError) as refused:
            await get_task(client.session, result.structured_content["run_id"])
    assert result.structured_content["status"] == "completed"
    assert refused.value.error.code == -32021


async def test_a_client_abandoning_research_cancels_the_run(
    llm: ScriptedLLMServer, docs: Path, tmp_path: Path
) -> None:
    async with Client(build_server(scripted_settings(llm, docs, tmp_path))) as client:
        call = asyncio.create_task(client.call_tool("research", {"question": "How is energy stored with tides?"}))
        async with asyncio.timeout(10):
            while not (runs := json.loads((await client.read_resource("research://runs")).contents[0].text)):
                await asyncio.sleep(0.05)
        run_id = runs[0]["run_id"]
        await poll_phase(client, run_id, "research")
        call.cancel()  # the SDK sends notifications/cancelled for the abandoned request
        with pytest.raises(asyncio.CancelledError):
            await call
        status = await poll_until_finished(client, run_id)
    assert status["status"] == "cancelled"


async def poll_phase(client: Client, run_id: str, phase: str) -> None:
    async with asyncio.timeout(10):
        while (await client.call_tool("research_status", {"run_id": run_id})).structured_content["phase"] != phase:
            await asyncio.sleep(0.02)


# -- bounded waits ------------------------------------------------------------------------------------------------


async def test_research_returns_within_its_bound_and_research_result_waits_again(
    llm: ScriptedLLMServer, docs: Path, tmp_path: Path
) -> None:
    progress: list[str | None] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    # The setting bounds every wait that names none; this research takes a few seconds (scripted latency).
    settings = scripted_settings(llm, docs, tmp_path, research_wait_s=0.3)
    async with Client(build_server(settings)) as client:
        first = await client.call_tool("research", {"question": "How is energy stored with tides?"},
                                       progress_callback=on_progress)
        run_id = first.structured_content["run_id"]
        waits = 0
        result = first
        while not result.structured_content["finished"]:
            waits += 1
            assert waits < 100, result.structured_content
            result = await client.call_tool("research_result", {"run_id": run_id, "wait_s": 0.5})
    running = first.structured_content
    assert not first.is_error and running["status"] == "running" and not running["finished"]
    assert run_id in running["next_step"] and "research_result" in running["next_step"]
    assert f"research_result with run_id '{run_id}'" in text_of(first)
    assert progress  # progress flowed during the bounded wait
    assert waits >= 1 and result.structured_content["status"] == "completed", result.content
    assert result.structured_content["answer"] and result.structured_content["findings_so_far"] == []


async def test_giving_up_on_research_result_leaves_the_run_running(
    llm: ScriptedLLMServer, docs: Path, tmp_path: Path
) -> None:
    async with Client(build_server(scripted_settings(llm, docs, tmp_path))) as client:
        run_id = (await client.call_tool("research", {"question": "Tides?", "wait_s": 0})).structured_content["run_id"]
        waiting = asyncio.create_task(client.call_tool("research_result", {"run_id": run_id, "wait_s": 30}))
        await poll_phase(client, run_id, "research")
        waiting.cancel()  # the host gave up on the call: a read must not stop the research
        with pytest.raises(asyncio.CancelledError):
            await waiting
        status = await poll_until_finished(client, run_id)
    assert status["status"] == "completed"


async def test_a_run_beyond_max_concurrent_runs_says_it_is_queued(
    llm: ScriptedLLMServer, docs: Path, tmp_path: Path
) -> None:
    async with Client(build_server(scripted_settings(llm, docs, tmp_path, max_concurrent_runs=1))) as client:
        first = await client.call_tool("research_start", {"question": "Tides?"})
        second = await client.call_tool("research_start", {"question": "Pumped hydro?"})
        queued = await client.call_tool("research_status", {"run_id": second.structured_content["run_id"]})
        waited = await client.call_tool("research_result", {"run_id": second.structured_content["run_id"],
                                                            "wait_s": 0})
        for started in (second, first):
            await client.call_tool("research_cancel", {"run_id": started.structured_content["run_id"]})
    assert not first.structured_content["message"].startswith("queued")
    assert second.structured_content["message"].startswith("queued:")
    assert "DEEP_RESEARCH_MAX_CONCURRENT_RUNS" in second.structured_content["message"]
    assert queued.structured_content["message"].startswith("queued:")
    assert "queued:" in text_of(waited)


async def test_write_sends_progress(llm: ScriptedLLMServer, docs: Path, tmp_path: Path) -> None:
    messages: list[str | None] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        messages.append(message)

    async with Client(build_server(scripted_settings(llm, docs, tmp_path))) as client:
        first = await client.call_tool("research", {"question": "How is energy stored with tides?"})
        rewritten = await client.call_tool("write", {"run_id": first.structured_content["run_id"],
                                                     "instructions": "Shorter."}, progress_callback=on_progress)
    assert rewritten.structured_content["status"] == "completed", rewritten.content
    assert messages


async def test_clarify_asks_the_user_in_band_on_2026_07_28_and_in_its_result_before(
    docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clarify_inputs: list[str] = []
    answer = ScriptedPolicy.answer

    def recording(policy: ScriptedPolicy, stage: str, request: ScriptedRequest) -> Answer:
        if stage == "clarify":
            clarify_inputs.append("\n".join(request.user_texts()))
        return answer(policy, stage, request)

    monkeypatch.setattr(ScriptedPolicy, "answer", recording)
    asked: list[str] = []

    async def elicit(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"answer": "Swansea Bay, in the UK"})

    async with ScriptedLLMServer(Scenario(needs_clarification=True)) as llm:
        server = build_server(scripted_settings(llm, docs, tmp_path))
        async with Client(server, elicitation_callback=elicit) as client:
            modern = await client.call_tool("clarify", {"question": "Tidal lagoons?"})
        async with Client(server, mode="legacy", elicitation_callback=elicit) as client:
            legacy = await client.call_tool("clarify", {"question": "Tidal lagoons?"})
    assert asked == ["Which aspect of 'Tidal lagoons?' should the research focus on?"]  # the modern client only
    assert "The user clarified: Swansea Bay, in the UK" in clarify_inputs[1]  # the answer reached the model
    # The scripted model always asks: after the one in-band round the question comes back in the result.
    assert modern.structured_content["need_clarification"] is True
    assert legacy.structured_content["need_clarification"] is True and legacy.structured_content["question"]


async def test_a_task_handle_that_cannot_be_returned_cancels_its_run(
    llm: ScriptedLLMServer, docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcp.shared.exceptions import MCPError

    from deep_research_mcp.server.tasks import TasksExtension

    def broken(self: TasksExtension, record: Any) -> dict[str, Any]:
        raise RuntimeError("the handle could not be built")

    monkeypatch.setattr(TasksExtension, "_task", broken)
    async with Client(build_server(scripted_settings(llm, docs, tmp_path)), extensions=[TasksClient()]) as client:
        with pytest.raises(MCPError):
            await client.call_tool("research", {"question": "Tides?"})
        [run] = json.loads((await client.read_resource("research://runs")).contents[0].text)
    assert run["status"] == "cancelled"  # nobody could ever have polled or cancelled it
