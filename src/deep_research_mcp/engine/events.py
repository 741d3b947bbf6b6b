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

EventKind = Literal[
    "phase",  # data: phase ("scope" | "research" | "write" | "done")
    "researcher_queued",
    "researcher_started",
    "researcher_finished",  # data: ok, error
    "tool_call",  # data: tool, topic
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
