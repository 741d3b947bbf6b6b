"""Tool calls for a server without native ones: the tools described in the system prompt, each call written as a
JSON line in the answer (`{"tool": name, "arguments": {...}}`) and parsed back. Shared by the OpenAI adapter and the
scripted server, so both sides of the format cannot drift."""

from __future__ import annotations

import json
import re
from typing import Any

from .. import prompts
from .base import Message, ToolSpec

_DECODER = json.JSONDecoder()
_TOOLS_BLOCK = re.compile(r"You can call these tools \(JSON list[^\n]*\n(\[.*?\])\nTo call a tool", re.DOTALL)
_RESULT = re.compile(r"^Result of tool (\S+):\n(.*)\Z", re.DOTALL)


def instruction(tools: list[ToolSpec]) -> str:
    listed = [{"name": t.name, "description": t.description, "parameters": t.parameters} for t in tools]
    return prompts.TOOLS_IN_PROMPT.format(tools=json.dumps(listed))


def call_line(name: str, arguments: dict[str, Any]) -> str:
    return json.dumps({"tool": name, "arguments": arguments})


def message_text(message: Message) -> tuple[str, str]:
    """(role, content) of `message` on a wire without tool roles: results become user turns, calls JSON lines."""
    if message.role == "tool":
        return "user", prompts.TOOL_RESULT_IN_PROMPT.format(tool=message.name or "tool", result=message.content)
    if message.tool_calls:
        lines = [call_line(c.name, c.arguments) for c in message.tool_calls]
        return message.role, "\n".join([message.content, *lines]).strip()
    return message.role, message.content


def parse_calls(text: str, names: set[str]) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """The prose of `text` and the calls written in it. A call is any JSON object naming an offered tool under
    "tool" (or "name", as many chat templates train models to write), wherever it sits: fenced, inline or alone."""
    calls: list[tuple[str, dict[str, Any]]] = []
    prose: list[str] = []
    at = 0
    while (start := text.find("{", at)) >= 0:
        try:
            value, end = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError:
            prose.append(text[at : start + 1])
            at = start + 1
            continue
        name = value.get("tool", value.get("name")) if isinstance(value, dict) else None
        if isinstance(name, str) and name in names:
            arguments = value.get("arguments", value.get("parameters", {}))
            calls.append((name, arguments if isinstance(arguments, dict) else {"_raw": json.dumps(arguments)}))
            prose.append(text[at:start])
        else:
            prose.append(text[at:end])
        at = end
    prose.append(text[at:])
    cleaned = re.sub(r"```(?:json)?\s*```", "", "".join(prose))
    return cleaned.strip(), calls


def parse_tools(system: str) -> list[ToolSpec]:
    """The tools an `instruction` in `system` offers (none when there is no such instruction)."""
    block = _TOOLS_BLOCK.search(system)
    if block is None:
        return []
    listed = json.loads(block.group(1))
    return [ToolSpec(t["name"], t.get("description", ""), t.get("parameters") or {}) for t in listed]


def parse_result(text: str) -> tuple[str, str] | None:
    """(tool name, result) when `text` is a tool result as `message_text` writes it."""
    match = _RESULT.match(text)
    return (match.group(1), match.group(2)) if match else None
