"""The published MCP tools. Thin: validate, report progress, call the run manager or engine, return typed results.

Every tool that waits for a run (`research`, `research_result`, `write`) waits at most a bound (`wait_s`, default
DEEP_RESEARCH_RESEARCH_WAIT_S = 45 s, below the ~60 s after which Claude Desktop, the MCP Inspector and mcpc give up
on a call), then returns the run still running: its id, phase, findings so far and what to call next. So a research
of any length works in every host, and a model that knows nothing of this server still sees what to do.

Arguments are checked strictly before anything runs (`parse_arguments`, called by the server's `tools/call`
interceptor): unknown names are refused naming the allowed ones, numbers are numbers (no `true` or `"3"`), text has
no control characters, and a refusal is one sentence naming the field. The SDK's own validation is lenient and
answers in pydantic's words (with a URL), so it only ever sees arguments that already passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, ParamSpec, TypeVar

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import (
    CallToolResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    InputRequiredResult,
    ToolAnnotations,
)
from mcp_types.version import is_version_at_least
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, create_model

from ..engine.config import LANGUAGE_RULE, MAX_LANGUAGE_CHARS, ReportLength, valid_language
from ..errors import DeepResearchError, InputError
from ..export import ExportFormat, check_available
from .runs import RunOptions
from .state import AppState, principal_of
from .store import RunRecord
from .views import (
    QUEUED,
    CancelView,
    ClarifyView,
    ResearchSummary,
    RunStatusView,
    StartedRun,
    status_of,
    tool_result,
)

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

WAIT_MAX_S = 600.0
POLL_S = 0.2  # how often a bounded wait looks at the run; progress goes out every progress_interval_s
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # C0 controls and DEL; tab and newlines are text


def _plain_text(value: str | None) -> str | None:
    # Also applied to optional fields (`brief`), where None means "not given".
    if value is not None and _CONTROL.search(value):
        raise ValueError("must not contain control characters such as NUL")
    return value


PlainText = AfterValidator(_plain_text)
Question = Annotated[
    str,
    Field(description="What to research, in the user's words with any context they gave (with a brief from clarify, "
                      "the original question)", max_length=20_000),
    PlainText,
]
Brief = Annotated[
    str | None,
    Field(description="Optional research brief from clarify; it replaces the scoping step", max_length=20_000),
    PlainText,
]
RunId = Annotated[str, Field(description="The run_id that research, research_start or write returned", min_length=1,
                             max_length=64), PlainText]
Instructions = Annotated[
    str,
    Field(description="How to write it this time: shorter, another audience or language, another structure",
          max_length=20_000),
    PlainText,
]
# Published as a plain number (not number-or-null) so clients that convert typed-in values by the schema's `type`,
# such as the MCP Inspector's CLI, send a number.
WaitS = Annotated[
    float | None,
    Field(ge=0, le=WAIT_MAX_S),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": WAIT_MAX_S,
                    "description": "Seconds to wait for the run before returning it still running (default 45; "
                                   "0 returns at once)"}),
]


# No description: the name and the enum say it, and tools/list stays under its size budget (test_tools).
ReportFormat = ExportFormat


async def require_renderer(fmt: ExportFormat) -> None:
    """A renderer this server cannot load is said at the call, not when the link is read (checked in a thread: the
    first check imports it)."""
    if fmt != "md":
        await asyncio.to_thread(check_available, fmt)


def _language(value: str | None) -> str | None:
    try:
        return valid_language(value) or None
    except InputError:  # a ValueError is what the strict refusal turns into one sentence naming the field
        raise ValueError(LANGUAGE_RULE) from None


ReportLanguage = Annotated[
    str | None,
    Field(description="Report language, e.g. German or de (sources are not translated)", max_length=MAX_LANGUAGE_CHARS),
    AfterValidator(_language),
]
FollowUpOf = Annotated[
    str | None,
    Field(description="run_id of a completed run to build on: its sources and findings are kept", min_length=1,
          max_length=64),
    PlainText,
]


class ResearchOptions(BaseModel):
    """Limits for this run; each defaults to the server's setting."""

    model_config = ConfigDict(extra="forbid", strict=True)

    max_researchers: int | None = Field(None, ge=1, le=20, description="Researchers running at once")
    max_tool_calls: int | None = Field(None, ge=1, le=50, description="Tool calls per researcher")
    max_iterations: int | None = Field(None, ge=1, le=20, description="Supervisor rounds of delegation")
    language: ReportLanguage = None
    length: ReportLength | None = None  # no description: the name and the enum say it (tools/list size budget)

    def to_run_options(self) -> RunOptions:
        return RunOptions(max_concurrent_units=self.max_researchers, max_tool_calls=self.max_tool_calls,
                          max_supervisor_iterations=self.max_iterations, report_language=self.language or None,
                          report_length=self.length)


