"""OpenAI Chat Completions adapter (also the "compatible" provider: Ollama, vLLM, LM Studio, OpenRouter)."""

from __future__ import annotations

import json
from typing import Any

import openai

from ..errors import (
    ContextLengthError,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeout,
)
from ._wire import context_limit_from, is_context_length_message, retry_after_seconds
from .base import ChatResponse, Message, OutputSchema, ToolCall, ToolSpec, Usage


class OpenAIChatModel:
    """One model on a shared `openai.AsyncOpenAI` client (whose httpx2 pool is shared by every stage)."""

    def __init__(self, client: openai.AsyncOpenAI, model: str, *, provider: str = "openai") -> None:
        self.client = client
        self.model = model
        self.provider = provider

    async def complete(
        self,
        messages: list[Message],
        *,
        tools: list[ToolSpec] | None = None,
        output: OutputSchema | None = None,
        max_tokens: int | None = None,
        timeout: float | None = None,
    ) -> ChatResponse:
        params: dict[str, Any] = {"model": self.model, "messages": [_to_wire(m) for m in messages]}
        if tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in tools
            ]
        if output is not None:
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": output.name, "schema": output.schema, "strict": False},
            }
        if max_tokens is not None:
            # OpenAI's newer models reject max_tokens; compatible servers mostly only know max_tokens.
            params["max_completion_tokens" if self.provider == "openai" else "max_tokens"] = max_tokens
        if timeout is not None:
            params["timeout"] = timeout
        try:
            completion = await self.client.chat.completions.create(**params)
        except openai.APIStatusError as exc:
            raise _translate_status(exc) from None
        except openai.APITimeoutError:
            raise ProviderTimeout(f"{self.provider}:{self.model} did not answer within the call timeout") from None
        except openai.APIConnectionError as exc:
            raise ProviderConnectionError(f"cannot reach {self.provider} at {self.client.base_url}: {exc}") from None
        return _from_wire(completion, output)


def _to_wire(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        wire["content"] = message.content or None
        wire["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
            for c in message.tool_calls
        ]
    return wire


def _from_wire(completion: Any, output: OutputSchema | None) -> ChatResponse:
    if not completion.choices:
        raise ProviderError("the model returned no choices")
    message = completion.choices[0].message
    calls = []
    for call in message.tool_calls or []:
        function = getattr(call, "function", None)
        if function is None:
            continue
        try:
            arguments = json.loads(function.arguments or "{}")
        except json.JSONDecodeError:
            # Local models sometimes emit broken argument JSON; the tool then sees the raw text and can complain.
            arguments = {"_raw": function.arguments}
        if not isinstance(arguments, dict):
            arguments = {"_raw": function.arguments}
        calls.append(ToolCall(id=call.id, name=function.name, arguments=arguments))
    usage = completion.usage
    text = message.content or ""
    return ChatResponse(
        text=text,
        tool_calls=calls,
        usage=Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
        model=completion.model or "",
        raw_json=text if output is not None else None,
    )


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
