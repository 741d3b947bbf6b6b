"""One source per page, include/exclude globs, and bad input for the local index: real files in tmp_path."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from deep_research_mcp.errors import InputError
from deep_research_mcp.tools.localdocs import DocumentIndex, open_local_documents
from deep_research_mcp.tools.localdocs.filters import PathFilter, matches

from .test_localdocs import write


def sphinx_page(title: str, body: str) -> str:
    return (f"<html><head><title>{title} &#8212; Tidal 1.0 documentation</title></head><body>"
            f'<div class="related" role="navigation">prev | next</div><div class="body" role="main">'
            f'<h1>{title}<a class="headerlink" href="#x">¶</a></h1>{body}</div></body></html>')


@pytest.fixture
def sphinx(tmp_path: Path) -> Path:
    """A Sphinx build: two pages, their reST source copies, assets and the generated index/search pages."""
    root = tmp_path / "html"
    write(root / "index.html", sphinx_page("Tidal lagoons", "<p>Lagoons store seawater behind a breakwater and "
                                                           "release it through turbines at low tide.</p>"))
    write(root / "ref" / "turbines.html", sphinx_page("Bulb turbines", "<p>Bulb turbines sit in the flow; the "
                                                                      "generator is sealed inside a steel bulb.</p>"))
    write(root / "_sources" / "index.rst.txt", "Tidal lagoons\n=============\n\nLagoons store seawater behind a "
                                               "breakwater and release it through turbines at low tide.\n")
    write(root / "_sources" / "ref" / "turbines.txt", "=============\nBulb turbines\n=============\n\n"
                                                      ".. note::\n\n   Bulb turbines sit in the flow; the generator "
                                                      "is sealed inside a steel bulb.\n")
    write(root / "_static" / "basic.css", "body { margin: 0 }")
    write(root / "_static" / "notes.txt", "generated asset notes")
    write(root / "genindex.html", "<h1>Index</h1><p>turbines, lagoons, breakwater</p>")
    write(root / "search.html", "<h1>Search</h1><p>Please activate JavaScript.</p>")
    write(root / "py-modindex.html", "<h1>Module index</h1>")
    return root


@pytest.fixture
def index(tmp_path: Path) -> Iterator[DocumentIndex]:
    with DocumentIndex(tmp_path / "state" / "index.sqlite") as opened:
        yield opened


def paths(index: DocumentIndex, root: Path, query: str) -> list[str]:
    return sorted(Path(p.path).relative_to(root).as_posix() for p in index.search(query, k=20))


def test_a_sphinx_tree_is_indexed_once_per_page(index: DocumentIndex, sphinx: Path) -> None:
    stats = index.index_directory(sphinx)
    assert (stats.indexed, stats.skipped_generated, stats.skipped_duplicate) == (2, 7, 0)
    assert paths(index, sphinx, "turbines") == ["index.html", "ref/turbines.html"]
    reasons = stats.skipped_reasons()
    assert reasons.startswith("7 generated (Sphinx _sources/, _static/") and "--include to keep" in reasons


def test_source_copies_kept_by_an_include_are_recognised_as_duplicates(index: DocumentIndex, sphinx: Path) -> None:
    write(sphinx / "_sources" / "extra.rst.txt", "Extra\n=====\n\nA copy whose page does not exist.\n")
    write(sphinx / "changes.html", sphinx_page("Changes", "<p>Version 2 rewrote the sluice model.</p>"))
    write(sphinx / "_sources" / "changes.txt", "Changes\n=======\n\nSomething else entirely: sediment, dredging, "
                                               "silt and maintenance schedules.\n")
    stats = index.index_directory(sphinx, include=["_sources/**", "*.html"])
    # Both copies of existing pages are the same page (title and words); the orphan and the differing copy stay.
    assert stats.skipped_duplicate == 2
    assert paths(index, sphinx, "turbines") == ["index.html", "ref/turbines.html"]
    assert paths(index, sphinx, "sediment") == ["_sources/changes.txt"]
    assert paths(index, sphinx, "copy") == ["_sources/extra.rst.txt"]
    assert stats.skipped_generated == 3  # genindex/search pages: "*.html" does not name them
    assert stats.skipped_excluded == 2  # _static/ assets match no include
    assert "2 duplicates" in stats.skipped_reasons()
    again = index.index_directory(sphinx, include=["_sources/**", "*.html"])
    assert (again.indexed, again.skipped_duplicate, again.removed) == (0, 2, 0)


def test_an_asciidoc_source_beside_its_page_is_a_copy_even_when_its_title_reads_otherwise(
    index: DocumentIndex, tmp_path: Path
) -> None:
    # git's manual: git-web--browse.txt is titled "git-web{litdd}browse(1)" (an AsciiDoc attribute) beside the HTML
    # page titled "git-web--browse(1)"; with the titles disagreeing, only a copy holding nearly all the page's words
    # counts as the same page, so an unrelated notes.txt beside notes.html stays.
    root = tmp_path / "docs"
    body = ("Tide gauges record the height of the sea every six minutes, and the harbour master compares them with "
            "the predicted curve before opening the lock gates.")
    write(root / "gauge--read.html", f"<html><head><title>gauge--read(1)</title></head><body><h1>gauge--read(1)"
                                     f"</h1><p>{body}</p></body></html>")
    write(root / "gauge--read.txt", f"gauge{{litdd}}read(1)\n=====================\n\n{body}\n")
    write(root / "notes.html", "<html><head><title>Notes</title></head><body><p>Lock gates close at high water."
                               "</p></body></html>")
    write(root / "notes.txt", "Harbour log\n===========\n\nLock gates close at high water; dredging starts in "
                              "spring, when the silt from the river has settled along the eastern quay.\n")
    stats = index.index_directory(root)
    assert (stats.indexed, stats.skipped_duplicate) == (3, 1)
    assert paths(index, root, "gauges") == ["gauge--read.html"]
    assert paths(index, root, "dredging") == ["notes.txt"]


def test_identical_files_are_kept_once(index: DocumentIndex, tmp_path: Path) -> None:
    root = tmp_path / "docs"
    for name in ("a/guide.md", "b/guide.md", "c/guide-copy.md"):
        write(root / name, "# Guide\n\nHow sluice gates open.\n")
    stats = index.index_directory(root)
    assert (stats.indexed, stats.skipped_duplicate) == (1, 2)
    assert len(index.search("sluice", k=10)) == 1
    assert index.index_directory(root).skipped_duplicate == 2  # and the same one stays


def test_include_and_exclude_globs_and_their_removal_from_the_index(index: DocumentIndex, tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write(root / "guide" / "intro.md", "# Intro\n\nbarrage basics")
    write(root / "guide" / "deep" / "gates.md", "# Gates\n\nbarrage gates")
    write(root / "releases" / "1.0.md", "# 1.0\n\nbarrage release")
    write(root / "notes.txt", "barrage notes")
    assert index.index_directory(root).indexed == 4
    stats = index.index_directory(root, exclude=["releases/", "*.txt"])
    assert (stats.skipped_excluded, stats.removed) == (2, 2)
    assert paths(index, root, "barrage") == ["guide/deep/gates.md", "guide/intro.md"]
    stats = index.index_directory(root, include=["guide/**/*.md"], exclude=["**/deep/**"])
    assert paths(index, root, "barrage") == ["guide/intro.md"]
    assert "3 excluded by --include/--exclude" in stats.skipped_reasons()


@pytest.mark.parametrize(("pattern", "path", "expected"), [
    ("*.txt", "a/b/notes.txt", True),
    ("_sources/", "_sources/x.txt", True),
    ("_sources/", "a/_sources/x.txt", True),
    ("_sources/", "_sources", False),  # a file named like the folder
    ("ref/*.html", "ref/a.html", True),
    ("ref/*.html", "ref/sub/a.html", False),
    ("ref/**/*.html", "ref/a.html", True),
    ("ref/**/*.html", "ref/sub/deeper/a.html", True),
    ("ref/**", "ref/sub/a.html", True),
    ("[!a]*.md", "b.md", True),
    ("[!a]*.md", "a.md", False),
    ("gen?ndex.html", "genindex.html", True),
    ("x.html", "a/x.html", True),
    ("a/x.html", "b/a/x.html", False),  # a pattern with a slash is anchored at the folder
])
def test_glob_semantics(pattern: str, path: str, expected: bool) -> None:
    assert matches(pattern, path) is expected


def test_a_broad_include_does_not_bring_back_generated_pages() -> None:
    rules = PathFilter.of(["*.html"])
    assert rules.verdict("genindex.html") == "generated" and rules.verdict("ref/a.html") == "keep"
    assert PathFilter.of(["**/genindex.html"]).verdict("genindex.html") == "keep"


# -- bad input ---------------------------------------------------------------------------------------------------


async def test_empty_and_binary_only_folders_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no documents to index under .*empty \(looked for .*; the folder is empty\)"):
        await open_local_documents(tmp_path / "empty", tmp_path / "db.sqlite")
    write(tmp_path / "bin" / "a.txt", b"\x00\x01\x02" * 100)
    write(tmp_path / "bin" / "b.md", b"PK\x03\x04\x00")
    write(tmp_path / "bin" / "c.png", b"\x89PNG")
    with pytest.raises(InputError, match=r"3 files found, none of them a document: 2 binary, 1 of other types\)$"):
        await open_local_documents(tmp_path / "bin", tmp_path / "db.sqlite")


def test_malformed_html_code_only_pages_and_legacy_charsets(index: DocumentIndex, tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write(root / "broken.html", "<html><title>Broken</title><body><p>unclosed <b>sluice <div><table><td>cell"
                                "</p></span></li><h2>Heading<p>after</html></body></div>")
    write(root / "code.html", "<pre># configure the sluice\nopen_gate(level=3)\n\n\nclose_gate()</pre>")
    write(root / "code.md", "```python\n# only code\nset_turbine_pitch(12)\n```\n")
    greek = '<meta charset="iso-8859-7"><title>Παλίρροια</title><p>ενέργεια</p>'
    write(root / "greek.html", greek.encode("iso-8859-7"))
    stats = index.index_directory(root)
    assert (stats.indexed, stats.errors, stats.legacy_encoding) == (4, 0, 1)
    assert index.search("sluice cell")[0].title == "Broken"
    _, code = index.read(str(root / "code.html"))
    assert code == "```\n# configure the sluice\nopen_gate(level=3)\n\n\nclose_gate()\n```"  # one passage, verbatim
    assert index.search("set_turbine_pitch")[0].text.startswith("```python\n# only code")
    assert index.search("ενέργεια")[0].title == "Παλίρροια"


def test_a_50_mb_file_is_skipped_without_being_read(index: DocumentIndex, tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write(root / "small.md", "# Small\n\nfine")
    with open(write(root / "huge.txt", "text at the start\n"), "r+b") as handle:
        handle.truncate(50_000_000)  # sparse: 50 MB to stat, nothing on disk
    tracemalloc.start()
    try:
        stats = index.index_directory(root)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (stats.indexed, stats.skipped_large) == (1, 1)
    assert peak < 1_000_000  # the file was never read into memory
    assert "1 too large" in stats.skipped_reasons()


def test_a_page_that_only_redirects_is_skipped_and_said(index: DocumentIndex, tmp_path: Path) -> None:
    # Texinfo's stub per moved node (144 of zsh's 186 pages): titled like the topic, it won searches and said nothing.
    root = tmp_path / "manual"
    write(root / "Shell-Grammar.html", "<html><head><title>Shell Grammar</title></head><body><h1>Aliasing</h1>"
                                       "<p>Every eligible word in the shell input is checked to see if there is an "
                                       "alias defined for it.</p></body></html>")
    write(root / "Aliasing.html", '<html><head><title>Aliasing (zsh)</title><meta http-equiv="Refresh" content="0; '
                                  'url=Shell-Grammar.html#Aliasing"></head><body><p>The node you are looking for is '
                                  'at <a href="Shell-Grammar.html#Aliasing">Aliasing</a>.</p></body></html>')
    write(root / "Slow.html", '<html><head><title>Slow</title><meta http-equiv="refresh" content="30"></head>'
                              "<body><p>A page that refreshes itself every thirty seconds about aliasing.</p>"
                              "</body></html>")
    stats = index.index_directory(root)
    assert (stats.indexed, stats.skipped_redirect) == (2, 1)
    assert "1 redirect pages" in stats.skipped_reasons()
    assert paths(index, root, "aliasing") == ["Shell-Grammar.html", "Slow.html"]