Options = Annotated[ResearchOptions | None, Field(description="Optional limits for this run")]


def user_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Our typed errors become ToolErrors (their message is for the user); the SDK hides anything else's text."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except InputError as exc:
            raise ToolError(str(exc)) from None
        except DeepResearchError as exc:
            raise ToolError(f"{type(exc).__name__}: {exc}") from None

    return wrapper


def state(ctx: Context[AppState, Any]) -> AppState:
    return ctx.request_context.lifespan_context


def question_of(question: str, brief: str | None) -> str:
    text = (question or "").strip() or (brief or "").strip()
    if not text:
        raise InputError("question: give the question to research (or a brief from `clarify`)")
    return text


async def start_run(
    app: AppState, question: str, brief: str | None, options: ResearchOptions | None,
    follow_up_of: str | None = None, principal: str = "",
) -> RunRecord:
    return await app.runs.start(question_of(question, brief), brief=brief,
                                options=(options or ResearchOptions()).to_run_options(),
                                follow_up_of=follow_up_of, principal=principal)


def progress_reporter(ctx: Context[AppState, Any]) -> Callable[[RunRecord], Awaitable[None]]:
    """Progress values must only grow: a step counter, with the run's own words as the message."""
    step = 0

    async def report(record: RunRecord) -> None:
        nonlocal step
        step += 1
        try:
            await ctx.report_progress(step, None, record.message or record.phase)
        except Exception as exc:  # a client that went away mid-run must not fail the research
            log.debug("progress notification not delivered: %s", exc)

    return report


async def wait_within(
    ctx: Context[AppState, Any], run_id: str, wait_s: float | None, *, abandon_cancels: bool
) -> RunRecord:
    """The run once it has ended, or as it is when the bound runs out; progress goes out meanwhile.

    With `abandon_cancels` (the call that started the run) a client that gives up on the call (notifications/
    cancelled) cancels the run; a call that only watches a run (research_result) leaves it running.
    """
    app = state(ctx)
    principal = principal_of(ctx.request_context)
    bound = app.settings.research_wait_s if wait_s is None else wait_s
    report = progress_reporter(ctx)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound
    next_beat = loop.time()
    await asyncio.sleep(0)  # a run started just now takes its slot (if one is free) before it is described
    record = await app.runs.get(run_id, principal=principal)
    try:
        while not record.finished:
            now = loop.time()
            if now >= next_beat:
                await report(record)
                next_beat = now + app.settings.progress_interval_s
            if now >= deadline:
                break
            await asyncio.sleep(max(0.0, min(POLL_S, deadline - now, next_beat - now)))
            record = await app.runs.get(run_id, principal=principal)
    except asyncio.CancelledError:
        if abandon_cancels:
            # Shielded: this task is being cancelled, the run's own cancel must still complete.
            await asyncio.shield(app.runs.cancel(run_id, principal=principal))
        raise
    return record


# -- the tools ---------------------------------------------------------------------------------------------------

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
RESEARCH_HINTS = ToolAnnotations(read_only_hint=True, open_world_hint=True, idempotent_hint=False)
CANCEL_HINTS = ToolAnnotations(destructive_hint=False, idempotent_hint=True, open_world_hint=False)
_TOOLS: list[tuple[Callable[..., Any], ToolAnnotations]] = []


def _tool(annotations: ToolAnnotations) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        _TOOLS.append((fn, annotations))
        return fn

    return decorator


ASK = "clarify"  # the key of the one input request clarify makes


