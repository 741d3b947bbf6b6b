"""Runs on the task queue: front-ends enqueue, `deep-research worker` processes run them, all on one real
redis-server and the scripted LLM server. A worker killed mid-run (SIGKILL) loses nothing that had finished: its
runs are delivered to the other worker, which resumes them from the cache. A cancel asked on a front-end ends the
run on its worker.

The big scenario (3 workers, 30 runs) and the throughput numbers are in bench/queue_bench.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from mcp.client import Client

from deep_research_mcp.cli import main
from deep_research_mcp.errors import InputError
from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer
from deep_research_mcp.llm.scripted.scenario import FailureRule
from deep_research_mcp.server.app import build_server
from deep_research_mcp.server.queue import open_run_queue, worker_name
from deep_research_mcp.server.runs import RunManager, _Live
from deep_research_mcp.server.store import RedisRunStore, RunRecord
from deep_research_mcp.server.worker import run_worker
from deep_research_mcp.settings import Settings

from ..redis_server import RedisServer, redis_server  # noqa: F401  # the fixture
from .conftest import Process, serve_command, server_env, spawn

READY = re.compile(r"deep-research worker (\S+) ready")
QUESTIONS = ["How do tidal lagoons store energy?", "How does pumped hydro store energy?",
             "How do flywheels store energy?", "Which storage answers within milliseconds?"]
TOPICS = 2  # researchers per run, so at most this many of a run's model calls are in flight at once
# Seconds: a silent worker's run is delivered again within about heartbeat + sweep + 1 s.
QUEUE_TIMING = {"queue_heartbeat_s": 3, "queue_sweep_interval_s": 1}


@pytest.fixture
async def llm() -> AsyncIterator[ScriptedLLMServer]:
    async with ScriptedLLMServer(Scenario(latency_s=0.3, topics=TOPICS)) as server:
        yield server


def front_settings(llm: ScriptedLLMServer, docs: Path, data: Path, redis: RedisServer, **extra: Any) -> Settings:
    # cache_redis_timeout_s: the Redis level is what a resumed run reads; on a busy 2-core machine the default
    # 0.25 s would turn some of its writes into misses.
    return Settings(research_model="openai:scripted", openai_base_url=llm.openai_base_url, openai_api_key="x",
                    docs_dir=docs, data_dir=data, fetch_enabled=False, allow_clarification=False,
                    queue_url=redis.url, cache_redis_timeout_s=2.0, **{**QUEUE_TIMING, **extra})


def worker_env(llm: ScriptedLLMServer, docs: Path, data: Path, redis: RedisServer) -> dict[str, str]:
    settings = {"QUEUE_URL": redis.url, "RESEARCH_MODEL": "openai:scripted", "OPENAI_BASE_URL": llm.openai_base_url,
                "ALLOW_CLARIFICATION": "false", "CACHE_REDIS_TIMEOUT_S": "2", "WORKER_CONCURRENCY": "2",
                **{k.upper(): str(v) for k, v in QUEUE_TIMING.items()}}
    return server_env(data, docs, {"OPENAI_API_KEY": "x", **{f"DEEP_RESEARCH_{k}": v for k, v in settings.items()}})


@contextlib.contextmanager
def workers(count: int, env_for: Any, logs: Path) -> Iterator[list[Process]]:
    command = [str(Path(serve_command()[0])), "worker"]
    with contextlib.ExitStack() as stack:
        started = [stack.enter_context(spawn(command, env_for(i), logs, f"worker{i}")) for i in range(count)]
        for process in started:  # started together, waited for together: their imports overlap
            process.url = process.wait_for(process.stderr, READY, "deep-research worker").group(1)
        yield started


async def status(client: Client, run_id: str) -> dict[str, Any]:
    return (await client.call_tool("research_status", {"run_id": run_id})).structured_content


async def wait_until(client: Client, run_ids: list[str], done: Any, timeout_s: float = 40) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                seen = [await status(client, run_id) for run_id in run_ids]
                if done(seen):
                    return seen
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"runs not there within {timeout_s} s: {seen}")


async def research(client: Client, question: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool("research", {"question": question, "wait_s": 30, **arguments})
    assert not result.is_error, result.content
    summary = result.structured_content
    assert summary["status"] == "completed", summary
    return summary


@pytest.mark.slow  # two worker processes start (~3 s on a quiet machine) and a failover waits ~5 s
async def test_a_killed_worker_s_runs_finish_on_another_worker_without_repeating_finished_calls(
    llm: ScriptedLLMServer, docs: Path, tmp_path: Path, redis_server: RedisServer  # noqa: F811
) -> None:
    def env_for(i: int) -> dict[str, str]:  # a data dir each: the workers share nothing but Redis
        return worker_env(llm, docs, tmp_path / f"worker{i}", redis_server)

    with workers(2, env_for, tmp_path / "logs") as (doomed, survivor):
        one = front_settings(llm, docs, tmp_path / "front1", redis_server)
        two = front_settings(llm, docs, tmp_path / "front2", redis_server)
        async with Client(build_server(one)) as first, Client(build_server(two)) as second:
            run_ids = [(await (first if i % 2 else second).call_tool("research_start", {"question": q})
                        ).structured_content["run_id"] for i, q in enumerate(QUESTIONS)]
            # Kill once the doomed worker's runs are past their brief and first supervisor turn.
            seen = await wait_until(first, run_ids, lambda s: any(
                r["worker"] == doomed.url and not r["finished"] and r["researchers_running"] for r in s))
            killed = [r["run_id"] for r in seen if r["worker"] == doomed.url and not r["finished"]]
            os.kill(doomed.popen.pid, signal.SIGKILL)
            doomed.popen.wait(5)
            final = await wait_until(second, run_ids, lambda s: all(r["finished"] for r in s))
            results = {run_id: (await first.call_tool("research_result", {"run_id": run_id})).structured_content
                       for run_id in run_ids}
    assert [r["status"] for r in final] == ["completed"] * len(QUESTIONS), final
    resumed = [r["run_id"] for r in final if r["attempts"] == 2]
    assert resumed and set(resumed) <= set(killed), final  # (a killed run may have ended just before the kill)
    assert all(r["attempts"] == 1 for r in final if r["run_id"] not in resumed), final
    for run_id in resumed:
        assert next(r for r in final if r["run_id"] == run_id)["worker"] == survivor.url
        # Brief and first supervisor turn had finished before the kill: the resumed run read them from the cache.
        assert results[run_id]["usage"]["cache_hits"] >= 2, results[run_id]["usage"]
    paid = sum(r["usage"]["model_calls"] for r in results.values())
    replayed = sum(results[run_id]["usage"]["cache_hits"] for run_id in resumed)
    # Every call the server answered was paid for by a final attempt, or was made by a killed attempt and answered
    # from the cache on resume; only the calls in flight at the kill were made twice.
    lost = llm.stats.calls - paid - replayed
    assert 0 <= lost <= TOPICS * len(resumed), (llm.stats.calls, paid, replayed)


async def test_cancel_on_a_front_end_ends_the_run_on_its_worker(
    llm: ScriptedLLMServer, docs: Path, tmp_path: Path, redis_server: RedisServer  # noqa: F811
) -> None:
    front = front_settings(llm, docs, tmp_path / "front", redis_server)
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    worker = asyncio.create_task(run_worker(front.model_copy(update={"data_dir": tmp_path / "worker"}),
                                            on_ready=ready.set_result))
    try:
        await asyncio.wait_for(asyncio.shield(ready), 20)
        async with Client(build_server(front)) as client:
            run_id = (await client.call_tool("research_start", {"question": QUESTIONS[0]})).structured_content["run_id"]
            await wait_until(client, [run_id], lambda s: s[0]["researchers_running"] > 0)
            cancel = (await client.call_tool("research_cancel", {"run_id": run_id})).structured_content
            (final,) = await wait_until(client, [run_id], lambda s: s[0]["finished"])
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    assert "requested from the worker" in cancel["message"], cancel
    assert final["status"] == "cancelled" and final["attempts"] == 1, final


async def test_waiting_runs_show_their_place_and_a_full_queue_says_busy(
    llm: ScriptedLLMServer, docs: Path, tmp_path: Path, redis_server: RedisServer  # noqa: F811
) -> None:
    settings = front_settings(llm, docs, tmp_path / "front", redis_server, queue_max_length=2,
                              queue_retry_after_s=20)
    async with Client(build_server(settings)) as client:  # no worker: the runs wait
        first, second = [(await client.call_tool("research_start", {"question": q})).structured_content["run_id"]
                         for q in QUESTIONS[:2]]
        waiting = await status(client, second)
        busy = await client.call_tool("research_start", {"question": QUESTIONS[2]})
        cancel = (await client.call_tool("research_cancel", {"run_id": first})).structured_content
        after = await status(client, second), await status(client, first)
    assert (waiting["queue_position"], waiting["queue_depth"]) == (2, 2), waiting
    assert waiting["message"] == "waiting for a worker: position 2 of 2 in the queue"
    assert busy.is_error
    assert busy.content[0].text.endswith("busy: 2 research runs are waiting for a worker (the limit is 2); "
                                         "retry after 20 s"), busy.content[0].text
    assert cancel["status"] == "cancelled" and "before a worker started it" in cancel["message"], cancel
    assert (after[0]["queue_position"], after[0]["queue_depth"]) == (1, 1)
    assert after[1]["status"] == "cancelled" and after[1]["queue_position"] is None
    assert llm.stats.calls == 0


class LossyStore:
    """A run store in memory whose writes lose a cancellation that lands during them, as redis-py's asyncio client
    does at times (a command under a socket timeout)."""

    def __init__(self) -> None:
        self.records: dict[str, RunRecord] = {}

    async def put(self, record: RunRecord) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.01)
        self.records[record.run_id] = record.model_copy(deep=True)

    async def get(self, run_id: str) -> RunRecord | None:
        return self.records.get(run_id)

    async def list(self, limit: int = 50) -> list[Any]:
        return []

    async def cancel_requested(self, run_id: str) -> bool:
        return False


async def test_a_run_ends_even_when_a_record_write_loses_the_keeper_s_cancellation() -> None:
    async def work(on_event: Any) -> Any:
        await asyncio.sleep(0.1)  # the keeper writes the record meanwhile, nearly always inside `put`
        raise InputError("the research failed")

    async with RunManager(cast(Any, None), cast(Any, LossyStore()), persist_interval_s=0.0001) as runs:
        live = _Live(RunRecord(run_id="run-1", question="q"))
        task = asyncio.create_task(runs._run(live, work))
        await asyncio.wait_for(live.done.wait(), 10)  # before the keeper stopped on a flag: never
        await task
    assert live.record.status == "failed" and live.record.error == "the research failed"


@pytest.mark.parametrize(("args", "words"), [((), "DEEP_RESEARCH_QUEUE_URL"),
                                             (("--queue", "redis://127.0.0.1:1/0"), "DEEP_RESEARCH_DOCS_DIR")])
def test_a_worker_without_a_queue_or_anything_to_research_with_refuses_to_start(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], words: str
) -> None:
    code = main(["worker", *args])
    err = capsys.readouterr().err
    assert code == 2 and words in err, err


class FirstReadStale:
    """The run store as a front-end saw it a moment before the worker's final write: the first read of the run
    returns it still running; later reads return what is stored."""

    def __init__(self, store: RedisRunStore, stale: RunRecord) -> None:
        self.store, self.stale = store, stale

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def get(self, run_id: str) -> RunRecord | None:
        if self.stale is not None:
            stale, self.stale = self.stale, None
            return stale
        return await self.store.get(run_id)


async def test_a_run_finished_between_two_reads_is_not_called_given_up(
    llm: ScriptedLLMServer, docs: Path, tmp_path: Path, redis_server: RedisServer  # noqa: F811
) -> None:
    from saq.job import Status

    settings = front_settings(llm, docs, tmp_path, redis_server)
    store = RedisRunStore(redis_server.url)
    running = RunRecord(run_id="run-1", question="q", attempts=1, owner="worker-a")
    async with open_run_queue(settings) as queue:
        await queue.enqueue("run-1")
        job = await queue.saq.dequeue()  # as a worker takes it
        assert job is not None and job.key == "run-1"
        await store.put(running.model_copy(update={"status": "completed", "report": "# Done"}))
        await queue.saq.finish(job, Status.COMPLETE)  # the worker's order: record first, then the job
        async with RunManager(cast(Any, None), cast(Any, FirstReadStale(store, running)), queue=queue) as runs:
            seen = await runs.get("run-1")
        stored = await store.get("run-1")
    await store.close()
    assert seen.status == "completed" and stored is not None and stored.status == "completed"


async def test_rewrites_and_follow_ups_run_on_a_worker_and_a_stopped_worker_s_run_resumes_elsewhere_at_once(
    docs: Path, tmp_path: Path, redis_server: RedisServer  # noqa: F811
) -> None:
    """A worker rebuilds a `write` (its language, its parent's notes) and a follow-up (its parent's topics and
    sources) from the records alone. Then SIGTERM: the worker's run goes back to the queue at once (the heartbeat is
    far longer than the test waits, so no sweep could deliver it) and another worker finishes it."""
    async with ScriptedLLMServer(Scenario(topics=1, repeat_known_topics=True)) as llm:
        env = {**worker_env(llm, docs, tmp_path / "worker", redis_server),
               "DEEP_RESEARCH_QUEUE_HEARTBEAT_S": "120", "DEEP_RESEARCH_RETRY_BASE_DELAY_S": "0.01"}
        front = front_settings(llm, docs, tmp_path / "front", redis_server, queue_heartbeat_s=120)
        with workers(1, lambda i: env, tmp_path / "logs") as (worker,):
            async with Client(build_server(front)) as client:
                first = await research(client, "How do tidal lagoons store energy?")
                first_calls = dict(llm.stats.calls_by_stage)
                # The report request carries the language, which the rule fails once (the retry answers).
                llm.scenario = Scenario(failures=[FailureRule(kind="500", stage="report",
                                                              match="Report language: German.")])
                llm.reset_stats()
                rewritten = await client.call_tool("write", {"run_id": first["run_id"], "language": "German",
                                                             "wait_s": 30})
                rewrite_calls, injected = dict(llm.stats.calls_by_stage), llm.stats.failures_injected
                llm.scenario = Scenario(topics=1, repeat_known_topics=True)
                llm.reset_stats()
                second = await research(client, "How efficient is pumped hydro?", follow_up_of=first["run_id"])
                second_calls = dict(llm.stats.calls_by_stage)
                # A run slow enough to be stopped in the middle (its researchers take ~1 s), quick once resumed.
                llm.scenario = Scenario(topics=1, latency_s=0.3)
                run_id = (await client.call_tool("research_start", {"question": QUESTIONS[1]})
                          ).structured_content["run_id"]
                await wait_until(client, [run_id], lambda s: s[0]["worker"] == worker.url)
                # The other worker starts once the run is taken (the queue is empty: it waits for work).
                ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
                other = asyncio.create_task(run_worker(front.model_copy(update={"data_dir": tmp_path / "other"}),
                                                       on_ready=ready.set_result))
                try:
                    await asyncio.wait_for(asyncio.shield(ready), 20)
                    await wait_until(client, [run_id], lambda s: s[0]["researchers_running"] > 0)
                    worker.popen.send_signal(signal.SIGTERM)
                    stopped = await asyncio.to_thread(worker.popen.wait, 20)
                    llm.scenario = Scenario(topics=1)
                    (resumed,) = await wait_until(client, [run_id], lambda s: s[0]["finished"])
                finally:
                    other.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await other
        store = RedisRunStore(redis_server.url)
        try:
            stored = {run["run_id"]: await store.get(run["run_id"])
                      for run in (first, rewritten.structured_content, second)}
        finally:
            await store.close()
    assert not rewritten.is_error, rewritten.content
    assert rewritten.structured_content["status"] == "completed", rewritten.structured_content
    rewrite = stored[rewritten.structured_content["run_id"]]
    assert rewrite is not None and rewrite.kind == "rewrite" and rewrite.options["report_language"] == "German"
    assert rewrite_calls == {"report": 2} and injected == 1  # the worker wrote in German: no research again
    follow_up = stored[second["run_id"]]
    assert follow_up is not None and follow_up.parent_run_id == first["run_id"]
    # The earlier topic came from the parent's record (the scripted supervisor delegated it again): only the new
    # one was researched, and the earlier notes and sources are in the follow-up's.
    assert second_calls["researcher"] == first_calls["researcher"], (first_calls, second_calls)
    parent = stored[first["run_id"]]
    assert parent is not None and len(follow_up.notes) == 2
    assert {n.note for n in parent.notes} <= {n.note for n in follow_up.notes}, (parent.notes, follow_up.notes)
    assert {s["locator"] for s in first["sources"]} <= {s["locator"] for s in second["sources"]}
    assert stopped == 0, worker.describe()  # SIGTERM is an orderly stop
    assert resumed["status"] == "completed" and resumed["attempts"] == 2, resumed
    assert resumed["worker"] == worker_name(), resumed  # the test's own process: the other worker


def swallowing(command: Any, entered: asyncio.Event) -> Any:
    """`command` (a real Redis command) as redis-py's asyncio client sometimes runs it: a cancellation that lands
    while it waits is caught and dropped, and the command completes."""

    async def run(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(5)  # the command's wait for its reply, where the cancellation lands
        return await command(*args, **kwargs)

    return run


@pytest.mark.parametrize("path", ["status of a queued run", "a worker watching a run another worker runs"])
async def test_a_cancellation_swallowed_by_a_redis_command_still_ends_the_task(
    tmp_path: Path, redis_server: RedisServer, path: str  # noqa: F811
) -> None:
    """A status call cut off by its client while reading the run's place in the queue, and a worker stopping while it
    watches a redelivered run, end cancelled even when the Redis command they were in swallowed the cancellation
    (before: the status call answered as if never cut off, so the run it started was not cancelled with it, and the
    watching worker went on watching)."""
    settings = Settings(data_dir=tmp_path, queue_url=redis_server.url, fetch_enabled=False)
    store = RedisRunStore(redis_server.url)
    entered = asyncio.Event()
    try:
        await store.put(RunRecord(run_id="run-1", question="q", owner="other-worker", attempts=1))
        async with open_run_queue(settings) as queue:
            await queue.enqueue("run-1")
            if path.startswith("status"):
                queue.saq.redis.lpos = swallowing(queue.saq.redis.lpos, entered)  # type: ignore[method-assign]
            async with RunManager(cast(Any, None), store, queue=queue if path.startswith("status") else None,
                                  requeue_on_stop=True, persist_interval_s=0.05) as runs:
                if path.startswith("status"):
                    task = asyncio.create_task(runs.get("run-1"))
                else:
                    store.get = swallowing(store.get, entered)  # type: ignore[method-assign]
                    task = asyncio.create_task(runs.execute("run-1"))
                await asyncio.wait_for(entered.wait(), 10)
                task.cancel()
                done, _ = await asyncio.wait([task], timeout=10)
                if not done:  # the cancellation was lost: end it for the assertion to say so
                    task.cancel()
                    await asyncio.wait([task], timeout=10)
    finally:
        await store.close()
    assert done and task.cancelled(), "the task went on after its cancellation was swallowed"
