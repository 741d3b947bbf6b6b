"""The server factory and its lifespan: everything long-lived is opened once here and closed on the way out.

`build_server(settings)` returns an `MCPServer` whose lifespan owns the model clients (one httpx2 pool per provider),
the research tools (HTTP pool, document index, upstream MCP sessions), the cache, the run store and the run manager,
and yields them as one frozen `AppState`. Nothing is built at import time, and the lifespan does only what is quick:
the research tools open in the background after it (see `tools.toolbox.Toolbox`), so a host's `initialize` is
answered at once whatever the document folder or the upstream servers are doing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from mcp.server import MCPServer

from ..cache import open_cache
from ..engine.config import EngineConfig
from ..engine.run import ResearchEngine
from ..llm.factory import ModelHub
from ..monitor import Monitor, service_name
from ..services import ServiceRegistry
from ..settings import Settings, parse_model_string
from ..tools.toolbox import Toolbox
from .runs import RunManager
from .state import AppState
from .store import DiskRunStore, RedisRunStore, RunStore, replica_identity

log = logging.getLogger(__name__)

SERVER_NAME = "deep-research"
INSTRUCTIONS = (
    "Deep research with cited reports. For a question that needs reading many sources: call `clarify` first if the "
    "question may be ambiguous, then `research`. `research` waits at most `wait_s` (default 45 s, under the ~60 s "
    "after which hosts end a tool call) and, if the run is still going, returns its run id and findings so far: "
    "call `research_result(run_id)`, which waits again within the same bound, until it returns the report. "
    "`research_start`/`research_status` start and watch a run without waiting. Results are compact; the full report "
    "is the resource `research://runs/{run_id}/report`. `write` rewrites a finished run's report in another form "
    "(shorter, another audience or language) without new research."
)


def redis_url(settings: Settings) -> str | None:
    """One Redis serves the cache (L3) and the run store, so replicas share both."""
    value = settings.cache_redis_url
    return value.get_secret_value() if value is not None else None


def open_store(settings: Settings) -> RunStore:
    url = redis_url(settings)
    if url:
        return RedisRunStore(url)
    return DiskRunStore(settings.runs_path)


def worker_timing(settings: Settings) -> dict[str, Any]:
    """A queue worker beats several times per heartbeat period, and a run's record older than one period means
    its worker is gone (server/queue.py)."""
    return {"requeue_on_stop": True, "persist_interval_s": min(1.0, settings.queue_heartbeat_s / 4),
            "stale_after_s": float(settings.queue_heartbeat_s)}


def monitor_named(services: ServiceRegistry, hub: ModelHub) -> Callable[[], dict[str, Any]]:
    """The registry's figures under the monitor's names, so status and metrics show one entry per service: the
    registry knows a model endpoint by its provider ("openai"), the monitor and its timelines by the model it serves
    ("openai:gpt-4.1", with "@base_url" off the provider's default; see `monitor.service_name`). Each model gets the
    figures of the endpoint it waits on; two models on one endpoint show the same shared limit. Upstream servers
    already have one name in both."""
    shown: dict[str, list[str]] = {}
    for model in sorted(set(hub.chosen.values())):
        provider = parse_model_string(model)[0]
        if provider != "offline":
            shown.setdefault(provider, []).append(service_name(hub.cache_identity(model)))

    def snapshot() -> dict[str, Any]:
        return {name: figures for registered, figures in services.snapshot().items()
                for name in shown.get(registered, [registered])}

    return snapshot


def unavailable_reason(offline_only: bool, settings: Settings) -> str | None:
    """Why no research can run (no model, no documents, no search servers), or None. `serve` refuses to start on
    it; a server built in-process says it on every start."""
    if offline_only and settings.docs_dir is None and settings.mcp_config is None:
        return ("no model and no documents are configured: set DEEP_RESEARCH_DOCS_DIR to a folder of documents for "
                "the offline engine, or DEEP_RESEARCH_MCP_CONFIG to upstream search servers, or a model with "
                "DEEP_RESEARCH_RESEARCH_MODEL (e.g. openai:gpt-4.1) and its API key")
    return None


@contextlib.asynccontextmanager
async def app_lifespan(settings: Settings, *, worker: str | None = None) -> AsyncIterator[AppState]:
    """`worker`: the name of a queue worker process (server/queue.py) this state is for; None for a server."""
    if settings.queue_url is not None:
        from .queue import with_queue_defaults

        settings = with_queue_defaults(settings)
    async with contextlib.AsyncExitStack() as stack:
        cache = await stack.enter_async_context(open_cache(settings))
        services = ServiceRegistry()
        hub = await stack.enter_async_context(ModelHub(settings, cache=cache, services=services))
        if settings.docs_dir is not None and not Path(settings.docs_dir).is_dir():
            log.error("DEEP_RESEARCH_DOCS_DIR=%s is not a folder; local documents are left out", settings.docs_dir)
            docs = None
        else:
            docs = settings.docs_dir
        # Opened in the background: the document index check and upstream servers (which may take a minute, or never
        # answer) must not delay the handshake. Each research waits for them and is told what is missing.
        tools = await stack.enter_async_context(Toolbox(settings, docs=docs, cache=cache, services=services))
        monitor = Monitor.from_settings(settings)
        monitor.add_gauges(monitor_named(services, hub))  # each service's adaptive limit, in flight and queue
        engine = ResearchEngine(hub.stage_models(), [], EngineConfig.from_settings(settings), opening=tools,
                                monitor=monitor)
        store = open_store(settings)
        stack.push_async_callback(store.close)
        replica_id = worker or stack.enter_context(replica_identity(Path(settings.data_dir)))
        queue = None
        if settings.queue_url is not None and worker is None:  # a front-end: runs go to the workers
            from .queue import open_run_queue

            queue = await stack.enter_async_context(open_run_queue(settings))
        runs = await stack.enter_async_context(
            RunManager(engine, store, replica_id=replica_id,
                       max_running=settings.worker_concurrency if worker else settings.max_concurrent_runs,
                       unavailable=unavailable_reason(hub.offline_only, settings), queue=queue,
                       **(worker_timing(settings) if worker else {}))
        )
        if hub.offline_only:
            log.warning("no model configured: the offline engine (extractive, no key, no network) does the research")
        log.info("deep-research server ready (research tools opening in the background), run store %s",
                 type(store).__name__)
        yield AppState(settings=settings, engine=engine, runs=runs, store=store, cache=cache,
                       offline=hub.offline_only, services=services)


def build_server(settings: Settings, *, auth: Any = None, token_verifier: Any = None) -> MCPServer[AppState]:
    """The MCP server for these settings. `auth`/`token_verifier` are given by the HTTP entry point when it needs
    bearer auth (see `server.http`)."""
    from . import resources, tools
    from .tasks import TasksExtension

    running: list[AppState] = []  # the live state, for the few handlers the SDK gives no request context

    @contextlib.asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncIterator[AppState]:
        async with app_lifespan(settings) as state:
            running.append(state)
            try:
                yield state
            finally:
                running.remove(state)

    def current_state() -> AppState:
        if not running:
            raise RuntimeError("the server is not running")
        return running[-1]

    server: MCPServer[AppState] = MCPServer(
        SERVER_NAME,
        title="Deep Research",
        instructions=INSTRUCTIONS,
        version=_version(),
        lifespan=lifespan,
        auth=auth,
        token_verifier=token_verifier,
        extensions=[TasksExtension(poll_interval_ms=settings.task_poll_interval_ms, ttl_ms=settings.task_ttl_ms)],
        log_level="WARNING",
    )
    tools.register(server)
    resources.register(server, current_state)
    return server


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("deep-research-mcp")
    except PackageNotFoundError:
        return "0"
