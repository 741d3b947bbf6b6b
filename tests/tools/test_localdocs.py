"""The local-document index and its tools, on real files: sections, ranking, hostile queries, incremental updates."""

from __future__ import annotations

import asyncio
import gzip
import os
import re
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deep_research_mcp.errors import InputError
from deep_research_mcp.tools.localdocs import (
    DocumentIndex,
    IndexStats,
    close_local_documents,
    default_index_path,
    fts_query,
    open_local_documents,
)
from deep_research_mcp.tools.localdocs.parsing import PASSAGE_CHARS, chunk_sections, parse_document

MARKDOWN = """---
title: "Tidal Power Handbook"
---
An opening paragraph before any heading.

# Turbines

Tidal turbines spin in the current.

```
# a shell comment, not a heading
```

## Lagoons

A lagoon stores water behind a wall.

Barrages
--------

Barrages span an estuary.
"""

RST = """==========
Wave Atlas
==========

Intro.

Oscillating columns
-------------------

Air pushed by waves drives a turbine.

Point absorbers
---------------

Buoys bob.
"""

HTML = """<html><head><title>Ocean Thermal</title><script>var hidden = "scriptword";</script></head>
<body><nav>menu</nav><h1>OTEC basics</h1><p>Warm surface water boils ammonia.</p>
<h2>Cold water pipe</h2><p>The pipe reaches a kilometre down.</p></body></html>"""


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    write(root / "handbook.md", MARKDOWN)
    write(root / "waves" / "atlas.rst", RST)
    write(root / "otec.html", HTML)
    write(root / "notes.txt", "Plain notes on salinity gradients.\n\nSecond paragraph.")
    return root


@pytest.fixture
def index(tmp_path: Path) -> Iterator[DocumentIndex]:
    with DocumentIndex(tmp_path / "state" / "index" / "docs.sqlite") as opened:
        yield opened


# -- parsing -----------------------------------------------------------------------------------------------------


def test_markdown_sections_titles_and_fences() -> None:
    parsed = parse_document("handbook.md", MARKDOWN)
    assert parsed.title == "Tidal Power Handbook"  # front matter wins over the first heading
    assert [(s.heading, s.level) for s in parsed.sections] == [("", 0), ("Turbines", 1), ("Lagoons", 2),
                                                               ("Barrages", 2)]
    assert "# a shell comment" in parsed.sections[1].body
    assert parse_document("x.markdown", "Intro\n\n# First\ntext").title == "First"
    assert parse_document("x.md", "no headings at all").title == "x.md"


def test_markdown_rules_are_not_headings() -> None:
    parsed = parse_document("x.md", "# T\n\nline one\nline two\n---\n\n- item\n---\n\n---\nafter rule")
    assert [s.heading for s in parsed.sections] == ["T"]


def test_rst_titles_with_overlines_and_levels() -> None:
    parsed = parse_document("atlas.rst", RST)
    assert parsed.title == "Wave Atlas"
    assert [(s.heading, s.level) for s in parsed.sections] == [("Wave Atlas", 1), ("Oscillating columns", 2),
                                                               ("Point absorbers", 2)]
    assert "=====" not in " ".join(s.body for s in parsed.sections)
    short = parse_document("x.rst", "Long title text\n===\n\nbody")  # underline shorter than the title: prose
    assert [s.heading for s in short.sections] == [""]


def test_html_visible_text_title_and_sections() -> None:
    parsed = parse_document("otec.html", HTML)
    assert parsed.title == "Ocean Thermal"
    assert [s.heading for s in parsed.sections] == ["OTEC basics", "Cold water pipe"]
    assert "scriptword" not in str(parsed.sections) and "menu" not in str(parsed.sections)  # script, <nav>


def test_plain_text_is_one_section_titled_by_file_name() -> None:
    parsed = parse_document("notes.txt", "# not markdown here\r\nline\r\n")
    assert parsed.title == "notes.txt" and len(parsed.sections) == 1 and "\r" not in parsed.sections[0].body


