"""Resources (`research://runs`, and each run's report, sources, claim check, notes and timeline;
`research://metrics`) and the `deep_research` prompt."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.server.mcpserver.prompts import Prompt
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from pydantic import Field

from ..engine.sources import code_span, markdown_text
from ..errors import ConfigError, RunStoreUnavailable
from ..export import MEDIA_TYPES, ExportFormat, ReportDocument, render
from .monitor_web import register_routes
from .runs import UnknownRun
from .state import AppState, principal_of
from .store import RunRecord


async def _record(ctx: Context[AppState, Any], run_id: str) -> RunRecord:
    """The caller's run; another principal's reads as not found, as an unknown one does."""
    try:
        return await ctx.request_context.lifespan_context.runs.get(run_id,
                                                                   principal=principal_of(ctx.request_context))
    except UnknownRun as exc:
        raise ResourceNotFoundError(str(exc)) from None
    except RunStoreUnavailable as exc:
        raise ResourceError(str(exc)) from None


def notes_markdown(record: RunRecord) -> str:
    blocks = [f"# Research notes: {record.question[:200]}", "", f"Brief: {record.brief}" if record.brief else ""]
    for note in record.notes:
        blocks += [f"## {markdown_text(note.topic)}", "", note.note if note.ok else f"(failed: {note.error})", ""]
    if record.registry:
        blocks += ["## Sources read", ""]
        # Titles come from the documents: escaped so a hostile <title> cannot add links or images here either.
        blocks += [f"- [{s.id}] {markdown_text(s.title or s.locator)} — {code_span(s.locator)}"
                   for s in record.registry]
    return "\n".join(blocks).strip() + "\n"


def register(server: MCPServer[AppState], current_state: Callable[[], AppState]) -> None:
    """`current_state` returns the running lifespan's state: static resources get no request context."""

    @server.resource("research://runs", name="runs", title="Research runs", mime_type="application/json",
                     description="The newest runs this server keeps: id, kind, status, question, title, times")
    async def runs() -> str:
        try:
            listed = await current_state().runs.list(limit=100, principal=principal_of(None))
        except RunStoreUnavailable as exc:
            raise ResourceError(str(exc)) from None
        return json.dumps([r.model_dump() for r in listed], indent=1)

    @server.resource("research://runs/{run_id}/report", name="report", title="Research report",
                     mime_type="text/markdown", description="A run's full cited report (markdown)")
    async def report(run_id: str, ctx: Context[AppState, Any]) -> str:
        record = await _record(ctx, run_id)
        if not record.report:
            raise ResourceError(f"run {record.run_id} has no report yet ({record.status}: {record.message})")
        return record.report

    @server.resource("research://runs/{run_id}/sources", name="sources", title="Research sources",
                     mime_type="application/json",
                     description="A run's sources: the ones the report cites, and every document read")
    async def sources(run_id: str, ctx: Context[AppState, Any]) -> str:
        record = await _record(ctx, run_id)
        return json.dumps({"run_id": record.run_id,
                           "cited": [{"n": i, **s.model_dump()} for i, s in enumerate(record.sources, start=1)],
                           "read": [s.model_dump() for s in record.registry]}, indent=1)

    @server.resource("research://runs/{run_id}/claims", name="claims", title="Claim check",
                     mime_type="application/json",
                     description="Each cited sentence of a run's report: supported, weak, unsupported or unchecked "
                                 "against the text read from its sources, with the best-matching passage")
    async def claims(run_id: str, ctx: Context[AppState, Any]) -> str:
        record = await _record(ctx, run_id)
        return json.dumps({"run_id": record.run_id, "summary": record.claim_summary,
                           "claims": [c.model_dump() for c in record.claims]}, indent=1, ensure_ascii=False)

    @server.resource("research://metrics", name="metrics", title="Performance metrics",
                     mime_type="application/json",
                     description="Per service (model endpoint, upstream MCP server or tool) and per stage: calls, "
                                 "errors by kind (429, 5xx, timeout, other), in flight, queue wait, latency "
                                 "p50/p95/p99, tokens and cost, since this server started")
    async def metrics() -> str:
        return json.dumps(current_state().engine.monitor.snapshot(), indent=1)

    @server.resource("research://runs/{run_id}/timeline", name="timeline", title="Run timeline",
                     mime_type="application/json",
                     description="A run's model and tool calls (start, end, service, stage, researcher, outcome; a "
                                 "failed or stopped run's as far as it went), its totals, wall time, critical-path "
                                 "floor and their ratio")
    async def timeline(run_id: str, ctx: Context[AppState, Any]) -> str:
        record = await _record(ctx, run_id)
        if not record.timeline:
            raise ResourceError(f"run {record.run_id} has no timeline ({record.status}: timelines are kept for "
                                "runs that ended, with the monitor on)")
        return json.dumps(record.timeline, indent=1, ensure_ascii=False)

    @server.resource("research://runs/{run_id}/notes", name="notes", title="Research notes",
                     mime_type="text/markdown",
                     description="A run's brief and each researcher's cited notes ([S<n>] ids, see sources)")
    async def notes(run_id: str, ctx: Context[AppState, Any]) -> str:
        return notes_markdown(await _record(ctx, run_id))

    def deep_research(question: Annotated[str, Field(description="the question to research")]) -> str:
        return (
            f"Research this question in depth: {question}\n\n"
            "1. Call `clarify` with the question. If it needs clarification, ask me its question and stop.\n"
            "2. Otherwise call `research_start` with the question and the brief it returned, then call "
            "`research_status` about every 10 seconds, telling me the phase and findings so far, until it says "
            "finished.\n"
            "3. Call `research_result`, give me its answer with the [n] citations and the sources list, and "
            "offer the full report (its resource link)."
        )

    server.add_prompt(StrictPrompt.from_function(
        deep_research, name="deep_research", title="Deep research",
        description="Research a question in depth with this server's tools and answer with citations"))

    for fmt in EXPORTS:
        server.resource(f"research://runs/{{run_id}}/report.{fmt}", name=f"report-{fmt}",
                        title=f"Research report ({fmt.upper()})", mime_type=MEDIA_TYPES[fmt],
                        description=f"A run's full cited report as {fmt.upper()}, rendered when read")(exporter(fmt))

    del runs, report, sources, claims, notes, metrics, timeline
    register_routes(server, current_state)  # /metrics and the monitor page, served over HTTP only


