"""Research runs as jobs on a distributed task queue: SAQ ("Simple Async Queue") with its Redis backend.

With `DEEP_RESEARCH_QUEUE_URL` set, `serve --http` front-ends store each run's record in the run store and enqueue
a job that carries only the run id; `deep-research worker` processes (server/worker.py), on as many machines as
wanted, dequeue the jobs and run them (`RunManager.execute`). Every front-end answers status, results and cancels
for every run through the shared run store. Without a queue URL nothing here is imported and runs execute in the
server process.

Why SAQ (the comparison with Celery, taskiq and arq is in docs/workers.md): it is asyncio-native (a job is a
coroutine on the worker's event loop, next to the engine's own tasks), it delivers at least once with redelivery
that does not depend on how long a job runs (a running job sends heartbeats; a sweep puts a job whose heartbeats
stopped back in the queue and counts the attempt), it aborts jobs, and a worker dequeues one job per free slot, so
busy workers do not hoard queued runs. Celery's Redis transport redelivers after a fixed visibility timeout, which
for research runs of many minutes is either slow failover or duplicate runs; arq waits for the job timeout.

What we add on top is policy, not queueing: the run record (attempts, owner, cancel flag) lives in our run store,
and a redelivered run resumes from the cache, which already answers every model and tool call that had finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import warnings
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, TypeVar

from ..errors import ConfigError, InputError
from ..settings import Settings
from .store import RunRecord, age_s, redacted_url

if TYPE_CHECKING:
    from saq.job import Job
    from saq.queue.redis import RedisQueue

log = logging.getLogger(__name__)

FUNCTION = "research_run"  # the one job function; its only argument is the run id
# How long a sweep waits for a silent worker to acknowledge the abort of its job before requeueing it. SAQ waits
# 5 s; a worker that missed several heartbeats is dead or cut off, so waiting longer only delays the failover.
ABORT_WAIT_S = 1.0
# Moves a job id that waits in the queue to its head (one script: no moment where it is in no list).
TO_HEAD = "if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then redis.call('LPUSH', KEYS[1], ARGV[1]) end"
JOB_TTL_S = 24 * 3600  # how long a finished job's entry is kept: front-ends read it to explain a run given up on
# SAQ's workers poll for aborted jobs and cancel them. Ours never need it: a cancel reaches a run through the run
# store's flag, which the run checks on every beat. And a job swept while its worker was only slow is watched by the
# worker it goes to (RunManager._unowned), so the slow one must not be cancelled under it either. One poll a day.
ABORT_POLL_S = 24 * 3600


T = TypeVar("T")


async def honour_cancel(command: Awaitable[T]) -> T:
    """Await a Redis command and then raise a cancellation that was asked for during it, even if redis-py's asyncio
    client swallowed it (seen with 7.x and 8.x; the run keeper has the same guard, `runs._Live.keeping`). A task
    whose cancellation was swallowed still counts it (`Task.cancelling()`), so it is raised here instead of being
    lost: a status call cut off by its client would otherwise go on polling, and the run it started would not be
    cancelled with it; a sweep would not stop with its worker."""
    result = await command
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
    return result


class QueueBusy(InputError):
    """Too many runs wait for a worker. An InputError so that every tool path answers it as one sentence."""


def queue_url(settings: Settings) -> str | None:
    return settings.queue_url.get_secret_value() if settings.queue_url is not None else None


def with_queue_defaults(settings: Settings) -> Settings:
    """With a queue, the run store and the cache's Redis level default to the queue's Redis: workers on other
    machines must see the same run records, and a redelivered run resumes from the shared cache."""
    if settings.queue_url is None or settings.cache_redis_url is not None:
        return settings
    return settings.model_copy(update={"cache_redis_url": settings.queue_url})


def worker_name() -> str:
    """What status shows as the run's owner: which machine and process runs it."""
    return f"{socket.gethostname()}-{os.getpid()}"


