"""One researcher: its own context, a model ⇄ tools loop within a tool-call budget, then compression to cited notes."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from .. import prompts
from ..errors import BudgetExceeded, ContextLengthError, ProviderError
from ..llm.base import Message, ToolCall, ToolSpec
from ..tools.base import Document, ResearchTool
from .config import UnitOutcome
from .context import RunContext
from .fit import fit
from .reading import content_key, quote, quote_line
from .sources import Source, scrub_citations

log = logging.getLogger(__name__)

THINK_TOOL = ToolSpec(
    prompts.THINK,
    "Record a short reflection on what you found and what is still missing. Has no other effect.",
    {"type": "object", "properties": {"reflection": {"type": "string"}}, "required": ["reflection"]},
)
RESEARCH_COMPLETE_TOOL = ToolSpec(
    prompts.RESEARCH_COMPLETE,
    "Call when you have gathered enough to answer the topic.",
    {"type": "object", "properties": {}},
)
EXCERPT_NOTE_CHARS = 6_000
MAX_ERROR_CHARS = 1_000  # of a failed tool's message, as the researcher sees it
_MAX_WRAPPERS = 3


async def run_researcher(ctx: RunContext, topic: str, brief: str = "") -> UnitOutcome:
    """Research `topic`, one part of `brief` (shown as context, see prompts.RESEARCHER_BRIEF); a failure comes back
    as an outcome with ok=False, never as an exception.

    Cancellation is the one thing that propagates, so a cancelled run stops every researcher at once.
    """
    tracker = ctx.tracker
    tracker.bump("researcher_queued", f"queued: {topic[:80]}", {"topic": topic},
                 researchers_total=1, researchers_queued=1)
    lane = ctx.meter.recorder.open_lane(topic)  # this task's calls are drawn in the researcher's own lane
    async with ctx.unit_slots:
        ctx.meter.recorder.lane_started(lane)
        tracker.bump("researcher_started", f"researching: {topic[:80]}", {"topic": topic},
                     researchers_queued=-1, researchers_running=1)
        try:
            async with asyncio.timeout(ctx.config.researcher_timeout_s):
                outcome = await _research(ctx, topic, brief)
        except TimeoutError:
            outcome = UnitOutcome(topic, ok=False, error=f"timed out after {ctx.config.researcher_timeout_s:g} s")
        except (ProviderError, BudgetExceeded) as exc:
            outcome = UnitOutcome(topic, ok=False, error=str(exc))
        except Exception as exc:  # isolation: one broken researcher must not end its siblings or the run
            log.exception("researcher failed on %r", topic)
            outcome = UnitOutcome(topic, ok=False, error=f"{type(exc).__name__}: {exc}")
        if outcome.ok:
            tracker.bump("researcher_finished", f"finished: {topic[:80]}",
                         {"topic": topic, "ok": True, "note": outcome.note},
                         researchers_running=-1, researchers_done=1)
        else:
            tracker.bump("researcher_finished", f"failed: {topic[:80]} ({outcome.error})",
                         {"topic": topic, "ok": False, "error": outcome.error},
                         researchers_running=-1, researchers_failed=1)
        ctx.meter.recorder.lane_finished(lane, outcome.ok)
        return outcome


async def _research(ctx: RunContext, topic: str, brief: str) -> UnitOutcome:
    config = ctx.config
    specs = [ToolSpec(t.name, t.description, t.parameters) for t in ctx.tools.values()]
    specs += [THINK_TOOL, RESEARCH_COMPLETE_TOOL]
    system = prompts.RESEARCHER_SYSTEM.format(
        date=ctx.date, max_tool_calls=config.max_tool_calls, complete=prompts.RESEARCH_COMPLETE, think=prompts.THINK
    )
    if brief.strip():
        system += prompts.RESEARCHER_BRIEF.format(brief=quote(brief.strip()))
    messages = [Message.system(system), Message.user(prompts.RESEARCHER_USER.format(topic=topic))]
    calls_made = 0
    memory = ResearcherMemory()
    # Each turn either calls at least one tool or ends the loop, so the budget bounds the number of turns.
    for _ in range(config.max_tool_calls + 1):
        response = await ctx.models.research.chat(messages, stage="researcher", tools=specs)
        messages.append(Message("assistant", response.text, tuple(response.tool_calls)))
        calls = response.tool_calls
        if not calls or any(c.name == prompts.RESEARCH_COMPLETE for c in calls):
            break
        allowed = calls[: max(0, config.max_tool_calls - calls_made)]
        results: dict[str, str] = {}
        async with asyncio.TaskGroup() as group:
            for call in allowed:
                group.create_task(_call_into(ctx, call, topic, results, memory))
        calls_made += sum(1 for c in allowed if c.name != prompts.THINK)
        for call in calls:
            text = results.get(call.id, "Not run: the tool-call budget for this topic is spent.")
            messages.append(Message.tool_result(call, text))
        if calls_made >= config.max_tool_calls:
            break
    note = await _compress(ctx, topic, messages)
    return UnitOutcome(topic, ok=True, note=note, tool_calls=calls_made, source_ids=memory.source_ids)


@dataclass
class ResearcherMemory:
    """What one researcher's context already holds, so the same text is never shown to it twice."""

    shown: set[str] = field(default_factory=set)  # content keys
    source_ids: list[str] = field(default_factory=list)  # in order of first retrieval


