"""What clients see of a run: compact, typed results sized far below hosts' tool-output caps (~25k tokens).

The full report never travels in a tool result; a resource link points at it (`research://runs/{id}/report`).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from mcp_types import CallToolResult, ResourceLink, TextContent
from pydantic import BaseModel, Field

from ..export import MEDIA_TYPES
from .store import RunRecord

ANSWER_CHARS = 3_000  # a few paragraphs: enough to answer, small enough for any host
NOTE_PREVIEW_CHARS = 600
MAX_LISTED_SOURCES = 20
MAX_LISTED_WARNINGS = 5
QUEUED = ("queued: as many runs as DEEP_RESEARCH_MAX_CONCURRENT_RUNS allows (default 2) are running; this one starts "
          "when one of them ends")


class SourceRef(BaseModel):
    n: int = Field(description="Cited as [n]")
    title: str
    locator: str = Field(description="URL or file path")


class Usage(BaseModel):
    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    cache_hits: int = 0


class NotePreview(BaseModel):
    topic: str
    ok: bool
    preview: str = Field(description="The start of the cited notes, or why it failed")


class ResearchSummary(BaseModel):
    """A run, compact: finished (the answer, sources, a link to the full report) or still running (the phase, the
    findings so far and what to call next)."""

    run_id: str
    status: str = Field(description="running, completed, needs_clarification, failed, cancelled or interrupted")
    finished: bool = True
    next_step: str = Field("", description="What to call next, while the run is still running")
    phase: str = ""
    message: str = ""
    title: str = ""
    answer: str = Field("", description="The executive answer, with [n] citations")
    clarification: str = Field("", description="The question to ask the user when status is needs_clarification")
    error: str = ""
    sources_count: int = 0
    citations_dropped: int = 0
    sources: list[SourceRef] = Field(default_factory=list)
    claim_check: str = Field("", description="How many cited sentences their sources support; per-sentence verdicts "
                                             "are at research://runs/{run_id}/claims")
    unsupported_claims: int = 0
    findings_so_far: list[NotePreview] = Field(default_factory=list)
    failed_topics: list[str] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    elapsed_s: float = 0.0
    report_uri: str = ""
    warnings: list[str] = Field(default_factory=list)


class RunStatusView(BaseModel):
    """Where a run is. Poll with research_status; fetch the outcome with research_result once `finished`."""

    run_id: str
    status: Literal["running", "completed", "needs_clarification", "failed", "cancelled", "interrupted"]
    finished: bool
    phase: str
    message: str = Field(description="One line: phase, researchers done/running, sources found")
    researchers_done: int = 0
    researchers_running: int = 0
    researchers_queued: int = 0
    researchers_failed: int = 0
    sources_found: int = 0
    failed_tool_calls: dict[str, int] = Field(default_factory=dict, description="Failed tool calls per upstream/tool")
    elapsed_s: float = 0.0
    findings_so_far: list[NotePreview] = Field(default_factory=list)
    created_at: str = ""
    updated_at: str = ""
    # With a task queue (docs/workers.md): deliveries to a worker so far (2 or more after a failover), the worker
    # running it, and while it waits, its place in the queue (1 = next) and how many runs wait.
    attempts: int = 0
    worker: str = ""
    queue_position: int | None = None
    queue_depth: int | None = None


class StartedRun(BaseModel):
    run_id: str
    status: str
    message: str = Field(description="What to do next")


class CancelView(BaseModel):
    run_id: str
    status: str
    message: str


class ClarifyView(BaseModel):
    """Whether to ask the user something first; if not, the research brief to pass to research or research_start."""

    need_clarification: bool
    question: str = Field("", description="The clarifying question to ask the user")
    brief: str = Field("", description="The research brief, when no clarification is needed")


def next_step(run_id: str) -> str:
    return (f"call research_result with run_id {run_id!r} to wait for it again (each call waits up to its bound), "
            "research_status for progress without waiting, or research_cancel to stop it")


def report_uri(run_id: str, fmt: str = "md") -> str:
    """The markdown report's URI, or its export's (`report.pdf`, ...), served by resources.py."""
    return f"research://runs/{run_id}/report" + ("" if fmt == "md" else f".{fmt}")


def executive_answer(report: str, limit: int = ANSWER_CHARS) -> str:
    """The report's opening paragraphs, up to the first later section or `limit` characters, whole paragraphs."""
    body = re.sub(r"\A\s*#\s+[^\n]*\n", "", report).strip()
    body = body.split("\n## Sources", 1)[0]
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
    taken: list[str] = []
    size = 0
    for paragraph in paragraphs:
        if paragraph.startswith("## ") and size >= 400:
            break
        if size + len(paragraph) > limit:
            if not taken:
                taken.append(paragraph[: limit - 1].rstrip() + "…")
            break
        taken.append(paragraph)
        size += len(paragraph) + 2
    return "\n\n".join(taken)