@_tool(RESEARCH_HINTS)
@user_errors
async def clarify(ctx: Context[AppState, Any], question: Question) -> ClarifyView | InputRequiredResult:
    """Decide whether a research question needs a clarifying question to the user first. If not, returns the research
    brief to pass to research or research_start as `brief`."""
    app = state(ctx)
    text = question_of(question, None)
    answer = _clarification(ctx)
    if answer:
        text = f"{text}\n\nThe user clarified: {answer}"
    decision, brief = await app.engine.scope(text)
    if decision.need_clarification and answer is None and _can_ask(ctx):
        # 2026-07-28: the host asks the user in-band and calls again with the answer (one round; after it, or when
        # the user declines, the question comes back in the result as for any other client).
        form = ElicitRequestFormParams(message=decision.question.strip(), requested_schema={
            "type": "object", "properties": {"answer": {"type": "string", "title": "Your answer"}},
            "required": ["answer"]})
        return InputRequiredResult(input_requests={ASK: ElicitRequest(params=form)})
    return ClarifyView(need_clarification=decision.need_clarification,
                       question=decision.question.strip() if decision.need_clarification else "", brief=brief)


def _can_ask(ctx: Context[AppState, Any]) -> bool:
    request = ctx.request_context
    capabilities = request.session.client_capabilities
    return (is_version_at_least(request.protocol_version, "2026-07-28") and capabilities is not None
            and capabilities.elicitation is not None)


def _clarification(ctx: Context[AppState, Any]) -> str | None:
    """The user's answer from the retried call: None on a first call, "" when the user declined."""
    responses = ctx.input_responses or {}
    response = responses.get(ASK)
    if response is None:
        return None
    if not isinstance(response, ElicitResult) or response.action != "accept" or not response.content:
        return ""
    return _CONTROL.sub(" ", str(response.content.get("answer", ""))).strip()[:2_000]


@_tool(RESEARCH_HINTS)
@user_errors
async def research(
    ctx: Context[AppState, Any], question: Question, brief: Brief = None, options: Options = None,
    wait_s: WaitS = None, follow_up_of: FollowUpOf = None,
) -> Annotated[CallToolResult, ResearchSummary]:
    """Research a question in depth and return a cited answer (the full report is a resource link). Research takes
    minutes; this call waits at most `wait_s` seconds (default 45, under hosts' 60 s limit) with progress. If the run
    has not finished by then, it returns status "running" with the run_id, phase and findings so far: call
    research_result with that run_id to wait again (same bound), as often as needed, or research_cancel to stop.
    follow_up_of researches only what is new since a completed run."""
    record = await start_run(state(ctx), question, brief, options, follow_up_of, principal_of(ctx.request_context))
    return tool_result(await wait_within(ctx, record.run_id, wait_s, abandon_cancels=True))


@_tool(RESEARCH_HINTS)
@user_errors
async def research_start(
    ctx: Context[AppState, Any], question: Question, brief: Brief = None, options: Options = None,
    follow_up_of: FollowUpOf = None,
) -> StartedRun:
    """Start a research in the background and return its run_id at once. Then call research_result(run_id), which
    waits up to 45 s per call and returns the answer once done, or research_status(run_id) for progress."""
    app = state(ctx)
    record = await start_run(app, question, brief, options, follow_up_of, principal_of(ctx.request_context))
    await asyncio.sleep(0)  # a run started just now takes its slot (if one is free) before it is described
    record = await app.runs.get(record.run_id)
    waiting = f"{QUEUED}; " if record.message == "queued" else ""
    return StartedRun(run_id=record.run_id, status=record.status,
                      message=f"{waiting}call research_result(run_id={record.run_id!r}) to wait for the answer")


@_tool(READ_ONLY)
@user_errors
async def research_status(ctx: Context[AppState, Any], run_id: RunId) -> RunStatusView:
    """Where a run is now, without waiting: status, phase, researchers done and running, sources found, and the
    findings so far."""
    return status_of(await state(ctx).runs.get(run_id, principal=principal_of(ctx.request_context)))