async def _call_into(
    ctx: RunContext, call: ToolCall, topic: str, out: dict[str, str], memory: ResearcherMemory
) -> None:
    out[call.id] = await call_tool(ctx, call, topic, memory)


async def call_tool(ctx: RunContext, call: ToolCall, topic: str, memory: ResearcherMemory) -> str:
    """Run one tool call and return what the model sees. Tool failures become text; cancellation propagates."""
    if call.name == prompts.THINK:
        return "Reflection recorded."
    tool = ctx.tools.get(call.name)
    if tool is None:
        return f"Error: there is no tool named {call.name!r}. Available: {', '.join(ctx.tools) or 'none'}."
    ctx.tracker.bump("tool_call", f"{call.name} for {topic[:60]}", {"tool": call.name, "topic": topic}, tool_calls=1)
    try:
        async with ctx.meter.recorder.tool(call.name, tool_origin(tool)[0]), asyncio.timeout(ctx.config.tool_timeout_s):
            result = await tool.call(call.arguments)
    except TimeoutError:
        _count_failure(ctx, call.name, tool, f"no answer within {ctx.config.tool_timeout_s:g} s")
        return prompts.TOOL_TIMED_OUT.format(tool=call.name, seconds=ctx.config.tool_timeout_s)
    except Exception as exc:  # the model sees the failure and can try something else
        log.info("tool %s failed: %s", call.name, exc)
        reason = quote_line(str(exc) or type(exc).__name__, limit=MAX_ERROR_CHARS)
        _count_failure(ctx, call.name, tool, reason)
        return prompts.TOOL_FAILED.format(tool=call.name, error=reason)
    # A tool's free text (notes, a search result's preamble) can come from the source too: quoted like a body.
    parts = [quote(result.text.strip())] if result.text.strip() else []
    before = len(ctx.registry)
    focus = f"{topic} ({_args(call.arguments)})"
    # Keyed by source and content: another passage of a file already cited is new text under the same source.
    pending: dict[str, tuple[Source, Document]] = {}
    for document in result.documents:
        source = ctx.registry.register(document)
        pending.setdefault(content_key(source, document), (source, document))
    digests: dict[str, str] = {}
    async with asyncio.TaskGroup() as group:  # long documents of one result are summarized in parallel
        for key, (source, document) in pending.items():
            if key not in memory.shown:
                group.create_task(_read_into(ctx, key, source, document, focus, digests))
    for key, (source, document) in pending.items():
        # Kept after reading: a page over the claim check's room keeps the passages the researcher was shown.
        await ctx.texts.add_async(source.id, document.content, focus=f"{focus}\n{digests.get(key, '')}")
        if source.id not in memory.source_ids:
            memory.source_ids.append(source.id)
        if key in memory.shown:
            parts.append(prompts.SHOWN_AGAIN.format(id=source.id))
            continue
        memory.shown.add(key)
        parts.append(prompts.SHOWN_DOCUMENT.format(
            id=source.id, title=quote_line(source.title or source.locator), location=quote_line(source.locator, 2_000),
            content=quote(digests[key]),
        ))
    if len(ctx.registry) != before:
        ctx.tracker.update("sources", f"{len(ctx.registry)} sources", sources=len(ctx.registry))
    return "\n\n".join(parts) or "No results."


