"""`deep-research`: run a research from the terminal. Settings are read here, once, and passed down.

Exit codes: 0 report written · 1 the run failed · 2 bad settings or input · 3 the question needs clarifying ·
130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache.commands import add_cache_parser, cache_command
from .errors import ConfigError, DeepResearchError, InputError, one_line

# Only what parsing the command line needs is imported above: `--help` must answer at once, and each command
# imports its own machinery (the engine, the MCP SDK, a provider SDK only when configured) when it runs.
if TYPE_CHECKING:
    from pydantic import ValidationError
    from rich.console import Console

    from .engine.config import PriorRun, ResearchResult
    from .engine.events import Event
    from .export import ExportFormat
    from .server.handshake import Handoff
    from .server.store import DiskRunStore, RunRecord
    from .settings import Settings
    from .tools.localdocs import IndexStats

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CLARIFY, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
SCRIPTED_MODEL = "openai:scripted"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deep-research", description="Deep research with cited reports.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="research a question and write a cited markdown report")
    run.add_argument("question", nargs="?", help="what to research (omit with --resume)")
    run.add_argument("--resume", metavar="RUN_ID",
                     help="run again an earlier run's question with its options; the cache replays what it had "
                          "finished, so only unfinished work is paid for")
    run.add_argument("--follow-up", metavar="RUN_ID",
                     help="build on that completed run: keep its brief, sources and findings, research only what "
                          "the question adds, and cite old and new sources in one report")
    run.add_argument("--language", help="write the report in this language (a name or tag: German, de, pt-BR); "
                                        "sources are not translated, and the offline engine cannot translate")
    run.add_argument("--length", choices=("short", "standard", "long"), default="standard",
                     help="report length: short about halves it, long adds half again (default standard)")
    run.add_argument("--model", help="model for every stage, as provider:model (e.g. openai:gpt-4.1)")
    for stage in ("research", "summarization", "compression", "final-report"):
        run.add_argument(f"--{stage}-model", help=f"model for the {stage.replace('-', ' ')} stage")
    run.add_argument("--base-url", help="OpenAI-compatible server for the 'compatible' provider (Ollama, vLLM, ...)")
    run.add_argument("--concurrency", type=int, help="research units running at once (default 5)")
    run.add_argument("--max-tool-calls", type=int, help="tool calls per researcher (default 10)")
    run.add_argument("--max-iterations", type=int, help="supervisor turns (default 6)")
    run.add_argument("--no-clarify", action="store_true", help="never stop to ask a clarifying question")
    run.add_argument("--docs", type=Path,
                     help="a folder of documents to research in (.md, .rst, .txt, .html, text without a suffix; "
                          "each also gzipped)")
    add_glob_arguments(run)
    run.add_argument("-o", "--output", type=Path, help="report path (default ./reports/<run id>.<format>)")
    add_format_argument(run)
    run.add_argument("--json", action="store_true", help="print the run summary as JSON on stdout")
    run.add_argument(
        "--scripted",
        nargs="?",
        const="",
        metavar="SCENARIO.json",
        help="use the bundled scripted LLM server instead of a real model (demos and benchmarks)",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no live progress")
    run.add_argument("--no-cache", action="store_true",
                     help="neither read nor write the cache (by default answers are reused, and a rerun resumes)")
    index = sub.add_parser("index", help="build or update the full-text index of a folder of documents")
    index.add_argument("dir", type=Path, help="folder of .md/.markdown/.txt/.rst/.html/.htm files and text files "
                                              "without a suffix, each also gzipped")
    index.add_argument("--db", type=Path, help="index file (default: <data dir>/index/<hash of the folder>.sqlite)")
    index.add_argument("-q", "--quiet", action="store_true", help="no live progress")
    add_glob_arguments(index)
    add_serve_parser(sub)
    add_export_parser(sub)
    add_worker_parser(sub)
    add_cache_parser(sub)
    add_config_parser(sub)
    add_stats_parser(sub)
    return parser


EXPORT_FORMATS = ("md", "html", "pdf", "docx", "json")  # export.FORMATS, spelled here so `--help` imports nothing


def add_format_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument("--format", choices=EXPORT_FORMATS,
                         help="the report as md (default), html, pdf, docx or json; without --format, an -o path "
                              "ending in one of these extensions chooses it (a different one with --format is refused)")


def add_export_parser(sub: Any) -> None:
    export = sub.add_parser("export", help="write a finished run's report again, in another format (no research)",
                            description="Render a stored run's report as md, html, pdf, docx or json, from the run "
                                        "store (the runs `deep-research run` and the server keep); nothing is "
                                        "researched again.")
    export.add_argument("run_id", metavar="RUN_ID", help="the run id `deep-research run` printed")
    export.add_argument("-o", "--output", type=Path, help="file to write (default ./reports/<run id>.<format>)")
    add_format_argument(export)


def output_format(fmt: str | None, output: Path | None) -> ExportFormat:
    """The export format: --format, else the extension of -o, else md. A path whose extension names another format
    than --format is refused rather than written with a misleading name; other extensions are the user's choice."""
    from .export import FORMATS, format_of_path

    named = format_of_path(output) if output is not None else None
    if output is not None and fmt is not None and named is not None and named != fmt:
        raise InputError(f"-o {output} has the {output.suffix} extension but --format is {fmt}; give -o "
                         f"{output.with_suffix('.' + fmt)} or drop --format")
    chosen = fmt or named or "md"
    if chosen not in FORMATS:
        raise InputError(f"--format {chosen}: the formats are {', '.join(FORMATS)}")
    return chosen  # type: ignore[return-value]


