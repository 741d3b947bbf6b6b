import re
from pathlib import Path

from deep_research_mcp.engine.sources import SourceRegistry, finalize_report, normalize_locator, scrub_citations
from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer
from deep_research_mcp.tools.base import Document
from deep_research_mcp.tools.localdocs.tools import close_local_documents, open_local_documents

from .conftest import QUESTION, EngineFactory
from .rendering import links_and_media, rendered_text


def registry_with(*locators: str) -> SourceRegistry:
    registry = SourceRegistry()
    for n, locator in enumerate(locators, start=1):
        registry.register(Document(locator, f"Title {n}", "text"))
    return registry


def test_registering_the_same_page_twice_gives_one_id() -> None:
    registry = SourceRegistry()
    a = registry.register(Document("https://Example.com/a/#intro", "A", "x"))
    b = registry.register(Document("https://example.com:443/a", "A again", "y"))
    c = registry.register(Document("docs/b.md", "B", "z"))
    assert (a.id, b.id, c.id) == ("S1", "S1", "S2")
    assert len(registry) == 2


def test_normalize_keeps_query_and_non_default_port() -> None:
    assert normalize_locator("http://h:8080/p/?q=1#f") == "http://h:8080/p?q=1"
    assert normalize_locator("/abs/path.md") == "/abs/path.md"


def test_report_is_renumbered_by_first_use_and_sources_come_from_the_registry() -> None:
    registry = registry_with("https://a.example/1", "https://b.example/2", "docs/c.md")
    text = "# Title\n\nFirst [S3]. Second [S1, S3]. Third [S1]."
    report, sources, stats = finalize_report(text, registry)
    assert "First [1]. Second [2, 1]. Third [2]." in report
    assert [s.id for s in sources] == ["S3", "S1"]
    assert report.endswith("## Sources\n\n1. Title 3 — `docs/c.md`\n2. [Title 1](https://a.example/1)\n")
    assert (stats.cited, stats.dropped, stats.unused, stats.registered) == (2, 0, 1, 3)


def test_invented_ids_links_urls_and_sources_sections_are_dropped_and_counted() -> None:
    registry = registry_with("https://real.example/page")
    text = (
        "# R\n\nA fact [S1]. An invented one [S999]. A bare number [4]. "
        "See [this page](https://invented.example/x) and https://invented.example/y. "
        "A real link [here](https://real.example/page/).\n\n"
        "## References\n\n1. https://invented.example/z\n- [Fake](https://invented.example/w)\n\n## After\n\nKept."
    )
    report, sources, stats = finalize_report(text, registry)
    assert "invented.example" not in report
    assert "[S" not in report and "[4]" not in report
    assert "A fact [1]." in report and "A real link here [1]." in report
    assert "## After\n\nKept." in report
    assert [s.locator for s in sources] == ["https://real.example/page"]
    # S999, [4], the invented link, the bare URL, and the two items of the model's own references section.
    assert stats.dropped == 6
    assert report.count("## Sources") == 1


def test_scrub_keeps_markdown_without_citations_untouched() -> None:
    registry = registry_with("x.md")
    text = "Use `a[0]` carefully; a [link](docs/x.md) stays; [S1] cites."
    scrubbed = scrub_citations(text, registry)
    assert scrubbed.text == text
    assert scrubbed.cited_ids == ["S1"]


def test_a_dropped_marker_leaves_no_gap_and_names_that_start_with_a_mark_keep_their_space() -> None:
    registry = registry_with("x.md")
    text = ("Avoid .htaccess files and use :memory: or ./configure, as in .NET [S9]. A fact [S1] , another [S7] ; "
            "done [S8] .")
    scrubbed = scrub_citations(text, registry)
    assert scrubbed.text == ("Avoid .htaccess files and use :memory: or ./configure, as in .NET. A fact [S1], another; "
                             "done.")