def _count_failure(ctx: RunContext, name: str, tool: ResearchTool, reason: str) -> None:
    origin, upstream = tool_origin(tool)
    ctx.tracker.tool_failed(name, origin, reason, upstream=upstream)


def tool_origin(tool: ResearchTool) -> tuple[str, bool]:
    """(upstream MCP server, True) for an upstream tool, seen through wrappers such as the cache; else (name, False).
    Failures are counted per origin: one broken upstream server fails all of its tools."""
    inner: object = tool
    for _ in range(_MAX_WRAPPERS):
        server = getattr(inner, "server", None)
        if isinstance(server, str):
            return server, True
        inner = getattr(inner, "tool", None)
        if inner is None:
            break
    return tool.name, False


async def _read_into(
    ctx: RunContext, key: str, source: Source, document: Document, focus: str, out: dict[str, str]
) -> None:
    digest = await ctx.reader.digest(key, document, focus)
    out[key] = digest[: ctx.config.reading.max_document_chars]


def _transcript(messages: list[Message]) -> str:
    lines: list[str] = []
    for message in messages[2:]:  # the system prompt and topic are not findings
        if message.role == "assistant":
            for call in message.tool_calls:
                if call.name not in (prompts.THINK, prompts.RESEARCH_COMPLETE):
                    lines.append(f"Tool call {call.name}({quote(_args(call.arguments))})")
            if message.content.strip():
                # The researcher may echo what it read; outside a fence, an echoed tag must not pose as ours.
                lines.append(f"Researcher: {quote(message.content.strip())}")
        elif message.role == "tool" and message.name != prompts.THINK:
            lines.append(f"Result of {message.name}:\n{message.content}")
    return "\n\n".join(lines)


def _args(arguments: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in arguments.items())[:300]


async def _compress(ctx: RunContext, topic: str, messages: list[Message]) -> str:
    """Compress the transcript into cited notes; cut the transcript when it is over the model's window."""
    model = ctx.models.compression
    transcript = _transcript(messages)
    system = Message.system(prompts.COMPRESS_SYSTEM.format(date=ctx.date))
    for _ in range(ctx.config.report_truncation_retries + 1):
        user = Message.user(prompts.COMPRESS_USER.format(topic=topic, transcript=transcript))
        try:
            response = await model.chat([system, user], stage="compress")
        except ContextLengthError as exc:
            limit = exc.limit or model.context_window
            # What matters for the topic stays (headings, ends, cited passages), not the transcript's head.
            transcript = fit(transcript, min(len(transcript) * 9 // 10, max(2_000, (limit - 1_000) * 3)), topic=topic)
            continue
        except (ProviderError, BudgetExceeded) as exc:
            ctx.warn(f"compression failed for {topic[:60]!r} ({exc}); keeping document excerpts instead")
            return _excerpt_note(ctx, transcript)
        scrubbed = scrub_citations(response.text, ctx.registry)
        if scrubbed.dropped:
            ctx.notes_dropped += scrubbed.dropped
            ctx.tracker.update("warning", f"dropped {scrubbed.dropped} unverifiable citations from notes")
        return scrubbed.text
    ctx.warn(f"findings for {topic[:60]!r} never fit the compression model; keeping document excerpts instead")
    return _excerpt_note(ctx, transcript)


def _excerpt_note(ctx: RunContext, transcript: str) -> str:
    """Uncompressed fallback: the start of the transcript, whose documents still carry their [S<n>] ids."""
    excerpt = transcript[:EXCERPT_NOTE_CHARS]
    return scrub_citations(excerpt, ctx.registry).text or "No sources were read for this topic."
