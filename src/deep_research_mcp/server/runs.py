"""Runs that outlive the tool call that started them: start, status, result, cancel, rewrite.

Every run is a task in the manager's task group (owned by the server's lifespan). Its record lives in the run store
from the moment `start` returns, is written again as the run moves (at most every `persist_interval_s`, and at once
when it ends), and ends in a terminal status whatever happens: completed, needs_clarification, failed, cancelled,
or interrupted (the server stopped under it). A record still "running" whose owner stopped writing for
`stale_after_s` belongs to a replica that died: it is reported, and stored, as interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..engine.config import EngineConfig, PriorRun, ReportLength, ResearchResult, UnitOutcome
from ..engine.events import Event
from ..engine.run import ResearchEngine, new_run_id
from ..engine.sources import Source
from ..errors import DeepResearchError, InputError, RunStoreUnavailable, one_line
from .store import RunRecord, RunStore, RunSummary, StoredClaim, StoredNote, StoredSource, age_s, utc_now

if TYPE_CHECKING:
    from .queue import RunQueue

Work = Callable[[Callable[[Event], None]], Awaitable[ResearchResult]]
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Per-run overrides of the engine's limits; None keeps the server's setting."""

    max_concurrent_units: int | None = None
    max_tool_calls: int | None = None
    max_supervisor_iterations: int | None = None
    clarify: bool = False
    report_language: str | None = None
    report_length: ReportLength | None = None

    def apply(self, config: EngineConfig) -> EngineConfig:
        changes = {k: v for k, v in dataclasses.asdict(self).items() if v is not None and k != "clarify"}
        return dataclasses.replace(config, **changes)


