"""Scripted LLM server: an aiohttp app on 127.0.0.1 speaking OpenAI Chat Completions and Anthropic Messages.

Point the real SDKs at it (`openai_base_url`, `anthropic_base_url`) and the engine runs end to end offline,
over real HTTP, with the provider's own error shapes, so adapter code is exercised exactly as in production.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, fields
from types import TracebackType
from typing import Any

from aiohttp import web

from .. import prompt_tools
from .policy import Answer, ScriptedPolicy, ScriptedRequest, broken_json, classify, estimate_tokens
from .scenario import FailureRule, Scenario

# Error kinds in neutral terms -> (OpenAI error type, OpenAI code, Anthropic error type).
_ERRORS: dict[str, tuple[str, str | None, str]] = {
    "rate_limit": ("rate_limit_exceeded", "rate_limit_exceeded", "rate_limit_error"),
    "server": ("server_error", None, "api_error"),
    "context": ("invalid_request_error", "context_length_exceeded", "invalid_request_error"),
    "invalid": ("invalid_request_error", None, "invalid_request_error"),
}


@dataclass
class Stats:
    """Live counters of a `ScriptedLLMServer`.

    Every request that reached a stage counts in `calls`, `calls_by_stage`, `by_wire` and `input_tokens`,
    including requests answered with an injected failure, a context-length error or a hang; those also count
    in `failures_injected`. `output_tokens` counts answered requests only. Malformed or streaming requests are
    refused before a stage is known and count nowhere. Requests turned away at the door by the server's limits
    (see `Limits`) count only in `rejected_capacity`, `rejected_rate` or `random_errors`.
    """

    calls: int = 0
    calls_by_stage: dict[str, int] = field(default_factory=dict)
    failures_injected: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    by_wire: dict[str, int] = field(default_factory=dict)
    rejected_capacity: int = 0  # 429: more requests in flight than `capacity`
    rejected_rate: int = 0  # 429: over `requests_per_minute`
    random_errors: int = 0  # 500: drawn with probability `error_rate`
    peak_in_flight: int = 0  # the most requests served at once (rejected ones not counted)

    def reset(self) -> None:
        # In place, so a test holding `srv.stats` keeps seeing the live object.
        for f in fields(self):
            setattr(self, f.name, {} if isinstance(getattr(self, f.name), dict) else 0)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Limits:
    """What this one server instance puts up with, so two instances can play two endpoints of a group.

    Beyond `capacity` requests in flight, or `requests_per_minute` accepted in the last 60 s, a request is answered
    429 at once with a Retry-After (`retry_after_s` for capacity; the time until the window has room for the rate).
    A request is answered 500 at once with probability `error_rate` (seeded: the same sequence every start).
    `latency_s`, when set, replaces the scenario's fixed delay per call.
    """

    capacity: int | None = None
    requests_per_minute: int | None = None
    retry_after_s: float = 1.0
    error_rate: float = 0.0
    latency_s: float | None = None
    seed: int = 0


class ScriptedLLMServer:
    """Serves `POST /v1/chat/completions` (OpenAI), `POST /v1/messages` (Anthropic) and `GET /stats`.

    `scenario` may be replaced between runs; assigning it (even the same object again) re-arms the failure
    rules' `times` budgets. Tool-call ids look like `call_<stage>_<n>`, unique for the server's lifetime.
    """

    def __init__(self, scenario: Scenario | None = None, *, port: int = 0, limits: Limits | None = None) -> None:
        self._scenario = scenario if scenario is not None else Scenario()
        self.limits = limits or Limits()
        self._in_flight = 0
        self._accepted_at: collections.deque[float] = collections.deque()
        self._random = random.Random(self.limits.seed)
        # id(rule) -> (rule, uses); the rule is kept so its id cannot be recycled while the entry lives.
        self._spent: dict[int, tuple[FailureRule, int]] = {}
        self.stats = Stats()
        self._ids = itertools.count(1)
        self._requested_port = port
        self._port = port
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()

    @property
    def scenario(self) -> Scenario:
        return self._scenario

    @scenario.setter
    def scenario(self, value: Scenario) -> None:
        self._scenario = value
        self._spent.clear()

    @property
    def url(self) -> str:
        if self._runner is None:
            raise RuntimeError("ScriptedLLMServer is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    def reset_stats(self) -> None:
        self.stats.reset()

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handler("openai", ScriptedRequest.from_openai))
        app.router.add_post("/v1/messages", self._handler("anthropic", ScriptedRequest.from_anthropic))
        app.router.add_get("/stats", self._get_stats)
        # handler_cancellation: a client giving up (timeout) cancels its handler; that is how a "hang" ends.
        runner = web.AppRunner(app, shutdown_timeout=0.5, handler_cancellation=True, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self._requested_port)
        await site.start()
        self._closing = asyncio.Event()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        # Wakes hung requests and cuts latency sleeps short, so cleanup does not wait for them.
        self._closing.set()
        await runner.cleanup()

    async def __aenter__(self) -> ScriptedLLMServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # --- request handling ---

    def _handler(
        self, wire: str, parse: Callable[[dict[str, Any]], ScriptedRequest]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            try:
                body = await request.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                return _error(wire, 400, "invalid", "Request body must be a JSON object.")
            if body.get("stream"):
                return _error(wire, 400, "invalid", "The scripted server does not support streaming.")
            try:
                req = parse(body)
            except (KeyError, TypeError, AttributeError) as exc:
                return _error(wire, 400, "invalid", f"Malformed request: {exc!r}")
            refused = self._refuse(wire)
            if refused is not None:
                return refused
            self._in_flight += 1
            self.stats.peak_in_flight = max(self.stats.peak_in_flight, self._in_flight)
            try:
                return await self._serve(wire, req, str(body.get("model") or "scripted"))
            finally:
                self._in_flight -= 1

        return handle

    def _refuse(self, wire: str) -> web.Response | None:
        """The answer of a request the server's `limits` turn away at the door, or None to serve it."""
        limits, now = self.limits, time.monotonic()
        if limits.capacity is not None and self._in_flight >= limits.capacity:
            self.stats.rejected_capacity += 1
            return _error(wire, 429, "rate_limit", "Too many concurrent requests (scripted).",
                          {"Retry-After": _seconds(limits.retry_after_s)})
        window = self._accepted_at
        while window and now - window[0] >= 60.0:
            window.popleft()
        if limits.requests_per_minute is not None and len(window) >= limits.requests_per_minute:
            self.stats.rejected_rate += 1
            return _error(wire, 429, "rate_limit", "Requests per minute exceeded (scripted).",
                          {"Retry-After": _seconds(60.0 - (now - window[0]))})
        if limits.error_rate and self._random.random() < limits.error_rate:
            self.stats.random_errors += 1
            return _error(wire, 500, "server", "The server had an error (scripted error rate).")
        window.append(now)
        return None

    async def _get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats.as_dict())

    def _next_id(self, stage: str) -> str:
        return f"call_{stage}_{next(self._ids)}"

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=seconds)

    def _take_failure(self, scenario: Scenario, stage: str, req: ScriptedRequest) -> FailureRule | None:
        text = req.message_text()
        for rule in scenario.failures:
            if rule.stage is not None and rule.stage != stage:
                continue
            if rule.match is not None and rule.match not in text:
                continue
            if rule.kind == "broken_json" and req.output is None:
                continue
            if rule.times is not None:
                uses = self._spent.get(id(rule), (rule, 0))[1]
                if uses >= rule.times:
                    continue
                self._spent[id(rule)] = (rule, uses + 1)
            return rule
        return None

    async def _serve(self, wire: str, req: ScriptedRequest, model: str) -> web.Response:
        scenario = self._scenario  # one snapshot per request, in case a test swaps it mid-flight
        stage = classify(req)
        n_in = estimate_tokens(req.all_text())
        stats = self.stats
        stats.calls += 1
        stats.calls_by_stage[stage] = stats.calls_by_stage.get(stage, 0) + 1
        stats.by_wire[wire] = stats.by_wire.get(wire, 0) + 1
        stats.input_tokens += n_in

        limit = scenario.context_limit_tokens
        overflow = limit is not None and n_in > limit
        rule = None if overflow else self._take_failure(scenario, stage, req)
        if overflow or rule is not None:
            stats.failures_injected += 1
        if rule is not None and rule.kind == "hang":
            # Ends when the client disconnects (aiohttp cancels this handler) or the server stops.
            await self._closing.wait()
            return _error(wire, 500, "server", "The scripted server is shutting down.")

        await self._sleep(scenario.latency_s if self.limits.latency_s is None else self.limits.latency_s)
        if overflow or (rule is not None and rule.kind == "context_length"):
            return _context_error(wire, n_in, limit if limit is not None else max(1, n_in // 2))
        if rule is not None and rule.kind == "429":
            headers = {"Retry-After": _seconds(rule.retry_after)}
            return _error(wire, 429, "rate_limit", "Rate limit reached (scripted).", headers)
        if rule is not None and rule.kind == "500":
            return _error(wire, 500, "server", "The server had an error while processing your request (scripted).")

        if wire == "openai" and req.structured_mode in scenario.refuse_modes:
            return _refusal(req.structured_mode)
        if wire == "openai" and "tools" in scenario.refuse_modes and req.tools and not req.tools_in_prompt:
            return _refusal("tools")
        answer = ScriptedPolicy(scenario, self._next_id).answer(stage, req)
        n_out = estimate_tokens(answer.output_text())
        stats.output_tokens += n_out
        await self._sleep(scenario.latency_per_output_token_s * n_out)
        broken = rule is not None and rule.kind == "broken_json"
        if wire == "openai":
            if req.tools_in_prompt and answer.tool_calls:
                lines = [prompt_tools.call_line(c.name, c.arguments) for c in answer.tool_calls]
                answer = Answer(text="\n".join([answer.text, *lines]).strip())
            body = _openai_body(answer, model, n_in, n_out, broken, self._next_id(stage), req.structured_mode)
        else:
            body = _anthropic_body(answer, model, n_in, n_out, broken, self._next_id(stage))
        return web.json_response(body)


# --- wire rendering ---


def _seconds(value: float) -> str:
    # Plain decimal ("0.05", "2"): never exponent notation, which no client parses.
    return f"{value:f}".rstrip("0").rstrip(".") or "0"


def _openai_body(
    answer: Answer, model: str, n_in: int, n_out: int, broken: bool, rid: str, mode: str | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None}
    if answer.structured is not None and mode == "tool" and not broken:
        arguments = json.dumps(answer.structured)
        message["tool_calls"] = [{"id": rid, "type": "function", "function": {"name": answer.schema_name,
                                                                             "arguments": arguments}}]
    elif answer.structured is not None:
        message["content"] = broken_json(answer.structured) if broken else json.dumps(answer.structured)
    elif answer.tool_calls:
        message["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
            }
            for c in answer.tool_calls
        ]
    else:
        message["content"] = answer.text
    return {
        "id": f"chatcmpl-{rid}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if answer.tool_calls else "stop"}],
        "usage": {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out},
    }


def _anthropic_body(answer: Answer, model: str, n_in: int, n_out: int, broken: bool, rid: str) -> dict[str, Any]:
    content: list[dict[str, Any]]
    if answer.structured is not None and broken:
        # tool_use input must be an object, so a broken structured answer can only be text, no tool call.
        content = [{"type": "text", "text": broken_json(answer.structured)}]
    elif answer.structured is not None:
        content = [{"type": "tool_use", "id": rid, "name": answer.schema_name, "input": answer.structured}]
    elif answer.tool_calls:
        content = [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in answer.tool_calls]
    else:
        content = [{"type": "text", "text": answer.text}]
    return {
        "id": f"msg_{rid}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": n_in, "output_tokens": n_out},
    }


