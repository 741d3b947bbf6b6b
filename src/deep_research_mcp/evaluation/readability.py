"""Does a report read like an answer? Counts of the defects a reader trips over, from the report's Markdown alone.

Each check is a pure function of the report text, so it judges any engine's report:

- `raw_markup` — source markup that leaked into prose or headings: reST roles (:func:`x`), reST directives
  (`.. note::`), HTML tags or entities, Sphinx's pilcrow (¶). Fenced code blocks and `code spans` are exempt.
- `truncated_title` — the title, a heading or a Sources title cut short with "…" or "...".
- `duplicate_source` — a Sources entry that repeats an earlier one: the same locator, the same page under another
  name (a Sphinx `_sources/x.rst.txt` copy beside `x.html`), or the same title.
- `short_fragment` — a cited claim under `MIN_FRAGMENT_WORDS` words.
- `dangling_opener` — a paragraph or list item that opens with a word pointing back at nothing before it in the
  same paragraph ("The former…", "Thus…", "It…", "These…") and does not follow a code block (what "This prints…"
  points at), or a lead-in ("…one of the following:") whose list
  never comes.
- `mangled_identifier` — an identifier a reader cannot trust: a special method printed without its underscores
  (`enter()` for `__enter__()`), or a dunder name outside a code span, which Markdown renders as bold text.
- `long_heading` — a section heading (below the title; Sources excepted) longer than `MAX_HEADING_CHARS`.
- `repeated_sentence` — a cited sentence the report already quoted word for word (a page that states it twice, or
  two passages that lean on it, printed it twice).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..engine.support.report import MARKER_GROUP, SOURCES_HEADING

MIN_FRAGMENT_WORDS = 5
MAX_HEADING_CHARS = 60
KINDS = ("raw_markup", "truncated_title", "duplicate_source", "short_fragment", "dangling_opener",
         "mangled_identifier", "long_heading", "repeated_sentence")

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
# The report format the scorer reads too (engine.support.report, whose Sources heading and [n] markers these use).
_SOURCE_LINE = re.compile(r"^(\d+)\.\s+(?:\[(?P<link_title>[^\]]*)\]\((?P<url>[^)\s]+)\)|(?P<title>.*?)\s*(?:—|-)\s*"
                          r"`(?P<path>[^`]+)`)\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_WORD = re.compile(r"\w+(?:[.'’-]\w+)*")  # "3.7", "don't", "read-only" are one word each

_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`")  # reST role: :func:`x`, :py:class:`y` (looked for before code spans)
_RAW_MARKUP = [
    re.compile(r"(?:^|\s)\.\.\s+[a-z][\w-]*::"),  # reST directive: .. note::, .. versionadded::
    re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?>"),  # an HTML tag
    re.compile(r"&(?:[a-zA-Z]{2,8}|#\d{2,6}|#x[0-9a-fA-F]{2,6});"),  # an HTML entity
    re.compile(r"¶"),  # Sphinx's header link
]
_TRUNCATED = re.compile(r"(?:…|\.\.\.)\s*$")

# Openers that point back at something said before. Adverbs and pronouns point back whatever follows them; phrases
# that also head a self-contained clause ("In addition to X, …", "Instead of X, …") only when a comma follows.
_POINTERS = (
    "thus", "hence", "therefore", "however", "also", "moreover", "furthermore", "otherwise", "similarly", "likewise",
    "consequently", "nevertheless", "nonetheless", "accordingly", "besides", "then", "for this reason",
    "in this case", "in that case", "in such cases", "in this way", "the former", "the latter", "the above",
    "as mentioned above", "as mentioned earlier", "as noted above", "as above", "as such", "this", "that", "these",
    "those", "it", "its", "they", "them", "their", "such", "he", "she",
)
_COMMA_POINTERS = ("instead", "in addition", "in contrast", "by contrast", "on the other hand", "as a result",
                   "in other words", "for example", "for instance", "in particular")
_OPENER = re.compile(
    r"^\W*(?:(?:" + "|".join(re.escape(w) for w in sorted(_POINTERS, key=len, reverse=True)) + r")\b"
    r"|(?:" + "|".join(re.escape(w) for w in sorted(_COMMA_POINTERS, key=len, reverse=True)) + r"),"
    # A sequence word before a pronoun ("First, it can act as …") points back as the pronoun alone does.
    r"|(?:first|second|third|finally|next|additionally|by default)\W+(?:it|its|they|their|these|this|them)\b(?!'s))",
    re.IGNORECASE,
)
# "It is possible to …" and "That is, …"-free forms that refer forward, not back.
# "It" with nothing to point at: "It is possible to …", "It's tempting to …", "It is critical that …".
_SELF_CONTAINED = re.compile(r"^\W*(?:it is (?:possible|recommended|important|not possible|also possible|"
                             r"often|usually|best|safe|a good idea)"
                             r"|it(?: is|['’]s)(?: (?:almost|nearly|usually|often|generally|also|always|not|very|"
                             r"quite|still|therefore|thus))* (?:necessary|essential|critical|crucial|vital|tempting|"
                             r"advisable|better|preferable|worth|common practice|a (?:good|bad) idea|important|"
                             r"possible|impossible|recommended|safe|safer|best)\b)", re.IGNORECASE)
# A lead-in to a list ("… one of the following:") may have its items quoted as the next sentences; a lead-in to code
# ("… a command such as:", "… shown in the following example.", "… its progress by issuing:") needs a fenced block
# right after it, which is never part of a paragraph.
_LEAD_IN = re.compile(r"(?:the following|as follows|one of:|the following ones)\W*$", re.IGNORECASE)
_CODE_LEAD_IN = re.compile(r"(?:\bthe following (?:examples?|commands?|code|output|logs?|snippet)|\bsuch as|"
                           r"\blike (?:this|so)|\bby (?:issuing|running|typing|entering|executing))\W{0,2}\.\W*$",
                           re.IGNORECASE)  # ending in ":", its items follow as sentences

# Python special methods whose bare names are not builtins or common methods: `enter()` in prose is `__enter__()`
# with its underscores lost (by Markdown bold or a naive reader); `len()`, `get()`, `exit()` are real calls.
_DUNDERS = (
    "init", "new", "del", "enter", "aenter", "aexit", "getitem", "setitem", "delitem", "getattribute",
    "post_init", "init_subclass", "class_getitem", "set_name", "fspath",
)
# After a dot: `obj.str()` or `Pizza.str()` is `__str__()` lost; these are not methods any object has by name.
_DOTTED_DUNDERS = ("init", "str", "repr", "enter", "aenter", "aexit", "getitem", "setitem", "delitem", "eq",
                   "post_init", "init_subclass", "class_getitem")
_BARE_DUNDER = re.compile(r"(?<![\w.])(?:" + "|".join(_DUNDERS) + r")\(\)"
                          r"|(?<=\w\.)(?:" + "|".join(_DOTTED_DUNDERS) + r")\(\)")
_LOOSE_DUNDER = re.compile(r"(?<![\w`])__[a-zA-Z]\w*__")


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    line: int  # 1-based line of the report
    excerpt: str


def check_report(report: str, cited: Sequence[str] = ()) -> list[Finding]:
    """Every readability defect of `report`, in report order within each kind. `cited` (the text of the pages the
    report cites, when known) tells a special method that lost its underscores from a name a page writes that way:
    Node.js's `init()` and `enter()` are its own names."""
    lines = report.splitlines()
    findings: list[Finding] = []
    findings += _markup_and_identifiers(lines, cited)
    findings += _titles_and_headings(lines)
    findings += _duplicate_sources(lines)
    findings += _fragments_and_openers(lines)
    return findings