def test_long_sections_are_chunked_on_paragraph_boundaries() -> None:
    paragraphs = [f"Paragraph {n} " + "word " * 60 for n in range(40)]
    giant = "x" * 5_000  # one unbroken token: cut anyway
    parsed = parse_document("long.md", "# Long\n\n" + "\n\n".join(paragraphs) + "\n\n" + giant)
    chunks = chunk_sections(parsed.sections)
    assert len(chunks) > 5 and all(len(c.text) <= PASSAGE_CHARS for c in chunks)
    assert all(c.heading == "Long" and c.section == 0 for c in chunks)
    assert chunks[0].text.startswith("# Long\n\nParagraph 0 ")
    assert all(c.text.startswith(("Paragraph", "x")) for c in chunks[1:])  # never cut inside a paragraph


def test_code_blocks_stay_whole_and_long_ones_are_fenced_again_in_every_passage() -> None:
    short = "```\nimport asyncio\n\n# Wait for 1 hour\nawait asyncio.sleep(3600)\n```"
    long_code = "```python\n" + "\n".join(f"step_{n}()  # comment {n}" for n in range(200)) + "\n```"
    parsed = parse_document("code.md", f"# Code\n\nIntro.\n\n{short}\n\n{long_code}\n\nAfter.")
    assert [s.heading for s in parsed.sections] == ["Code"]  # "# Wait for 1 hour" is a comment, not a heading
    chunks = chunk_sections(parsed.sections)
    # The blank line inside the short block did not split it.
    assert chunks[0].text.startswith(f"# Code\n\nIntro.\n\n{short}")
    code_chunks = [c.text for c in chunks if "step_" in c.text]
    assert len(code_chunks) > 2 and all(len(c) <= PASSAGE_CHARS for c in code_chunks)
    for text in code_chunks:  # each passage's share of the long block is a fenced block of its own
        assert text.count("```python\nstep_") == 1 and re.search(r"step_\d+\(\)  # comment \d+\n```(\n|$)", text)
    assert "step_199()" in code_chunks[-1] and chunks[-1].text.endswith("After.")


# -- index and search --------------------------------------------------------------------------------------------


def test_index_search_and_read(index: DocumentIndex, docs: Path) -> None:
    stats = index.index_directory(docs)
    assert (stats.seen, stats.indexed, stats.unchanged, stats.errors) == (4, 4, 0, 0)
    [hit] = index.search("ammonia boils", k=3)[:1]
    assert hit.path == str((docs / "otec.html").resolve()) and hit.title == "Ocean Thermal"
    assert hit.heading == "OTEC basics" and "**ammonia**" in hit.snippet and hit.score > 0
    title, text = index.read(str(docs / "handbook.md"))
    assert title == "Tidal Power Handbook"
    assert text.startswith("An opening paragraph") and "## Lagoons" in text and text.index("Turbines") < text.index(
        "Barrages")
    assert index.read(str(docs / "waves" / "atlas.rst"), "point ABSORBERS") == (
        "Wave Atlas — Point absorbers", "## Point absorbers\n\nBuoys bob.")
    assert index.read("waves/atlas.rst", "oscillating")[0] == "Wave Atlas — Oscillating columns"  # tail, substring
    with pytest.raises(InputError, match="not in the document index"):
        index.read(str(docs / "missing.md"))
    with pytest.raises(InputError, match="'Turbines'"):  # an unknown section lists the real ones
        index.read(str(docs / "handbook.md"), "Nonexistent")
    assert index.document_count() == 4 and index.document_count(docs / "waves") == 1


def test_bm25_ranks_the_best_match_first(index: DocumentIndex, tmp_path: Path) -> None:
    root = tmp_path / "rank"
    write(root / "focused.md", "# Photovoltaic cells\n\nPhotovoltaic cells convert light. Photovoltaic panels.")
    write(root / "passing.md", "# Gardening\n\nTomatoes, beans and one photovoltaic lamp in a long list of things "
                               + "unrelated garden words " * 30)
    write(root / "neither.md", "# Cooking\n\nBread and butter.")
    index.index_directory(root)
    hits = index.search("photovoltaic cells")
    assert [Path(h.path).name for h in hits] == ["focused.md", "passing.md"]
    assert hits[0].score > hits[1].score
    # AND-first: a passage with every word outranks one with a single very frequent word.
    write(root / "spam.md", "# Cells\n\n" + "cells " * 50)
    index.index_directory(root)
    assert Path(index.search("photovoltaic cells", k=3)[0].path).name == "focused.md"