async def export_command(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    from .export import ReportDocument, check_available, render
    from .files import write_atomically
    from .server.store import DiskRunStore

    store = DiskRunStore(settings.runs_path)
    record = await store.get(args.run_id)
    if record is None:
        raise InputError(f"no run {args.run_id!r} in {store.root}; `deep-research run` prints each run's id")
    if not record.report:
        raise InputError(f"run {record.run_id} has no report to export ({record.status}"
                         f"{': ' + (record.error or record.message) if record.error or record.message else ''})")
    fmt = output_format(args.format, args.output)
    check_available(fmt)
    path = args.output or Path("reports") / f"{record.run_id}.{fmt}"
    check_output(path)
    data = await asyncio.to_thread(render, ReportDocument.from_run(record), fmt)
    write_atomically(path, data, shared=True)
    console.print(f"{fmt} report of run {record.run_id}: {path} ({len(data):,} bytes)", highlight=False)
    print(path)
    return EXIT_OK


def add_stats_parser(sub: Any) -> None:
    stats = sub.add_parser("stats", help="where the time went: recent runs' wall, floor and calls, per service",
                           description="Reads the run store (each finished run's timeline), or with --url a running "
                                       "server's live metrics (its /monitor/api/metrics, with --token or "
                                       "DEEP_RESEARCH_AUTH_TOKEN when it wants one).")
    stats.add_argument("--runs", type=int, default=20, help="how many of the newest runs (default 20)")
    stats.add_argument("--url", help="a running `serve --http` server, e.g. http://127.0.0.1:8000/mcp")
    stats.add_argument("--token", help="bearer token for --url (default DEEP_RESEARCH_AUTH_TOKEN)")
    stats.add_argument("--json", action="store_true", help="print JSON on stdout instead of tables")


async def stats_command(args: argparse.Namespace, settings: Settings) -> int:
    """Tables (or JSON) on stdout: per run wall, critical-path floor and ratio; per service calls, errors, latency."""
    from rich.console import Console as RichConsole
    from rich.table import Table

    from .monitor import summary

    if args.url:
        import httpx2

        token = args.token or (settings.auth_token.get_secret_value() if settings.auth_token else None)
        url = args.url.rstrip("/").removesuffix("/mcp") + "/monitor/api/metrics"
        async with httpx2.AsyncClient(timeout=10.0) as http:
            try:
                response = await http.get(url, headers={"Authorization": f"Bearer {token}"} if token else {})
            except httpx2.HTTPError as exc:
                raise InputError(f"cannot reach {url}: {exc}") from None
        if response.status_code != 200:
            raise InputError(f"{url} answered HTTP {response.status_code}: {response.text[:200]}")
        live = response.json()
        runs: list[dict[str, Any]] = []
        services = live["services"]
    else:
        from .server.store import DiskRunStore

        store = DiskRunStore(settings.runs_path)
        records = [await store.get(r.run_id) for r in await store.list(limit=args.runs)]
        finished = [r for r in records if r is not None and r.timeline]
        runs = [summary.run_row(r.run_id, r.status, r.question, r.timeline) for r in finished]
        services = summary.services(r.timeline for r in finished)
    if args.json:
        print(json.dumps({"runs": runs, "services": services}, indent=1))
        return EXIT_OK
    out = RichConsole(width=None if sys.stdout.isatty() else 200)  # piped: whole rows, not 80-column wraps
    if runs:
        table = Table("run", "status", "wall s", "floor s", "wall/floor", "model", "tools", "errors", "tokens",
                      title="runs (floor: the critical path's summed call latencies)")
        for row in runs:
            table.add_row(row["run_id"], row["status"], f"{row['wall_s']:.2f}", f"{row['floor_s']:.2f}",
                          "–" if row["ratio"] is None else f"{row['ratio']:.3f}", str(row["model_calls"]),
                          str(row["tool_calls"]), str(row["errors"]), str(row["tokens"]))
        out.print(table)
    elif not args.url:
        out.print("no finished runs with a timeline in the run store")
    table = Table("service", "kind", "calls", "429", "5xx", "timeout", "other", "p50", "p95", "p99",
                  title="services" + (" (live, since the server started)" if args.url else " (over these runs)"))
    for name, row in services.items():
        latency = row.get("latency_s") or {}
        table.add_row(name, row.get("kind", ""), str(row.get("calls", 0)),
                      *(str(row.get("errors", {}).get(k, 0)) for k in ("429", "5xx", "timeout", "other")),
                      *("–" if latency.get(q) is None else f"{latency[q]:.3f}" for q in ("p50", "p95", "p99")))
    out.print(table)
    return EXIT_OK


def add_config_parser(sub: Any) -> None:
    from .hostconfig import HOSTS, SERVER_NAME

    config = sub.add_parser("config", help="print (or --write) the config an MCP host needs to start this server",
                            description="Print the server entry for an MCP host, with absolute paths so it works "
                                        "from any folder; --write merges it into the host's config file, keeping a "
                                        "timestamped backup and every other server.")
    config.add_argument("host", choices=list(HOSTS),
                        help="; ".join(f"{h.name}: {h.where}" for h in HOSTS.values()))
    config.add_argument("--docs", type=Path, help="a folder of documents to research in (made absolute)")
    config.add_argument("--model", help="model for every stage, as provider:model (e.g. openai:gpt-4.1)")
    config.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="an environment variable for the server (repeatable), e.g. OPENAI_API_KEY=...")
    config.add_argument("--name", default=SERVER_NAME, help=f"the server's name in the host (default {SERVER_NAME})")
    config.add_argument("--python", action="store_true",
                        help="start it as `<this python> -m deep_research_mcp` instead of the console script")
    config.add_argument("--write", action="store_true", help="merge it into the host's config file")
    config.add_argument("--file", type=Path, help="the config file to merge into (implies --write)")


