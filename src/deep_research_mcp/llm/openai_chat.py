"""OpenAI Chat Completions adapter (also the "compatible" provider: Ollama, vLLM, LM Studio, OpenRouter)."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import openai

from .. import prompts
from ..errors import (
    ContextLengthError,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeout,
)
from . import prompt_tools
from ._wire import context_limit_from, is_context_length_message, retry_after_seconds
from .base import ChatResponse, Message, OutputSchema, ToolCall, ToolSpec, Usage
from .jsonrepair import parse_json_object

log = logging.getLogger(__name__)


# Strongest first. json_schema is OpenAI's; json_object with a "schema" is how llama.cpp's server (and LM Studio
# and vLLM's older builds) constrain output to a schema; a forced tool call works on servers that only speak tools;
# the prompt is the mode every server takes, its answer parsed, repaired and re-asked by the caller.
STRUCTURED_MODES = ("json_schema", "json_object", "tool", "prompt")
StructuredMode = Literal["auto", "json_schema", "json_object", "tool", "prompt"]
# A 400/422/500 whose text names one of these is the server refusing how we asked, not failing to answer.
_MODE_WORDS = ("response_format", "json_schema", "json_object", "tool_choice", "tools", "function")
_REFUSAL_STATUSES = (400, 404, 422, 500, 501)


@dataclass
class EndpointModes:
    """What one endpoint (base URL + model) was seen to take, kept for the life of the process."""

    working: str | None = None  # the structured mode that last gave a JSON answer
    refused: set[str] = field(default_factory=set)
    native_tools: bool = True  # False once the server refused a request with tools: they go in the prompt then


_ENDPOINTS: dict[tuple[str, str], EndpointModes] = {}


def endpoint_modes(base_url: str, model: str) -> EndpointModes:
    return _ENDPOINTS.setdefault((base_url.rstrip("/"), model), EndpointModes())


def forget_endpoints() -> None:
    """Forget every endpoint's modes (tests start from a clean process state)."""
    _ENDPOINTS.clear()


class _Refused(Exception):
    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


