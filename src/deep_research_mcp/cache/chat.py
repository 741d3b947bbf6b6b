"""Model calls as cache entries: the key over everything the provider sees, the answer as JSON.

Source ids are the one part of a prompt that is not a function of the question: `[S3]` is whichever document the
run registered third, and researchers run concurrently, so the same conversation can carry `[S3]` in one run and
`[S5]` in the next. Such prompts are the same question to the model, so the key renames the ids in order of first
appearance (S5 → ①, S2 → ②, ...), the stored answer is renamed the same way, and a hit is renamed back with the
current run's ids. A replayed answer therefore cites the same documents its prompt showed, whatever their numbers.
Only ids in citation position are renamed (`[S1]`, `[S1, S2]`, `<document id="S1">`), never words like "S3" in
prose, and an answer citing an id its prompt did not show keeps that id as written, as a live answer would.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..llm.base import ChatResponse, Message, OutputSchema, ToolCall, ToolSpec, Usage
from .envelope import Value

_GROUP = re.compile(r'\[\s*S\d+(?:\s*[,;]\s*S\d+)*\s*\]|<document id="S\d+">')
_ID = re.compile(r"S\d+")
_MARK = "\ue000"  # private-use character: never in real text (a prompt or answer holding one is not renamed)
_RENAMED = re.compile(_MARK + r"\d+")


@dataclass(slots=True)
class SourceIdRenaming:
    active: bool = True
    canonical: dict[str, str] = field(default_factory=dict)  # "S5" -> "\ue0001"
    original: dict[str, str] = field(default_factory=dict)  # "\ue0001" -> "S5"

    def rename(self, text: str, *, learn: bool) -> str:
        """Canonical ids for the ids in citation position; `learn` adds ids not seen yet (prompts only)."""
        if not self.active:
            return text

        def one(match: re.Match[str]) -> str:
            source_id = match.group(0)
            name = self.canonical.get(source_id)
            if name is None:
                if not learn:
                    return source_id
                name = f"{_MARK}{len(self.canonical) + 1}"
                self.canonical[source_id] = name
                self.original[name] = source_id
            return name

        return _GROUP.sub(lambda group: _ID.sub(one, group.group(0)), text)

    def restore(self, text: str) -> str:
        if not self.active:
            return text
        return _RENAMED.sub(lambda m: self.original.get(m.group(0), m.group(0)), text)


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    """Apply `fn` to every string in a JSON value, dict keys in sorted order so first appearance is stable."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list | tuple):
        return [_map_strings(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: _map_strings(value[k], fn) for k in sorted(value)}
    return value


def _has_mark(value: Any) -> bool:
    found = False

    def check(text: str) -> str:
        nonlocal found
        found = found or _MARK in text
        return text

    _map_strings(value, check)
    return found


def _call(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "name": call.name, "arguments": call.arguments}


def _message(m: Message) -> dict[str, Any]:
    return {"role": m.role, "content": m.content, "tool_calls": [_call(c) for c in m.tool_calls],
            "tool_call_id": m.tool_call_id, "name": m.name}


@dataclass(slots=True)
class ChatCodec:
    """Stores a ChatResponse as JSON with source ids renamed like its prompt's; restores them on a hit."""

    renaming: SourceIdRenaming

    def encode(self, response: ChatResponse) -> Value | None:
        value = {"text": response.text, "tool_calls": [_call(c) for c in response.tool_calls],
                 "usage": {"input_tokens": response.usage.input_tokens, "output_tokens": response.usage.output_tokens},
                 "model": response.model, "raw_json": response.raw_json}
        if self.renaming.active and _has_mark(value):
            return None  # could not be restored unambiguously; rare enough to just not cache
        return _map_strings(value, lambda text: self.renaming.rename(text, learn=False))

    def decode(self, data: Value) -> ChatResponse:
        value = _map_strings(data, self.renaming.restore)
        calls = [ToolCall(str(c["id"]), str(c["name"]), dict(c["arguments"])) for c in value["tool_calls"]]
        raw = value.get("raw_json")
        if raw is not None and not isinstance(raw, str | dict):
            raise ValueError("raw_json must be text or an object")
        # Usage is what this call cost: nothing. The first call's tokens were paid and counted then.
        return ChatResponse(text=str(value["text"]), tool_calls=calls, usage=Usage(), model=str(value["model"]),
                            raw_json=raw)


def chat_entry(
    model: str,
    messages: list[Message],
    *,
    tools: list[ToolSpec] | None,
    output: OutputSchema | None,
    max_tokens: int | None,
) -> tuple[dict[str, Any], ChatCodec]:
    """The key inputs of one model call and the codec for its answer. `model` names the model and, when it is not
    the provider's default endpoint, where it is served: two servers may answer differently under one name."""
    raw_messages = [_message(m) for m in messages]
    renaming = SourceIdRenaming(active=not _has_mark(raw_messages))
    inputs = {
        "model": model,
        "messages": _map_strings(raw_messages, lambda text: renaming.rename(text, learn=True)),
        "tools": None if tools is None else [
            {"name": t.name, "description": t.description, "parameters": t.parameters} for t in tools
        ],
        "output": None if output is None else {
            "name": output.name, "schema": output.schema, "description": output.description
        },
        "max_tokens": max_tokens,
        "source_ids": "renamed" if renaming.active else "literal",
    }
    return inputs, ChatCodec(renaming)