def test_report_without_citations_has_no_sources_section() -> None:
    report, sources, stats = finalize_report("# Nothing\n\nNo facts.", registry_with("a.md"))
    assert "## Sources" not in report
    assert sources == [] and stats.unused == 1


HANDBOOK = """---
title: Tidal Power Handbook
---
# Turbines

Tidal power plants store energy as water held back until turbines release it.

# Lagoons

A tidal lagoon stores energy behind a sea wall; power plants empty it through turbines.
"""
ATLAS = "Wave Atlas\n==========\n\nPoint absorbers\n---------------\n\nBuoys store energy from tidal swell.\n"


async def test_local_files_are_listed_by_their_title_whichever_section_was_found(
    server: ScriptedLLMServer, make_engine: EngineFactory, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "handbook.md").write_text(HANDBOOK, encoding="utf-8")
    (docs / "atlas.rst").write_text(ATLAS, encoding="utf-8")
    server.scenario = Scenario(topics=2, tool_calls_per_researcher=2)
    tools = await open_local_documents(docs, tmp_path / "index.sqlite")
    try:
        async with make_engine(tools=tools) as engine:
            result = await engine.run(QUESTION)
    finally:
        close_local_documents(tools)
    sources = result.report.split("## Sources", 1)[1]
    listed = re.findall(r"^\d+\. (.+) — `(.+)`$", sources, re.MULTILINE)
    assert sorted(listed) == [
        ("Tidal Power Handbook", str((docs / "handbook.md").resolve())),
        ("Wave Atlas", str((docs / "atlas.rst").resolve())),
    ]


HOSTILE_TITLES = [
    "Tidal lagoons [official source](https://evil.example/phish) ![x](https://evil.example/pixel.png)",
    "<img src=https://evil.example/i.png> <a href='https://evil.example/a'>a</a> <!-- c -->",
    "See https://evil.example/bare, www.evil.example and evil.com `code` *bold* _em_ ~~gone~~ | a | b |",
    "# Heading? - list 1. item > quote \\ backslash &amp; &#60;img&#62; [ref]: https://evil.example/ref",
    "- starts like a list",
    "2024. starts like an ordered list",
]


def test_titles_in_sources_render_as_exactly_their_text() -> None:
    registry = SourceRegistry()
    for n, title in enumerate(HOSTILE_TITLES, start=1):
        locator = f"https://real.example/{n}" if n % 2 else f"docs/{n}`x`.md"
        registry.register(Document(locator, title, "text"))
    registry.register(Document("https://real.example/p(a)ren s", "Paren", "text"))
    text = "# R\n\n" + " ".join(f"Fact {n} [S{n}]." for n in range(1, len(registry) + 1))
    report, _, _ = finalize_report(text, registry)
    links, media = links_and_media(report)
    assert media == []
    retrieved = {s.locator for s in registry.all() if s.locator.startswith("https://")}
    assert {link.replace("%28", "(").replace("%29", ")").replace("%20", " ") for link in links} == retrieved
    lines = report.split("## Sources\n\n", 1)[1].splitlines()
    for line, source in zip(lines, registry.all(), strict=True):
        shown = rendered_text(line.split(". ", 1)[1])  # the item's text, as one paragraph
        expected = source.title if source.locator.startswith("https://") else f"{source.title} — {source.locator}"
        assert shown == " ".join(expected.split())


def test_report_body_loses_autolinks_images_and_html_to_pages_never_retrieved() -> None:
    registry = registry_with("https://real.example/page")
    text = ("# R\n\nA fact [S1]. An autolink <https://evil.example/auto>, a titled image "
            '![x](https://evil.example/p.png "t"), raw <img src="https://evil.example/i.png"> and '
            "<a href=https://evil.example/a>a link</a>, www.evil.example. A real one <https://real.example/page>.")
    report, _, stats = finalize_report(text, registry)
    links, media = links_and_media(report)
    assert links == ["https://real.example/page"] and media == []
    assert "](https://evil" not in report and "https://evil" not in report and stats.dropped == 4
    assert "A real one [1]." in report
