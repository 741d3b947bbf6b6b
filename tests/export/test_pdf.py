"""The PDF export opened as a reader would: poppler turns it into PNG pages and extracts its text, which has the
title, the citations and the sources, and its links."""

from __future__ import annotations

import html
import http.server
import re
import shutil
import socketserver
import subprocess
import threading
from pathlib import Path

import pytest

from deep_research_mcp.export import ReportDocument, render

from .conftest import TITLE

pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs poppler-utils (see .ci/run)")


def test_pdf_opens_with_pages_title_citations_sources_and_links(
    document: ReportDocument, tmp_path: Path
) -> None:
    """One test (xdist would render a module fixture once per worker): pages, text, then links."""
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render(document, "pdf"))

    subprocess.run(["pdftoppm", "-png", "-r", "40", str(pdf), str(tmp_path / "page")], check=True, timeout=30)
    pages = sorted(tmp_path.glob("page*.png"))
    assert pages and all(p.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and p.stat().st_size > 1_000 for p in pages)

    text = " ".join(poppler("pdftotext", "-layout", str(pdf), "-").split())
    assert TITLE in text
    assert "[1]" in text and "[2, 1]" in text and "[3]" in text
    assert "Tidal lagoons" in text and "Pumped <script>alert(1)</script> hydro" in text and "Flywheels" in text
    assert "https://example.com/flywheels" in text and "/srv/docs/tidal-lagoons.md" in text

    # Each citation jumps inside the document, each source entry opens its source (poppler's XML lists links).
    xml = poppler("pdftohtml", "-xml", "-stdout", "-i", "-q", str(pdf))
    hrefs = [html.unescape(h) for h in re.findall(r'<a href="([^"]*)"', xml)]
    internal = [h for h in hrefs if h.startswith(pdf.stem + ".html#")]
    assert len(internal) >= 7  # [1], [2, 1], [2], [3], [1], [3]: seven numbers, each a link (poppler may list twice)
    assert [h for h in hrefs if h not in internal] == ["file:///srv/docs/tidal-lagoons.md",
                                                       "https://example.org/pumped?a=1&b=2",
                                                       "https://example.com/flywheels"]


def poppler(*argv: str) -> str:
    return subprocess.run(list(argv), check=True, capture_output=True, text=True, timeout=30).stdout


def test_the_pdf_renderer_fetches_nothing() -> None:
    """Defence in depth: even markup that names a stylesheet and an image (ours never does) loads nothing."""
    from weasyprint import HTML

    from deep_research_mcp.export.to_pdf import _refusing_fetcher

    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_error(404)

    with socketserver.TCPServer(("127.0.0.1", 0), Handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            pdf = HTML(string=f'<link rel="stylesheet" href="{base}/a.css"><p>text<img src="{base}/i.png"></p>',
                       url_fetcher=_refusing_fetcher()).write_pdf()
        finally:
            server.shutdown()
            thread.join(5)
    assert pdf.startswith(b"%PDF-") and requests == []
