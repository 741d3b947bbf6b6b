"""The PDF export opened as a reader would: poppler turns it into PNG pages and extracts its text, which has the
title, the citations and the sources. Rendered once for the module (WeasyPrint takes ~0.5 s a report)."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from deep_research_mcp.export import ReportDocument, render

from .conftest import TITLE

pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs poppler-utils (see .ci/run)")


@pytest.fixture(scope="module")
def pdf(document: ReportDocument, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "report.pdf"
    path.write_bytes(render(document, "pdf"))
    return path


def test_pdf_pages_render_to_png(pdf: Path) -> None:
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(pdf), str(pdf.with_suffix(""))], check=True, timeout=30)
    pages = sorted(pdf.parent.glob("report*.png"))
    assert pages and all(p.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and p.stat().st_size > 1_000 for p in pages)


def test_pdf_text_has_title_citations_and_sources(pdf: Path) -> None:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True,
                          timeout=30).stdout
    flat = " ".join(text.split())
    assert TITLE in flat
    assert "[1]" in flat and "[2, 1]" in flat and "[3]" in flat
    assert "Tidal lagoons" in flat and "Pumped <script>alert(1)</script> hydro" in flat and "Flywheels" in flat
    assert "https://example.com/flywheels" in flat and "/srv/docs/tidal-lagoons.md" in flat


def test_pdf_links_point_at_sources(pdf: Path, document: ReportDocument) -> None:
    """WeasyPrint keeps the links: each citation jumps inside the document, each source entry opens its source
    (poppler's XML conversion lists a page's links)."""
    xml = subprocess.run(["pdftohtml", "-xml", "-stdout", "-i", "-q", str(pdf)], check=True, capture_output=True,
                         text=True, timeout=30).stdout
    hrefs = [html.unescape(h) for h in re.findall(r'<a href="([^"]*)"', xml)]
    internal = [h for h in hrefs if h.startswith(pdf.stem + ".html#")]
    assert len(internal) >= 7  # [1], [2, 1], [2], [3], [1], [3]: seven numbers, each a link (poppler may list twice)
    assert [h for h in hrefs if h not in internal] == ["file:///srv/docs/tidal-lagoons.md",
                                                       "https://example.org/pumped?a=1&b=2",
                                                       "https://example.com/flywheels"]
