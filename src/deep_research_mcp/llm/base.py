"""The model seam: one request/response shape shared by every provider adapter, the scripted server and fakes.

Provider modules translate `Message`/`ToolSpec`/`OutputSchema` to their wire format and back; everything above
(retries, structured-output repair, usage accounting) lives in `client.py` and works the same for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as a model sees it: name, description and a JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None  # set on role="tool": which call this answers
    name: str | None = None  # tool name on role="tool"

    @staticmethod
    def system(text: str) -> Message:
        return Message("system", text)

    @staticmethod
    def user(text: str) -> Message:
        return Message("user", text)

    @staticmethod
    def tool_result(call: ToolCall, text: str) -> Message:
        return Message("tool", text, tool_call_id=call.id, name=call.name)


@dataclass(frozen=True, slots=True)
class OutputSchema:
    """Ask for a JSON object matching `schema` instead of free text."""

    name: str
    schema: dict[str, Any]
    description: str = ""


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(slots=True)
class ChatResponse:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    # For structured calls: the raw JSON text (OpenAI) or the forced tool's input (Anthropic), before validation.
    raw_json: str | dict[str, Any] | None = None
    # Why the model stopped, as the provider says it ("stop", "length", "tool_calls", "end_turn", "max_tokens").
    finish_reason: str = ""
    # For structured calls: how the JSON was asked for (json_schema, json_object, tool or prompt; see openai_chat).
    structured_mode: str | None = None
    # "prompt" when the server took no native tool calls and the tools were described in the prompt instead.
    tools_mode: str | None = None


class ChatModel(Protocol):
    """One provider's model behind the seam. Adapters raise only `ProviderError` subclasses."""

    provider: str
    model: str

    async def complete(
        self,
        messages: list[Message],
        *,
        tools: list[ToolSpec] | None = None,
        output: OutputSchema | None = None,
        max_tokens: int | None = None,
        timeout: float | None = None,
    ) -> ChatResponse: ...