def test_revision_syntax_is_searchable_whole(index: DocumentIndex, tmp_path: Path) -> None:
    """"HEAD~2", "HEAD^2", "A..B" and "A...B" keep their symbols in a search: the tokenizer alone reads them as
    "head 2" and "a b", words every page of a manual about commits uses."""
    root = tmp_path / "git"
    write(root / "ancestry.md", "# Ancestry\n\nHEAD~2 is the first parent of the first parent; HEAD^2 is the "
                                "second parent of a merge.")
    write(root / "ranges.md", "# Ranges\n\nThe range A..B lists the commits reachable from B but not from A.")
    write(root / "symmetric.md", "# Symmetric difference\n\nWith A...B, the commits reachable from either "
                                 "side but not from both.")
    for n in range(4):
        write(root / f"head{n}.md", f"# The head {n}\n\nA head of 2 branches, b and a, head 2, b 2, head b. "
                                    "The head moves with every commit; 2 heads, a head, b head.")
    index.index_directory(root)
    assert Path(index.search("difference between HEAD~2 and HEAD^2", k=1)[0].path).name == "ancestry.md"
    assert Path(index.search("what does A...B mean?", k=1)[0].path).name == "symmetric.md"
    assert Path(index.search("A..B", k=1)[0].path).name == "ranges.md"
    assert Path(index.search("head 2", k=1)[0].path).name.startswith("head")  # plain words search as before
    assert fts_query("HEAD~2, or A..B.", "AND") == '"head" AND "2" AND "b" AND symbols : "headx7ex2" AND symbols : ' \
                                                 '"ax2exx2exb"'


def test_stemming_and_diacritics(index: DocumentIndex, tmp_path: Path) -> None:
    write(tmp_path / "d" / "a.md", "# Café culture\n\nThe researchers were indexing documents.")
    index.index_directory(tmp_path / "d")
    assert index.search("cafe")[0].heading == "Café culture"
    assert index.search("index document research")


@pytest.mark.parametrize(
    "query",
    ['"', '""', "*", "a*", "NEAR(", "NEAR(a b", "-", "-tidal", "AND OR", "AND", "NOT", "(", ")", "tidal)", "^",
     "col:tidal", "🌊", "🌊 tidal 🌊", "", "   ", "'", "x" * 5_000, "tidal " * 200, "_", "a_b", "\x00", "{a b}",
     'HEAD~"2', "a..b...c^{tree}@{-1}~", "~" * 100 + "x", "A..B " * 50],
)
def test_hostile_queries_never_raise(index: DocumentIndex, docs: Path, query: str) -> None:
    index.index_directory(docs)
    hits = index.search(query, k=5)
    assert isinstance(hits, list) and len(hits) <= 5


def test_fts_query_quotes_every_word() -> None:
    assert fts_query('NEAR("tidal" * -power)') == '"near" OR "tidal" OR "power"'
    assert fts_query("the power of the tide", "AND") == '"power" AND "tide"'
    assert fts_query("the of") == '"the" OR "of"'  # only stopwords: keep them rather than search nothing
    assert fts_query("🌊 ... ***") == ""


# -- incremental updates -----------------------------------------------------------------------------------------


def test_incremental_touch_edit_delete(index: DocumentIndex, docs: Path) -> None:
    index.index_directory(docs)
    again = index.index_directory(docs)
    assert (again.indexed, again.unchanged, again.removed) == (0, 4, 0)

    notes = docs / "notes.txt"
    later = time.time_ns() + 5_000_000_000
    os.utime(notes, ns=(later, later))  # touched, same bytes: no reparse, mtime remembered
    touched = index.index_directory(docs)
    assert (touched.indexed, touched.unchanged) == (0, 4)
    assert index.index_directory(docs).unchanged == 4

    write(docs / "handbook.md", "# Turbines\n\nNow about axial flow rotors.")
    write(docs / "new.md", "# New\n\nFresh narwhal facts.")
    (docs / "waves" / "atlas.rst").unlink()
    changed = index.index_directory(docs)
    assert (changed.indexed, changed.unchanged, changed.removed) == (2, 2, 1)
    assert index.search("axial rotors")[0].path.endswith("handbook.md")
    assert not index.search("lagoon")  # the old text of the edited file is gone
    assert not index.search("buoys")  # and so is the deleted file
    assert index.search("narwhal")[0].title == "New"


