"""The engine's own view of settings, and what a run produces."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..errors import InputError
from ..settings import Settings
from .reading import ReadingLimits
from .sources import CitationStats, Source
from .support.apply import ClaimSummary, UnsupportedClaims
from .support.check import ClaimCheck

ReportLength = Literal["short", "standard", "long"]


@dataclass(frozen=True, slots=True)
class EngineConfig:
    max_concurrent_units: int = 5
    max_supervisor_iterations: int = 6
    max_tool_calls: int = 10
    allow_clarification: bool = True
    researcher_timeout_s: float = 900.0
    tool_timeout_s: float = 60.0
    report_truncation_retries: int = 3
    max_report_tokens: int = 8_000
    max_question_chars: int = 20_000
    reading: ReadingLimits = field(default_factory=ReadingLimits)
    max_run_tokens: int | None = None
    max_run_cost_usd: float | None = None
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)
    unsupported_claims: UnsupportedClaims = "mark"  # what the report does with a sentence its source does not support
    revise_unsupported_claims: bool = False  # one revision turn for the report model when some are unsupported
    report_language: str = ""  # the language the report is written in ("" = the brief's); see `valid_language`
    report_length: ReportLength = "standard"  # "short" about halves the report, "long" adds half again
    claim_text_chars_per_source: int = 250_000  # source text kept for the claim check (see support/texts.py)
    claim_text_chars_per_run: int = 4_000_000
    claim_text_chars_stored: int = 1_000_000  # of it, kept in the run record for a rewrite's claim check
    claim_judge: Literal["off", "model"] = "off"  # "model": the report model judges what the lexical check doubts

    @classmethod
    def from_settings(cls, settings: Settings) -> EngineConfig:
        return cls(
            max_concurrent_units=settings.max_concurrent_research_units,
            max_supervisor_iterations=settings.max_supervisor_iterations,
            max_tool_calls=settings.max_tool_calls,
            allow_clarification=settings.allow_clarification,
            researcher_timeout_s=settings.researcher_timeout_s,
            tool_timeout_s=settings.tool_timeout_s,
            report_truncation_retries=settings.report_truncation_retries,
            max_report_tokens=settings.max_report_tokens,
            max_question_chars=settings.max_question_chars,
            max_run_tokens=settings.max_run_tokens,
            max_run_cost_usd=settings.max_run_cost_usd,
            prices=dict(settings.prices),
            unsupported_claims=settings.unsupported_claims,
            revise_unsupported_claims=settings.revise_unsupported_claims,
            claim_text_chars_per_source=settings.claim_text_chars_per_source,
            claim_text_chars_per_run=settings.claim_text_chars_per_run,
            claim_text_chars_stored=settings.claim_text_chars_stored,
            claim_judge=settings.claim_judge,
            reading=ReadingLimits(
                summarize_over_chars=settings.summarize_over_chars,
                summarization_timeout_s=settings.summarization_timeout_s,
                max_concurrent_summaries=settings.max_concurrent_summaries,
            ),
        )


MAX_LANGUAGE_CHARS = 40
# A language name in any script ("German", "Deutsch", "日本語", "Brazilian Portuguese") or a BCP-47 tag ("de",
# "pt-BR", "zh-Hant-TW", "es-419"): letters, digits, single spaces, hyphens and parentheses, starting with a letter.
_LANGUAGE = re.compile(r"[^\W\d_](?:[\w()-]| (?! ))*")


LANGUAGE_RULE = (f"must be a language name or tag such as German, Deutsch or de (letters, digits, spaces, hyphens; "
                 f"at most {MAX_LANGUAGE_CHARS} characters)")


def valid_language(text: str | None) -> str:
    """`text` as a report language, or "" when none is asked; InputError (one sentence) when it is not one.

    Strict on purpose: the value goes into the writer's prompt, so it must be a short name, not a sentence."""
    value = (text or "").strip()
    if not value:
        return ""
    if len(value) > MAX_LANGUAGE_CHARS or not _LANGUAGE.fullmatch(value):
        raise InputError(f"language: {LANGUAGE_RULE}, not {value[:50]!r}")
    return value


class ClarifyWithUser(BaseModel):
    """Whether the request needs a clarifying question before research starts."""

    need_clarification: bool = Field(description="True only if a question must be asked before researching")
    question: str = Field(default="", description="The clarifying question, when one is needed")
    verification: str = Field(default="", description="What will be researched, when no question is needed")


class ResearchBrief(BaseModel):
    """The research brief that guides the research."""

    research_brief: str = Field(min_length=1, description="One detailed paragraph describing what to research")


@dataclass(slots=True)
class UnitOutcome:
    """One research unit: its topic and either cited notes or why it failed."""

    topic: str
    ok: bool
    note: str = ""
    error: str = ""
    tool_calls: int = 0
    source_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PriorRun:
    """A finished run a follow-up builds on: its brief, its notes (the topics it researched) and its sources, whose
    [S<n>] ids the notes cite and the follow-up keeps."""

    run_id: str
    brief: str
    units: tuple[UnitOutcome, ...]  # researched topics only (failed ones are not known, so they may be tried again)
    registry: tuple[Source, ...]  # in id order: S1, S2, ...
    # The source texts it stored (ResearchResult.texts): sentences citing its sources are checked against them.
    texts: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ResearchResult:
    run_id: str
    question: str
    status: Literal["completed", "needs_clarification"]
    clarification: str = ""
    brief: str = ""
    units: list[UnitOutcome] = field(default_factory=list)  # a follow-up's start with the earlier run's
    follow_up_of: str = ""  # the run whose brief, notes and sources this one built on
    report: str = ""
    title: str = ""
    sources: list[Source] = field(default_factory=list)  # cited by the report, numbered as the report numbers them
    registry: list[Source] = field(default_factory=list)  # every document read, by the notes' [S<n>] ids
    citations: CitationStats = field(default_factory=CitationStats)
    claims: list[ClaimCheck] = field(default_factory=list)  # per cited sentence: supported/weak/unsupported, evidence
    claim_summary: ClaimSummary = field(default_factory=ClaimSummary)
    texts: dict[str, str] = field(default_factory=dict)  # source id -> passages kept to check a rewrite's claims
    usage: dict[str, Any] = field(default_factory=dict)
    reading: dict[str, int] = field(default_factory=dict)  # documents registered, summarized, extractive fallbacks
    warnings: list[str] = field(default_factory=list)
    failed_tool_calls: dict[str, int] = field(default_factory=dict)  # by upstream server (or built-in tool name)
    elapsed_s: float = 0.0
    timeline: dict[str, Any] = field(default_factory=dict)  # every call, the totals and the floor (monitor.timeline)

    @property
    def failed_units(self) -> list[UnitOutcome]:
        return [u for u in self.units if not u.ok]
