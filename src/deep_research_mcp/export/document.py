"""A finished run as the exporters see it: the report's markdown, its numbered sources, citation stats and usage.

Built from the run store's record (the CLI's `run` and `export`, the MCP server) through a structural protocol, so
this package depends on the engine's types only, never on the server that stores runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, Protocol
from urllib.parse import quote

from ..engine.sources import CitationStats, Source
from ..engine.support.report import SOURCES_HEADING

_H1 = re.compile(r"\A\s*#\s+(.+?)\s*#*\s*$", re.MULTILINE)


class SourceLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def locator(self) -> str: ...
    @property
    def title(self) -> str: ...


class FinishedRun(Protocol):
    """What a stored run record offers (`server.store.RunRecord` has these fields)."""

    @property
    def run_id(self) -> str: ...
    @property
    def question(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def report(self) -> str: ...
    @property
    def created_at(self) -> str: ...
    @property
    def sources(self) -> Sequence[SourceLike]: ...
    @property
    def citations(self) -> Mapping[str, int]: ...
    @property
    def usage(self) -> Mapping[str, Any]: ...
    @property
    def warnings(self) -> Sequence[str]: ...
    @property
    def claim_summary(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class ReportDocument:
    run_id: str
    question: str
    title: str
    markdown: str  # the report as the run wrote it, its generated Sources section included
    sources: tuple[Source, ...]  # the cited sources, in the report's numbering: sources[0] is [1]
    citations: CitationStats
    usage: Mapping[str, Any] = field(default_factory=dict)
    created_at: str = ""
    warnings: tuple[str, ...] = ()
    claim_summary: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_run(cls, run: FinishedRun) -> ReportDocument:
        stats = {k: int(v) for k, v in run.citations.items() if k in CitationStats.__slots__}
        return cls(
            run_id=run.run_id, question=run.question, title=run.title or _heading(run.report) or run.question[:200],
            markdown=run.report, sources=tuple(Source(id=s.id, locator=s.locator, title=s.title) for s in run.sources),
            citations=CitationStats(**stats), usage=dict(run.usage), created_at=run.created_at,
            warnings=tuple(run.warnings), claim_summary=dict(run.claim_summary),
        )

    @property
    def body(self) -> str:
        """The report without its generated Sources section: HTML and DOCX build their own, with anchors."""
        lines: list[str] = []
        for line in self.markdown.splitlines():
            if SOURCES_HEADING.match(line.strip()):
                break
            lines.append(line)
        return "\n".join(lines).rstrip() + "\n"


def source_href(source: Source) -> str | None:
    """Where a source's entry links to: its URL, or a file: URI for a document read from a local folder. Any other
    locator (a relative path, an upstream tool's own id) is shown, not linked."""
    locator = source.locator.strip()
    if locator.lower().startswith(("http://", "https://")):
        return locator
    if PurePosixPath(locator).is_absolute():
        return "file://" + quote(locator)
    if PureWindowsPath(locator).is_absolute():
        return PureWindowsPath(locator).as_uri()
    return None


def _heading(markdown: str) -> str:
    match = _H1.search(markdown)
    return match.group(1) if match else ""
