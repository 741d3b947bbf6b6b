"""Kinds of pages that rarely answer a question, and how much less their passages weigh in a search.

A manual holds pages that use every word of the questions asked of it without answering them: release notes and
changelogs name each feature once ("Added the --fast option") in the words of the question; link lists (keyword
indexes, cross-reference tables, site maps) are nothing but the names of other pages; a compilation page holds a
whole tree of pages once more on one page (SQLite's capi3ref.html repeats each c3ref/ page as a section). They can
be weighed down where passages are ranked (`WEIGHTS`), never left out: "since which version …" is answered by a
changelog, and a passage that matches far better than any other still comes first.

The kind is told from the page alone (path shape, title, first heading, share of linked text) when it is indexed;
`compilation` needs the other pages' titles and is found once a pass is in (`index.DocumentIndex`).
"""

from __future__ import annotations

import re
from typing import Literal

Kind = Literal["", "changelog", "links", "compilation"]

# How much a passage's BM25 score counts, by its page's kind: a link list's or compilation's passage must match about
# twice as well as a page's to rank above it. Changelogs keep their full weight: at 0.5 the six tune halves lost
# recall in sum (django 0.517 -> 0.498, pytest 0.456 -> 0.467, the others equal; eval/RESULTS.md), because the
# offline selection already weighs changelog sentences down (llm/offline/select.py); the kind is still recorded.
WEIGHTS: dict[str, float] = {"": 1.0, "changelog": 1.0, "links": 0.5, "compilation": 0.5}

# Folders that hold one page per release: Django's releases/, git's RelNotes/, SQLite's releaselog/, a Sphinx
# project's history/ or changelog/. A file's name is not enough ("c3ref/changes.html" documents sqlite3_changes): a
# release page outside such a folder says so in its title ("Release 15.1", "Changelog", "Recent SQLite News").
_CHANGELOG_FOLDER = re.compile(
    r"^(?:releases?|release[-_ ]?notes?|relnotes|release[-_ ]?log|releaselog|change[-_ ]?logs?|changes|history|"
    r"news|whats[-_ ]?new)$",
    re.IGNORECASE,
)
_CHANGELOG_TITLE = re.compile(
    r"\brelease notes?\b|\bchange ?log\b|\bchange history\b|\brelease history\b|\bversion history\b|"
    r"\bhistory of changes\b|\bwhat[’']s new\b|\bnews\b|\brelease \d|\bv?\d+(?:\.\d+)+ release\b|"
    r"^[\w.]+-v?\d+(?:\.\d+)+\w*\s*:",  # an announcement: "pytest-2.3.3: integration fixes"
    re.IGNORECASE,
)
# A link list: most of a page's words are link text, and there are enough of them to be a list, not a short page
# that points elsewhere.
LINK_SHARE = 0.6
LINK_MIN_WORDS = 150
# A compilation: at least this many of its section headings are other pages' titles, and they are most of them.
COMPILATION_MIN_SECTIONS = 10
COMPILATION_SHARE = 0.5


def page_kind(relative: str, title: str, first_heading: str, link_share: float, words: int) -> Kind:
    """The kind of the page at `relative` (a `/`-separated path under the indexed folder), from what it says of
    itself."""
    folders = relative.split("/")[:-1]
    if _CHANGELOG_TITLE.search(title) or _CHANGELOG_TITLE.search(first_heading) or any(
        _CHANGELOG_FOLDER.match(folder) for folder in folders
    ):
        return "changelog"
    if words >= LINK_MIN_WORDS and link_share >= LINK_SHARE:
        return "links"
    return ""


def is_compilation(headings: set[str], other_titles: set[str]) -> bool:
    """Whether a page with these section headings repeats other pages: most of its sections are titled as pages of
    the same folder tree are."""
    if len(headings) < COMPILATION_MIN_SECTIONS:
        return False
    shared = len(headings & other_titles)
    return shared >= COMPILATION_MIN_SECTIONS and shared >= COMPILATION_SHARE * len(headings)