def counts(findings: list[Finding]) -> dict[str, int]:
    """Findings per kind, every kind present (0 when clean)."""
    tally = dict.fromkeys(KINDS, 0)
    for finding in findings:
        tally[finding.kind] += 1
    return tally


def _excerpt(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _prose_lines(lines: list[str]) -> Iterator[tuple[int, str, bool]]:
    """(line number, text with code spans blanked, is-in-Sources) for every line outside fenced code blocks. A
    reST role's backticked part looks like a code span, so roles are kept visible as `:role:` plus blanks."""
    fenced = False
    in_sources = False
    for number, line in enumerate(lines, start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        stripped = line.strip()
        if SOURCES_HEADING.match(stripped):
            in_sources = True
        elif stripped.startswith("#"):
            in_sources = False
        yield number, _blank_code_spans(line), in_sources


def _blank_code_spans(line: str) -> str:
    """`line` with every code span's text replaced by spaces, except that a reST role (`:func:` right before a
    backticked span) keeps a backtick so the role stays recognisable."""
    out = []
    position = 0
    for match in _CODE_SPAN.finditer(line):
        out.append(line[position : match.start()])
        role = bool(re.search(r":[a-z]+(?::[a-z]+)?:$", line[: match.start()]))
        out.append(("`" if role else " ") + " " * (len(match.group()) - 1))
        position = match.end()
    out.append(line[position:])
    return "".join(out)


def _markup_and_identifiers(lines: list[str], cited: Sequence[str]) -> Iterator[Finding]:
    for number, text, in_sources in _prose_lines(lines):
        if in_sources:
            continue  # Sources lines hold locators in code spans; titles are checked for cuts and duplicates
        # One finding per line: a sentence with three tags is one sentence carrying markup.
        markup = next((m for pattern in (_ROLE, *_RAW_MARKUP) for m in [pattern.search(text)] if m), None)
        if markup is not None:
            yield Finding("raw_markup", number, _excerpt(lines[number - 1]))
        for pattern in (_BARE_DUNDER, _LOOSE_DUNDER):
            for match in pattern.finditer(text):
                if pattern is _BARE_DUNDER and any(_written_bare(match.group(), page) for page in cited):
                    continue
                around = text[max(0, match.start() - 30) : match.end() + 30]
                yield Finding("mangled_identifier", number, _excerpt(around))


def _written_bare(call: str, page: str) -> bool:
    """Whether `page` itself writes `call` ("init()") with no underscores around the name."""
    return re.search(r"(?<![\w])" + re.escape(call), page) is not None and f"__{call[:-2]}__" not in page


def _titles_and_headings(lines: list[str]) -> Iterator[Finding]:
    seen_title = False
    for number, text, in_sources in _prose_lines(lines):
        stripped = text.strip()
        heading = _HEADING.match(stripped)
        if heading:
            level, title = len(heading.group(1)), heading.group(2)
            if _TRUNCATED.search(title):
                yield Finding("truncated_title", number, _excerpt(title))
            is_title = level == 1 and not seen_title
            seen_title = seen_title or level == 1
            if not is_title and not SOURCES_HEADING.match(stripped) and len(title) > MAX_HEADING_CHARS:
                yield Finding("long_heading", number, _excerpt(title))
        elif in_sources:
            entry = _source_entry(lines[number - 1].strip())
            if entry and _TRUNCATED.search(entry[0]):
                yield Finding("truncated_title", number, _excerpt(entry[0]))


def _source_entry(line: str) -> tuple[str, str] | None:
    """(title, locator) of a Sources line, or None when the line is not an entry."""
    match = _SOURCE_LINE.match(line)
    if not match:
        return None
    if match.group("url"):
        return match.group("link_title") or "", match.group("url")
    return match.group("title") or "", match.group("path")


def _page_key(locator: str) -> str:
    """The page a locator shows: a Sphinx `_sources/a/b.rst.txt` (or `.txt`) copy and `a/b.html` are one page."""
    path = PurePosixPath(locator.split("#", 1)[0])
    parts = [p for p in path.parts if p != "_sources"]
    name = parts[-1] if parts else ""
    for suffix in (".rst.txt", ".txt", ".html", ".htm", ".rst", ".md"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return "/".join([*parts[:-1], name])


def _duplicate_sources(lines: list[str]) -> Iterator[Finding]:
    keys: set[str] = set()
    titles: set[str] = set()
    for number, _, in_sources in _prose_lines(lines):
        if not in_sources:
            continue
        entry = _source_entry(lines[number - 1].strip())
        if entry is None:
            continue
        title, locator = entry
        key = _page_key(locator)
        normal_title = " ".join(_WORD.findall(title.lower()))
        if key in keys or (normal_title and normal_title in titles):
            yield Finding("duplicate_source", number, _excerpt(lines[number - 1]))
        keys.add(key)
        if normal_title:
            titles.add(normal_title)


def _paragraphs(lines: list[str]) -> Iterator[tuple[int, str, str]]:
    """(first line, text, the next non-blank raw line after it) per prose paragraph or list item; headings,
    Sources and fenced code end a paragraph and are not part of one."""
    block: list[str] = []
    start = last = previous = 0
    for number, text, in_sources in _prose_lines(lines):
        stripped = text.strip()
        after_code = number != previous + 1  # _prose_lines skipped a fenced block in between
        previous = number
        item = bool(_LIST_ITEM.match(text)) and not in_sources
        if after_code or item or in_sources or not stripped or _HEADING.match(stripped):
            if block:
                yield start, " ".join(" ".join(block).split()), _next_line(lines, last)
            block = []
            if not (in_sources or not stripped or _HEADING.match(stripped)):
                block, start, last = [_LIST_ITEM.sub("", text).strip()], number, number
            continue
        if not block:
            start = number
        block.append(stripped)
        last = number
    if block:
        yield start, " ".join(" ".join(block).split()), _next_line(lines, last)


def _next_line(lines: list[str], last: int) -> str:
    return next((line for line in lines[last:] if line.strip()), "")


def _line_before(lines: list[str], first: int) -> str:
    """The last non-blank raw line before line number `first` (1-based)."""
    return next((line for line in reversed(lines[: first - 1]) if line.strip()), "")


def _fragments_and_openers(lines: list[str]) -> Iterator[Finding]:
    quoted: set[str] = set()
    for number, text, following in _paragraphs(lines):
        position = 0
        matches = list(MARKER_GROUP.finditer(text))
        plain = " ".join(MARKER_GROUP.sub("", text).split())
        # A paragraph that opens with a definition term as code ("`subtree[=<path>]`: This option …") names what
        # its pointer points at; blanked, the term left only its colon.
        # Right after a code block, "This prints …" points at the example.
        opener = (bool(_OPENER.match(plain)) and not _SELF_CONTAINED.match(plain) and not plain.startswith(":")
                  and not _FENCE.match(_line_before(lines, number)))
        if opener:
            yield Finding("dangling_opener", number, _excerpt(plain))
        for match in matches:
            claim = text[position : match.start()].strip().lstrip(".;:,!? ").strip()
            position = match.end()
            if claim and len(_WORD.findall(claim)) < MIN_FRAGMENT_WORDS:
                yield Finding("short_fragment", number, _excerpt(claim))
            elif claim in quoted:
                yield Finding("repeated_sentence", number, _excerpt(claim))
            quoted.add(claim)
            # A lead-in promises a list or code right after it: another sentence after it, or nothing, lets it down.
            last = match is matches[-1] and not text[match.end():].strip()
            first_flagged = opener and match is matches[0]  # one finding per sentence: its opener said it
            if _CODE_LEAD_IN.search(claim) and not first_flagged and not (last and _FENCE.match(following)):
                yield Finding("dangling_opener", number, _excerpt(claim[-100:]))
        # A paragraph that ends in a lead-in to a list ("… one of the following:") points at nothing without it.
        if (_LEAD_IN.search(plain) and not _CODE_LEAD_IN.search(plain)
                and not (_LIST_ITEM.match(following) or _FENCE.match(following))):
            yield Finding("dangling_opener", number, _excerpt(plain[-100:]))