def _error(wire: str, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    oa_type, oa_code, an_type = _ERRORS[kind]
    if wire == "openai":
        body: dict[str, Any] = {"error": {"message": message, "type": oa_type, "param": None, "code": oa_code}}
    else:
        body = {"type": "error", "error": {"type": an_type, "message": message}}
    return web.json_response(body, status=status, headers=headers)


# What llama-cpp-python's server (0.3.x) answers a json_schema response_format: its request model allows only
# "text" and "json_object", and its error handler turns the validation error into an HTTP 500.
LLAMA_CPP_JSON_SCHEMA_REFUSAL = (
    "[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', "
    "'ctx': {'expected': \"'text' or 'json_object'\"}}]"
)


def _refusal(mode: str | None) -> web.Response:
    if mode == "json_schema":
        body = {"error": {"message": LLAMA_CPP_JSON_SCHEMA_REFUSAL, "type": "internal_server_error",
                          "param": None, "code": None}}
        return web.json_response(body, status=500)
    param = {"tool": "tool_choice", "tools": "tools"}.get(mode or "", "response_format")
    return _error("openai", 400, "invalid", f"Unsupported value for '{param}' (scripted).")


def _context_error(wire: str, n_in: int, limit: int) -> web.Response:
    if wire == "openai":
        message = (
            f"This model's maximum context length is {limit} tokens. However, your messages resulted in {n_in} tokens."
        )
    else:
        message = f"prompt is too long: {n_in} tokens > {limit} maximum"
    return _error(wire, 400, "context", message)
