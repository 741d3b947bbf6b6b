"""The DOCX export read back with python-docx: headings, lists and the table, `[n]` citations that link to
bookmarks on the numbered Sources entries, and each entry linked to its source."""

from __future__ import annotations

import dataclasses
import io

import pytest
from docx import Document
from docx.document import Document as DocxDocument
from docx.oxml.ns import qn

from deep_research_mcp.export import ReportDocument, render

from .conftest import HOSTILE_TITLE, TITLE


@pytest.fixture(scope="module")
def docx(document: ReportDocument) -> DocxDocument:
    return Document(io.BytesIO(render(document, "docx")))


def test_docx_headings_lists_and_table(docx: DocxDocument) -> None:
    headings = [(p.style.name, p.text) for p in docx.paragraphs if p.style.name.startswith("Heading")]
    assert headings == [("Heading 1", TITLE), ("Heading 2", "Comparison"), ("Heading 2", "Sources")]
    texts = [p.text for p in docx.paragraphs]
    assert "• Lagoons release the water through turbines [1]." in texts
    assert "1. Hold the water." in texts and "2. Release it." in texts
    assert any(run.bold and run.text == "Lagoons" for p in docx.paragraphs for run in p.runs)
    table = docx.tables[0]
    assert [[cell.text for cell in row.cells] for row in table.rows] == [
        ["Method", "Round trip"], ["Pumped hydro", "80% [2]"], ["Flywheels", "milliseconds [3]"]]
    assert docx.core_properties.title == TITLE


def test_docx_citations_link_to_bookmarked_sources(docx: DocxDocument, document: ReportDocument) -> None:
    body = docx.element.body
    bookmarks = {b.get(qn("w:name")) for b in body.iter(qn("w:bookmarkStart"))}
    assert bookmarks == {f"src_{n}" for n in range(1, len(document.sources) + 1)}
    fragments = [link.fragment for p in docx.paragraphs for link in p.hyperlinks if link.fragment]
    fragments += [link.fragment for row in docx.tables[0].rows for cell in row.cells for p in cell.paragraphs
                  for link in p.hyperlinks if link.fragment]
    assert set(fragments) == bookmarks and len(fragments) >= 7
    first = docx.paragraphs[1]
    assert first.text.endswith("[2, 1].") and "[1]" in first.text


def test_docx_sources_link_to_urls_and_files(docx: DocxDocument) -> None:
    texts = [p.text for p in docx.paragraphs]
    start = texts.index("Sources") + 1
    entries = docx.paragraphs[start:start + 3]
    assert [p.text.split(" — ")[0] for p in entries] == ["1. Tidal lagoons", f"2. {HOSTILE_TITLE}", "3. Flywheels"]
    addresses = [link.address for p in entries for link in p.hyperlinks]
    assert addresses == ["file:///srv/docs/tidal-lagoons.md", "https://example.org/pumped?a=1&b=2",
                         "https://example.com/flywheels"]
    assert "Never cited" not in "\n".join(texts)


def test_characters_xml_cannot_hold_do_not_sink_the_document(document: ReportDocument) -> None:
    """A page's form feed or NUL copied into a report: python-docx (lxml) refuses them outright."""
    broken = dataclasses.replace(document, title="Form\x0cfeed", markdown=document.markdown.replace(
        "Comparison", "Compa\x00rison\x0b"))
    docx = Document(io.BytesIO(render(broken, "docx")))
    assert docx.core_properties.title == "Form feed"
    assert ("Heading 2", "Compa rison") in [(p.style.name, p.text) for p in docx.paragraphs]
