"""Write phase: one report from the notes, fitted to the writer model's window, with citations made true."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from .. import prompts
from ..errors import BudgetExceeded, ContextLengthError, ProviderError
from ..llm.base import Message
from ..llm.client import ModelCaller
from ..llm.offline.report import WRITER_NOTE
from .config import UnitOutcome
from .context import RunContext
from .fit import fit
from .reading import quote_line
from .sources import CitationStats, Source, finalize_report
from .support.apply import with_source_ids
from .support.check import ClaimCheck, SourceText, closest_passages

CHARS_PER_TOKEN = 4  # rough, and deliberately pessimistic below via SAFETY
SAFETY = 0.85


def findings_text(units: list[UnitOutcome]) -> str:
    blocks = [f"## {u.topic}\n\n{u.note}" for u in units if u.ok and u.note.strip()]
    return "\n\n".join(blocks) or "No findings were gathered."


async def write_report(
    ctx: RunContext, brief: str, units: list[UnitOutcome], *, instructions: str = ""
) -> tuple[str, str, list[Source], CitationStats]:
    """Return (markdown, title, cited sources, citation stats). Degrades to the notes themselves when the writer
    model fails for good or the budget is spent, and says so in the report."""
    ctx.tracker.update("phase", "writing the report", {"phase": "write"}, phase="write")
    findings = findings_text(units)
    try:
        draft = await _draft(ctx, ctx.models.final_report, brief, findings, instructions)
        # The offline writer says what it could not do with the instructions in the report; the caller gets it as a
        # warning too, since a rewrite that ignored part of its instructions should not look like full success.
        for note in re.findall(rf"^{re.escape(WRITER_NOTE)}(.+)$", draft, flags=re.MULTILINE):
            ctx.warn(note.strip())
    except (ProviderError, BudgetExceeded) as exc:
        ctx.warn(f"the report model failed ({exc}); the report below is assembled from the researchers' notes")
        draft = f"# Research findings\n\n> The report model failed ({exc}); below are the researchers' notes.\n\n"
        draft += findings
    failed = [u for u in units if not u.ok]
    gaps = ""
    if failed:
        listed = "\n".join(f"- {u.topic}: {u.error}" for u in failed)
        gaps = f"\n\n## Research gaps\n\nThese topics could not be researched:\n{listed}\n"
    draft += gaps
    report, sources, stats = finalize_report(draft, ctx.registry)
    if not sources and _CITED.search(findings) and not ctx.models.final_report.name.startswith("offline:"):
        # A model report that cites nothing the notes cite cannot be checked or trusted: the offline writer, which
        # cites every sentence from the notes, takes the step.
        ctx.warn(f"the report by {ctx.models.final_report.name} cited none of the sources; the offline engine "
                 "wrote the report from the notes instead")
        draft = await _offline_draft(ctx, brief, findings, instructions) + gaps
        report, sources, stats = finalize_report(draft, ctx.registry)
    stats.dropped += ctx.notes_dropped
    return report, report_title(report), sources, stats


_CITED = re.compile(r"\[S\d+")


async def _offline_draft(ctx: RunContext, brief: str, findings: str, instructions: str) -> str:
    from ..llm.offline import OfflineModel

    system = Message.system(prompts.REPORT_SYSTEM.format(date=ctx.date))
    extra = _instructions_block(ctx, instructions)
    user = Message.user(prompts.REPORT_USER.format(brief=brief, findings=findings, instructions=extra))
    return (await OfflineModel().complete([system, user])).text


def _instructions_block(ctx: RunContext, instructions: str) -> str:
    """The run's report length (when not "standard") and a rewrite's instructions, as the report prompt's
    additional instructions. A rewrite runs at the standard length: its instructions say how long it should be."""
    text = prompts.REPORT_LENGTH.get(ctx.config.report_length, "") + instructions.strip()
    return f"\nAdditional instructions for this report:\n{text.strip()}\n" if text.strip() else ""


async def _draft(ctx: RunContext, model: ModelCaller, brief: str, findings: str, instructions: str) -> str:
    system = Message.system(prompts.REPORT_SYSTEM.format(date=ctx.date))
    extra = _instructions_block(ctx, instructions)
    language = ctx.config.report_language
    extra = (prompts.REPORT_LANGUAGE.format(language=language) if language else "") + extra
    text = findings
    cap: int | None = None
    for attempt in range(ctx.config.report_truncation_retries + 1):
        user = Message.user(prompts.REPORT_USER.format(brief=brief, findings=text, instructions=extra))
        try:
            response = await model.chat([system, user], stage="report", max_tokens=ctx.config.max_report_tokens)
            return response.text
        except ContextLengthError as exc:
            if attempt == ctx.config.report_truncation_retries:
                raise
            limit = exc.limit or model.context_window
            cap = _next_cap(cap, limit, system.content + brief + extra, ctx)
            text = _truncate(findings, cap, brief)
            cap = min(cap, len(text))  # whole paragraphs may fall short of the cap: the next try is 10% below this
            ctx.warn(
                f"findings cut from {len(findings)} to {len(text)} characters to fit {model.name} ({limit} tokens)"
            )
    raise AssertionError("unreachable")


def _next_cap(previous: int | None, limit_tokens: int, overhead: str, ctx: RunContext) -> int:
    """First cut: what fits the model's window beside the prompt and the answer; then 10% less each time."""
    if previous is not None:
        return int(previous * 0.9)
    reserve = min(ctx.config.max_report_tokens, limit_tokens // 4)
    budget_tokens = limit_tokens - len(overhead) // CHARS_PER_TOKEN - reserve
    return max(500, int(budget_tokens * CHARS_PER_TOKEN * SAFETY))


def _truncate(findings: str, cap: int, brief: str) -> str:
    """The findings within `cap`, keeping what matters for the brief (see engine.fit), not only their head."""
    if len(findings) <= cap:
        return findings
    return fit(findings, max(0, cap - len(prompts.FINDINGS_TRUNCATED)), topic=brief) + prompts.FINDINGS_TRUNCATED


def report_title(report: str) -> str:
    match = re.search(r"^#\s+(.+)$", report, re.MULTILINE)
    return match.group(1).strip() if match else "Research report"


async def revise_unsupported(
    ctx: RunContext, report: str, sources: list[Source], checks: Sequence[ClaimCheck]
) -> tuple[str, str, list[Source], CitationStats] | None:
    """One bounded revision turn: when the claim check found sentences the cited sources do not support, the report
    model sees them with the closest passages and corrects or deletes them; the caller checks the result again.
    None when there is nothing to revise or the turn failed (the report stays as it was)."""
    unsupported = [c for c in checks if c.verdict == "unsupported"]
    if not sources or not unsupported:
        return None
    ids = [s.id for s in sources]
    ctx.tracker.update("phase", f"revising {len(unsupported)} unsupported sentences", {"phase": "write"},
                       phase="write")
    problems = "\n".join(prompts.REVISE_ITEM.format(sentence=quote_line(c.text, 1_000), source=c.evidence_source or
                                                     ", ".join(c.source_ids), evidence=quote_line(c.evidence, 1_000))
                         for c in unsupported)
    messages = [Message.system(prompts.REPORT_SYSTEM.format(date=ctx.date)),
                Message.user(prompts.REVISE_USER.format(problems=problems, report=with_source_ids(report, ids)))]
    try:
        response = await ctx.models.final_report.chat(messages, stage="report", max_tokens=ctx.config.max_report_tokens)
    except (ProviderError, BudgetExceeded, ContextLengthError) as exc:
        ctx.warn(f"the report could not be revised ({exc}); unsupported sentences stay marked")
        return None
    revised, revised_sources, revised_stats = finalize_report(response.text, ctx.registry)
    revised_stats.dropped += ctx.notes_dropped
    return revised, report_title(revised), revised_sources, revised_stats


class JudgedClaim(BaseModel):
    number: int = Field(description="The sentence's number as listed")
    verdict: Literal["supported", "weak", "unsupported"]
    reason: str = Field(description="One short reason; what differs when it is not supported")


class ClaimJudgements(BaseModel):
    """A verdict per listed sentence, from its cited passages alone."""

    judgements: list[JudgedClaim]


JUDGE_BATCH = 25  # sentences per judge call: a bounded prompt however many the lexical check doubted
JUDGE_PASSAGES = 2  # closest passages shown per cited source


async def judge_claims(ctx: RunContext, checks: list[ClaimCheck]) -> list[ClaimCheck]:
    """The report model's verdict on each sentence the lexical check left weak or unsupported, seeing the passages of
    its cited sources closest to it; the verdict and its reason replace the lexical ones. Only with a real model
    (`DEEP_RESEARCH_CLAIM_JUDGE=model`); a failed call, or one the offline engine took over, keeps the lexical
    verdicts. Calls are cached like every model call."""
    model = ctx.models.final_report
    doubted = sum(1 for c in checks if c.verdict in ("weak", "unsupported"))
    if model.name.startswith("offline:") or not doubted:
        return checks
    ctx.tracker.update("phase", f"judging {doubted} doubted sentences with {model.name}", {"phase": "write"},
                       phase="write")
    fallbacks = len(ctx.meter.fallbacks)
    try:
        judged = await judge_with(model, checks, ctx.texts.prepared)
    except (ProviderError, BudgetExceeded) as exc:
        ctx.warn(f"the claim judge failed ({exc}); the lexical verdicts stand")
        return checks
    if len(ctx.meter.fallbacks) != fallbacks:  # the offline engine answered some of it: it cannot judge
        return checks
    return judged


async def judge_with(model: ModelCaller, checks: list[ClaimCheck], prepared: Mapping[str, SourceText]
                     ) -> list[ClaimCheck]:
    """`judge_claims` for any model and prepared pages (the benchmark calls it directly); errors propagate."""
    doubted = [i for i, c in enumerate(checks) if c.verdict in ("weak", "unsupported")]
    out = list(checks)
    for start in range(0, len(doubted), JUDGE_BATCH):
        batch = doubted[start : start + JUDGE_BATCH]
        items = []
        for number, index in enumerate(batch, start=1):
            check = checks[index]
            passages = [prompts.JUDGE_PASSAGE.format(source=sid, passage=quote_line(p, 1_000))
                        for sid in check.source_ids if sid in prepared
                        for p in await asyncio.to_thread(closest_passages, check.text, prepared[sid], JUDGE_PASSAGES)]
            items.append(prompts.JUDGE_ITEM.format(number=number, sentence=quote_line(check.text, 1_000),
                                                   passages="\n".join(passages) or "   (none kept)"))
        messages = [Message.system(prompts.JUDGE_SYSTEM), Message.user(prompts.JUDGE_USER.format(
            items="\n\n".join(items)))]
        answer = await model.structured(messages, ClaimJudgements, stage="judge", name=prompts.JUDGE_SCHEMA)
        for judged in answer.judgements:
            if 1 <= judged.number <= len(batch):
                index = batch[judged.number - 1]
                reason = f"judged by {model.name}: {' '.join(judged.reason.split())[:300]}"
                out[index] = dataclasses.replace(out[index], verdict=judged.verdict, reason=reason)
    return out
