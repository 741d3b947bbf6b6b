"""The engine's entry point: question in, cited report out, through scope → research → write."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Protocol

from ..errors import InputError
from ..llm.factory import StageModels
from ..llm.usage import CallRecord, UsageMeter
from ..monitor import Monitor
from ..tools.base import Document, ResearchTool
from .config import ClarifyWithUser, EngineConfig, PriorRun, ResearchResult, UnitOutcome
from .context import RunContext
from .events import EventSink, ProgressTracker
from .reading import Reader
from .scope import clarify, write_brief
from .sources import CitationStats, Source, markdown_text
from .supervisor import supervise
from .support.apply import apply_verdicts, check_report_async
from .support.check import ClaimCheck
from .support.texts import ReadTexts, stored_texts
from .writer import judge_claims, revise_unsupported, write_report


class OpeningTools(Protocol):
    """Tools still being opened when the engine is built (the server opens them after its handshake)."""

    @property
    def starting(self) -> list[str]: ...

    async def wait(self) -> list[ResearchTool]: ...

    def problems(self) -> list[str]: ...


class ResearchEngine:
    """Stateless between runs: models, tools and limits are given once; each `run` has its own context.

    With `opening`, a run first waits for those tools to finish opening and adds them to `tools`; each one that
    could not be opened is a warning on the run."""

    def __init__(
        self,
        models: StageModels,
        tools: Sequence[ResearchTool],
        config: EngineConfig,
        *,
        opening: OpeningTools | None = None,
        monitor: Monitor | None = None,
    ) -> None:
        names = [t.name for t in tools]
        if len(set(names)) != len(names):
            raise ValueError(f"tool names must be unique, got {names}")
        self.models = models
        self.tools = {t.name: t for t in tools}
        self.config = config
        self.opening = opening
        self.monitor = monitor if monitor is not None else Monitor()  # every run's timeline and the metrics

    def validate_question(self, question: str) -> str:
        text = (question or "").strip()
        if not text:
            raise InputError("question: must not be empty")
        if len(text) > self.config.max_question_chars:
            raise InputError(
                f"question: {len(text)} characters is over the limit of {self.config.max_question_chars} "
                "(DEEP_RESEARCH_MAX_QUESTION_CHARS)"
            )
        return text

    def _context(self, run_id: str, on_event: EventSink | None) -> RunContext:
        tracker = ProgressTracker(on_event)
        meter = UsageMeter(
            prices=self.config.prices, max_tokens=self.config.max_run_tokens, max_cost_usd=self.config.max_run_cost_usd,
            recorder=self.monitor.recorder(run_id),
        )

        def on_record(record: CallRecord) -> None:
            tracker.bump("tokens", f"{record.stage} call to {record.model}", {"stage": record.stage,
                         "model": record.model}, model_calls=1, tokens=record.input_tokens + record.output_tokens)

        meter.on_record = on_record
        models = self.models.with_meter(meter)
        reader = Reader(models.summarization, self.config.reading)
        texts = ReadTexts(self.config.claim_text_chars_per_source, self.config.claim_text_chars_per_run)
        return RunContext(run_id, models, self.tools, self.config, meter, tracker, reader, texts=texts)

    async def clarify(self, question: str, *, on_event: EventSink | None = None) -> ClarifyWithUser:
        text = self.validate_question(question)
        ctx = self._context(new_run_id(), on_event)
        return await clarify(ctx.models.research, text, date=ctx.date)

    async def scope(self, question: str, *, on_event: EventSink | None = None) -> tuple[ClarifyWithUser, str]:
        """The scope phase alone: whether to ask the user first, and (when not) the research brief."""
        text = self.validate_question(question)
        ctx = self._context(new_run_id(), on_event)
        decision = await clarify(ctx.models.research, text, date=ctx.date)
        if decision.need_clarification:
            return decision, ""
        return decision, await write_brief(ctx.models.research, text, date=ctx.date)

    async def run(
        self,
        question: str,
        *,
        on_event: EventSink | None = None,
        run_id: str | None = None,
        clarify_first: bool | None = None,
        brief: str | None = None,
        prior: PriorRun | None = None,
    ) -> ResearchResult:
        """Research `question`. With clarification on (the config's default unless `clarify_first` says), a
        question that needs clarifying ends the run early with status "needs_clarification". A given `brief`
        skips the scope phase. Cancelling the awaiting task cancels every researcher and tool call.

        With `prior` (a follow-up) the run starts from that finished run: its sources keep their ids, the supervisor
        is shown its brief and notes and asked for what is new, and the report is written from old and new notes.
        A follow-up is not stopped to clarify: the earlier run set the scope it builds on."""
        text = self.validate_question(question)
        started = time.perf_counter()
        ctx = self._context(run_id or new_run_id(), on_event)
        result = ResearchResult(run_id=ctx.run_id, question=text, status="completed")
        if prior is not None:
            restore_registry(ctx, prior.registry)
            for source_id, earlier_text in prior.texts.items():
                ctx.texts.add(source_id, earlier_text)
            result.follow_up_of = prior.run_id
        if brief is None:
            ctx.tracker.update("phase", "scoping the question", {"phase": "scope"}, phase="scope")
            wants_clarify = self.config.allow_clarification if clarify_first is None else clarify_first
            wants_clarify = wants_clarify and prior is None
            if wants_clarify:
                decision = await clarify(ctx.models.research, text, date=ctx.date)
                if decision.need_clarification:
                    result.status = "needs_clarification"
                    result.clarification = decision.question.strip()
                    return self._finish(ctx, result, started)
            brief = await write_brief(ctx.models.research, text, date=ctx.date)
        result.brief = brief
        if self.opening is not None:
            await self._add_opened_tools(ctx)
        ctx.tracker.update("phase", "researching", {"phase": "research"}, phase="research")
        known = list(prior.units) if prior is not None else []
        result.units = [*known, *await supervise(ctx, brief, known=known, earlier_brief=prior.brief if prior else "")]
        report, title, sources, stats = await write_report(ctx, brief, result.units)
        report, title, sources, stats = await self._check_claims(ctx, result, report, title, sources, stats)
        result.texts = await asyncio.to_thread(ctx.texts.for_storage, [u.note for u in result.units],
                                               self.config.claim_text_chars_stored)
        if ctx.meter.fallbacks:
            stages = sorted({stage for stage, _, _ in ctx.meter.fallbacks})
            failed = sorted({model for _, model, _ in ctx.meter.fallbacks})
            note = (f"{len(ctx.meter.fallbacks)} step(s) ({', '.join(stages)}) were done by the offline engine "
                    f"after {', '.join(failed)} failed for good.")
            ctx.warn(note)
            report = insert_note(report, note)
        for failure in ctx.tracker.failure_warnings():  # a run that lost its tools must not read as a clean one
            report = insert_note(report, markdown_text(failure))
        result.report, result.title, result.sources, result.citations = report, title, sources, stats
        return self._finish(ctx, result, started)

    async def _add_opened_tools(self, ctx: RunContext) -> None:
        assert self.opening is not None
        if starting := self.opening.starting:
            ctx.tracker.update("phase", f"waiting for research tools to open: {', '.join(starting)}",
                               {"phase": "research"}, phase="research")
        opened = await self.opening.wait()  # each part bounds its own opening time (see tools.toolbox)
        ctx.tools = {**ctx.tools, **{t.name: t for t in opened}}
        for problem in self.opening.problems():
            ctx.warn(problem)

    async def rewrite(
        self,
        question: str,
        *,
        brief: str,
        units: Sequence[UnitOutcome],
        registry: Sequence[Source],
        instructions: str = "",
        texts: Mapping[str, str] | None = None,
        on_event: EventSink | None = None,
        run_id: str | None = None,
    ) -> ResearchResult:
        """Write the report again from a finished run's notes and sources, in another form, without researching.

        `registry` must be the run's full registry in id order (S1, S2, ...): the notes cite those ids. `texts` are
        the source texts the run stored (`ResearchResult.texts`): the new report's sentences are checked against
        them like the first report's."""
        started = time.perf_counter()
        ctx = self._context(run_id or new_run_id(), on_event)
        if texts:
            ctx.texts = stored_texts(texts)
        restore_registry(ctx, registry)
        result = ResearchResult(run_id=ctx.run_id, question=question, status="completed", brief=brief,
                                units=list(units))
        report, title, sources, stats = await write_report(ctx, brief, result.units, instructions=instructions)
        report, title, sources, stats = await self._check_claims(ctx, result, report, title, sources, stats)
        result.report, result.title, result.sources, result.citations = report, title, sources, stats
        return self._finish(ctx, result, started)

    async def _check_claims(
        self, ctx: RunContext, result: ResearchResult, report: str, title: str, sources: list[Source],
        stats: CitationStats,
    ) -> tuple[str, str, list[Source], CitationStats]:
        """Check every cited sentence against the text the run read from its sources (once; with revision on, the
        revised report once more, its pages already prepared); mark, remove or keep the unsupported ones as
        configured, and put the summary under the title. Removed sentences can leave a source uncited: the report
        is renumbered, and the cited sources and counts follow."""
        if not sources:
            return report, title, sources, stats
        ctx.tracker.update("phase", "checking cited sentences against their sources", {"phase": "write"},
                           phase="write")
        handling = self.config.unsupported_claims
        if self.config.report_language and handling != "keep":
            # The check matches a sentence's words against its source's; a report asked in another language than
            # its sources would come out all "unsupported". The verdicts stay in the result, the text is left alone.
            handling = "keep"
            ctx.warn(f"the report was asked in {self.config.report_language}: the claim check compares words with the "
                     "sources, so its verdicts are listed but no sentence was marked or removed")
        checks = await self._verdicts(ctx, report, sources)
        # The revision turn compares words with the sources' too: pointless for a report in another language.
        if self.config.revise_unsupported_claims and not self.config.report_language:
            revised = await revise_unsupported(ctx, report, sources, checks)
            if revised is not None:
                report, title, sources, stats = revised
                if not sources:
                    return report, title, sources, stats
                checks = await self._verdicts(ctx, report, sources)
        checked = apply_verdicts(report, len(sources), checks, handling)
        result.claims, result.claim_summary = checked.checks, checked.summary
        if checked.kept is not None:
            sources = [sources[old - 1] for old in checked.kept if 0 < old <= len(sources)]
            stats = dataclasses.replace(stats, cited=len(sources), unused=stats.registered - len(sources))
        return checked.report, title, sources, stats

    async def _verdicts(self, ctx: RunContext, report: str, sources: list[Source]) -> list[ClaimCheck]:
        """The lexical check (pages prepared once per run), then the judge model on what it doubted, if set."""
        checks = await check_report_async(report, [s.id for s in sources], ctx.texts.as_dict(), ctx.texts.prepared)
        if self.config.claim_judge == "model":
            checks = await judge_claims(ctx, checks)
        return checks

    def _finish(self, ctx: RunContext, result: ResearchResult, started: float) -> ResearchResult:
        result.usage = ctx.meter.summary()
        result.registry = ctx.registry.all()
        result.reading = {"documents": len(ctx.registry), "summarized": ctx.reader.summaries,
                          "extractive": ctx.reader.extractive_fallbacks}
        for failure in ctx.tracker.failure_warnings():
            ctx.warn(failure)
        result.failed_tool_calls = dict(ctx.tracker.progress.failed_tool_calls_by)
        result.warnings = list(ctx.warnings)
        result.elapsed_s = time.perf_counter() - started
        result.timeline = ctx.meter.recorder.finish()
        ctx.tracker.update("phase", "done", {"phase": "done"}, phase="done")
        return result


def restore_registry(ctx: RunContext, registry: Sequence[Source]) -> None:
    """Seed the run's registry with a finished run's sources, in id order (S1, S2, ...), so the notes that cite
    them stay right and new sources are numbered after them."""
    for expected, source in enumerate(registry, start=1):
        restored = ctx.registry.register(Document(source.locator, source.title, ""))
        if restored.id != source.id or source.id != f"S{expected}":
            raise InputError(f"the stored sources of that run are out of order at {source.id}; it cannot be built on")


def insert_note(report: str, note: str) -> str:
    """Put a blockquote note under the report's title, where a reader sees it first."""
    lines = report.split("\n")
    at = 1 if lines and lines[0].startswith("# ") else 0
    return "\n".join([*lines[:at], "", f"> Note: {note}", *lines[at:]])


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:8]
