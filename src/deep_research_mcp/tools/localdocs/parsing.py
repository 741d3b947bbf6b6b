"""Turning a file's text into titled sections and search-sized passages.

Markdown, reStructuredText and HTML are split at their headings so a search hit can say which section it came from
and `read_document` can return one section. Parsing is deliberately forgiving: malformed markup yields fewer
headings, never an exception, because one odd file must not stop a whole directory from being indexed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..html_text import html_to_text

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
RST_SUFFIXES = frozenset({".rst"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
TEXT_SUFFIXES = frozenset({".txt"})
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | RST_SUFFIXES | HTML_SUFFIXES | TEXT_SUFFIXES

PASSAGE_CHARS = 1_500
BINARY_PROBE_BYTES = 8_192
MAX_TITLE_CHARS = 300

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}(={3,}|-{3,})[ \t]*$")
# A line that cannot be the text of a setext heading: list items, quotes, tables, indented code.
_NOT_SETEXT_TEXT = re.compile(r"^(?: {4,}|\t| {0,3}(?:[-*+>|]|\d+[.)])(?:\s|$))")
_RST_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1{2,}[ \t]*$")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.MULTILINE)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True, slots=True)
class Section:
    heading: str  # "" for text before the first heading
    level: int  # 0 when there is no heading
    body: str


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    title: str
    sections: list[Section]


@dataclass(frozen=True, slots=True)
class Chunk:
    section: int  # ordinal of the section in the document, so a section split into chunks can be read back whole
    heading: str
    text: str


def decode_text(data: bytes) -> str | None:
    """A file's text, or None when it looks binary (a NUL byte early on). Invalid UTF-8 becomes U+FFFD rather than
    an error: a stray Latin-1 byte should cost one character, not the file. UTF-16 with a BOM is text too."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if b"\x00" in data[:BINARY_PROBE_BYTES]:
        return None
    return data.decode("utf-8", errors="replace")


def parse_document(name: str, text: str) -> ParsedDocument:
    """Split `text` by the syntax its file name implies; the title falls back to the file name."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    title = ""
    if suffix in HTML_SUFFIXES:
        page = html_to_text(text)
        title, sections = page.title, markdown_sections(page.text)
    elif suffix in MARKDOWN_SUFFIXES:
        front = _FRONT_MATTER.match(text)
        if front:
            found = _FRONT_TITLE.search(front.group(1))
            title = found.group(1).strip("'\"") if found else ""
            text = text[front.end() :]
        sections = markdown_sections(text)
    elif suffix in RST_SUFFIXES:
        sections = rst_sections(text)
    else:
        sections = [Section("", 0, text.strip())] if text.strip() else []
    if not title:
        title = next((s.heading for s in sections if s.heading), "") or name
    return ParsedDocument(title=" ".join(title.split())[:MAX_TITLE_CHARS], sections=sections)


def markdown_sections(text: str) -> list[Section]:
    """ATX (`# x`) and setext (`x` over `===`) headings; `#` lines inside fenced code are code, not headings."""
    sections: list[Section] = []
    heading, level, body = "", 0, []
    fence: str | None = None

    def close() -> None:
        content = "\n".join(body).strip()
        if heading or content:
            sections.append(Section(heading, level, content))

    for line in text.split("\n"):
        if fence is not None:
            body.append(line)
            stripped = line.strip()
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                fence = None
            continue
        opening = _FENCE.match(line)
        if opening:
            fence = opening.group(1)
            body.append(line)
            continue
        atx = _ATX.match(line)
        if atx:
            close()
            heading, level, body = (atx.group(2) or "").strip(), len(atx.group(1)), []
            continue
        setext = _SETEXT.match(line)
        if setext and body and _is_setext_text(body):
            text_line = body.pop()
            close()
            heading, level, body = text_line.strip(), 1 if setext.group(1)[0] == "=" else 2, []
            continue
        body.append(line)
    close()
    return sections


def _is_setext_text(body: list[str]) -> bool:
    # Only a one-line paragraph is taken as a heading: under `---`, a longer paragraph is more likely prose followed
    # by a horizontal rule than a multi-line heading.
    last = body[-1]
    return bool(last.strip()) and not _NOT_SETEXT_TEXT.match(last) and (len(body) == 1 or not body[-2].strip())


def rst_sections(text: str) -> list[Section]:
    """Titles underlined (optionally also overlined) with a repeated punctuation character. Levels follow the order
    in which adornment styles first appear, as in docutils."""
    lines = text.split("\n")
    styles: list[tuple[str, bool]] = []
    sections: list[Section] = []
    heading, level, body = "", 0, []

    def close() -> None:
        content = "\n".join(body).strip()
        if heading or content:
            sections.append(Section(heading, level, content))

    i = 0
    while i < len(lines):
        line = lines[i]
        title = line.strip()
        under = _RST_ADORNMENT.match(lines[i + 1]) if i + 1 < len(lines) else None
        over = bool(body) and bool(under) and body[-1].strip() == lines[i + 1].strip()
        is_title = (
            under is not None
            and bool(title)
            and not _RST_ADORNMENT.match(line)
            and len(lines[i + 1].rstrip()) >= len(title)
            and (over or not line[:1].isspace())
        )
        if not is_title:
            body.append(line)
            i += 1
            continue
        if over:
            body.pop()
        close()
        assert under is not None
        style = (under.group(1), over)
        if style not in styles:
            styles.append(style)
        heading, level, body = title, styles.index(style) + 1, []
        i += 2
    close()
    return sections


def chunk_sections(sections: list[Section], limit: int = PASSAGE_CHARS) -> list[Chunk]:
    """Passages of about `limit` characters cut at paragraph boundaries. The first passage of a section starts with
    its heading as markdown, whatever the source syntax, so passages read alike and the whole text can be rebuilt."""
    chunks: list[Chunk] = []
    for ordinal, section in enumerate(sections):
        lead = f"{'#' * max(section.level, 1)} {section.heading}" if section.heading else ""
        pieces = [lead] if lead else []
        for paragraph in _PARAGRAPH_BREAK.split(section.body):
            if paragraph.strip():
                pieces.extend(_split_long(paragraph.strip("\n"), limit))
        current = ""
        for piece in pieces:
            if current and len(current) + 2 + len(piece) > limit:
                chunks.append(Chunk(ordinal, section.heading, current))
                current = piece
            else:
                current = f"{current}\n\n{piece}" if current else piece
        if current:
            chunks.append(Chunk(ordinal, section.heading, current))
    return chunks


def _split_long(paragraph: str, limit: int) -> list[str]:
    """A paragraph over `limit` is cut at line ends, then at spaces, and only as a last resort mid-word."""
    if len(paragraph) <= limit:
        return [paragraph]
    out: list[str] = []
    current = ""
    for line in paragraph.split("\n"):
        while len(line) > limit:
            cut = line.rfind(" ", limit // 2, limit)
            cut = cut if cut > 0 else limit
            if current:
                out.append(current)
                current = ""
            out.append(line[:cut].rstrip())
            line = line[cut:].lstrip()
        if current and len(current) + 1 + len(line) > limit:
            out.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current.strip():
        out.append(current)
    return [piece for piece in out if piece.strip()]
