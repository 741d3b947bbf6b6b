"""State shared by every stage of one run: metered models, tools, the source registry, progress, limits."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

from ..llm.factory import StageModels
from ..llm.usage import UsageMeter
from ..tools.base import ResearchTool
from .config import EngineConfig
from .events import ProgressTracker
from .reading import Reader
from .sources import SourceRegistry
from .support.texts import ReadTexts


@dataclass
class RunContext:
    run_id: str
    models: StageModels  # already bound to `meter`
    tools: dict[str, ResearchTool]
    config: EngineConfig
    meter: UsageMeter
    tracker: ProgressTracker
    reader: Reader
    registry: SourceRegistry = field(default_factory=SourceRegistry)
    texts: ReadTexts = field(default_factory=ReadTexts)  # what was read, per source id, for the claim check
    # Run-wide, so units from every supervisor turn share one queue and never exceed the limit together.
    unit_slots: asyncio.Semaphore = field(init=False)
    warnings: list[str] = field(default_factory=list)
    notes_dropped: int = 0  # unverifiable citations removed from researchers' notes, added to the run's total
    date: str = field(default_factory=lambda: dt.date.today().isoformat())

    def __post_init__(self) -> None:
        self.unit_slots = asyncio.Semaphore(self.config.max_concurrent_units)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self.tracker.update("warning", message)
