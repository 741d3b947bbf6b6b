"""Progress events: one callback receives every event of a run, with a snapshot of the run's counters.

The CLI renders them with rich; the MCP server turns them into progress notifications and run status.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

log = logging.getLogger(__name__)

MAX_LISTED_ERRORS = 3  # distinct error texts quoted in a failing origin's warning

EventKind = Literal[
    "phase",  # data: phase ("scope" | "research" | "write" | "done")
    "researcher_queued",
    "researcher_started",
    "researcher_finished",  # data: ok, error
    "tool_call",  # data: tool, topic
    "tool_error",  # data: tool, origin (upstream server or tool name), error
    "sources",  # the run's source registry grew (progress.sources)
    "tokens",  # data: stage, model
    "warning",
]


@dataclass(frozen=True, slots=True)
class Progress:
    phase: str = "starting"
    researchers_total: int = 0
    researchers_running: int = 0
    researchers_queued: int = 0
    researchers_done: int = 0
    researchers_failed: int = 0
    tool_calls: int = 0
    failed_tool_calls: int = 0
    # By upstream MCP server (or, for the built-in tools, by tool name): which source of tools is failing.
    failed_tool_calls_by: dict[str, int] = field(default_factory=dict)
    sources: int = 0
    model_calls: int = 0
    tokens: int = 0
    elapsed_s: float = 0.0

    def describe(self) -> str:
        """One human-readable line, as progress notifications show it."""
        parts = [self.phase]
        if self.researchers_total:
            parts.append(
                f"researchers {self.researchers_done + self.researchers_failed}/{self.researchers_total} done, "
                f"{self.researchers_running} running, {self.researchers_queued} queued"
            )
        parts.append(f"{self.sources} sources, {self.tool_calls} tool calls, {self.tokens} tokens")
        if self.failed_tool_calls:
            by = ", ".join(f"{name} {n}" for name, n in sorted(self.failed_tool_calls_by.items()))
            parts.append(f"{self.failed_tool_calls} tool calls failed ({by})")
        return " · ".join(parts)


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    message: str
    progress: Progress
    data: dict[str, Any] = field(default_factory=dict)


EventSink = Callable[[Event], None]


class ProgressTracker:
    """Holds the run's counters and forwards each change as an event. A failing sink never fails the run."""

    def __init__(self, sink: EventSink | None) -> None:
        self._sink = sink
        self._started = time.perf_counter()
        self.progress = Progress()
        self._failures: dict[str, ToolFailures] = {}

    def update(self, kind: EventKind, message: str, data: dict[str, Any] | None = None, **changes: Any) -> None:
        self.progress = replace(self.progress, elapsed_s=time.perf_counter() - self._started, **changes)
        if self._sink is None:
            return
        try:
            self._sink(Event(kind, message, self.progress, data or {}))
        except Exception:  # a rendering bug must not cost the user their research
            log.exception("progress callback failed")
            self._sink = None

    def bump(self, kind: EventKind, message: str, data: dict[str, Any] | None = None, **deltas: int) -> None:
        changes = {name: getattr(self.progress, name) + delta for name, delta in deltas.items()}
        self.update(kind, message, data, **changes)

    def tool_failed(self, tool: str, origin: str, error: str, *, upstream: bool) -> None:
        """Count one failed tool call against its origin and remember what went wrong, for `failure_warnings`."""
        failure = self._failures.setdefault(origin, ToolFailures(origin, upstream))
        failure.calls += 1
        if error not in failure.errors:
            failure.errors.append(error)
        by = dict(self.progress.failed_tool_calls_by)
        by[origin] = by.get(origin, 0) + 1
        self.update("tool_error", f"{tool} failed: {error}", {"tool": tool, "origin": origin, "error": error},
                    failed_tool_calls=self.progress.failed_tool_calls + 1, failed_tool_calls_by=by)

    def failure_warnings(self) -> list[str]:
        """One line per failing origin, e.g. "upstream 'fetch': 3 calls failed: <the distinct errors>"."""
        return [failure.warning() for failure in self._failures.values()]


@dataclass(slots=True)
class ToolFailures:
    origin: str
    upstream: bool
    calls: int = 0
    errors: list[str] = field(default_factory=list)  # distinct, in order of first occurrence

    def warning(self) -> str:
        what = f"upstream '{self.origin}'" if self.upstream else f"tool '{self.origin}'"
        calls = "1 call" if self.calls == 1 else f"{self.calls} calls"
        shown = "; ".join(_short(e) for e in self.errors[:MAX_LISTED_ERRORS])
        if len(self.errors) > MAX_LISTED_ERRORS:
            shown += f"; and {len(self.errors) - MAX_LISTED_ERRORS} other error(s)"
        return f"{what}: {calls} failed: {shown}"


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
