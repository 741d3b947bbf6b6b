"""Anthropic Messages adapter. Structured output is a forced tool whose input schema is the requested schema."""

from __future__ import annotations

from typing import Any

import anthropic

from ..errors import (
    ContextLengthError,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeout,
)
from ._wire import context_limit_from, is_context_length_message, retry_after_seconds
from .base import ChatResponse, Message, OutputSchema, ToolCall, ToolSpec, Usage

DEFAULT_MAX_TOKENS = 8_192  # the Messages API requires max_tokens on every call


class AnthropicModel:
    def __init__(self, client: anthropic.AsyncAnthropic, model: str) -> None:
        self.client = client
        self.model = model
        self.provider = "anthropic"

    async def complete(
        self,
        messages: list[Message],
        *,
        tools: list[ToolSpec] | None = None,
        output: OutputSchema | None = None,
        max_tokens: int | None = None,
        timeout: float | None = None,
    ) -> ChatResponse:
        system, wire_messages = _to_wire(messages)
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens or DEFAULT_MAX_TOKENS,
            "messages": wire_messages,
        }
        if system:
            params["system"] = system
        wire_tools = [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools or []]
        if output is not None:
            wire_tools = [{"name": output.name, "description": output.description or output.name,
                           "input_schema": output.schema}]
            params["tool_choice"] = {"type": "tool", "name": output.name}
        if wire_tools:
            params["tools"] = wire_tools
        if timeout is not None:
            params["timeout"] = timeout
        try:
            reply = await self.client.messages.create(**params)
        except anthropic.APIStatusError as exc:
            raise _translate_status(exc) from None
        except anthropic.APITimeoutError:
            raise ProviderTimeout(f"anthropic:{self.model} did not answer within the call timeout") from None
        except anthropic.APIConnectionError as exc:
            raise ProviderConnectionError(f"cannot reach anthropic at {self.client.base_url}: {exc}") from None
        return _from_wire(reply, output)


def _to_wire(messages: list[Message]) -> tuple[str, list[dict[str, Any]]]:
    """System text goes to its own parameter; tool results become user turns of tool_result blocks."""
    system_parts: list[str] = []
    wire: list[dict[str, Any]] = []

    def append(role: str, block: dict[str, Any]) -> None:
        # The API wants alternating roles, so consecutive blocks of one role merge into one turn.
        if wire and wire[-1]["role"] == role:
            wire[-1]["content"].append(block)
        else:
            wire.append({"role": role, "content": [block]})

    for message in messages:
        if message.role == "system":
            system_parts.append(message.content)
        elif message.role == "tool":
            append("user", {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.content})
        elif message.role == "assistant":
            if message.content:
                append("assistant", {"type": "text", "text": message.content})
            for call in message.tool_calls:
                append("assistant", {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments})
        else:
            append("user", {"type": "text", "text": message.content or " "})
    return "\n\n".join(system_parts), wire


def _from_wire(reply: Any, output: OutputSchema | None) -> ChatResponse:
    texts: list[str] = []
    calls: list[ToolCall] = []
    raw: str | dict[str, Any] | None = None
    for block in reply.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            arguments = block.input if isinstance(block.input, dict) else {}
            if output is not None and block.name == output.name:
                raw = arguments
            else:
                calls.append(ToolCall(id=block.id, name=block.name, arguments=arguments))
    text = "".join(texts)
    if output is not None and raw is None:
        raw = text  # the model answered in text instead of the forced tool: let the repair step try it
    return ChatResponse(
        text=text,
        tool_calls=calls,
        usage=Usage(reply.usage.input_tokens, reply.usage.output_tokens),
        model=reply.model or "",
        raw_json=raw,
    )


def _translate_status(exc: anthropic.APIStatusError) -> ProviderError:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", {}) if isinstance(body, dict) else {}
    message = str(error.get("message") or exc.message) if isinstance(error, dict) else exc.message
    if exc.status_code in (400, 413) and is_context_length_message(message):
        return ContextLengthError(message, limit=context_limit_from(message))
    headers = exc.response.headers if exc.response is not None else None
    return ProviderHTTPError(
        f"HTTP {exc.status_code} from the model provider: {message}",
        status=exc.status_code,
        retry_after=retry_after_seconds(headers),
    )
