"""Markdown read as sentence units: a page's prose split into sentences under their headings, each with the definition
term, list, code block or lead-in it belongs to.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .extract import PASSAGE_BREAK, TOKEN
from .inline import clean_inline

LEAD_CONTEXT_WORDS = 6
LABEL_WORDS = 8

MAX_OPEN_CHARS = 300  # a stray "(" (a list's "a)" written as "(a") does not swallow a whole paragraph
_ABBREVIATION = re.compile(r"\b(?:e\.g|i\.e|eg|ie|viz|etc|vs|cf|approx|dr|mr|mrs|ms|st|no|fig|inc|ltd|jr|sr)\.$",
                           re.IGNORECASE)
_INITIAL = re.compile(r"\b[A-Z]\.$")  # "J. Smith", but not "13.5 m."
_OPEN_END = re.compile(r"\b(?:that|which|who|whose|the|a|an|of|to|and|or|is|are|as|with|for|from|by|in|on|either|both|"
                       r"whether|when|if|than)$", re.IGNORECASE)
_LONE_DOT = re.compile(r"\s\.$")  # a "." standing alone is a path ("cmake --build . will use …"), not a full stop
# Any word may open a sentence ("… as low as 49%. deep-research-mcp makes …"); abbreviations are merged back after.
# A closing quote or bracket after the stop belongs to the sentence it closes ('… "stop." Then', '(… it is.) Next').
# A sentence may open with a tag name as code ("`<Location>` sections are processed …"), not only a letter.
# After a closing quote or bracket only a capital opens a sentence: "Neither "fixup!" nor "amend!" commits change …"
# is one sentence, while "… merge result. git commit also …" is two (commands start in lower case).
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=(?:[\"'(\[*_<]|`<?)?[A-Za-z0-9])"
                             r"|(?<=[.!?][\"')\]])\s+(?=(?:[\"'(\[*_<]|`<?)?[A-Z0-9])")
_FENCE = re.compile(r"^(```|~~~)")
_HEADING = re.compile(r"^#{1,6}(\s|$)")
_SECTION_MARKER = re.compile(r"^\[section:\s*(.+?)\]$")
_NUMBER_ONLY = re.compile(r"^\d+(?:\.\d+)*\.?$")
_RULE = re.compile(r"^([-*_=]\s*){3,}$")
_TABLE_SEPARATOR = re.compile(r"^\|?[\s:|-]+\|[\s:|-]*$")
_FIELDS_ROW = re.compile(r"^[^|`\s][^|]{0,60}?(?:\s\|\s[A-Z][\w ]{0,15}:\s[^|]{1,40}?){2,}$")
_TWO_CELLS = re.compile(r"^([^|`]{1,60}?)\s\|\s+((?:(?!\s\|\s).)*\S)$")  # html_text joins a row's cells with " | "
_HTML_LINE = re.compile(r"^<[^>]+>$|^<!--.*-->$")
_LIST_ITEM = re.compile(r"^(?:[-*+]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?(?P<body>.+)$")
# An AsciiDoc definition list's term, on its own line above its definition (git's "subtree[=<path>];;" or
# "--until=<date>::" in the text pages beside its HTML): read into the definition, "… ;; This option is …" dangled.
_ASCIIDOC_TERM = re.compile(r"^(\S(?:.*\S)?)(?:::|;;)$")
# A definition term: a name, optionally with its type ("shared_buffers (integer)") or fields ("smtp_accept_max (Use:
# main, Type: integer, Default: 20)"), or a few plain words; or what a
# reader of the page kept as code, one span or a few (a man page's "`--until=<date>` `--before=<date>`").
_TERM = re.compile(r"^(?:[A-Za-z_][\w.]*(?: \([\w ,]+\)| \((?:[A-Z][a-z]+: [^(),]{1,30}(?:, |(?=\))))+\))?"
                   r"|[A-Za-z]+(?: [A-Za-z]+){0,3}|`[^`]+`(?:,? `[^`]+`){0,3})$")
# An API reference's entry: the signature on its own line above its description ("update(results)" then "Extend from
# iterable of results."); read as one line, the two ran together ("update(results) Extend from …").
_SIGNATURE = re.compile(r"^(?:(?:class|async|def|property|classmethod|staticmethod)\s+)?[A-Za-z_][\w.]*"
                        r"\((?:[^()]|\([^()]*\))*\)(?:\s*(?:→|->)\s*[\w.\[\], |]+)?$")
_REST_DIRECTIVE = re.compile(r"^\.\.\s+(?:[\w:-]+::|_[^:]+:|\|)|^:(?:param|type|returns?|rtype|raises)\b[^:]*:\s*$")


def split_sentences(markdown: str) -> list[str]:
    """Prose sentences of a markdown (or plain) text: headings, code, tables and rules are skipped; every list
    item is a sentence of its own; inline markup is removed but its text kept."""
    return [sentence for sentence, _ in split_passages(markdown)]


def split_passages(markdown: str) -> list[tuple[str, str]]:
    """`split_sentences` with the heading each sentence stands under: a heading often names what a terse sentence
    is about ("## Costs" over "Barrages are expensive to build")."""
    return [(unit.text, unit.heading) for unit in split_units(markdown) if not unit.code]


@dataclass(frozen=True, slots=True)
class Unit:
    """One sentence of a document, the heading it stands under, and whether it introduces what follows (it ended in
    a colon: "PostgreSQL offers the following forms of partitioning:" says nothing without the next lines)."""

    text: str
    heading: str
    intro: bool = False
    lead: str = ""  # the definition term it stands under, and its paragraph's opening words when it does not open it
    label: str = ""  # the definition term right above its paragraph, when it names a term ("work_mem (integer)")
    paragraph: int = 0  # which block of the document it is in
    first: bool = True  # whether it opens that block
    item: bool = False  # a list item
    code: bool = False  # a fenced code block, verbatim in `text`: never a sentence, shown after its lead-in
    opens: bool = False  # the first sentence right under a heading of the page (not a search passage's "[section:]")


def split_units(markdown: str) -> list[Unit]:
    """`split_passages` as `Unit`s."""
    return list(_split_units(markdown))


@functools.lru_cache(maxsize=2_048)
def _split_units(markdown: str) -> tuple[Unit, ...]:
    # A page is shown to several researchers of a run, and compression, planning and ranking all split it.
    return tuple(_units_of(markdown))


def _units_of(markdown: str) -> list[Unit]:
    # text, heading, whether it could be a label (one plain line), whether it is a list item
    blocks: list[tuple[str, str, bool, bool]] = []
    block: list[str] = []
    heading = ""
    in_fence = False
    last_blank = True
    listed = False
    fresh = False  # a heading was just read: the next block opens its section
    opening: set[int] = set()
    breaks: set[int] = set()  # where one search passage ends and another of the page begins

    def flush() -> None:
        nonlocal fresh
        terms: list[str] = []
        while len(block) > 1 and not listed and (term := _ASCIIDOC_TERM.match(block[0])):
            terms.append(term.group(1))  # several terms may share one definition ("--until=<date>::" "--before=…")
            block.pop(0)
        if terms and len(" ".join(terms).split()) <= LABEL_WORDS:
            blocks.append((" ".join(terms), heading, True, False))
        elif terms:
            block[:0] = [f"{term}:" for term in terms]
        if len(block) > 1 and not listed and (_TERM.match(first := clean_inline(block[0])) and _is_label(first)
                                              or is_signature(block[0])):
            # A definition term on its own line right above its definition ("extensions (string)" then "This
            # option is …"): a label of its own, as if a blank line stood between them.
            blocks.append((block.pop(0), heading, True, False))
        if block:
            if fresh:
                opening.add(len(blocks))
            fresh = False
            blocks.append((" ".join(block), heading, len(block) == 1 and not listed, listed))
            block.clear()

    code: list[str] = []
    codes: dict[int, str] = {}  # block number -> the fenced code it holds
    for raw in markdown.splitlines():
        line = raw.strip()
        if _FENCE.match(line):
            flush()
            fresh = False
            if in_fence:
                codes[len(blocks)] = "\n".join(code).strip("\n")
                blocks.append(("", heading, False, False))  # code between two blocks: they are not adjacent
                code.clear()
            in_fence = not in_fence
            continue
        if in_fence:
            code.append(raw.rstrip())
            continue
        if not line:
            flush()
            last_blank = True
            continue
        indented_code = last_blank and not block and raw.startswith(("    ", "\t"))
        last_blank = False
        if _HEADING.match(line):
            flush()
            heading = clean_inline(line.lstrip("#").strip())
            fresh = True
            continue
        marker = _SECTION_MARKER.match(line)
        # A search tool's "[section: …]" line (the passage below continues that section), or another passage.
        if marker or line == PASSAGE_BREAK:
            flush()
            fresh = False
            if blocks:
                breaks.add(len(blocks))
                blocks.append(("", heading, False, False))
            if marker:
                heading = clean_inline(marker.group(1))
            continue
        if _FIELDS_ROW.match(line) and not indented_code:
            # An option's header row ("smtp_accept_max | Use: main | Type: integer | Default: 20", Exim's reference)
            # names what the paragraphs under it describe ("This option specifies …"): a term, as a definition
            # list's would be, its fields in parentheses. As a table it was dropped, and the option never named.
            flush()
            fresh = False
            cells = [c.strip() for c in line.split(" | ")]
            block.append(f"{cells[0]} ({', '.join(cells[1:])})")
            flush()
            continue
        row = _TWO_CELLS.match(line)
        if row and not indented_code:
            # A two-column table's row ("Default: | AllowOverride None", a directive's synopsis; "END | Stop the
            # rewriting process …", a flag table) is one statement of its own: read into the lines around it, a
            # synopsis became one long sentence of "Description: | … Syntax: | … Context: | …".
            flush()
            fresh = False
            block.append(f"{row.group(1).rstrip(':').strip()}: {row.group(2).strip()}")
            listed = True
            flush()
            continue
        if (indented_code or _RULE.match(line) or _HTML_LINE.match(line) or _is_table(line)
                or _REST_DIRECTIVE.match(line)):
            flush()
            fresh = False
            if blocks and blocks[-1][0]:
                blocks.append(("", heading, False, False))
            continue
        line = re.sub(r"^(>\s?)+", "", line).strip()
        if not block and _NUMBER_ONLY.match(line):
            continue  # a table of contents' section number on a line of its own ("8.6."): it labelled the title above
        item = _LIST_ITEM.match(line)
        if item:
            flush()  # a list item is its own sentence unit; lines that follow without a gap continue it
            line = re.sub(r"^(?:[-*+]\s+)+", "", item.group("body"))  # "- - nested" is one item
        if not block:
            listed = item is not None
        block.append(line)
    flush()
    units: list[Unit] = []
    label = ""
    label_at = -2
    for number, (text, where, single, is_item) in enumerate(blocks):
        if number in breaks:
            # A definition term that ended one passage is not the term of the next passage's first paragraph
            # ("SQLITE_OMIT_DISKIO: An INSERT statement with multiple values …").
            label, label_at = "", -2
            continue
        if codes.get(number, "").strip():
            units.append(Unit(codes[number], where, paragraph=number, code=True))
            continue
        cleaned = clean_inline(text)
        if (number + 1 < len(blocks) and blocks[number + 1][1] == where and single
                and (_is_label(cleaned) or is_signature(cleaned)) and not _listing(blocks[number + 1])):
            # A short line with no sentence end before a paragraph is a definition list's term ("shared_buffers
            # (integer)", "Range Partitioning"): not a statement, but what the paragraphs under it are about.
            label = cleaned
            label_at = number
            continue
        if number and blocks[number - 1][1] != where:
            label = ""
        # "… a task's state:." (Sphinx keeps the period after a literal block's colon) introduces what follows.
        sentences = [re.sub(r"([:;,])\.$", r"\1", s.rstrip()) for s in _sentences_of(cleaned)]
        # A paragraph's opening often names what the rest is about too.
        lead = " ".join(sentences[0].split()[:LEAD_CONTEXT_WORDS]) if sentences else ""
        # A paragraph whose last sentence stops on a word that cannot end one, right above a list, is continued by
        # the list's items (SQLite: "A "rowid table" is any table in an SQLite schema that" / "- is not a virtual
        # table, and" / "- is not a WITHOUT ROWID table."): a lead-in, quoted with them or not at all.
        runs_on = (not is_item and number + 1 < len(blocks) and blocks[number + 1][3] and blocks[number + 1][1] == where
                   and bool(sentences) and ends_open(sentences[-1]))
        units += [Unit(finish(s), where, s.rstrip().endswith(":") or (runs_on and i == len(sentences) - 1),
                       " ".join((label, lead if i else "")).strip(),
                       label if label_at == number - 1 and (_TERM.match(label) or is_signature(label)) else "",
                       number, i == 0, is_item,
                       opens=i == 0 and number in opening)
                  for i, s in enumerate(sentences)]
    return units


def ends_open(sentence: str) -> bool:
    """Whether `sentence` stops on a word that cannot end one ("… any table in an SQLite schema that")."""
    return _OPEN_END.search(sentence.rstrip(". ")) is not None


def is_signature(text: str) -> bool:
    """Whether `text` is a function or class signature standing as an API entry's term."""
    return bool(_SIGNATURE.match(text))


