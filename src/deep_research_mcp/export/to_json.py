"""The report as JSON for other programs: the markdown, the numbered sources, citation stats and usage.

The shape is the pydantic model below (`ExportedReport.model_json_schema()` is its schema); `version` changes when
a field changes meaning.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from .document import ReportDocument, source_href


class ExportedSource(BaseModel):
    n: int = Field(description="Cited in the report as [n]")
    id: str = Field(description="The run's source id (S<n>), as in its notes")
    title: str
    locator: str = Field(description="The URL or file path the run read")
    url: str | None = Field(description="A link to it: the URL, or a file: URI for a local document")


class CitationCounts(BaseModel):
    cited: int = Field(description="Distinct sources the report cites")
    uncited: int = Field(description="Sources read but never cited")
    dropped: int = Field(description="Citations removed because they pointed at nothing the run retrieved")
    registered: int = Field(description="Every source the run read")


class ExportedReport(BaseModel):
    version: Literal[1] = 1
    run_id: str
    question: str
    title: str
    created_at: str
    report_markdown: str = Field(description="The full report, its Sources section included")
    sources: list[ExportedSource]
    citations: CitationCounts
    usage: dict[str, Any]
    claim_summary: dict[str, Any]
    warnings: list[str]


def check() -> None:
    """pydantic is a core dependency: always available."""


def exported(document: ReportDocument) -> ExportedReport:
    stats = document.citations
    return ExportedReport(
        run_id=document.run_id, question=document.question, title=document.title, created_at=document.created_at,
        report_markdown=document.markdown,
        sources=[ExportedSource(n=n, id=s.id, title=s.title, locator=s.locator, url=source_href(s))
                 for n, s in enumerate(document.sources, start=1)],
        citations=CitationCounts(cited=stats.cited, uncited=stats.unused, dropped=stats.dropped,
                                 registered=stats.registered),
        usage=dict(document.usage), claim_summary=dict(document.claim_summary), warnings=list(document.warnings),
    )


def render(document: ReportDocument) -> bytes:
    return exported(document).model_dump_json(indent=2).encode()