def saq_queue(settings: Settings) -> RedisQueue:
    from saq.queue.redis import RedisQueue

    # SAQ 0.26 calls redis-py's `setex` (abort, worker info), which redis-py 8 marks deprecated; it still works.
    warnings.filterwarnings("ignore", message="Call to deprecated setex", category=DeprecationWarning)

    class Queue(RedisQueue):
        async def sweep(self, lock: int = 60, abort: float = ABORT_WAIT_S) -> list[str]:
            swept = await super().sweep(lock, abort)
            # SAQ puts a swept job back at the tail of the queue. A run whose worker died has waited its turn
            # already, so it goes to the head: the next free slot resumes it, however long the queue.
            for job_id in swept:
                await honour_cancel(self.redis.eval(TO_HEAD, 1, self.namespace("queued"), job_id))
            return swept

    url = queue_url(settings)
    if url is None:
        raise ConfigError("no task queue configured: set DEEP_RESEARCH_QUEUE_URL (redis://host:port/db)")
    return Queue.from_url(url, name=settings.queue_name, swept_error_message="its worker stopped responding")


class RunQueue:
    """The front-end's handle on the queue: enqueue runs, say where they stand, withdraw a queued one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.saq = saq_queue(settings)
        self.where = redacted_url(queue_url(settings) or "")

    async def close(self) -> None:
        await self.saq.disconnect()

    async def depth(self) -> int:
        return int(await honour_cancel(self.saq.count("queued")))

    async def check_room(self) -> None:
        limit = self.settings.queue_max_length
        if limit is None:
            return
        depth = await self.depth()
        if depth >= limit:
            wait = self.settings.queue_retry_after_s
            raise QueueBusy(f"busy: {depth} research runs are waiting for a worker (the limit is {limit}); "
                            f"retry after {wait} s")

    async def enqueue(self, run_id: str) -> None:
        # Not guarded: a run whose job is in the queue runs, and the caller's next guarded command (its status
        # poll) raises the cancellation, which then cancels the run (tools.wait_within).
        job = await self.saq.enqueue(
            FUNCTION, key=run_id, run_id=run_id,
            timeout=0,  # the engine bounds a run itself; a queue timeout would cut long research short
            heartbeat=self.settings.queue_heartbeat_s, retries=self.settings.queue_max_attempts, ttl=JOB_TTL_S,
        )
        if job is None:
            raise InputError(f"run {run_id} is already queued")

    async def position(self, run_id: str) -> int | None:
        """1 for the next run a worker takes; None once a worker has it (or it is gone)."""
        # SAQ keeps the waiting jobs' ids in order in its "queued" list and has no call for one job's place in it.
        index = await honour_cancel(self.saq.redis.lpos(self.saq.namespace("queued"), self.saq.job_id(run_id)))
        return None if index is None else int(index) + 1

    async def job(self, run_id: str) -> Job | None:
        return await honour_cancel(self.saq.job(run_id))

    async def annotate(self, record: RunRecord) -> str | None:
        """Fill in a running record's place in the queue. Returns why the queue gave the run up, if it did."""
        from saq.job import Status

        position = await self.position(record.run_id)
        if position is not None:
            record.queue_position, record.queue_depth = position, await self.depth()
            record.message = f"waiting for a worker: position {position} of {record.queue_depth} in the queue"
            return None
        job = await self.job(record.run_id)
        if job is None:
            if age_s(record.updated_at) < self.settings.queue_heartbeat_s:
                return None  # just stored, its job about to be enqueued
            reason = "its job is no longer in the queue"
        elif job.status == Status.ABORTED:
            reason = job.error or "its job was aborted"  # a sweep's: "its worker stopped responding"
        elif job.status == Status.FAILED:
            reason = "its job failed on the worker (see the worker's log)"
        elif job.status == Status.COMPLETE:
            reason = "its worker ended it without saving the outcome to the run store"
        else:
            return None
        # The worker writes the run's final record before its job ends, so a finished job under a running record
        # means the queue gave up: too many attempts, each ended by a worker that stopped responding.
        return (f"no worker finished it after {record.attempts} attempt(s) (the limit is "
                f"DEEP_RESEARCH_QUEUE_MAX_ATTEMPTS={self.settings.queue_max_attempts}): {reason}")

    async def withdraw(self, run_id: str) -> bool:
        """Take a run that no worker has started out of the queue. True when it was still waiting."""
        from saq.job import Status

        job = await self.job(run_id)
        if job is None or job.status != Status.QUEUED:
            return False
        await honour_cancel(self.saq.abort(job, error="cancelled"))
        return True


@contextlib.asynccontextmanager
async def open_run_queue(settings: Settings) -> AsyncIterator[RunQueue]:
    queue = RunQueue(settings)
    try:
        yield queue
    finally:
        await queue.close()
