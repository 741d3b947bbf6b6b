"""A queue worker process (`deep-research worker`): the app's state without an MCP server, running the research
jobs that front-ends put in the queue (server/queue.py) until it is stopped.

Its own module because it stands above both the queue and the app: the app's lifespan opens the queue for a
front-end, and the worker opens the app's lifespan; kept in queue.py, the two modules imported each other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..settings import Settings
from .app import app_lifespan
from .queue import ABORT_POLL_S, FUNCTION, queue_url, saq_queue, with_queue_defaults, worker_name
from .store import redacted_url

if TYPE_CHECKING:
    from saq.job import Job

    from .runs import RunManager


async def run_worker(settings: Settings, *, on_ready: Callable[[str], None] | None = None) -> None:
    """Run research jobs from the queue until cancelled (the caller owns signals). A stop puts the runs this worker
    had started back in the queue at once; another worker resumes them from the cache."""
    from saq import Worker

    settings = with_queue_defaults(settings)
    queue = saq_queue(settings)
    name = worker_name()
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(queue.disconnect)
        state = await stack.enter_async_context(app_lifespan(settings, worker=name))
        runs: RunManager = state.runs

        async def research_run(ctx: dict[str, Any], *, run_id: str) -> None:
            job: Job = ctx["job"]
            await runs.execute(run_id, heartbeat=job.update)

        worker = Worker(
            queue, functions=[(FUNCTION, research_run)], id=name, concurrency=settings.worker_concurrency,
            timers={"sweep": settings.queue_sweep_interval_s, "abort": ABORT_POLL_S},
            metadata={"concurrency": settings.worker_concurrency},
        )
        worker.SIGNALS = []  # our caller handles SIGINT/SIGTERM by cancelling this coroutine
        await queue.connect()
        if state.engine.opening is not None:
            # Take jobs once the research tools are open: a first run would wait for them anyway, and an index
            # build competing with the first runs delays their heartbeats.
            await state.engine.opening.wait()
        if on_ready is not None:
            on_ready(f"deep-research worker {name} ready: queue {settings.queue_name!r} at "
                     f"{redacted_url(queue_url(settings) or '')}, {settings.worker_concurrency} runs at once")
        try:
            await worker.start()  # returns once cancelled, after requeueing the jobs it had started
        finally:
            await worker.stop()
