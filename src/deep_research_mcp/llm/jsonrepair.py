"""Best-effort repair of the almost-JSON that local models return for structured output."""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_PY_LITERALS = {"True": "true", "False": "false", "None": "null"}


def parse_json_object(raw: str | dict[str, Any]) -> dict[str, Any]:
    """Return the JSON object in `raw`, repairing fences, prose around it, trailing commas, Python literals and a
    truncated tail. Raises ValueError when nothing object-like can be recovered."""
    if isinstance(raw, dict):
        return raw
    text = raw.strip()
    candidates = [text]
    fenced = _FENCE.search(text)
    if fenced:
        candidates.append(fenced.group(1).strip())
    start = text.find("{")
    if start >= 0:
        end = text.rfind("}")
        candidates.append(text[start : end + 1] if end > start else text[start:])
    for candidate in candidates:
        for attempt in (candidate, _repair(candidate)):
            try:
                value = json.loads(attempt)
            except (json.JSONDecodeError, ValueError):
                continue
            if isinstance(value, dict):
                return value
    raise ValueError("no JSON object could be recovered from the model's reply")


def _repair(text: str) -> str:
    text = _TRAILING_COMMA.sub(r"\1", text)
    for py, js in _PY_LITERALS.items():
        text = re.sub(rf"(?<![\w\"]){py}(?![\w\"])", js, text)
    return _close_open_brackets(text)


def _close_open_brackets(text: str) -> str:
    """Append the closers a truncated reply is missing (strings are tracked so braces inside them don't count)."""
    stack: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            stack.append("}" if char == "{" else "]")
        elif char in "}]" and stack:
            stack.pop()
    closing = '"' if in_string else ""
    return text + closing + "".join(reversed(stack))