def config_command(args: argparse.Namespace, console: Console) -> int:
    from .hostconfig import default_config_path, host_config, merge_into_file, parse_env, server_entry

    entry = server_entry(args.host, docs=args.docs, model=args.model, env=parse_env(args.env), module=args.python)
    if not (args.write or args.file):
        print(json.dumps(host_config(args.host, entry, args.name), indent=2, ensure_ascii=False))
        return EXIT_OK
    path = args.file or default_config_path(args.host)
    if path is None:
        raise InputError(f"{args.host} has no default config file: give --file PATH")
    path = path.expanduser().absolute()
    backup = merge_into_file(path, args.host, entry, args.name)
    console.print(f"server {args.name!r} written to {path}" + (f" (previous file kept as {backup})" if backup else "")
                  + "; restart the host to pick it up", highlight=False)
    print(path)
    return EXIT_OK


def add_glob_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--include", action="append", default=[], metavar="GLOB",
                         help="index only files matching GLOB, relative to the folder (repeatable; `**` spans "
                              "folders; also names generated folders to keep, e.g. '_sources/**')")
    command.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                         help="skip files or folders matching GLOB (repeatable; e.g. 'releases/' or '*.txt')")


def with_globs(settings: Settings, args: argparse.Namespace) -> Settings:
    """The flags add to DEEP_RESEARCH_DOCS_INCLUDE/EXCLUDE."""
    return settings.model_copy(update={"docs_include": [*settings.docs_include, *(args.include or [])],
                                       "docs_exclude": [*settings.docs_exclude, *(args.exclude or [])]})


