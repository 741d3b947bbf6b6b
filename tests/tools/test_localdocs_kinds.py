"""Kinds of pages weighed down in a search (changelogs, link lists, compilations) and pages that share a title:
real files in tmp_path, a real index."""

from __future__ import annotations

from pathlib import Path

import pytest

from deep_research_mcp.tools.localdocs import DocumentIndex
from deep_research_mcp.tools.localdocs.kinds import WEIGHTS, page_kind

from .test_localdocs import write


def page(title: str, body: str) -> str:
    return f"<html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"


@pytest.mark.parametrize(("relative", "title", "expected"), [
    ("releases/4.2.html", "Django 4.2 release notes", "changelog"),
    ("history/changelog-3.1.html", "Change history", "changelog"),
    ("RelNotes/2.30.0.txt", "Git v2.30.0", "changelog"),
    ("release-15-1.html", "E.1. Release 15.1", "changelog"),
    ("whatsnew-5.2.html", "What’s new in Celery 5.2", "changelog"),
    ("c3ref/changes.html", "Count The Number Of Rows Modified", ""),
    ("userguide/tasks.html", "Tasks", ""),
])
def test_changelogs_by_folder_or_title(relative: str, title: str, expected: str) -> None:
    assert page_kind(relative, title, title, 0.0, 500) == expected


def test_link_lists_need_many_words_mostly_linked() -> None:
    assert page_kind("keyword_index.html", "Keyword Index", "", 0.9, 5_000) == "links"
    assert page_kind("see.html", "See also", "", 0.9, 40) == ""
    assert page_kind("guide.html", "Guide", "", 0.2, 5_000) == ""


def weights(index: DocumentIndex) -> dict[str, tuple[str, float]]:
    rows = index._reader.execute("SELECT path, kind, weight FROM files").fetchall()
    return {Path(path).name: (kind, weight) for path, kind, weight in rows}


def test_a_changelog_is_recorded_and_still_found(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write(root / "tasks.html", page("Tasks", "<p>A retry waits for the countdown before the task runs again.</p>"))
    write(root / "releases" / "4.0.html", page("Version 4.0 release notes", "<p>Retry countdown: retry again.</p>"))
    with DocumentIndex(tmp_path / "index.sqlite") as index:
        index.index_directory(root)
        assert weights(index)["4.0.html"] == ("changelog", WEIGHTS["changelog"])
        assert {Path(p.path).name for p in index.search("retry countdown", k=5)} == {"tasks.html", "4.0.html"}


def test_a_page_holding_other_pages_as_its_sections_is_a_compilation(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    names = [f"Interface number {n}" for n in range(12)]
    for n, name in enumerate(names):
        write(root / "ref" / f"f{n}.html", page(name, f"<p>Function {n} opens a blob handle.</p>"))
    sections = "".join(f"<h2>{name}</h2><p>Function opens.</p>" for name in names)
    write(root / "all.html", page("All interfaces", sections))
    write(root / "guide.html", page("Guide", "".join(f"<h2>Step {n}</h2><p>Do it.</p>" for n in range(12))))
    with DocumentIndex(tmp_path / "index.sqlite") as index:
        index.index_directory(root)
        found = weights(index)
    assert found["all.html"][1] < 1.0
    assert found["guide.html"][1] == found["f0.html"][1] == 1.0
    with DocumentIndex(tmp_path / "index.sqlite") as index:  # the page of its own ranks first, the copy still found
        assert [Path(p.path).name for p in index.search("Function 3 opens", k=2)] == ["f3.html", "all.html"]


def test_pages_sharing_a_title_are_told_apart_by_the_shortest_tail_of_their_paths(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write(root / "history" / "changelog-3.1.html", page("Change history", "<p>Fixed a crash in 3.1.</p>"))
    write(root / "history" / "changelog-4.0.html", page("Change history", "<p>Fixed a crash in 4.0.</p>"))
    # Django's "Signals" in ref/ and in topics/: the file names alone would not tell them apart.
    write(root / "ref" / "signals.html", page("Signals", "<p>A crash signal reference.</p>"))
    write(root / "topics" / "signals.html", page("Signals", "<p>A crash signal guide.</p>"))
    write(root / "guide.html", page("Guide", "<p>One crash guide.</p>"))
    with DocumentIndex(tmp_path / "index.sqlite") as index:
        for _ in range(2):  # a second pass does not add the tails again
            (root / "history" / "changelog-4.0.html").touch()
            index.index_directory(root)
            titles = sorted({p.title for p in index.search("crash", k=10)})
    assert titles == ["Change history (changelog-3.1)", "Change history (changelog-4.0)", "Guide",
                      "Signals (ref/signals)", "Signals (topics/signals)"]