EXPORTS: tuple[ExportFormat, ...] = ("html", "pdf", "docx", "json")
_TEXT_EXPORTS = frozenset({"html", "json"})  # served as text; the others as base64 blobs


def exporter(fmt: ExportFormat) -> Callable[[str, Context[AppState, Any]], Awaitable[str | bytes]]:
    async def export(run_id: str, ctx: Context[AppState, Any]) -> str | bytes:
        record = await _record(ctx, run_id)
        if not record.report:
            raise ResourceError(f"run {record.run_id} has no report yet ({record.status}: {record.message})")
        try:  # CPU work (a PDF takes ~0.5 s): off the event loop
            data = await asyncio.to_thread(render, ReportDocument.from_run(record), fmt)
        except ConfigError as exc:
            raise ResourceError(str(exc)) from None
        return data.decode() if fmt in _TEXT_EXPORTS else data

    return export


class StrictPrompt(Prompt):
    """A prompt whose missing or blank arguments are the client's mistake, said as such (invalid params) rather
    than the SDK's "Internal server error"."""

    async def render(self, arguments: dict[str, Any] | None, context: Any) -> Any:
        given = arguments or {}
        for argument in self.arguments or []:
            value = given.get(argument.name)
            if argument.required and (not isinstance(value, str) or not value.strip()):
                raise MCPError(INVALID_PARAMS, f"prompt {self.name} needs the argument {argument.name!r} "
                                                f"(a non-empty string): {argument.description or ''}".rstrip(": "))
        return await super().render(arguments, context)