def add_serve_parser(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the MCP server (stdio by default; --http for streamable HTTP)")
    serve.add_argument("--http", action="store_true",
                       help="serve streamable HTTP at http://HOST:PORT/mcp (or DEEP_RESEARCH_TRANSPORT=http)")
    serve.add_argument("--host", help="HTTP host (default 127.0.0.1; other hosts need DEEP_RESEARCH_AUTH_TOKEN)")
    serve.add_argument("--port", type=int, help="HTTP port (default 8000; 0 picks a free one)")
    serve.add_argument("--docs", type=Path, help="a folder of documents to research in (DEEP_RESEARCH_DOCS_DIR)")
    serve.add_argument("--model", help="model for every stage, as provider:model (DEEP_RESEARCH_RESEARCH_MODEL)")


def serve_command(args: argparse.Namespace, console: Console, handoff: Handoff | None = None) -> int:
    """Serve until interrupted. Settings problems are reported before the first byte of protocol."""
    from .llm.factory import check_models_configured
    from .server.app import unavailable_reason
    from .server.serve import serve_http, serve_stdio, until_signalled
    from .settings import Settings

    overrides = {"docs_dir": args.docs, "research_model": args.model, "http_host": args.host, "http_port": args.port}
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    chosen = check_models_configured(settings)
    if settings.docs_dir is not None and not settings.docs_dir.is_dir():
        raise InputError(f"documents folder {settings.docs_dir} does not exist or is not a folder")
    reason = unavailable_reason(all(m.startswith("offline:") for m in chosen.values()), settings)
    if reason:
        raise InputError(reason.replace("DEEP_RESEARCH_DOCS_DIR to", "DEEP_RESEARCH_DOCS_DIR (or --docs) to"))
    serving = (serve_http(settings, host=settings.http_host, port=settings.http_port)
               if args.http or settings.transport == "http" else serve_stdio(settings, handoff))
    stopped_by = asyncio.run(until_signalled(serving))
    if stopped_by is not None:
        console.print(f"stopped ({signal.Signals(stopped_by).name})", style="yellow", highlight=False)
    # Everything was closed by the lifespan; the interpreter's final garbage collection of the server's objects
    # took 1.5-2.5 s of a stop, which frozen objects skip.
    gc.freeze()
    # SIGINT keeps the shell's convention for an interrupted command; SIGTERM is an orderly stop.
    return EXIT_INTERRUPTED if stopped_by == signal.SIGINT else EXIT_OK


def add_worker_parser(sub: Any) -> None:
    worker = sub.add_parser("worker", help="run research jobs from the task queue (DEEP_RESEARCH_QUEUE_URL) for "
                                           "`serve --http` front-ends; see docs/workers.md")
    worker.add_argument("--queue", metavar="URL", help="the queue's Redis, redis://host:port/db "
                                                       "(DEEP_RESEARCH_QUEUE_URL)")
    worker.add_argument("--concurrency", type=int,
                        help="runs at once in this worker (DEEP_RESEARCH_WORKER_CONCURRENCY, default 2)")
    worker.add_argument("--docs", type=Path, help="a folder of documents to research in (DEEP_RESEARCH_DOCS_DIR)")
    worker.add_argument("--model", help="model for every stage, as provider:model (DEEP_RESEARCH_RESEARCH_MODEL)")


def worker_command(args: argparse.Namespace, console: Console) -> int:
    """Run jobs until SIGINT/SIGTERM; the runs it had started go back to the queue for another worker."""
    from .llm.factory import check_models_configured
    from .server.app import unavailable_reason
    from .server.serve import until_signalled
    from .server.worker import run_worker
    from .settings import Settings

    overrides = {"docs_dir": args.docs, "research_model": args.model, "queue_url": args.queue,
                 "worker_concurrency": args.concurrency}
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    if settings.queue_url is None:
        raise InputError("no task queue configured: set DEEP_RESEARCH_QUEUE_URL (or --queue) to the Redis the "
                         "front-ends enqueue runs in, e.g. redis://127.0.0.1:6379/0")
    chosen = check_models_configured(settings)
    if settings.docs_dir is not None and not settings.docs_dir.is_dir():
        raise InputError(f"documents folder {settings.docs_dir} does not exist or is not a folder")
    reason = unavailable_reason(all(m.startswith("offline:") for m in chosen.values()), settings)
    if reason:
        raise InputError(reason.replace("DEEP_RESEARCH_DOCS_DIR to", "DEEP_RESEARCH_DOCS_DIR (or --docs) to"))

    def ready(line: str) -> None:
        console.print(line, highlight=False, markup=False)

    stopped_by = asyncio.run(until_signalled(run_worker(settings, on_ready=ready)))
    if stopped_by is not None:
        console.print(f"stopped ({signal.Signals(stopped_by).name})", style="yellow", highlight=False)
    return EXIT_INTERRUPTED if stopped_by == signal.SIGINT else EXIT_OK


def settings_from_args(args: argparse.Namespace) -> Settings:
    from .settings import Settings

    overrides: dict[str, Any] = {
        "research_model": args.research_model or args.model,
        "summarization_model": args.summarization_model,
        "compression_model": args.compression_model,
        "final_report_model": args.final_report_model,
        "compatible_base_url": args.base_url,
        "max_concurrent_research_units": args.concurrency,
        "max_tool_calls": args.max_tool_calls,
        "max_supervisor_iterations": args.max_iterations,
    }
    if args.no_clarify:
        overrides["allow_clarification"] = False
    return with_globs(Settings(**{k: v for k, v in overrides.items() if v is not None}), args)


def describe_validation_error(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{field} (DEEP_RESEARCH_{field.upper()} or its flag): {message}")
    return "invalid settings:\n  " + "\n  ".join(lines)


class ProgressView:
    """Renders events on stderr: a status line that follows the run, plus one line per notable event."""

    def __init__(self, console: Console, quiet: bool) -> None:
        self.console = console
        self.quiet = quiet
        self.status: Any = None

    def __call__(self, event: Event) -> None:
        if self.quiet:
            return
        if self.status is not None:
            self.status.update(event.progress.describe())
        if event.kind in ("phase", "researcher_started", "researcher_finished", "warning"):
            style = {"warning": "yellow", "researcher_finished": "green" if event.data.get("ok") else "red"}
            self.console.print(f"[{event.progress.elapsed_s:6.1f}s] {event.message}", style=style.get(event.kind),
                               markup=False, highlight=False)


@contextlib.asynccontextmanager
async def scripted_backend(scenario_path: str, settings: Settings) -> AsyncIterator[Settings]:
    from .llm.scripted import Scenario, ScriptedLLMServer

    scenario = Scenario.model_validate_json(Path(scenario_path).read_text()) if scenario_path else Scenario()
    async with ScriptedLLMServer(scenario) as server:
        yield settings.model_copy(update={"research_model": SCRIPTED_MODEL, "openai_base_url": server.openai_base_url,
                                          "summarization_model": None, "compression_model": None,
                                          "final_report_model": None})


# The `run` arguments a resumed run takes from the stored one: everything that shapes the research.
RESUMABLE = ("question", "model", "research_model", "summarization_model", "compression_model", "final_report_model",
             "base_url", "concurrency", "max_tool_calls", "max_iterations", "no_clarify", "docs", "scripted",
             "include", "exclude", "follow_up", "language", "length")


async def resume_arguments(args: argparse.Namespace, store: DiskRunStore) -> RunRecord:
    """Fill `args` from the stored run `args.resume`; return its record, reset to running."""
    record = await store.get(args.resume)
    if record is None:
        raise InputError(f"no run {args.resume!r} in {store.root}; `deep-research run` prints each run's id")
    for name in RESUMABLE:
        if name in record.options and name != "question":
            value = record.options[name]
            setattr(args, name, Path(value) if name == "docs" and value is not None else value)
    if args.output is None and record.options.get("output"):
        args.output = Path(record.options["output"])  # the report goes where the first attempt was to put it
    args.question = record.question
    record.status, record.error, record.message = "running", "", "resumed"
    return record


def new_record(args: argparse.Namespace) -> RunRecord:
    from .engine.run import new_run_id
    from .server.store import RunRecord

    options = {name: getattr(args, name) for name in RESUMABLE if name != "question"}
    options["docs"] = str(args.docs.resolve()) if args.docs is not None else None
    options["output"] = str(args.output.resolve()) if args.output is not None else None
    return RunRecord(run_id=new_run_id(), question=args.question, options=options, owner="cli")


def check_output(path: Path) -> None:
    """Refuse a report path that cannot be written before any research is paid for."""
    if path.is_dir():
        raise InputError(f"-o {path} is a folder; give a file path such as {path / 'report.md'}")
    folder = path.absolute().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(f"-o {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"-o {path}: no permission to write in {folder}")


async def run_command(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    from .export import check_available
    from .server.runs import apply_result
    from .server.store import DiskRunStore

    store = DiskRunStore(settings.runs_path)
    if args.resume:
        if args.question:
            raise InputError(f"--resume {args.resume} reruns that run's own question; drop {args.question[:60]!r}, "
                             "or ask it as a new run without --resume")
        record = await resume_arguments(args, store)
        settings = settings_from_args(args)
        console.print(f"resuming run {record.run_id}: {record.question[:100]}", highlight=False)
    elif not args.question:
        raise InputError("give the question to research (or --resume RUN_ID)")
    else:
        record = new_record(args)
    if args.output is not None:
        check_output(args.output)
    fmt = output_format(args.format, args.output)
    check_available(fmt)  # a missing renderer is said before any research is paid for
    prior = await follow_up_prior(args, store)
    record.parent_run_id = prior.run_id if prior is not None else None
    stored = False

    async def started() -> None:
        nonlocal stored
        await store.put(record)  # from now on `--resume` can find it, whatever happens to this process
        stored = True

    try:
        result = await research(args, settings, console, record.run_id, on_start=started, prior=prior)
    except BaseException as exc:
        # Input errors end before research starts and leave no record: there is nothing to resume.
        if stored:
            interrupted = isinstance(exc, KeyboardInterrupt | asyncio.CancelledError)
            record.status = "interrupted" if interrupted else "failed"
            record.error = one_line(exc)
            with contextlib.suppress(Exception):
                await store.put(record)
        raise
    apply_result(record, result)
    try:
        data = await rendered(record, fmt)
    except Exception as exc:  # the renderer's own failure: the research is kept, and `export` can try again
        await store.put(record)
        console.print(f"error: the report could not be rendered as {fmt} ({one_line(exc)}); the run is stored, "
                      f"and `deep-research export {record.run_id} --format md` writes it", style="red", highlight=False)
        return EXIT_FAILED
    try:
        code = report_result(args, result, console, fmt, data)
    except OSError as exc:
        record.status = "failed"
        record.error = (f"the report could not be written to {exc.filename or args.output}: {exc.strerror or exc}; "
                        f"`deep-research run --resume {record.run_id} -o PATH` writes it again from the cache")
        await store.put(record)
        console.print(f"error: {record.error}", style="red", highlight=False)
        return EXIT_USAGE
    await store.put(record)
    return code


async def follow_up_prior(args: argparse.Namespace, store: DiskRunStore) -> PriorRun | None:
    """The completed run `--follow-up` names, as the engine builds on it; `--language` checked on the way."""
    from .engine.config import valid_language
    from .server.runs import prior_of

    args.language = valid_language(args.language) or None
    if not args.follow_up:
        return None
    parent = await store.get(args.follow_up)
    if parent is None:
        raise InputError(f"--follow-up: no run {args.follow_up!r} in {store.root}; `deep-research run` prints each "
                         "run's id")
    return prior_of(parent, texts=await store.texts(parent.run_id))  # the store keeps them beside the record


async def research(
    args: argparse.Namespace, settings: Settings, console: Console, run_id: str,
    on_start: Callable[[], Awaitable[None]] | None = None, prior: PriorRun | None = None,
) -> ResearchResult:
    from .cache import Cache, open_cache
    from .engine.config import EngineConfig
    from .engine.run import ResearchEngine
    from .llm.factory import ModelHub
    from .monitor import Monitor
    from .tools.toolbox import open_toolbox

    view = ProgressView(console, args.quiet)
    async with contextlib.AsyncExitStack() as stack:
        if args.scripted is not None:
            settings = await stack.enter_async_context(scripted_backend(args.scripted, settings))
        # The cache is the checkpoint: the same question with the same settings replays what was already answered.
        cache = Cache.disabled() if args.no_cache else await stack.enter_async_context(open_cache(settings))
        hub = await stack.enter_async_context(ModelHub(settings, cache=cache))
        if hub.offline_only:
            if args.docs is None and settings.mcp_config is None:
                raise InputError(
                    "no model is configured and no documents were given: the offline engine researches local "
                    "documents, so pass --docs DIR (or set DEEP_RESEARCH_MCP_CONFIG to upstream search servers); "
                    "to use a model, set DEEP_RESEARCH_RESEARCH_MODEL or pass --model (e.g. openai:gpt-4.1)"
                )
            console.print(
                "no model configured (DEEP_RESEARCH_RESEARCH_MODEL / --model): using the offline engine, "
                "extractive, no key and no network",
                style="cyan", highlight=False,
            )
        if args.docs is not None and not args.quiet:
            console.print(f"indexing {args.docs} (incremental)", highlight=False)
        indexed: list[IndexStats] = []
        tools = await stack.enter_async_context(
            open_toolbox(settings, docs=args.docs, cache=cache, index_progress=indexed.append)
        )
        if indexed and (reasons := indexed[-1].skipped_reasons()) and not args.quiet:
            console.print(f"skipped in {args.docs}: {reasons}", style="yellow", highlight=False, markup=False)
        config = EngineConfig.from_settings(settings)
        if args.language:
            config = dataclasses.replace(config, report_language=args.language)
        config = dataclasses.replace(config, report_length=args.length or "standard")
        engine = ResearchEngine(hub.stage_models(), tools, config, monitor=Monitor.from_settings(settings))
        if args.docs is None:
            console.print("note: no local documents given (--docs DIR); researchers can only fetch URLs they know.",
                          style="yellow")
        engine.validate_question(args.question)
        if on_start is not None:
            await on_start()
        if not args.quiet:
            view.status = stack.enter_context(console.status("starting"))
        return await engine.run(args.question, on_event=view, run_id=run_id, prior=prior)


async def rendered(record: RunRecord, fmt: ExportFormat) -> bytes:
    """The finished run's report as `fmt`, rendered in a worker thread (a PDF is CPU work)."""
    from .export import ReportDocument, render

    if record.status != "completed":
        return b""
    return await asyncio.to_thread(render, ReportDocument.from_run(record), fmt)


def report_result(
    args: argparse.Namespace, result: ResearchResult, console: Console, fmt: ExportFormat, data: bytes
) -> int:
    from .files import write_atomically
    from .server.runs import claim_summary_dict

    if result.status == "needs_clarification":
        console.print(f"The question needs clarifying first:\n  {result.clarification}\n"
                      "Ask again with more detail, or pass --no-clarify.")
        return EXIT_CLARIFY
    path = args.output or Path("reports") / f"{result.run_id}.{fmt}"
    write_atomically(path, data, shared=True)
    stats = result.citations
    failed = len(result.failed_units)
    console.print(
        f"report: {path}\n"
        f"  {len(result.units)} researchers ({failed} failed) · {stats.cited} sources cited, {stats.unused} unused, "
        f"{stats.dropped} unverifiable citations dropped · "
        f"{result.usage.get('calls')} model calls{_from_cache(result)}, "
        f"{result.usage.get('input_tokens', 0) + result.usage.get('output_tokens', 0)} tokens"
        f" · {result.elapsed_s:.1f} s"
        + (f"\n  claim check: {line}" if (line := result.claim_summary.line()) else ""),
        highlight=False,
    )
    if args.json:
        print(json.dumps({"run_id": result.run_id, "report": str(path), "format": fmt, "title": result.title,
                          "citations": dataclasses.asdict(stats), "usage": result.usage, "warnings": result.warnings,
                          "failed_topics": [u.topic for u in result.failed_units],
                          "claim_summary": claim_summary_dict(result),
                          "claims": [_claim_json(c) for c in result.claims],
                          "timeline": result.timeline}, ensure_ascii=False))
    else:
        print(path)
    return EXIT_OK


def _claim_json(check: Any) -> dict[str, Any]:
    """One cited sentence's verdict as JSON (without where it sits in the report)."""
    fields = dataclasses.asdict(check)
    fields.pop("claim", None)
    return fields


def _from_cache(result: ResearchResult) -> str:
    hits = int(result.usage.get("cache_hits") or 0)
    return f" (+{hits} answered from the cache)" if hits else ""


def index_command(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """Build or update the index of a folder; prints the index path on stdout, like `run` prints the report's."""
    from .tools.localdocs import DocumentIndex, default_index_path

    root: Path = args.dir
    if not root.is_dir():
        raise InputError(f"{root} is not a folder" if root.exists() else f"{root} does not exist")
    db_path = args.db or default_index_path(settings.data_dir, root)
    last_line = 0.0

    def progress(stats: IndexStats) -> None:
        nonlocal last_line
        if args.quiet:
            return
        if status is not None:
            status.update(stats.describe())
        elif stats.seconds - last_line >= 2.0:  # not a terminal (a log): a line every few seconds, not per batch
            last_line = stats.seconds
            console.print(stats.describe(), markup=False, highlight=False)

    with contextlib.ExitStack() as stack:
        status = stack.enter_context(console.status("indexing")) if console.is_terminal and not args.quiet else None
        index = stack.enter_context(DocumentIndex(db_path))
        settings = with_globs(settings, args)
        stats = index.index_directory(root, progress=progress, include=settings.docs_include,
                                      exclude=settings.docs_exclude)
    if stats.indexed + stats.unchanged == 0:
        raise InputError(stats.nothing_indexed(root))
    rate = stats.seen / stats.seconds if stats.seconds > 0 else 0.0
    reasons = stats.skipped_reasons()
    console.print(
        f"indexed {stats.indexed:,} files, {stats.unchanged:,} unchanged, {stats.removed:,} removed, "
        f"{stats.skipped + stats.errors:,} skipped{f' ({reasons})' if reasons else ''} in {stats.seconds:.1f} s "
        f"({rate:,.0f} files/s)",
        markup=False, highlight=False,
    )
    print(db_path)
    return EXIT_OK


def main(argv: Sequence[str] | None = None, *, handoff: Handoff | None = None) -> int:
    """`handoff`: a stdio `serve` whose handshake was answered while this was importing (see entry.py)."""
    args = build_parser().parse_args(argv)
    from pydantic import ValidationError
    from rich.console import Console

    from .settings import Settings

    console = Console(stderr=True, soft_wrap=True)
    logging.basicConfig(level=os.environ.get("DEEP_RESEARCH_LOG_LEVEL", "WARNING"), stream=sys.stderr)
    try:
        if args.command == "serve":
            return serve_command(args, console, handoff)
        if args.command == "config":
            return config_command(args, console)
        if args.command == "worker":
            return worker_command(args, console)
        if args.command == "cache":
            return cache_command(args, Settings(), console)
        if args.command == "index":
            return index_command(args, Settings(), console)
        if args.command == "export":
            return asyncio.run(export_command(args, Settings(), console))
        if args.command == "stats":
            return asyncio.run(stats_command(args, Settings()))
        settings = settings_from_args(args)
        return asyncio.run(run_command(args, settings, console))
    except ValidationError as exc:
        console.print(f"error: {describe_validation_error(exc)}", style="red", highlight=False)
        return EXIT_USAGE
    except (ConfigError, InputError) as exc:
        console.print(f"error: {exc}", style="red", highlight=False)
        return EXIT_USAGE
    except DeepResearchError as exc:
        console.print(f"research failed: {one_line(exc)}", style="red", highlight=False)
        return EXIT_FAILED
    except KeyboardInterrupt:
        console.print("stopped" if args.command == "serve" else "interrupted; no report was written",
                      style="yellow")
        return EXIT_INTERRUPTED




if __name__ == "__main__":
    sys.exit(main())