class OpenAIChatModel:
    """One model on a shared `openai.AsyncOpenAI` client (whose httpx2 pool is shared by every stage).

    Structured output is negotiated per endpoint: the first of `STRUCTURED_MODES` the server neither refuses nor
    ignores is remembered and used from then on (`structured_mode` pins one instead)."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        *,
        provider: str = "openai",
        structured_mode: StructuredMode = "auto",
    ) -> None:
        self.client = client
        self.model = model
        self.provider = provider
        self.structured_mode = structured_mode

    @property
    def modes(self) -> EndpointModes:
        return endpoint_modes(str(self.client.base_url), self.model)

    async def complete(
        self,
        messages: list[Message],
        *,
        tools: list[ToolSpec] | None = None,
        output: OutputSchema | None = None,
        max_tokens: int | None = None,
        timeout: float | None = None,
    ) -> ChatResponse:
        params: dict[str, Any] = {"model": self.model}
        if tools:
            params["tools"] = [_tool_wire(t.name, t.description, t.parameters) for t in tools]
        if max_tokens is not None:
            # OpenAI's newer models reject max_tokens; compatible servers mostly only know max_tokens.
            params["max_completion_tokens" if self.provider == "openai" else "max_tokens"] = max_tokens
        if timeout is not None:
            params["timeout"] = timeout
        if output is not None:
            return await self._structured(messages, output, params)
        if tools and self.modes.native_tools:
            try:
                request = {**params, "messages": [_to_wire(m) for m in messages]}
                return _from_wire(await self._create(request, refusable=True), None, None)
            except _Refused as refused:
                log.info("%s refuses native tool calls (%s); describing the tools in the prompt", self.model, refused)
                self.modes.native_tools = False
        if tools:
            return await self._prompted_tools(messages, tools, params)
        return _from_wire(await self._create({**params, "messages": [_to_wire(m) for m in messages]}), None, None)

    async def _prompted_tools(
        self, messages: list[Message], tools: list[ToolSpec], params: dict[str, Any]
    ) -> ChatResponse:
        wire = [dict(zip(("role", "content"), prompt_tools.message_text(m), strict=True)) for m in messages]
        request = {**{k: v for k, v in params.items() if k != "tools"}, "messages": _with_system(
            wire, prompt_tools.instruction(tools))}
        response = _from_wire(await self._create(request), None, None)
        prose, calls = prompt_tools.parse_calls(response.text, {t.name for t in tools})
        response.text = prose
        response.tool_calls = [ToolCall(f"call_{uuid.uuid4().hex[:12]}", name, args) for name, args in calls]
        response.tools_mode = "prompt"
        return response

    async def _structured(self, messages: list[Message], output: OutputSchema, params: dict[str, Any]) -> ChatResponse:
        state = self.modes
        if self.structured_mode != "auto":
            modes: list[str] = [self.structured_mode]
        else:
            modes = [m for m in STRUCTURED_MODES if m not in state.refused]
            if state.working in modes:
                modes = modes[modes.index(state.working):]
        ignored: ChatResponse | None = None
        for mode in modes:
            try:
                completion = await self._create(_with_mode(params, messages, output, mode), refusable=mode != "prompt")
            except _Refused as refused:
                if self.structured_mode != "auto":
                    raise refused.error from None
                log.info("%s refuses structured mode %s (%s); trying the next", self.model, mode, refused)
                state.refused.add(mode)
                continue
            response = _from_wire(completion, output, mode)
            if mode == "prompt" or _holds_json(response.raw_json):
                state.working = mode
                return response
            # The server took the mode but answered as if it had not: try the next one for this call.
            log.info("%s ignored structured mode %s; trying the next", self.model, mode)
            ignored = response
        if ignored is not None:
            return ignored
        raise ProviderError(f"{self.provider}:{self.model} refused every structured-output mode it was offered")

    async def _create(self, params: dict[str, Any], *, refusable: bool = False) -> Any:
        try:
            return await self.client.chat.completions.create(**params)
        except openai.APIStatusError as exc:
            error = _translate_status(exc)
            if refusable and _is_refusal(exc, error):
                raise _Refused(error) from None
            raise error from None
        except openai.APITimeoutError:
            raise ProviderTimeout(f"{self.provider}:{self.model} did not answer within the call timeout") from None
        except openai.APIConnectionError as exc:
            raise ProviderConnectionError(f"cannot reach {self.provider} at {self.client.base_url}: {exc}") from None


def _tool_wire(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


def _with_mode(
    params: dict[str, Any], messages: list[Message], output: OutputSchema, mode: str
) -> dict[str, Any]:
    """The request asking for `output` in `mode`."""
    wire = [_to_wire(m) for m in messages]
    request = {**params, "messages": wire}
    if mode == "json_schema":
        request["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": output.name, "schema": output.schema, "strict": False},
        }
    elif mode == "json_object":
        request["response_format"] = {"type": "json_object", "schema": output.schema}
    elif mode == "tool":
        request["tools"] = [_tool_wire(output.name, output.description or output.name, output.schema)]
        request["tool_choice"] = {"type": "function", "function": {"name": output.name}}
    else:
        instruction = prompts.STRUCTURED_IN_PROMPT.format(name=output.name, schema=json.dumps(output.schema))
        request["messages"] = _with_system(wire, instruction)
    return request


def _with_system(wire: list[dict[str, Any]], instruction: str) -> list[dict[str, Any]]:
    """`wire` with `instruction` appended to its system message: many local chat templates take only one, first."""
    if wire and wire[0]["role"] == "system":
        return [{**wire[0], "content": f"{wire[0]['content']}\n\n{instruction}"}, *wire[1:]]
    return [{"role": "system", "content": instruction}, *wire]


def _holds_json(raw: str | dict[str, Any] | None) -> bool:
    if isinstance(raw, dict):
        return "_raw" not in raw
    try:
        parse_json_object(raw or "")
    except ValueError:
        return False
    return True


def _is_refusal(exc: openai.APIStatusError, error: ProviderError) -> bool:
    if exc.status_code not in _REFUSAL_STATUSES or isinstance(error, ContextLengthError):
        return False
    text = f"{error} {exc.body}".lower()
    return any(word in text for word in _MODE_WORDS)


def _to_wire(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        # A string even when empty: llama-cpp-python's server refuses a null content (HTTP 500), OpenAI takes both.
        wire["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
            for c in message.tool_calls
        ]
    return wire


def _from_wire(completion: Any, output: OutputSchema | None, mode: str | None) -> ChatResponse:
    if not completion.choices:
        raise ProviderError("the model returned no choices")
    choice = completion.choices[0]
    message = choice.message
    calls = []
    for call in message.tool_calls or []:
        function = getattr(call, "function", None)
        if function is None:
            continue
        calls.append(ToolCall(id=call.id, name=function.name, arguments=_arguments(function.arguments)))
    usage = completion.usage
    text = message.content or ""
    raw: str | dict[str, Any] | None = text if output is not None else None
    if output is not None and mode == "tool":
        forced = next((c for c in calls if c.name == output.name), None)
        raw = forced.arguments if forced is not None else text
        calls = []
    return ChatResponse(
        text=text,
        tool_calls=calls,
        usage=Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
        model=completion.model or "",
        raw_json=raw,
        finish_reason=str(getattr(choice, "finish_reason", "") or ""),
        structured_mode=mode,
    )


def _arguments(raw: str | None) -> dict[str, Any]:
    """A tool call's arguments; almost-JSON is repaired, and what cannot be is kept as `_raw` for the caller to see
    (local models often emit broken argument JSON)."""
    try:
        return parse_json_object(raw or "{}")
    except ValueError:
        return {"_raw": raw}


def _translate_status(exc: openai.APIStatusError) -> ProviderError:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body, dict) else {}
    message = str(error.get("message") or exc.message) if isinstance(error, dict) else exc.message
    code = str(error.get("code") or "") if isinstance(error, dict) else ""
    if exc.status_code in (400, 413) and (code == "context_length_exceeded" or is_context_length_message(message)):
        return ContextLengthError(message, limit=context_limit_from(message))
    headers = exc.response.headers if exc.response is not None else None
    return ProviderHTTPError(
        f"HTTP {exc.status_code} from the model provider: {message}",
        status=exc.status_code,
        retry_after=retry_after_seconds(headers),
    )
