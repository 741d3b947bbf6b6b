"""The JSON export validates against its model, and its numbers are the run's."""

from __future__ import annotations

import json

from deep_research_mcp.export import ReportDocument, render
from deep_research_mcp.export.to_json import ExportedReport

from .conftest import SOURCES


def test_json_export_carries_report_sources_stats_and_usage(document: ReportDocument) -> None:
    data = render(document, "json")
    exported = ExportedReport.model_validate_json(data)
    assert json.loads(data)["version"] == 1
    assert exported.report_markdown == document.markdown and exported.title == document.title
    assert [(s.n, s.id, s.locator) for s in exported.sources] == [
        (1, "S1", SOURCES[0][0]), (2, "S2", SOURCES[1][0]), (3, "S3", SOURCES[2][0])]
    assert exported.sources[0].url == "file:///srv/docs/tidal-lagoons.md"
    # three cited, the fourth read but never cited, and the draft's [S9] pointed at nothing
    assert exported.citations.model_dump() == {"cited": 3, "uncited": 1, "dropped": 1, "registered": 4}
    assert exported.usage["calls"] == 4 and exported.claim_summary["supported"] == 3