def _listing(block: tuple[str, str, bool, bool]) -> bool:
    """Whether `block` is a short line like the one before it, as in a table of contents: then neither is a term of
    what follows ("Session state at disconnection" is not what "Non-printable characters" is about)."""
    text, _, single, _ = block
    return single and _is_label(text) and not _TERM_LINE.match(text)


_TERM_LINE = re.compile(r"^`|[(_:]|::$")  # a code span, a typed or underscored name: a term's own line, not a title


def _is_label(text: str) -> bool:
    return 0 < len(text.split()) <= LABEL_WORDS and not re.search(r"[.!?:;,]$", text)


def _is_table(line: str) -> bool:
    return line.startswith("|") or bool(_TABLE_SEPARATOR.match(line)) or line.count(" | ") >= 2


@functools.lru_cache(maxsize=16_384)
def _sentences_of(block: str) -> tuple[str, ...]:
    # Each topic's transcript shows a page's paragraphs again, in other company: split once per paragraph.
    pieces = [p.strip() for p in _SENTENCE_BREAK.split(block) if p.strip()]
    merged: list[str] = []
    for piece in pieces:
        if merged and (_ABBREVIATION.search(merged[-1]) or _INITIAL.search(merged[-1]) or _LONE_DOT.search(merged[-1])
                       or _open(merged[-1])):
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    return tuple(s for s in merged if TOKEN.search(s.lower()))


def _open(piece: str) -> bool:
    """Whether a parenthesis is still open at the end of `piece`: "… a remote URL (ie. anything with a method …)" is
    one sentence, not two halves that each read as a fragment."""
    return piece.count("(") > piece.count(")") and len(piece) < MAX_OPEN_CHARS


def finish(sentence: str) -> str:
    """One sentence ending in terminal punctuation (list items and colons become statements)."""
    text = sentence.strip().rstrip(":;,").rstrip()
    if not re.search(r"[.!?][\"')\]]?$", text):
        text += "."
    return text
