"""The MCP tasks extension (`io.modelcontextprotocol/tasks`, spec 2026-07-28) for `research`.

A client that speaks 2026-07-28 (or newer) and declares the extension gets a task handle at once (`resultType:
"task"`) instead of a call that waits; a task handle cannot travel on an older protocol (the SDK refuses to send it,
the client would see -32603), so a 2025-11-25 client gets the ordinary bounded-wait `research` result even when it
declares the extension (MCP Inspector 2.x does). A client with a handle polls `tasks/get` until the task is terminal
and finds the usual `research` result inlined there. A task is a run: the task id is the run id, so research_status,
research_result and the `research://runs/...` resources work on it too, and the run store keeps it across disconnects
and replicas.

Mapping: running → working; completed and needs_clarification → completed; failed and interrupted → completed with
an `isError` result (the spec keeps `failed` for JSON-RPC errors); cancelled → cancelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mcp.server import ServerRequestContext
from mcp.server.extension import CallNext, Extension, HandlerResult, MethodBinding
from mcp.server.mcpserver import require_client_extension
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolRequestParams, CallToolResult, RequestParams, TextContent
from mcp_types.jsonrpc import INVALID_PARAMS
from mcp_types.version import is_version_at_least
from pydantic import ConfigDict, Field

from ..errors import InputError
from .runs import UnknownRun
from .state import AppState, principal_of
from .store import RunRecord, age_s
from .tools import parse_arguments, start_run
from .views import tool_result

TASKS = "io.modelcontextprotocol/tasks"
TASKS_SINCE = "2026-07-28"  # the first protocol revision whose results may be task handles
TASK_TOOLS = frozenset({"research"})


class TaskIdParams(RequestParams):
    model_config = ConfigDict(populate_by_name=True, extra="allow")
    task_id: str = Field(alias="taskId", min_length=1)


class TaskUpdateParams(TaskIdParams):
    input_responses: dict[str, Any] = Field(default_factory=dict, alias="inputResponses")


class TasksExtension(Extension):
    identifier = TASKS

    def __init__(self, *, poll_interval_ms: int = 2_000, ttl_ms: int | None = None) -> None:
        self.poll_interval_ms = poll_interval_ms
        self.ttl_ms = ttl_ms

    def methods(self) -> Sequence[MethodBinding]:
        return (
            MethodBinding("tasks/get", TaskIdParams, self._get),
            MethodBinding("tasks/update", TaskUpdateParams, self._update),
            MethodBinding("tasks/cancel", TaskIdParams, self._cancel),
        )

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        # Every tool's arguments are checked here, before anything runs: this is the SDK's one hook ahead of its own
        # (lenient, pydantic-worded) validation.
        try:
            args = parse_arguments(params.name, params.arguments)
        except InputError as exc:
            return _error_result(str(exc))
        if params.name not in TASK_TOOLS or not tasks_allowed(ctx):
            return await call_next(ctx)
        values = dict(args or {})
        try:
            record = await start_run(ctx.lifespan_context, values["question"], values["brief"], values["options"],
                                     values.get("follow_up_of"), principal_of(ctx))
        except InputError as exc:
            return _error_result(str(exc))
        try:
            return {"resultType": "task", **self._task(record)}
        except BaseException:
            # The client never learns the task id, so nobody could ever poll or cancel this run.
            await ctx.lifespan_context.runs.cancel(record.run_id)
            raise

    def _task(self, record: RunRecord) -> dict[str, Any]:
        task: dict[str, Any] = {
            "taskId": record.run_id,
            "status": "working",
            "statusMessage": record.message or record.phase,
            "createdAt": record.created_at,
            "lastUpdatedAt": record.updated_at,
            "ttlMs": self.ttl_ms,
            "pollIntervalMs": self.poll_interval_ms,
        }
        if record.status == "cancelled":
            task["status"] = "cancelled"
        elif record.finished:
            task["status"] = "completed"
            task["result"] = tool_result(record).model_dump(mode="json", by_alias=True, exclude_none=True)
        return task

    async def _record(self, ctx: ServerRequestContext[Any, Any], task_id: str) -> RunRecord:
        require_client_extension(ctx, TASKS)
        app: AppState = ctx.lifespan_context
        try:
            record = await app.runs.get(task_id, principal=principal_of(ctx))
        except UnknownRun:
            raise MCPError(INVALID_PARAMS, "Failed to retrieve task: Task not found") from None
        if self.ttl_ms is not None and age_s(record.created_at) * 1000 > self.ttl_ms:
            raise MCPError(INVALID_PARAMS, "Failed to retrieve task: Task has expired")
        return record

    async def _get(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        return self._task(await self._record(ctx, params.task_id))

    async def _update(self, ctx: ServerRequestContext[Any, Any], params: TaskUpdateParams) -> dict[str, Any]:
        await self._record(ctx, params.task_id)  # research never asks for input: responses are acknowledged
        return {}

    async def _cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        record = await self._record(ctx, params.task_id)  # the caller's own run: checked there
        app: AppState = ctx.lifespan_context
        await app.runs.cancel(record.run_id)
        return {}


def tasks_allowed(ctx: ServerRequestContext[Any, Any]) -> bool:
    """The client declared the extension and the negotiated protocol can carry a task handle."""
    capabilities = ctx.session.client_capabilities
    extensions = capabilities.extensions if capabilities is not None else None
    return bool(extensions) and TASKS in extensions and is_version_at_least(ctx.protocol_version, TASKS_SINCE)


def _error_result(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)