def test_folders_sharing_one_database_do_not_remove_each_other(index: DocumentIndex, tmp_path: Path) -> None:
    write(tmp_path / "a" / "one.md", "# One\n\nalpha")
    write(tmp_path / "ab" / "two.md", "# Two\n\nbeta")  # a sibling whose name extends the other's
    index.index_directory(tmp_path / "a")
    index.index_directory(tmp_path / "ab")
    assert index.index_directory(tmp_path / "a").removed == 0
    assert index.document_count() == 2


def test_binary_huge_non_utf8_unsupported_and_symlinks(index: DocumentIndex, tmp_path: Path) -> None:
    root = tmp_path / "mixed"
    write(root / "ok.md", "# Fine\n\nordinary")
    write(root / "binary.txt", b"PK\x03\x04\x00\x00" + bytes(range(256)))
    write(root / "huge.md", "# Huge\n\n" + "z" * 20_000)
    write(root / "latin1.txt", "Caf\xe9 cr\xe8me br\xfbl\xe9e".encode("latin-1"))
    write(root / "utf16.txt", "utf sixteen marmalade".encode("utf-16"))
    write(root / "image.png", b"\x89PNG")
    write(root / ".hidden" / "secret.md", "# Secret\n\nhiddenword")
    outside = write(tmp_path / "outside" / "leak.md", "# Leak\n\nleakword")
    (root / "link.md").symlink_to(outside)
    (root / "linkdir").symlink_to(outside.parent, target_is_directory=True)
    stats = index.index_directory(root, max_file_bytes=10_000)
    assert (stats.indexed, stats.skipped_binary, stats.skipped_large, stats.errors) == (3, 1, 1, 0)
    assert stats.skipped_unsupported == 2  # image.png and the file symlink
    assert not index.search("leakword") and not index.search("hiddenword")
    [hit] = index.search("crème marmalade", k=1) or [None]
    assert hit is not None
    _, text = index.read(str(root / "latin1.txt"))
    assert text == "Café crème brûlée"  # not UTF-8: read as Windows-1252, and counted
    assert stats.legacy_encoding == 1 and "1 not UTF-8" in stats.skipped_reasons()
    assert index.search("marmalade")[0].path.endswith("utf16.txt")

    # A file that turns binary or grows too big leaves the index.
    write(root / "ok.md", b"\x00\x01")
    assert index.index_directory(root, max_file_bytes=10_000).removed == 1


def test_gzipped_documents_and_text_files_without_a_suffix(index: DocumentIndex, tmp_path: Path) -> None:
    # Debian's /usr/share/doc/<package>: README.gz, NEWS.md.gz, Nginx's examples/php, a page's source gzipped beside it.
    root = tmp_path / "pkgdoc"
    write(root / "README.gz", gzip.compress(b"Marmoset tuning\n\nThe marmoset daemon reads its settings at start."))
    write(root / "NEWS.md.gz", gzip.compress(b"# Release 2.0\n\nThe quokka option is gone."))
    write(root / "examples" / "php", "Passing PHP to the wombat socket needs the fastcgi block below.")
    write(root / "guide.html", "<title>Guide</title><h1>Guide</h1><p>Echidna setup explained in full.</p>")
    write(root / "guide.md.gz", gzip.compress(b"# Guide\n\nEchidna setup explained in full."))
    write(root / "bomb.txt.gz", gzip.compress(b"a" * 50_000))  # small on disk, over the cap unpacked
    write(root / "broken.md.gz", b"\x1f\x8b not really gzip")
    write(root / "tool", b"\x7fELF\x00\x00\x01")
    write(root / "font.ttf.gz", gzip.compress(b"\x00\x01"))
    # Debian's packaging beside the documents: generated, skipped unless included.
    write(root / "changelog.Debian.gz", gzip.compress(b"pkg (1.0-1) unstable; urgency=medium\n\n  * Upload."))
    write(root / "changelog.gz", gzip.compress(b"Jeff King (5):\n      send-email: drop FakeTerm hack"))
    write(root / "copyright", "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/")
    write(root / "changelog" / "v2.html", "<h1>Release 2.1</h1><p>The numbat flag arrived.</p>")  # a Sphinx folder
    stats = index.index_directory(root, max_file_bytes=10_000)
    assert stats.skipped_generated == 3 and index.search("numbat")
    assert (stats.indexed, stats.skipped_duplicate, stats.skipped_large, stats.errors) == (5, 1, 1, 1)
    assert (stats.skipped_binary, stats.skipped_unsupported) == (1, 1)  # the ELF file; the gzipped font
    [readme] = index.search("marmoset daemon", k=1)
    assert readme.path.endswith("README.gz") and readme.title == "README.gz"
    [php] = index.search("wombat socket", k=1)
    assert php.title == "php"  # titled by the file's own name, not the name it is read by
    assert index.search("quokka", k=1)[0].title == "Release 2.0"  # gzipped markdown is markdown
    assert [p.path for p in index.search("echidna")] == [str(root / "guide.html")]  # the source copy is a duplicate


