"""The published MCP tools. Thin: validate, report progress, call the run manager or engine, return typed results.

User mistakes (empty question, unknown run id, options out of range) come back as error results with a clear
message; anything unexpected is logged here and reaches the client as one line without a traceback.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, ParamSpec, TypeVar

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from ..errors import DeepResearchError, InputError
from .app import AppState
from .runs import RunOptions
from .store import RunRecord
from .views import CancelView, ClarifyView, ResearchSummary, RunStatusView, StartedRun, status_of, tool_result

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

Question = Annotated[
    str,
    Field(description="What to research, in the user's words, with any context they gave", max_length=20_000),
]
Brief = Annotated[
    str | None,
    Field(description="A research brief from `clarify` (optional): it replaces the scoping step", max_length=20_000),
]
RunId = Annotated[str, Field(description="The run id returned by research_start or research", min_length=1,
                             max_length=64)]


class ResearchOptions(BaseModel):
    """Limits for this run; each defaults to the server's setting."""

    max_researchers: int | None = Field(None, ge=1, le=20, description="Researchers running at once")
    max_tool_calls: int | None = Field(None, ge=1, le=50, description="Tool calls per researcher")
    max_iterations: int | None = Field(None, ge=1, le=20, description="Supervisor rounds of delegation")

    def to_run_options(self) -> RunOptions:
        return RunOptions(max_concurrent_units=self.max_researchers, max_tool_calls=self.max_tool_calls,
                          max_supervisor_iterations=self.max_iterations)


Options = Annotated[ResearchOptions | None, Field(description="Optional limits for this run")]


class ResearchArgs(BaseModel):
    """The `research` arguments, for the tasks extension, which sees them before the tool does."""

    question: Question = ""
    brief: Brief = None
    options: Options = None


def user_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Our typed errors become ToolErrors (their message is for the user); the SDK hides anything else's text."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except InputError as exc:
            raise ToolError(str(exc)) from None
        except DeepResearchError as exc:
            raise ToolError(f"{type(exc).__name__}: {exc}") from None

    return wrapper


def state(ctx: Context[AppState, Any]) -> AppState:
    return ctx.request_context.lifespan_context


def question_of(question: str, brief: str | None) -> str:
    text = (question or "").strip() or (brief or "").strip()
    if not text:
        raise InputError("question: give the question to research (or a brief from `clarify`)")
    return text


async def start_run(app: AppState, question: str, brief: str | None, options: ResearchOptions | None) -> RunRecord:
    return await app.runs.start(question_of(question, brief), brief=brief,
                                options=(options or ResearchOptions()).to_run_options())


def progress_reporter(ctx: Context[AppState, Any]) -> Callable[[RunRecord], Awaitable[None]]:
    """Progress values must only grow: a step counter, with the run's own words as the message."""
    step = 0

    async def report(record: RunRecord) -> None:
        nonlocal step
        step += 1
        try:
            await ctx.report_progress(step, None, record.message or record.phase)
        except Exception as exc:  # a client that went away mid-run must not fail the research
            log.debug("progress notification not delivered: %s", exc)

    return report


def register(server: MCPServer[AppState]) -> None:
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)
    research_hints = ToolAnnotations(read_only_hint=True, open_world_hint=True, idempotent_hint=False)

    def publish(annotations: ToolAnnotations) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register with the docstring as the description, without the source's indentation."""

        def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
            server.add_tool(fn, description=inspect.cleandoc(fn.__doc__ or ""), annotations=annotations)
            return fn

        return decorator

    @publish(research_hints)
    @user_errors
    async def clarify(question: Question, ctx: Context[AppState, Any]) -> ClarifyView:
        """Decide whether a research question needs a clarifying question to the user first. If not, returns the
        research brief to pass to `research` or `research_start` as `brief`."""
        app = state(ctx)
        decision, brief = await app.engine.scope(question_of(question, None))
        return ClarifyView(need_clarification=decision.need_clarification,
                           question=decision.question.strip() if decision.need_clarification else "", brief=brief)

    @publish(research_hints)
    @user_errors
    async def research(
        ctx: Context[AppState, Any], question: Question = "", brief: Brief = None, options: Options = None
    ) -> Annotated[CallToolResult, ResearchSummary]:
        """Research a question in depth and return a compact cited answer (the full report is a resource link).
        Takes minutes; sends progress every few seconds. Hosts that end tool calls after ~60 s should use
        research_start / research_status / research_result instead."""
        app = state(ctx)
        record = await start_run(app, question, brief, options)
        report = progress_reporter(ctx)
        await report(record)
        final = await app.runs.wait(record.run_id, heartbeat=report, interval_s=app.settings.progress_interval_s)
        return tool_result(final)

    @publish(research_hints)
    @user_errors
    async def research_start(
        ctx: Context[AppState, Any], question: Question = "", brief: Brief = None, options: Options = None
    ) -> StartedRun:
        """Start a research in the background and return its run id at once. Poll research_status(run_id) about
        every 10 s; when it says finished, call research_result(run_id)."""
        record = await start_run(state(ctx), question, brief, options)
        return StartedRun(run_id=record.run_id, status=record.status,
                          message=f"started; poll research_status(run_id={record.run_id!r})")

    @publish(read_only)
    @user_errors
    async def research_status(run_id: RunId, ctx: Context[AppState, Any]) -> RunStatusView:
        """Where a run is: phase, researchers done/running, sources found, and the findings so far."""
        return status_of(await state(ctx).runs.get(run_id))

    @publish(read_only)
    @user_errors
    async def research_result(run_id: RunId, ctx: Context[AppState, Any]) -> Annotated[CallToolResult, ResearchSummary]:
        """The outcome of a finished run: title, executive answer, cited sources, usage, and a link to the report."""
        record = await state(ctx).runs.get(run_id)
        if not record.finished:
            raise InputError(f"run {record.run_id} is still running ({record.message or record.phase}); "
                             "poll research_status until it says finished")
        return tool_result(record)

    @publish(ToolAnnotations(destructive_hint=False, idempotent_hint=True, open_world_hint=False))
    @user_errors
    async def research_cancel(run_id: RunId, ctx: Context[AppState, Any]) -> CancelView:
        """Stop a running research. Cancelling a run that has ended (or twice) is harmless and says so."""
        record, message = await state(ctx).runs.cancel(run_id)
        return CancelView(run_id=record.run_id, status=record.status, message=message)

    @publish(research_hints)
    @user_errors
    async def write(
        run_id: RunId,
        ctx: Context[AppState, Any],
        instructions: Annotated[str, Field(
            description="How to write it this time: shorter, another audience or language, another structure",
            max_length=20_000)] = "",
    ) -> Annotated[CallToolResult, ResearchSummary]:
        """Write a finished run's report again from its stored findings, in another form, without new research.
        Returns a new run id whose report is the rewritten one."""
        app = state(ctx)
        record = await app.runs.rewrite(run_id, instructions)
        report = progress_reporter(ctx)
        final = await app.runs.wait(record.run_id, heartbeat=report, interval_s=app.settings.progress_interval_s)
        return tool_result(final)

    del clarify, research, research_start, research_status, research_result, research_cancel, write