class UnknownRun(InputError):
    """No such run, or not the caller's: both are answered alike, so a run id says nothing about another's runs."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"unknown run id {run_id!r}; the resource research://runs lists the runs this server keeps")


@dataclass
class _Live:
    record: RunRecord
    done: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    cancelled_by_user: bool = False
    dirty: bool = True
    # A task cancelled before its first step never enters `_run`, so it would never record its end: cancels wait
    # for the task to have started.
    started: asyncio.Event = field(default_factory=asyncio.Event)
    # On a queue worker: tells the queue the run's worker is alive (a silent one's job is delivered again).
    heartbeat: Callable[[], Awaitable[None]] | None = None
    # The keeper stops on this flag, not only on being cancelled: redis-py's asyncio client can swallow a
    # cancellation that lands during a command (seen with 7.x and 8.x), and a keeper that went on would hold the
    # run open for ever.
    keeping: bool = True


class RunManager:
    """Starts runs in the background and answers for them. Enter it once (the server's lifespan does)."""

    def __init__(
        self,
        engine: ResearchEngine,
        store: RunStore,
        *,
        replica_id: str | None = None,
        max_running: int = 2,
        persist_interval_s: float = 1.0,
        stale_after_s: float = 30.0,
        unavailable: str | None = None,
        queue: RunQueue | None = None,
        requeue_on_stop: bool = False,
    ) -> None:
        self.engine = engine
        self.store = store
        self.replica_id = replica_id or uuid.uuid4().hex[:12]
        self.persist_interval_s = persist_interval_s
        self.stale_after_s = stale_after_s
        # Why research cannot run at all (e.g. no model and no documents): said on every start, not at boot, so a
        # host still lists the tools and the user sees the reason where they asked.
        self.unavailable = unavailable
        # A front-end with a task queue enqueues runs for workers instead of running them (server/queue.py).
        self.queue = queue
        # A queue worker: a run stopped with the worker stays "running"; the queue delivers it to another worker.
        self.requeue_on_stop = requeue_on_stop
        self._slots = asyncio.Semaphore(max_running)
        self._live: dict[str, _Live] = {}
        # Finished runs, newest last: answers stay right even while the store is unreachable.
        self._recent: OrderedDict[str, RunRecord] = OrderedDict()
        self._group: asyncio.TaskGroup | None = None
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> RunManager:
        self._group = await self._stack.enter_async_context(asyncio.TaskGroup())
        if self.queue is None and not self.requeue_on_stop:  # with a queue, the queue redelivers such runs
            self._group.create_task(self._settle_predecessors(), name="settle runs of a stopped server")
        return self

    async def _settle_predecessors(self) -> None:
        """Store "interrupted" for runs still marked running whose server is gone, so the run list says so too."""
        try:
            for summary in await self.store.list(limit=200):
                if summary.status == "running" and summary.run_id not in self._live:
                    await self.get(summary.run_id)  # settles a stale run as a side effect
        except Exception as exc:  # the store may be down at boot; each `get` settles its run later anyway
            log.warning("could not check the run store for interrupted runs: %s", exc)

    async def __aexit__(self, *exc_info: object) -> None:
        lives = list(self._live.values())
        for live in lives:
            await live.started.wait()
        for live in lives:
            if live.task is not None:
                live.task.cancel()  # each run records itself as interrupted on the way out
        await self._stack.aclose()
        self._group = None

    # -- starting -------------------------------------------------------------------------------------------------

    async def start(
        self, question: str, *, brief: str | None = None, options: RunOptions | None = None,
        follow_up_of: str | None = None, principal: str = "",
    ) -> RunRecord:
        """Validate, store the run, start it; return its record (durable before this returns).

        With `follow_up_of`, the run builds on that completed run of the same `principal` (see `prior_of`)."""
        if self.unavailable:
            raise InputError(self.unavailable)
        text = self.engine.validate_question(question)
        options = options or RunOptions()
        parent = await self.get(follow_up_of, principal=principal) if follow_up_of else None
        if parent is not None:
            prior_of(parent, principal)  # refuses a parent that did not complete, before anything is stored
        record = RunRecord(run_id=new_run_id(), question=text, options=_options_dict(options), owner=self.replica_id,
                           brief=(brief or "").strip(), message="queued", principal=principal,
                           parent_run_id=parent.run_id if parent else None)
        return await self._launch(record, parent)

    def _engine_for(self, options: RunOptions) -> ResearchEngine:
        return ResearchEngine(self.engine.models, list(self.engine.tools.values()), options.apply(self.engine.config),
                              opening=self.engine.opening, monitor=self.engine.monitor)

    async def rewrite(
        self, run_id: str, instructions: str = "", *, language: str = "", principal: str | None = None
    ) -> RunRecord:
        """Start writing a finished run's report again from its stored notes and sources (no new research). The
        rewrite belongs to whoever the parent run belongs to."""
        parent = await self.get(run_id, principal=principal)
        if parent.kind != "research" or parent.status != "completed":
            raise InputError(f"run {run_id} is {parent.status}; only a completed research run can be written again")
        if len(instructions) > self.engine.config.max_question_chars:
            raise InputError(f"instructions: over {self.engine.config.max_question_chars} characters")
        options: dict[str, Any] = {"instructions": instructions, **({"report_language": language} if language else {})}
        record = RunRecord(run_id=new_run_id(), kind="rewrite", question=parent.question,
                           parent_run_id=parent.run_id, options=options, owner=self.replica_id, brief=parent.brief,
                           notes=list(parent.notes), registry=list(parent.registry), message="queued",
                           principal=parent.principal)
        return await self._launch(record, parent)

    async def texts_of(self, run_id: str) -> dict[str, str]:
        """A run's source texts: from the store, where they are kept beside the record (see `RunRecord`); a run that
        finished here while the store was unreachable still has them in memory."""
        recent = self._recent.get(run_id)
        if recent is not None and recent.source_texts:
            return recent.source_texts
        return await self.store.texts(run_id)

    def work_for(self, record: RunRecord, parent: RunRecord | None = None) -> Work:
        """The engine call that does a run, rebuilt from its record alone (a queue worker has nothing else). A
        rewrite and a follow-up read their parent's source texts from the store when they start, and a follow-up
        its parent run too unless the caller has it already (`parent`)."""
        if record.kind == "rewrite":
            units = [UnitOutcome(n.topic, n.ok, note=n.note, error=n.error) for n in record.notes]
            registry = [Source(s.id, s.locator, s.title) for s in record.registry]
            instructions = str(record.options.get("instructions", ""))
            language = str(record.options.get("report_language") or "")
            engine = self._engine_for(RunOptions(report_language=language or None))

            async def rewrite(on_event: Callable[[Event], None]) -> ResearchResult:
                # Only the texts: the record already carries the parent's notes and sources.
                texts = await self.texts_of(record.parent_run_id) if record.parent_run_id else None
                return await engine.rewrite(record.question, brief=record.brief, units=units, registry=registry,
                                            instructions=instructions, texts=texts, on_event=on_event,
                                            run_id=record.run_id)

            return rewrite
        options = RunOptions(**record.options)
        engine = self._engine_for(options)
        question, brief = record.question, record.brief or None

        async def research(on_event: Callable[[Event], None]) -> ResearchResult:
            prior = None
            if record.parent_run_id:
                known = parent if parent is not None else await self.get(record.parent_run_id)
                prior = prior_of(known, record.principal, await self.texts_of(known.run_id))
            return await engine.run(question, on_event=on_event, run_id=record.run_id, clarify_first=options.clarify,
                                    brief=brief, prior=prior)

        return research

    async def _launch(self, record: RunRecord, parent: RunRecord | None = None) -> RunRecord:
        if self._group is None:
            raise RuntimeError("RunManager used outside its context")
        if self.queue is not None:
            return await self._enqueue(record)
        work = self.work_for(record, parent)
        live = _Live(record)
        await self.store.put(record)  # durable first: a status call right after start must find it
        self._live[record.run_id] = live
        live.task = self._group.create_task(self._run(live, work), name=f"run {record.run_id}")
        return record.model_copy(deep=True)

    async def _enqueue(self, record: RunRecord) -> RunRecord:
        """Store the run and put it in the queue; a worker runs it (`execute`)."""
        assert self.queue is not None
        await self.queue.check_room()
        record.owner, record.message = "", "waiting for a worker"
        await self.store.put(record)
        try:
            await self.queue.enqueue(record.run_id)
        except BaseException as exc:
            record.status, record.error = "failed", f"the task queue at {self.queue.where} is unreachable"
            record.message = f"failed: {record.error}"
            with contextlib.suppress(Exception):
                await asyncio.shield(self.store.put(record))
            if isinstance(exc, Exception):
                log.error("could not enqueue run %s: %s", record.run_id, exc)
                raise RunStoreUnavailable(f"{record.error}: {one_line(exc)}") from None
            raise
        return await self.get(record.run_id)

    async def execute(self, run_id: str, *, heartbeat: Callable[[], Awaitable[None]] | None = None) -> None:
        """Run a stored run here and now, to its end (a queue worker's job). A run delivered again after its worker
        died resumes: the cache answers every model and tool call the earlier attempt had finished."""
        record = await self._unowned(run_id, heartbeat)
        if record is None:
            return
        if await self.store.cancel_requested(run_id):
            record.status, record.message = "cancelled", "cancelled before a worker started it"
            await self.store.put(record)
            return
        record.attempts += 1
        record.owner = self.replica_id
        if record.attempts > 1:
            record.message = (f"resumed by worker {self.replica_id} (attempt {record.attempts}); finished steps "
                              "are answered from the cache")
        if record.kind == "research":
            record.notes = []  # the events of this attempt list them again
        live = _Live(record, heartbeat=heartbeat, task=asyncio.current_task())
        self._live[run_id] = live
        await self._run(live, self.work_for(record))

    async def _unowned(self, run_id: str, heartbeat: Callable[[], Awaitable[None]] | None) -> RunRecord | None:
        """The run's record once no other live worker runs it; None when there is nothing left to do.

        A queue delivers at least once: a worker that stalled past its heartbeat has its job handed to another while
        it may still be running it. The second one then watches instead of running the research twice, and takes
        over only when the first stops writing the run's record (each beat writes it)."""
        from .queue import honour_cancel

        watching = False
        while True:
            # A worker stopping cancels this wait; a cancellation lost in the Redis read would keep it watching.
            record = await honour_cancel(self.store.get(run_id))
            if record is None or record.finished:
                log.info("run %s is %s; nothing to do", run_id, "unknown" if record is None else record.status)
                return None
            elsewhere = record.owner not in ("", self.replica_id) and age_s(record.updated_at) <= self.stale_after_s
            if run_id not in self._live and not elsewhere:
                return record
            if not watching:
                log.warning("run %s was delivered again while %s still runs it; watching", run_id, record.owner)
                watching = True
            if heartbeat is not None:
                try:
                    await heartbeat()
                except Exception as exc:  # as in `_keep`: a missed beat or two is harmless
                    log.warning("heartbeat of run %s not delivered: %s", run_id, exc)
            await asyncio.sleep(self.persist_interval_s)

    async def _run(self, live: _Live, work: Work) -> None:
        record = live.record
        live.started.set()
        try:
            async with self._slots:
                record.message = "started"
                live.dirty = True
                async with asyncio.TaskGroup() as group:
                    keeper = group.create_task(self._keep(live))
                    try:
                        result = await work(lambda event: self._on_event(live, event))
                    finally:
                        live.keeping = False
                        keeper.cancel()
            apply_result(record, result)
        except asyncio.CancelledError:
            if self.requeue_on_stop and not (live.cancelled_by_user or record.cancel_requested):
                # Still running as far as clients go: the queue hands the job to another worker, which need not wait
                # for this one's record to go stale (see `_unowned`).
                record.owner = ""
                record.message = "its worker stopped; it goes back to the queue and resumes from the cache"
            else:
                record.status = "cancelled" if live.cancelled_by_user or record.cancel_requested else "interrupted"
                record.message = ("cancelled on request" if record.status == "cancelled"
                                  else "the server stopped during this run; start it again to resume from the cache")
        except Exception as exc:
            # Task groups (ours, the engine's) wrap what failed in an ExceptionGroup: the cause is inside.
            cause = root_cause(exc)
            if isinstance(cause, DeepResearchError):
                record.error = one_line(cause)
            else:  # a bug must end the run visibly, not leave it "running" forever
                log.error("run %s failed unexpectedly", record.run_id, exc_info=cause)
                record.error = f"internal error ({type(cause).__name__}); see the server log"
            record.status = "failed"
            record.message = f"failed: {record.error}"
        finally:
            if record.finished:
                # The last progress snapshot was taken mid-run; nothing runs or waits once the run has ended.
                record.progress.update(researchers_running=0, researchers_queued=0)
                if not record.timeline and self.engine is not None:  # failed or stopped: its calls explain it
                    record.timeline = self.engine.monitor.timeline_of(record.run_id)
            # Shielded: the final record must reach the store even while the server is cancelling this task.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._persist(live, final=True))
            if not live.dirty:
                # Stored beside the record: `texts_of` reads them for the rare `write`, and the record every status
                # poll copies stays small.
                record.source_texts = {}
            self._recent[record.run_id] = record
            while len(self._recent) > 200:
                self._recent.popitem(last=False)
            self._live.pop(record.run_id, None)
            live.done.set()

    def _on_event(self, live: _Live, event: Event) -> None:
        record = live.record
        record.progress = dataclasses.asdict(event.progress)
        record.phase = event.progress.phase
        record.message = event.progress.describe()
        if event.kind == "researcher_finished":
            data = event.data
            record.notes.append(StoredNote(topic=str(data.get("topic", "")), ok=bool(data.get("ok")),
                                           note=str(data.get("note", "")), error=str(data.get("error", ""))))
        elif event.kind == "warning":
            record.warnings.append(event.message)
        live.dirty = True

    async def _keep(self, live: _Live) -> None:
        """Write the record while it changes (and as a heartbeat); pick up cancels asked on another replica."""
        beats = 0
        while live.keeping:
            await asyncio.sleep(self.persist_interval_s)
            if not live.keeping:
                return
            beats += 1
            if live.dirty or beats % 5 == 0 or live.heartbeat is not None:  # a worker's record is its heartbeat too
                await self._persist(live)
            if live.heartbeat is not None:
                try:
                    await live.heartbeat()
                except Exception as exc:  # the queue may be briefly unreachable; missing many beats redelivers
                    log.warning("heartbeat of run %s not delivered: %s", live.record.run_id, exc)
            if live.cancelled_by_user or await self._cancel_asked_elsewhere(live):
                # Again on every beat until the run has ended: a cancellation that lands inside a Redis command
                # (the cache's, the run store's) can be lost (see `_Live.keeping`).
                live.cancelled_by_user = True
                if live.task is not None:
                    live.task.cancel()

    async def _cancel_asked_elsewhere(self, live: _Live) -> bool:
        try:
            return await self.store.cancel_requested(live.record.run_id)
        except Exception as exc:
            log.warning("run store unreachable while checking for a cancel: %s", exc)
            return False

    async def _persist(self, live: _Live, *, final: bool = False) -> None:
        live.dirty = False
        try:
            await self.store.put(live.record)
        except Exception as exc:  # the store being down must not kill the research; the next write retries
            live.dirty = True
            level = logging.ERROR if final else logging.WARNING
            log.log(level, "could not write run %s to the run store: %s", live.record.run_id, exc)

    # -- answering --------------------------------------------------------------------------------------------------

    async def get(self, run_id: str, *, principal: str | None = None) -> RunRecord:
        """The run's current record: live when it runs here, else from the store (stale owners → interrupted).

        With `principal` (every call on a client's behalf; "" without authentication), only a run that principal
        started: another's is an unknown run. None is the server's own look-up."""
        record = await self._record(run_id)
        if principal is not None and record.principal != principal:
            raise UnknownRun(record.run_id)
        return record

    async def list(self, limit: int = 50, *, principal: str | None = None) -> list[RunSummary]:
        return await self.store.list(limit, principal=principal)

    async def _record(self, run_id: str) -> RunRecord:
        run_id = (run_id or "").strip()
        live = self._live.get(run_id)
        if live is not None:
            return live.record.model_copy(deep=True)
        if run_id in self._recent:
            return self._recent[run_id].model_copy(deep=True)
        record = await self.store.get(run_id)
        if record is None:
            raise UnknownRun(run_id)
        if not record.finished and self.queue is not None:
            given_up = await self.queue.annotate(record)
            if given_up:
                # Read again: the worker may have written the outcome between the first read and the job's end.
                latest = await self.store.get(run_id)
                if latest is not None and latest.finished:
                    return latest
                record.status, record.error, record.message = "failed", given_up, f"failed: {given_up}"
                await self.store.put(record)
        elif not record.finished and self._is_stale(record):
            record.status = "interrupted"
            record.message = "the server running it stopped; start it again to resume from the cache"
            await self.store.put(record)
        return record

    def _is_stale(self, record: RunRecord) -> bool:
        if record.owner == self.replica_id:
            return True  # ours, yet not live here: it died with an earlier incarnation of this process
        return age_s(record.updated_at) > self.stale_after_s

    async def cancel(self, run_id: str, *, principal: str | None = None) -> tuple[RunRecord, str]:
        """Ask a run to stop. Returns the record and what happened, in words; cancelling twice is not an error.
        `principal` as for `get`."""
        record = await self.get(run_id, principal=principal)
        if record.finished:
            return record, f"run {record.run_id} had already ended ({record.status}); nothing to cancel"
        live = self._live.get(record.run_id)
        if live is not None:
            if live.cancelled_by_user:
                return record, f"cancel of run {record.run_id} was already requested; it is stopping"
            live.cancelled_by_user = True
            if live.task is not None:
                await live.started.wait()
                live.task.cancel()
            await live.done.wait()  # local cancels are quick (task groups reach every researcher)
            return live.record.model_copy(deep=True), f"run {record.run_id} cancelled"
        if record.cancel_requested or await self.store.cancel_requested(record.run_id):
            record.cancel_requested = True
            return record, f"cancel of run {record.run_id} was already requested; it is stopping"
        await self.store.request_cancel(record.run_id)
        record.cancel_requested = True
        if self.queue is None:
            return record, f"cancel of run {record.run_id} requested from the replica running it"
        if await self.queue.withdraw(record.run_id):
            # No worker will ever see it, so its end is recorded here.
            record.status, record.message = "cancelled", "cancelled before a worker started it"
            record.queue_position = record.queue_depth = None
            await self.store.put(record)
            return record, f"run {record.run_id} cancelled before a worker started it"
        return record, f"cancel of run {record.run_id} requested from the worker running it"


_ENDED = {"failed": "failed", "cancelled": "was cancelled", "interrupted": "was interrupted",
          "needs_clarification": "stopped to ask a clarifying question"}


def prior_of(parent: RunRecord, principal: str = "", texts: dict[str, str] | None = None) -> PriorRun:
    """What a follow-up takes from a stored run: its brief, the topics it researched, its sources and their texts
    (`texts`, stored beside the record; the record's own for one written by an earlier version). The run must
    have completed and have been started by the same principal (another's is an unknown run); anything else is one
    InputError sentence."""
    if parent.principal != principal:
        raise UnknownRun(parent.run_id)
    if parent.status != "completed":
        state = _ENDED.get(parent.status, "is still running")
        wait = "" if parent.finished else " (wait for it with research_result)"
        raise InputError(f"run {parent.run_id} {state}; a follow-up can only build on a completed run{wait}")
    units = tuple(UnitOutcome(n.topic, True, note=n.note) for n in parent.notes if n.ok and n.note.strip())
    registry = tuple(Source(s.id, s.locator, s.title) for s in parent.registry)
    return PriorRun(run_id=parent.run_id, brief=parent.brief or parent.question, units=units, registry=registry,
                    texts=dict(texts if texts is not None else parent.source_texts))


def apply_result(record: RunRecord, result: ResearchResult) -> None:
    record.status = result.status
    record.phase = "done"
    record.clarification = result.clarification
    record.brief = result.brief or record.brief
    if record.kind == "research":
        # The engine's list is complete and ordered by the supervisor; the event-built list was for status only.
        record.notes = [StoredNote(topic=u.topic, ok=u.ok, note=u.note, error=u.error) for u in result.units]
        record.registry = [_stored(s) for s in result.registry]
        record.source_texts = dict(result.texts)
    record.sources = [_stored(s) for s in result.sources]
    record.report, record.title = result.report, result.title
    record.citations = dataclasses.asdict(result.citations)
    record.claims = [StoredClaim(text=c.text, citations=list(c.citations), source_ids=list(c.source_ids),
                                 verdict=c.verdict, evidence=c.evidence, evidence_source=c.evidence_source,
                                 coverage=c.coverage, similarity=c.similarity, reason=c.reason)
                     for c in result.claims]
    record.claim_summary = claim_summary_dict(result)
    record.usage, record.warnings, record.elapsed_s = result.usage, list(result.warnings), result.elapsed_s
    record.timeline = result.timeline
    failed = len(result.failed_units)
    record.message = (f"needs clarification: {result.clarification}" if result.status == "needs_clarification"
                      else f"completed: {len(result.units)} researchers ({failed} failed), "
                           f"{result.citations.cited} sources cited")
    record.updated_at = utc_now()


def claim_summary_dict(result: ResearchResult) -> dict[str, Any]:
    summary = result.claim_summary
    return {**dataclasses.asdict(summary), "line": summary.line()}


def _stored(source: Source) -> StoredSource:
    return StoredSource(id=source.id, locator=source.locator, title=source.title)


def _options_dict(options: RunOptions) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(options).items() if v is not None}


def root_cause(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups; siblings' cancellations are not causes."""
    while isinstance(exc, BaseExceptionGroup):
        causes = [e for e in exc.exceptions if not isinstance(e, asyncio.CancelledError)]
        if not causes:
            break
        exc = causes[0]
    return exc


