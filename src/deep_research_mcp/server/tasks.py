"""The MCP tasks extension (`io.modelcontextprotocol/tasks`, spec 2026-07-28) for `research`.

A client that declares the extension on its `tools/call` gets a task handle at once (`resultType: "task"`) instead
of a call that blocks for minutes; it polls `tasks/get` until the task is terminal and finds the usual `research`
result inlined there. A task is a run: the task id is the run id, so research_status/research_result and the
`research://runs/...` resources work on it too, and the run store keeps it across disconnects and replicas.

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
from pydantic import ConfigDict, Field, ValidationError

from ..errors import InputError
from .app import AppState
from .runs import UnknownRun
from .store import RunRecord, age_s
from .views import tool_result

TASKS = "io.modelcontextprotocol/tasks"
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
        if params.name not in TASK_TOOLS or not _declared(ctx):
            return await call_next(ctx)
        from .tools import ResearchArgs, start_run

        try:
            args = ResearchArgs.model_validate(params.arguments or {})
            record = await start_run(ctx.lifespan_context, args.question, args.brief, args.options)
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) + f": {e['msg']}" for e in exc.errors())
            return _error_result(f"invalid arguments for research: {fields}")
        except InputError as exc:
            return _error_result(str(exc))
        return {"resultType": "task", **self._task(record)}

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
            record = await app.runs.get(task_id)
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
        record = await self._record(ctx, params.task_id)
        app: AppState = ctx.lifespan_context
        await app.runs.cancel(record.run_id)
        return {}


def _declared(ctx: ServerRequestContext[Any, Any]) -> bool:
    capabilities = ctx.session.client_capabilities
    extensions = capabilities.extensions if capabilities is not None else None
    return bool(extensions) and TASKS in extensions


def _error_result(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)
