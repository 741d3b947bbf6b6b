"""A finished run to export: its report made by the engine's real citation pass from a draft with `[S<n>]` ids,
stored as the run store stores it. Its sources mix a local file, a URL whose title is hostile markup, and a plain
URL; one source is read but not cited, and the draft has a citation to nothing (dropped)."""

from __future__ import annotations

import dataclasses

import pytest

from deep_research_mcp.engine.sources import SourceRegistry, finalize_report
from deep_research_mcp.export import ReportDocument
from deep_research_mcp.server.store import RunRecord, StoredSource
from deep_research_mcp.tools.base import Document

TITLE = "Storing energy with water & wheels"
HOSTILE_TITLE = "Pumped <script>alert(1)</script> hydro"
DRAFT = f"""# {TITLE}

Tidal lagoons hold water behind a wall at high tide [S1]. Pumped hydro returns about 80% of the energy [S2, S1].

## Comparison

| Method | Round trip |
|---|---|
| Pumped hydro | 80% [S2] |
| Flywheels | milliseconds [S3] |

- **Lagoons** release the water through turbines [S1].
- Flywheels spin *fast* and answer within milliseconds [S3].

1. Hold the water.
2. Release it [S9].

Code such as `levels[0]` is not a citation.

> Note: written from local documents.
"""
SOURCES = [
    ("/srv/docs/tidal-lagoons.md", "Tidal lagoons"),
    ("https://example.org/pumped?a=1&b=2", HOSTILE_TITLE),
    ("https://example.com/flywheels", "Flywheels"),
    ("https://example.com/unused", "Never cited"),
]


def finished_run() -> RunRecord:
    registry = SourceRegistry()
    for locator, title in SOURCES:
        registry.register(Document(locator=locator, title=title, content="..."))
    report, cited, stats = finalize_report(DRAFT, registry)
    return RunRecord(
        run_id="run-export-1", question="How do water and wheels store energy?", status="completed",
        report=report, title=TITLE, created_at="2026-12-01T12:00:00.000Z",
        registry=[StoredSource(id=s.id, locator=s.locator, title=s.title) for s in registry.all()],
        sources=[StoredSource(id=s.id, locator=s.locator, title=s.title) for s in cited],
        citations=dataclasses.asdict(stats), usage={"calls": 4, "input_tokens": 1200, "output_tokens": 300},
        claim_summary={"supported": 3, "line": "3 of 3 cited sentences supported"},
    )


@pytest.fixture(scope="session")
def document() -> ReportDocument:
    return ReportDocument.from_run(finished_run())