@_tool(READ_ONLY)
@user_errors
async def research_result(
    ctx: Context[AppState, Any], run_id: RunId, wait_s: WaitS = None, format: ReportFormat = "md"
) -> Annotated[CallToolResult, ResearchSummary]:
    """The outcome of a run: the cited answer, sources, usage and a link to the full report. While the run is still
    going this call waits up to `wait_s` seconds (default 45) with progress, then returns status "running" with the
    findings so far: call it again to keep waiting. Waiting here never cancels the run."""
    await require_renderer(format)
    return tool_result(await wait_within(ctx, run_id, wait_s, abandon_cancels=False), format)


@_tool(CANCEL_HINTS)
@user_errors
async def research_cancel(ctx: Context[AppState, Any], run_id: RunId) -> CancelView:
    """Stop a running research. Cancelling a run that has ended (or twice) is harmless and says so."""
    record, message = await state(ctx).runs.cancel(run_id, principal=principal_of(ctx.request_context))
    return CancelView(run_id=record.run_id, status=record.status, message=message)


@_tool(RESEARCH_HINTS)
@user_errors
async def write(
    ctx: Context[AppState, Any], run_id: RunId, instructions: Instructions = "", wait_s: WaitS = None,
    language: ReportLanguage = None, format: ReportFormat = "md",
) -> Annotated[CallToolResult, ResearchSummary]:
    """Write a completed run's report again from its stored findings, in another form (shorter, another audience or
    language), without new research. Returns a new run_id whose report is the rewritten one; like research it waits
    at most `wait_s` seconds (default 45), then returns it still running: call research_result to wait again."""
    await require_renderer(format)  # before a rewrite is paid for
    record = await state(ctx).runs.rewrite(run_id, instructions, language=language or "",
                                           principal=principal_of(ctx.request_context))
    return tool_result(await wait_within(ctx, record.run_id, wait_s, abandon_cancels=True), format)


# -- publishing ---------------------------------------------------------------------------------------------------


def description_of(fn: Callable[..., Any]) -> str:
    """One paragraph: hosts show descriptions as they are, and hard line breaks from the source read as noise."""
    return " ".join((fn.__doc__ or "").split())


@functools.cache
def argument_models() -> dict[str, type[BaseModel]]:
    """Each tool's strict argument model, built from its signature: what we publish is what we check."""
    models: dict[str, type[BaseModel]] = {}
    for fn, _ in _TOOLS:
        fields: dict[str, Any] = {}
        for name, param in inspect.signature(fn, eval_str=True).parameters.items():
            if name == "ctx":
                continue
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[name] = (param.annotation, default)
        models[fn.__name__] = create_model(f"{fn.__name__}_arguments",
                                           __config__=ConfigDict(extra="forbid", strict=True), **fields)
    return models


def parse_arguments(tool: str, arguments: Mapping[str, Any] | None) -> BaseModel | None:
    """The arguments of one of our tools, checked strictly (InputError with one sentence); None for other tools."""
    model = argument_models().get(tool)
    if model is None:
        return None
    values = dict(arguments or {})
    schema = input_schema(tool)
    for key, value in values.items():
        # Some hosts (Claude Desktop) send object arguments as JSON text; that is a spelling, not a coercion.
        if isinstance(value, str) and schema["properties"].get(key, {}).get("type") in ("object", "array"):
            with contextlib.suppress(ValueError):
                values[key] = json.loads(value)
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise InputError(_refusal(tool, schema, exc)) from None


@functools.cache
def input_schema(tool: str) -> dict[str, Any]:
    schema = argument_models()[tool].model_json_schema()
    return compact_schema(_inline(schema, schema.pop("$defs", {})))


