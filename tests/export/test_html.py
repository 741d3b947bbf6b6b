"""The HTML export parsed back with lxml: every citation links to a source entry that exists, every entry links to
its source, text from pages stays text, and the page loads nothing from anywhere."""

from __future__ import annotations

import re

import lxml.html
import pytest

from deep_research_mcp.engine.support.report import MARKER_GROUP
from deep_research_mcp.export import ReportDocument, render

from .conftest import HOSTILE_TITLE, TITLE


@pytest.fixture(scope="module")
def page(document: ReportDocument) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(render(document, "html"))


def test_every_citation_links_to_an_existing_source_entry(
    page: lxml.html.HtmlElement, document: ReportDocument
) -> None:
    links = page.xpath("//a[@class='cite']")
    body = re.sub(r"`[^`]*`", "", document.body)
    written = [int(n) for group in MARKER_GROUP.findall(body) for n in re.split(r"\s*,\s*", group)]
    assert [int(a.text) for a in links] == written and len(written) >= 7
    for link in links:
        target = page.get_element_by_id(link.get("href").removeprefix("#"))
        assert target.tag == "li" and target.getparent().get("class") == "sources"
    assert {a.get("href") for a in links} == {f"#src-{n}" for n in range(1, len(document.sources) + 1)}


def test_every_source_entry_links_to_its_source(page: lxml.html.HtmlElement, document: ReportDocument) -> None:
    entries = page.xpath("//ol[@class='sources']/li")
    assert [li.get("id") for li in entries] == [f"src-{n}" for n in range(1, len(document.sources) + 1)]
    hrefs = [li.xpath("./a/@href")[0] for li in entries]
    assert hrefs == ["file:///srv/docs/tidal-lagoons.md", "https://example.org/pumped?a=1&b=2",
                     "https://example.com/flywheels"]
    assert entries[1].xpath("./a")[0].text_content() == HOSTILE_TITLE  # the title is text, its markup shown


def test_the_report_structure_survives(page: lxml.html.HtmlElement) -> None:
    assert page.findtext(".//title") == TITLE and page.xpath("//h1")[0].text_content() == TITLE
    assert [h.text_content() for h in page.xpath("//h2")] == ["Comparison", "Sources"]
    assert len(page.xpath("//table//tr")) == 3 and len(page.xpath("//article/ul/li")) == 2
    assert page.xpath("//code")[0].text_content() == "levels[0]"  # a bracket in code is code, not a citation
    assert "Never cited" not in page.text_content()


def test_nothing_active_or_external(page: lxml.html.HtmlElement) -> None:
    assert not page.xpath("//script | //img | //iframe | //link | //object | //*[@src]")
    assert "url(" not in page.findtext(".//style") and "@import" not in page.findtext(".//style")
    assert all(href.startswith(("#src-", "https://", "file:///")) for href in page.xpath("//a/@href"))
