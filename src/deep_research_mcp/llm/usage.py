"""Token and cost accounting for one run, and the run's budget."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import BudgetExceeded
from ..monitor import Monitor, RunRecorder
from .base import Usage


@dataclass(frozen=True, slots=True)
class CallRecord:
    stage: str
    model: str  # "provider:model"
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    seconds: float
    cached: bool = False  # answered from the cache: nothing was paid for it


@dataclass
class UsageMeter:
    """Records every model call of one run; `check()` raises BudgetExceeded once the budget is spent."""

    prices: dict[str, tuple[float, float]] = field(default_factory=dict)
    max_tokens: int | None = None
    max_cost_usd: float | None = None
    on_record: Callable[[CallRecord], None] | None = None
    calls: list[CallRecord] = field(default_factory=list)
    succeeded: set[str] = field(default_factory=set)  # models that answered at least once this run
    fallbacks: list[tuple[str, str, str]] = field(default_factory=list)  # (stage, failed model, error)
    structured_modes: dict[str, str] = field(default_factory=dict)  # model -> how it was last asked for JSON
    tool_modes: dict[str, str] = field(default_factory=dict)  # model -> "prompt" when its tools went in the prompt
    # The run's timeline and the process's metrics (monitor/); off unless the engine gives one.
    recorder: RunRecorder = field(default_factory=lambda: Monitor(enabled=False).recorder(""))

    def record_hit(self, stage: str, model: str) -> CallRecord:
        """A call answered from the cache: counted as a hit, at no tokens and no cost. It does not count as the model
        answering in this run (`succeeded`), which is what lets a fallback take over from it."""
        price = self.prices.get(model)
        record = CallRecord(stage, model, 0, 0, 0.0 if price else None, 0.0, cached=True)
        self.calls.append(record)
        self.recorder.cache_hit(stage, model)
        if self.on_record is not None:
            self.on_record(record)
        return record

    def record(self, stage: str, model: str, usage: Usage, seconds: float) -> CallRecord:
        price = self.prices.get(model)
        cost = (usage.input_tokens * price[0] + usage.output_tokens * price[1]) / 1e6 if price else None
        record = CallRecord(stage, model, usage.input_tokens, usage.output_tokens, cost, seconds)
        self.calls.append(record)
        self.recorder.usage(stage, model, usage.input_tokens, usage.output_tokens, cost, seconds)
        self.succeeded.add(model)
        if self.on_record is not None:
            self.on_record(record)
        return record

    @property
    def input_tokens(self) -> int:
        return sum(c.input_tokens for c in self.calls)

    @property
    def output_tokens(self) -> int:
        return sum(c.output_tokens for c in self.calls)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def cost_usd(self) -> float | None:
        """Known cost; None when no call had a price (unknown models are not guessed at)."""
        costs = [c.cost_usd for c in self.calls if c.cost_usd is not None]
        return sum(costs) if costs else None

    def check(self) -> None:
        if self.max_tokens is not None and self.total_tokens >= self.max_tokens:
            raise BudgetExceeded(f"token budget spent: {self.total_tokens} of {self.max_tokens} tokens used")
        cost = self.cost_usd
        if self.max_cost_usd is not None and cost is not None and cost >= self.max_cost_usd:
            raise BudgetExceeded(f"cost budget spent: ${cost:.4f} of ${self.max_cost_usd:.4f}")

    @property
    def cache_hits(self) -> int:
        return sum(1 for c in self.calls if c.cached)

    def summary(self) -> dict[str, Any]:
        """`calls` are the calls paid for; `cache_hits` those answered from the cache instead."""
        by_stage: dict[str, dict[str, int]] = {}
        by_model: dict[str, dict[str, float]] = {}
        for c in self.calls:
            entry = by_stage.setdefault(c.stage, {"calls": 0, "cache_hits": 0, "input_tokens": 0, "output_tokens": 0})
            entry["cache_hits" if c.cached else "calls"] += 1
            entry["input_tokens"] += c.input_tokens
            entry["output_tokens"] += c.output_tokens
            if not c.cached:
                paid = by_model.setdefault(c.model, {"calls": 0, "output_tokens": 0, "seconds": 0.0})
                paid["calls"] += 1
                paid["output_tokens"] += c.output_tokens
                paid["seconds"] = round(paid["seconds"] + c.seconds, 3)
        return {
            "calls": len(self.calls) - self.cache_hits,
            "by_model": by_model,  # wall time in each model's calls: with output_tokens, its tokens per second
            "cache_hits": self.cache_hits,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
            "by_stage": by_stage,
            "fallbacks": len(self.fallbacks),
            **({"structured_output": dict(self.structured_modes)} if self.structured_modes else {}),
            **({"tool_calls": dict(self.tool_modes)} if self.tool_modes else {}),
            **({"fallback_steps": sorted({stage for stage, _, _ in self.fallbacks})} if self.fallbacks else {}),
        }


def observe_model(caller: Any, stage: str) -> contextlib.AbstractAsyncContextManager[Any]:
    """Around one attempt of `caller` (a ModelCaller) at `stage`: its latency, outcome and service into the run's
    timeline and the process's metrics, when the caller is metered."""
    meter: UsageMeter | None = caller.meter
    if meter is None:
        return contextlib.nullcontext()
    return meter.recorder.model(caller.name, caller.cache_identity, stage)


def now() -> float:
    return time.perf_counter()