def compact_schema(schema: Any) -> Any:
    """An input schema as hosts use it: without pydantic's generated titles, and each optional value shown as its
    type (not "X or null", default null), so clients that convert typed-in text by the schema's `type` (the MCP
    Inspector) send numbers and objects. Null is still accepted; the schema just does not advertise it."""
    if isinstance(schema, list):
        return [compact_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    arms = schema.get("anyOf")
    if isinstance(arms, list):
        kept = [arm for arm in arms if arm != {"type": "null"}]
        if len(kept) == 1 and len(kept) < len(arms):
            schema = {**{k: v for k, v in schema.items() if k != "anyOf"}, **kept[0]}
            if schema.get("default", 0) is None:
                del schema["default"]
    return {key: compact_schema(value) for key, value in schema.items()
            if not (key == "title" and isinstance(value, str)) and not (key == "default" and value is None)}


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """Replace `$ref`s by what they point at (our argument models have no recursion)."""
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return {key: _inline(value, defs) for key, value in node.items()}


_STRUCTURE = frozenset({"type", "properties", "items", "required", "$defs", "$ref", "anyOf", "enum", "const",
                        "additionalProperties"})


def structure_only(schema: Any, *, names: bool = False) -> Any:
    """An output schema as validation needs it: types and shapes, without descriptions, titles or defaults. Clients
    check results against it; the model reads the result itself (its text says what each part is)."""
    if isinstance(schema, dict):
        return {key: structure_only(value, names=key in ("properties", "$defs")) for key, value in schema.items()
                if names or key in _STRUCTURE}
    if isinstance(schema, list):
        return [structure_only(item) for item in schema]
    return schema


def _refusal(tool: str, schema: dict[str, Any], exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    path = [str(part) for part in error["loc"]]
    where = ".".join(path)
    parent = _subschema(schema, path[:-1])
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(parent.get("properties", {}))
        return f"{tool}: unknown argument {where!r}; the allowed ones are: {allowed}."
    if error["type"] == "missing":
        return f"{tool}: {where!r} is required."
    if error["type"] == "value_error":  # our own checks (control characters) say it best
        return f"{tool}: {where!r} {str(error['msg']).removeprefix('Value error, ')}."
    expected = _expectation(_subschema(schema, path)) or "is not valid"
    got = json.dumps(error.get("input"), default=str)
    got = got if len(got) <= 40 else got[:37] + "..."
    return f"{tool}: {where!r} {expected}, not {got}."


def _subschema(schema: dict[str, Any], path: list[str]) -> dict[str, Any]:
    node = schema
    for part in path:
        node = node.get("properties", {}).get(part, {})
    return node


def _expectation(node: dict[str, Any]) -> str:
    """What a value must be, in words: 'must be an integer from 1 to 20', 'must be text of at most 64 characters'."""
    if node.get("enum"):
        return "must be one of " + ", ".join(str(value) for value in node["enum"])
    kind = node.get("type")
    low, high = node.get("minimum"), node.get("maximum")
    if kind in ("integer", "number"):
        noun = "an integer" if kind == "integer" else "a number"
        if low is not None and high is not None:
            return f"must be {noun} from {low:g} to {high:g}"
        return f"must be {noun}"
    if kind == "string":
        low, high = node.get("minLength"), node.get("maxLength")
        if high is not None:
            return f"must be text of {low or 0} to {high} characters"
        return "must be text"
    if kind == "boolean":
        return "must be true or false"
    if kind == "object":
        return "must be an object with the keys " + ", ".join(node.get("properties", {}))
    return ""


LIST_TTL_MS = 3_600_000
STATIC_LISTS = frozenset({"tools/list", "prompts/list", "resources/templates/list"})


async def _publish_listing(ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
    """Middleware: `tools/list` shows our strict argument schemas (required fields, `additionalProperties: false`)
    and compact output schemas; on 2026-07-28 the lists that never change while the server runs say clients may
    keep them for an hour (`ttlMs`; the SDK's default, 0, makes a caching client ask again every time)."""
    result = await call_next(ctx)
    if not isinstance(result, dict):
        return result
    if ctx.method in STATIC_LISTS and "ttlMs" in result:
        result["ttlMs"], result["cacheScope"] = LIST_TTL_MS, "public"
    if ctx.method != "tools/list":
        return result
    models = argument_models()
    for tool in result.get("tools", []):
        if tool.get("name") in models:
            tool["inputSchema"] = input_schema(tool["name"])
            if "outputSchema" in tool:
                tool["outputSchema"] = structure_only(tool["outputSchema"])
    return result


def register(server: MCPServer[AppState]) -> None:
    for fn, hints in _TOOLS:
        server.add_tool(fn, description=description_of(fn), annotations=hints)
    server.middleware.append(_publish_listing)
