"""What the reader sees of the claim check: a summary line under the report's title, and each unsupported sentence
marked after its citation (`⚠ unsupported`), removed, or left alone, by `DEEP_RESEARCH_UNSUPPORTED_CLAIMS`."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..sources import outside_code
from .check import ClaimCheck, SourceText, check_report
from .report import CLAIM_LEAD, MARKER_GROUP, SOURCES_HEADING, UNSUPPORTED_MARK

UnsupportedClaims = Literal["mark", "remove", "keep"]
MARK = " " + UNSUPPORTED_MARK
SUMMARY_PREFIX = "> Claim check: "


@dataclass(frozen=True, slots=True)
class ClaimSummary:
    checked: int = 0  # claims with a verdict (not "unchecked")
    supported: int = 0  # strictly or in close paraphrase; `weak` of them only loosely
    weak: int = 0
    unsupported: int = 0
    unchecked: int = 0
    handling: str = "mark"
    removed: int = 0

    def line(self) -> str:
        """One sentence for the report: "41 of 43 cited sentences are supported by their sources ..."."""
        if not self.checked:
            return ""
        text = f"{self.supported} of {self.checked} cited sentences are supported by their sources"
        if self.weak:
            text += f" ({self.weak} only loosely)"
        if self.unsupported:
            done = {"mark": "marked ⚠ unsupported", "remove": "removed", "keep": "left as written"}[self.handling]
            if self.handling == "remove" and self.removed < self.unsupported:
                done = f"{self.removed} removed, the rest marked ⚠ unsupported"
            text += f"; {self.unsupported} not supported ({done})"
        return text + "."


@dataclass(slots=True)
class CheckedReport:
    report: str
    checks: list[ClaimCheck] = field(default_factory=list)
    summary: ClaimSummary = field(default_factory=ClaimSummary)
    # After removals: the report's old citation numbers still cited, in their new order ([3, 1] means the old [3] is
    # now [1] and the old [1] is [2]); None when nothing was renumbered.
    kept: list[int] | None = None


def summarize(checks: Sequence[ClaimCheck], handling: str = "mark", removed: int = 0) -> ClaimSummary:
    counts = {v: sum(1 for c in checks if c.verdict == v) for v in ("supported", "weak", "unsupported", "unchecked")}
    return ClaimSummary(
        checked=len(checks) - counts["unchecked"], supported=counts["supported"] + counts["weak"], weak=counts["weak"],
        unsupported=counts["unsupported"], unchecked=counts["unchecked"], handling=handling, removed=removed)


def apply_checks(report: str, checks: Sequence[ClaimCheck], handling: UnsupportedClaims) -> tuple[str, int]:
    """The report with unsupported claims marked or removed, and how many were removed. A claim that spans lines
    cannot be cut out cleanly and is marked instead."""
    lines = report.splitlines()
    targets = sorted((c.claim for c in checks if c.verdict == "unsupported" and c.claim is not None),
                     key=lambda claim: (claim.line, claim.end), reverse=True)
    if handling == "keep" or not targets:
        return report, 0
    removed = 0
    dropped_lines: set[int] = set()
    for claim in targets:
        line = lines[claim.line]
        if handling == "remove" and claim.start_line == claim.line:
            before, after = line[: claim.start], line[claim.end :]
            if _is_line_start(before):  # the claim opened the line: its successor does now
                after = after.lstrip(CLAIM_LEAD)
            joined = (before + after).rstrip()
            lines[claim.line] = joined
            if _is_line_start(joined):
                dropped_lines.add(claim.line)
            removed += 1
        else:
            lines[claim.line] = line[: claim.end] + MARK + line[claim.end :]
    kept = [line for number, line in enumerate(lines) if number not in dropped_lines]
    return "\n".join(kept) + ("\n" if report.endswith("\n") else ""), removed


def _is_line_start(text: str) -> bool:
    """Nothing but indentation, a list bullet or a list number."""
    stripped = text.strip()
    return not stripped or stripped in ("-", "*", "+", ">") or (stripped[:-1].isdigit() and stripped[-1] in ".)")


def add_summary(report: str, summary: ClaimSummary) -> str:
    """The summary as a blockquote under the report's title, where a reader sees it first."""
    line = summary.line()
    if not line:
        return report
    lines = report.split("\n")
    at = 1 if lines and lines[0].startswith("# ") else 0
    return "\n".join([*lines[:at], "", SUMMARY_PREFIX + line, *lines[at:]])