def summary_of(record: RunRecord) -> ResearchSummary:
    usage = record.usage or {}
    return ResearchSummary(
        run_id=record.run_id,
        status=record.status,
        finished=record.finished,
        next_step="" if record.finished else next_step(record.run_id),
        phase=record.phase,
        message=message_of(record),
        title=record.title,
        answer=executive_answer(record.report) if record.report else "",
        clarification=record.clarification,
        error=record.error,
        sources_count=int(record.citations.get("cited", len(record.sources))),
        citations_dropped=int(record.citations.get("dropped", 0)),
        sources=[SourceRef(n=i, title=s.title or s.locator, locator=s.locator)
                 for i, s in enumerate(record.sources[:MAX_LISTED_SOURCES], start=1)],
        claim_check=str(record.claim_summary.get("line", "")),
        unsupported_claims=int(record.claim_summary.get("unsupported", 0)),
        findings_so_far=[] if record.finished else findings_of(record),
        failed_topics=[n.topic for n in record.notes if not n.ok],
        usage=Usage(model_calls=int(usage.get("calls", 0)), input_tokens=int(usage.get("input_tokens", 0)),
                    output_tokens=int(usage.get("output_tokens", 0)), cost_usd=usage.get("cost_usd"),
                    cache_hits=int(usage.get("cache_hits", 0))),
        elapsed_s=round(record.elapsed_s, 2),
        report_uri=report_uri(record.run_id) if record.report else "",
        warnings=record.warnings[:MAX_LISTED_WARNINGS],
    )


def status_of(record: RunRecord) -> RunStatusView:
    progress: dict[str, Any] = record.progress or {}
    return RunStatusView(
        run_id=record.run_id,
        status=record.status,
        finished=record.finished,
        phase=record.phase,
        message=message_of(record),
        researchers_done=int(progress.get("researchers_done", 0)),
        researchers_running=int(progress.get("researchers_running", 0)),
        researchers_queued=int(progress.get("researchers_queued", 0)),
        researchers_failed=int(progress.get("researchers_failed", 0)),
        sources_found=int(progress.get("sources", 0)),
        failed_tool_calls={str(k): int(v) for k, v in dict(progress.get("failed_tool_calls_by") or {}).items()},
        elapsed_s=round(float(progress.get("elapsed_s", record.elapsed_s)), 2),
        findings_so_far=findings_of(record),
        created_at=record.created_at,
        updated_at=record.updated_at,
        attempts=record.attempts,
        worker=record.owner if record.attempts else "",
        queue_position=record.queue_position,
        queue_depth=record.queue_depth,
    )


def message_of(record: RunRecord) -> str:
    """The run's own line, except that a run waiting for a slot says why it has not started."""
    if record.status == "running" and record.message == "queued":
        return QUEUED
    return record.message or record.phase


def findings_of(record: RunRecord) -> list[NotePreview]:
    return [NotePreview(topic=n.topic, ok=n.ok, preview=_preview(n.note if n.ok else n.error)) for n in record.notes]


def _preview(text: str) -> str:
    text = text.strip()
    return text if len(text) <= NOTE_PREVIEW_CHARS else text[: NOTE_PREVIEW_CHARS - 1].rstrip() + "…"


def tool_result(record: RunRecord, fmt: str = "md") -> CallToolResult:
    """The `research`/`research_result`/`write` result: a short text for the model, the typed summary, and a link
    to the full report in `fmt` (md, or an export rendered when the link is read). A run still going is not an
    error: the text says what to call next."""
    summary = summary_of(record)
    if summary.report_uri:
        summary.report_uri = report_uri(record.run_id, fmt)
    if record.status == "completed":
        lines = [f"# {summary.title}\n" if summary.title else "", summary.answer, "",
                 f"{summary.sources_count} sources cited · run {record.run_id} · full report: {summary.report_uri}"]
        if summary.claim_check:
            lines.append(f"Claim check: {summary.claim_check} Verdicts: research://runs/{record.run_id}/claims")
    elif not record.finished:
        done = sum(1 for note in record.notes if note.ok)
        lines = [f"Research run {record.run_id} is still running ({message_of(record)}); {done} researchers have "
                 f"finished so far. Next: {summary.next_step}."]
        lines += [f"- {note.topic}: {note.preview}" for note in summary.findings_so_far]
    elif record.status == "needs_clarification":
        lines = [f"The question needs clarifying before research: {record.clarification}",
                 "Ask the user, then call research again with the clarified question."]
    else:
        lines = [f"Run {record.run_id} ended {record.status}: {record.error or record.message}"]
    content: list[Any] = [TextContent(type="text", text="\n".join(lines).strip())]
    if summary.report_uri:
        content.append(ResourceLink(type="resource_link", uri=summary.report_uri,
                                    name=f"report-{record.run_id}" + ("" if fmt == "md" else f".{fmt}"),
                                    title=summary.title or "Research report", mime_type=MEDIA_TYPES[fmt],
                                    size=len(record.report.encode()) if fmt == "md" else None))
    return CallToolResult(content=content, structured_content=summary.model_dump(mode="json"),
                          is_error=record.status in ("failed", "cancelled", "interrupted"))
