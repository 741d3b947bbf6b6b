"""What the scripted LLM server should do: fan-out shape, latency, context limit and injected failures.

Every field has a default, so `Scenario()` is a small, fast, failure-free run and a JSON file only needs the
fields it changes (`Scenario.from_json_file`). Nothing is random: the same requests get the same answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FailureKind = Literal["429", "500", "hang", "context_length", "broken_json"]


class FailureRule(BaseModel):
    """Make matching requests fail instead of being answered.

    Rules are checked in order; the first matching rule with budget left applies and spends one unit.
    `broken_json` only matches structured-output requests (clarify, brief), since only those carry JSON text.
    """

    # Typos in a scenario file should fail loudly rather than silently inject nothing.
    model_config = ConfigDict(extra="forbid")

    kind: FailureKind
    stage: str | None = Field(default=None, description="Stage to hit (clarify, brief, supervisor, ...); None = any.")
    match: str | None = Field(default=None, description="Substring that must occur in the request's texts.")
    times: int | None = Field(default=1, ge=0, description="How many matching requests fail; None = every one.")
    retry_after: float = Field(default=0.0, ge=0.0, description="Seconds, sent as Retry-After on a 429.")


class Scenario(BaseModel):
    """Policy knobs for the scripted server; see the package docstring for how each stage answers."""

    model_config = ConfigDict(extra="forbid")

    topics: int = Field(default=3, ge=0, description="ConductResearch calls per supervisor fan-out turn.")
    supervisor_rounds: int = Field(default=1, ge=0, description="Fan-out turns before ResearchComplete.")
    tool_calls_per_researcher: int = Field(default=2, ge=0, description="Search calls per researcher (K).")
    tool_calls_per_turn: int = Field(default=1, ge=1, description="Search calls per researcher turn.")
    needs_clarification: bool = False
    repeat_known_topics: bool = Field(
        default=False, description="On a follow-up, the supervisor delegates the earlier run's topics again (as a "
                                   "model ignoring the prompt would) besides its own new ones.")
    invent_citations: bool = Field(
        default=False, description="Compress/report answers add invented ids, URLs and a Sources section."
    )
    quote_sources: bool = Field(
        default=False, description="Compress notes quote each document's first sentence; the report repeats them, "
                                   "corrupting every second one (a number changed, or a 'not' added).")
    latency_s: float = Field(default=0.0, ge=0.0, description="Fixed delay per call.")
    latency_per_output_token_s: float = Field(default=0.0, ge=0.0, description="Extra delay per output token.")
    context_limit_tokens: int | None = Field(default=None, ge=1, description="Prompt size that triggers errors.")
    failures: list[FailureRule] = Field(default_factory=list)
    refuse_modes: list[Literal["json_schema", "json_object", "tool", "tools"]] = Field(
        default_factory=list,
        description="Request features refused as a server without them does: json_schema with llama.cpp's "
        "HTTP 500; json_object, forced tool calls (tool) and any tools (tools) with an HTTP 400 naming them.",
    )

    @classmethod
    def from_json_file(cls, path: str | Path) -> Scenario:
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))