def renumber(report: str) -> tuple[str, list[int]]:
    """Citations numbered again by first use and the Sources section cut to the sources still cited, after removed
    sentences took some citations with them: no gaps, no source listed that nothing cites. Returns the report and
    the old numbers kept, in their new order."""
    head, sources = _split_sources(report)
    order: list[int] = []

    def collect(segment: str) -> str:
        for match in MARKER_GROUP.finditer(segment):
            order.extend(int(n) for n in re.split(r"\s*,\s*", match.group(1)) if int(n) not in order)
        return segment

    outside_code(head, collect)
    numbers = {old: new for new, old in enumerate(order, start=1)}

    def marker(match: re.Match[str]) -> str:
        return "[" + ", ".join(str(numbers[int(n)]) for n in re.split(r"\s*,\s*", match.group(1))) + "]"

    body = outside_code(head, lambda segment: MARKER_GROUP.sub(marker, segment))
    if sources is None:
        return body, order
    heading, lines = sources
    listed = {int(m.group(1)): m.group(2) for line in lines if (m := _SOURCE_ENTRY.match(line))}
    entries = [f"{numbers[old]}. {listed[old]}" for old in order if old in listed]
    return body + "\n".join([heading, "", *entries]) + "\n", order


_SOURCE_ENTRY = re.compile(r"^(\d+)\.\s+(.*)$")


def _split_sources(report: str) -> tuple[str, tuple[str, list[str]] | None]:
    """The report before its Sources heading, and the heading with the section's lines (None without one)."""
    lines = report.split("\n")
    for number, line in enumerate(lines):
        if SOURCES_HEADING.match(line.strip()):
            return "\n".join(lines[:number]) + "\n", (line, [x.strip() for x in lines[number + 1 :] if x.strip()])
    return report, None


def renumber_checks(checks: Sequence[ClaimCheck], kept: Sequence[int]) -> list[ClaimCheck]:
    """Each check's citations as the renumbered report has them (a removed claim keeps those still listed)."""
    numbers = {old: new for new, old in enumerate(kept, start=1)}
    return [dataclasses.replace(c, citations=tuple(numbers[n] for n in c.citations if n in numbers)) for c in checks]


def apply_verdicts(
    report: str, sources: int, checks: Sequence[ClaimCheck], handling: UnsupportedClaims
) -> CheckedReport:
    """The report as the reader gets it: unsupported claims marked, removed (then renumbered) or kept, and the
    summary under the title. `sources` is how many sources the report lists."""
    checks = list(checks)
    marked, removed = apply_checks(report, checks, handling)
    summary = summarize(checks, handling, removed)
    kept: list[int] | None = None
    if removed:
        marked, kept = renumber(marked)
        if kept == list(range(1, sources + 1)):
            kept = None  # every source is still cited, in the same order: nothing moved
        else:
            checks = renumber_checks(checks, kept)
    return CheckedReport(add_summary(marked, summary), checks, summary, kept)


def check_and_apply(
    report: str, cited_ids: Sequence[str], texts: Mapping[str, str], handling: UnsupportedClaims,
    prepared: dict[str, SourceText] | None = None,
) -> CheckedReport:
    return apply_verdicts(report, len(cited_ids), check_report(report, cited_ids, texts, prepared), handling)


async def check_report_async(
    report: str, cited_ids: Sequence[str], texts: Mapping[str, str], prepared: dict[str, SourceText] | None = None
) -> list[ClaimCheck]:
    """`check_report` in a worker thread: tokenizing pages and embeddings are CPU work."""
    return await asyncio.to_thread(check_report, report, list(cited_ids), dict(texts), prepared)


def with_source_ids(report: str, cited_ids: Sequence[str]) -> str:
    """A finished report turned back into a draft: `[n]` markers as the run's `[S<n>]` ids, the Sources section
    dropped, so a writer can revise it and the citation pass can finish it again."""
    lines: list[str] = []
    for line in report.splitlines():
        if SOURCES_HEADING.match(line.strip()):
            break
        lines.append(line)

    def ids(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.split(r"\s*,\s*", match.group(1))]
        return "[" + ", ".join(cited_ids[n - 1] for n in numbers if 0 < n <= len(cited_ids)) + "]"

    return outside_code("\n".join(lines).rstrip(), lambda segment: MARKER_GROUP.sub(ids, segment))