def test_many_files_with_progress(index: DocumentIndex, tmp_path: Path) -> None:
    root = tmp_path / "many"
    for n in range(3_000):
        write(root / f"d{n % 30:02d}" / f"f{n}.md", f"# Note {n}\n\nItem {n} mentions token{n % 97} and lorem.")
    snapshots: list[IndexStats] = []
    started = time.perf_counter()
    stats = index.index_directory(root, progress=snapshots.append)
    elapsed = time.perf_counter() - started
    assert stats.indexed == 3_000 and stats.seen == 3_000
    assert len(snapshots) >= 15  # one per 200-file batch, plus the final one
    assert [s.seen for s in snapshots] == sorted(s.seen for s in snapshots) and snapshots[-1] == stats
    assert elapsed < 8, f"3,000 small files took {elapsed:.1f} s"
    assert len(index.search("token42", k=10)) == 10
    assert index.index_directory(root).unchanged == 3_000


def test_database_location_modes_and_recovery(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    path = default_index_path(data_dir, tmp_path / "." / "docs")
    assert path == default_index_path(data_dir, tmp_path / "docs") and path.parent == data_dir / "index"
    assert len(path.stem) == 16 and path.suffix == ".sqlite"
    with DocumentIndex(path):
        pass
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    with sqlite3.connect(path) as old:  # an index from another schema version is rebuilt, not misread
        old.execute("PRAGMA user_version = 99")
    old.close()
    with DocumentIndex(path) as reopened:
        assert reopened.document_count() == 0

    garbage = write(tmp_path / "garbage.sqlite", b"this is not a database at all" * 100)
    with pytest.raises(InputError, match="delete it to rebuild"):
        DocumentIndex(garbage)
    with pytest.raises(InputError, match="cannot create the index file"):
        DocumentIndex(garbage / "below-a-file.sqlite")


def test_missing_folder_is_an_input_error(index: DocumentIndex, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        index.index_directory(tmp_path / "nope")
    write(tmp_path / "file.md", "x")
    with pytest.raises(InputError, match="is not a folder"):
        index.index_directory(tmp_path / "file.md")


# -- tools -------------------------------------------------------------------------------------------------------


async def test_tools_return_documents_with_absolute_paths(docs: Path, tmp_path: Path) -> None:
    progress: list[IndexStats] = []
    tools = await open_local_documents(docs, tmp_path / "db.sqlite", progress=progress.append)
    try:
        search, read = tools
        assert (search.name, read.name) == ("search_documents", "read_document") and progress
        result = await search.call({"query": "turbine", "k": 10})
        assert result.documents and "read_document" in result.text
        assert all(Path(d.locator).is_absolute() and Path(d.locator).is_file() for d in result.documents)
        assert len({d.locator for d in result.documents}) == len(result.documents)  # one document per file
        # Documents carry the file's title, so a source is not named after whichever section matched first.
        titles = {Path(d.locator).name: d.title for d in result.documents}
        assert titles["handbook.md"] == "Tidal Power Handbook" and titles["atlas.rst"] == "Wave Atlas"
        handbook = next(d for d in result.documents if d.locator.endswith("handbook.md"))
        assert handbook.content.startswith("# Turbines")  # the section is named in the text instead

        assert len((await search.call({"query": "water", "k": 1})).documents) == 1
        assert len((await search.call({"query": "water", "k": "lots"})).documents) >= 1  # junk k: default
        assert "Give a query" in (await search.call({"query": "  "})).text
        assert "No local documents" in (await search.call({"query": "zeppelin"})).text

        whole = await read.call({"path": "handbook.md"})
        [doc] = whole.documents
        assert doc.locator == str((docs / "handbook.md").resolve()) and "Barrages span" in doc.content
        part = await read.call({"path": doc.locator, "section": "lagoons"})
        assert part.documents[0].content == "## Lagoons\n\nA lagoon stores water behind a wall."
        assert (part.documents[0].locator, part.documents[0].title) == (doc.locator, "Tidal Power Handbook")
        assert "not in the document index" in (await read.call({"path": "/etc/passwd"})).text
        assert "no section" in (await read.call({"path": doc.locator, "section": "zzz"})).text
        assert (await read.call({"path": doc.locator, "section": None})).documents
    finally:
        close_local_documents(tools)


async def test_read_document_caps_long_text_and_searches_run_concurrently(tmp_path: Path) -> None:
    root = tmp_path / "long"
    write(root / "big.md", "# Big\n\n" + "\n\n".join(f"Paragraph {n} " + "filler " * 100 for n in range(200)))
    tools = await open_local_documents(root, tmp_path / "db.sqlite")
    try:
        search, read = tools
        read.max_chars = 10_000  # type: ignore[attr-defined]
        [doc] = (await read.call({"path": str(root / "big.md")})).documents
        assert len(doc.content) < 10_200 and "more characters not shown" in doc.content
        results = await asyncio.gather(*(search.call({"query": f"paragraph {n}"}) for n in range(40)))
        assert all(r.documents for r in results)
        # A passage from the middle of a section says which section it continues.
        [late] = (await search.call({"query": "paragraph 150", "k": 1})).documents
        assert late.title == "Big" and late.content.startswith("[section: Big]\n")
    finally:
        close_local_documents(tools)


async def test_read_document_cut_inside_a_tilde_fence_closes_it(tmp_path: Path) -> None:
    """Markdown's other fence: a cut inside a `~~~` block must close it with `~~~`, or the note after the cut (and
    anything a client appends) reads as code."""
    root = tmp_path / "fenced"
    code = "\n".join(f"value_{n} = {n}" for n in range(400))
    write(root / "sample.md", f"# Sample\n\nThe listing:\n\n~~~python\n{code}\n~~~\n\nAfter the listing.\n")
    tools = await open_local_documents(root, tmp_path / "db.sqlite")
    try:
        read = tools[1]
        read.max_chars = 2_000  # type: ignore[attr-defined]
        [doc] = (await read.call({"path": str(root / "sample.md")})).documents
        shown, note = doc.content.split("\n\n[… ")
        assert "~~~python" in shown and shown.endswith("\n~~~") and "more characters not shown" in note
    finally:
        close_local_documents(tools)


async def test_open_local_documents_refuses_missing_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        await open_local_documents(tmp_path / "nope", tmp_path / "db.sqlite")
    write(tmp_path / "empty" / "picture.jpg", b"\xff\xd8")
    with pytest.raises(InputError, match="no documents"):
        await open_local_documents(tmp_path / "empty", tmp_path / "db.sqlite")


def test_close_stops_a_running_build_at_the_next_file(tmp_path: Path) -> None:
    root = tmp_path / "stop"
    for n in range(450):
        write(root / f"f{n}.txt", f"note {n}")
    index = DocumentIndex(tmp_path / "db.sqlite")
    closer: list[threading.Thread] = []

    def progress(stats: IndexStats) -> None:
        if not closer:  # close from another thread, as a cancelled open_local_documents does
            closer.append(threading.Thread(target=index.close))
            closer[0].start()
            time.sleep(0.2)  # let close() flag the stop and wait for the writer

    with pytest.raises(InterruptedError):
        index.index_directory(root, progress=progress)
    closer[0].join(timeout=5)
    assert not closer[0].is_alive()
    with DocumentIndex(tmp_path / "db.sqlite") as reopened:  # the first batch was committed, the rest not
        assert reopened.document_count() == 200


RST_MARKUP = """=======================
``QuerySet`` API guide
=======================

.. _queryset-guide:

Use :func:`~asyncio.gather` and :meth:`QuerySet.filter` with `the docs <https://x.example>`_,
or :class:`Entry <blog.models.Entry>` and ``__enter__()``.

.. note::

   Evaluation is lazy.

.. versionadded:: 3.2 The ``alias()`` method.

Example::

    for e in Entry.objects.all():
        # a comment, not a heading

    =====
    still code

Filtering
---------

.. function:: filter(**kwargs)

    Returns a new ``QuerySet``.

.. code-block:: python
   :caption: example.py

   qs = Entry.objects.filter(pub_date__year=2006)

.. toctree::
   :maxdepth: 2

   intro

.. A comment
   over two lines.

End.
"""


def test_rst_markup_reads_as_plain_text_and_fenced_code() -> None:
    parsed = parse_document("guide.rst", RST_MARKUP)
    assert parsed.title == "QuerySet API guide"
    assert [(s.heading, s.level) for s in parsed.sections] == [("QuerySet API guide", 1), ("Filtering", 2)]
    first, second = (" ".join(s.body.split()) for s in parsed.sections)
    assert first.startswith("Use gather() and QuerySet.filter() with the docs, or Entry and __enter__(). "
                            "Note: Evaluation is lazy. New in version 3.2. The alias() method. Example: ```")
    assert "```\nfor e in Entry.objects.all():\n    # a comment, not a heading\n\n=====\nstill code\n```" in (
        parsed.sections[0].body)
    assert second == ("filter(**kwargs) Returns a new QuerySet. ``` qs = Entry.objects.filter(pub_date__year=2006) "
                      "``` End.")
    for markup in (":func:", "``QuerySet", ".. ", "toctree", "intro", "queryset-guide", "over two lines", "https://"):
        assert markup not in first + second, markup


def test_code_in_plain_text_is_fenced_and_prose_stays_as_written() -> None:
    # Nginx's notes on PHP: prose, a shell command, an init script; read as prose the script became "sentences".
    text = ("== Using PHP ==\n\nThe php-fpm option is considerably harder to debug.\nIt needs a pool.\n\n"
            "# sudo apt-get install php5-fpm\n\n"
            'start() {\n        start-stop-daemon --quiet --start --chuid "www-data" \\\n'
            "          php-cgi -b /tmp/phpcgi.socket &\n}\n\nA note (with a parenthesis) stays prose.")
    body = parse_document("php", text).sections[0].body
    assert body.startswith("== Using PHP ==\n\nThe php-fpm option is considerably harder to debug.\nIt needs a pool.")
    assert "```\n# sudo apt-get install php5-fpm\n```" in body
    assert "```\nstart() {\n        start-stop-daemon" in body
    assert body.endswith("A note (with a parenthesis) stays prose.")
    fenced = "Text.\n\n```\nx = {1}; y = (2)\n```"
    assert parse_document("done.txt", fenced).sections[0].body == fenced  # fenced already: left as it is


def test_markdown_escapes_and_roff_font_switches_are_read_outside_code() -> None:
    # go-md2man's sources (Buildah, Podman): "buildah\-build", "\fB\fC\-\-ignorefile\fR" were quoted as written.
    text = ("## NAME\nbuildah\\-build - Build an image\n\nWhen the \\fB\\fC\\-\\-ignorefile\\fR option is given, "
            "`a\\-b` stays; so does C:\\Users.\n\n```\nsed 's/x\\-y/z/'\n```\n")
    body = "\n".join(s.body for s in parse_document("buildah-build.1.md", text).sections)
    assert "buildah-build - Build an image" in body and "When the --ignorefile option is given" in body
    assert "`a\\-b` stays; so does C:\\Users." in body and "sed 's/x\\-y/z/'" in body


def test_asciidoc_references_in_plain_text_read_as_their_labels() -> None:
    # git's glossary-content.txt: "<<def_commit_object,commit object>>" was quoted into reports as it is, and the
    # "[1]" of "linkgit:git-clone[1]" read as a citation.
    text = "Dereferencing a <<def_commit_object,commit object>> gives a <<def_tree,tree>>; see linkgit:git-clone[1]."
    parsed = parse_document("glossary-content.txt", text)
    assert parsed.sections[0].body == "Dereferencing a commit object gives a tree; see git-clone(1)."
    assert parse_document("shift.txt", "x << y >> z").sections[0].body == "x << y >> z"
