"""Helpers shared by the provider adapters: Retry-After parsing and the context-length limit in error text."""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping

_LIMIT_PATTERNS = (
    re.compile(r"maximum context length is (\d+)"),  # OpenAI and most OpenAI-compatible servers
    re.compile(r">\s*(\d+)\s*maximum"),  # Anthropic: "prompt is too long: 210000 tokens > 200000 maximum"
    re.compile(r"context (?:window|length)[^\d]{0,40}(\d{3,})"),
)
_CONTEXT_PHRASES = ("context_length_exceeded", "maximum context length", "prompt is too long", "context window")


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date); None when absent."""
    if not headers:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(raw) if raw else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def is_context_length_message(text: str) -> bool:
    lowered = text.lower()
    return any(phrase in lowered for phrase in _CONTEXT_PHRASES)


def context_limit_from(text: str) -> int | None:
    for pattern in _LIMIT_PATTERNS:
        match = pattern.search(text)
        if match:
            return int(match.group(1))
    return None
