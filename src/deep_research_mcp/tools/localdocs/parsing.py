"""Turning a file's text into titled sections and search-sized passages.

Markdown, reStructuredText and HTML are split at their headings so a search hit can say which section it came from
and `read_document` can return one section. Parsing is deliberately forgiving: malformed markup yields fewer
headings, never an exception, because one odd file must not stop a whole directory from being indexed.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import re
import zlib
from dataclasses import dataclass

from ..html_text import FENCE, closes_fence, html_to_text
from .rst import rst_to_text

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
RST_SUFFIXES = frozenset({".rst"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
TEXT_SUFFIXES = frozenset({".txt"})
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | RST_SUFFIXES | HTML_SUFFIXES | TEXT_SUFFIXES
# Files a package documents itself in with a suffix that says nothing of their syntax (README.Debian, NEWS.Debian):
# plain text, as every file without a suffix is (README, Nginx's examples/php) when its bytes are text.
DOC_NAMES = frozenset({"readme", "news", "install", "changes", "changelog", "history", "faq", "todo", "bugs",
                       "notes", "usage", "hacking", "contributing", "thanks", "authors"})
GZIP_SUFFIX = ".gz"  # Debian compresses every document over 4 kB: README.gz, manual.html.gz, NEWS.md.gz
KINDS_DESCRIPTION = f"{', '.join(sorted(SUPPORTED_SUFFIXES))}, text files without a suffix, each also gzipped"


def document_name(name: str) -> str | None:
    """The name whose syntax a file is read by, or None when it is no document: "guide.md" itself, "guide.md.gz" as
    "guide.md", "README", "php" and "README.Debian.gz" as plain text ("README.txt"); "logo.png" None."""
    base = name[: -len(GZIP_SUFFIX)] if name.lower().endswith(GZIP_SUFFIX) else name
    suffix = os.path.splitext(base)[1].lower()
    if suffix in SUPPORTED_SUFFIXES:
        return base
    return f"{base}.txt" if not suffix or base.split(".", 1)[0].lower() in DOC_NAMES else None


def document_bytes(file_name: str, data: bytes, limit: int) -> bytes | None:
    """The document a file named `file_name` holds: `data` itself, or unpacked when the file is gzipped (see
    `gunzipped`); None when a gzipped file is not gzip data."""
    return gunzipped(data, limit) if file_name.lower().endswith(GZIP_SUFFIX) else data


def gunzipped(data: bytes, limit: int) -> bytes | None:
    """`data` decompressed, at most `limit` + 1 bytes of it (so a small file that unpacks to gigabytes costs no more
    than a large one read plainly); None when it is not gzip data."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            return stream.read(limit + 1)
    except (OSError, EOFError, zlib.error):
        return None

PASSAGE_CHARS = 1_500
BINARY_PROBE_BYTES = 8_192
MAX_TITLE_CHARS = 300

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(={3,}|-{3,})[ \t]*$")
# A line that cannot be the text of a setext heading: list items, quotes, tables, indented code.
_NOT_SETEXT_TEXT = re.compile(r"^(?: {4,}|\t| {0,3}(?:[-*+>|]|\d+[.)])(?:\s|$))")
_RST_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1{2,}[ \t]*$")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.MULTILINE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-z0-9_.:-]+)""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Section:
    heading: str  # "" for text before the first heading
    level: int  # 0 when there is no heading
    body: str


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    title: str
    sections: list[Section]
    words: int = 0  # an HTML page's words of running text, and the share of them that is link text (kinds.py)
    link_share: float = 0.0

    @property
    def first_heading(self) -> str:
        return next((s.heading for s in self.sections if s.heading), "")


@dataclass(frozen=True, slots=True)
class Chunk:
    section: int  # ordinal of the section in the document, so a section split into chunks can be read back whole
    heading: str
    text: str


def decode_text(data: bytes, name: str = "") -> tuple[str, bool] | None:
    """A file's text and whether it was not UTF-8, or None when it looks binary (a NUL byte early on). UTF-16 with
    a BOM is text. Text that is not valid UTF-8 is read as the charset an HTML page declares, else as Windows-1252
    (the usual legacy encoding of Western text; Latin-1 for the few bytes it leaves undefined), so a stray legacy
    byte costs one character, not the file."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), False
    if b"\x00" in data[:BINARY_PROBE_BYTES]:
        return None
    try:
        return data.decode("utf-8"), False
    except UnicodeDecodeError:
        pass
    if "." + name.rsplit(".", 1)[-1].lower() in HTML_SUFFIXES and (declared := _META_CHARSET.search(data[:4096])):
        with contextlib.suppress(LookupError, UnicodeDecodeError):
            return data.decode(declared.group(1).decode("ascii")), True
    try:
        return data.decode("cp1252"), True
    except UnicodeDecodeError:
        return data.decode("latin-1"), True


# An AsciiDoc cross-reference in a plain-text page (git's `glossary-content.txt`: "a <<def_repository,repository>>")
# reads as its label, or as its target when it has none, and a man-page link ("linkgit:git-clone[1]") as the HTML
# pages write it ("git-clone(1)"); left as they are, the markup ends up in quoted sentences, and "[1]" reads as a
# citation.
_XREF = re.compile(r"<<([A-Za-z_][\w:.-]*)(?:,\s*([^<>\n]+?))?>>")
_MAN_LINK = re.compile(r"\blinkgit:([\w.-]+)\[(\w+)\]")


def parse_document(name: str, text: str) -> ParsedDocument:
    """Split `text` by the syntax its file name implies; the title falls back to the file name."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    title = ""
    words, link_share = 0, 0.0
    if suffix in HTML_SUFFIXES:
        page = html_to_text(text)
        title, sections = page.title, markdown_sections(page.text)
        words, link_share = page.words, page.link_share
    elif suffix in MARKDOWN_SUFFIXES:
        front = _FRONT_MATTER.match(text)
        if front:
            found = _FRONT_TITLE.search(front.group(1))
            title = found.group(1).strip("'\"") if found else ""
            text = text[front.end() :]
        sections = markdown_sections(_unescaped(text))
    elif suffix in RST_SUFFIXES:
        sections = rst_sections(rst_to_text(text))
    else:
        text = _fenced_code(_MAN_LINK.sub(r"\1(\2)", _XREF.sub(lambda m: m.group(2) or m.group(1), text)))
        sections = [Section("", 0, text.strip())] if text.strip() else []
    if not title:
        title = next((s.heading for s in sections if s.heading), "") or name
    return ParsedDocument(title=" ".join(title.split())[:MAX_TITLE_CHARS], sections=sections, words=words,
                          link_share=link_share)


# Outside code, markdown's backslash escapes stand for the character ("buildah\-build" is "buildah-build"), and the
# roff font switches that man-page converters leave in markdown ("\fB\fC\-\-ignorefile\fR") for nothing.
_ESCAPE = re.compile(r"\\f(?:[BIRPC]|\([A-Z]{2})|\\([!-/:-@\[-`{-~])")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")


def _unescaped(text: str) -> str:
    """Markdown with its backslash escapes and roff font switches read, except in fenced code and code spans."""
    if "\\" not in text:
        return text
    out: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        opener = FENCE.match(line)
        if fence is not None:
            fence = None if closes_fence(line, fence) else fence
        elif opener:
            fence = opener.group(1)
        else:
            pieces, last = [], 0
            for span in _CODE_SPAN.finditer(line):  # the text between code spans is read, the spans kept
                pieces += [_read_escapes(line[last : span.start()]), span.group()]
                last = span.end()
            line = "".join([*pieces, _read_escapes(line[last:])])
        out.append(line)
    return "\n".join(out)


def _read_escapes(text: str) -> str:
    return _ESCAPE.sub(lambda m: m.group(1) or "", text)


_CODE_MARKS = frozenset("{}();=$\\|")


def _fenced_code(text: str) -> str:
    """Plain text with its code fenced: a blank-line-separated block that opens with a shell comment or prompt, or
    holds code punctuation in one character of 25 (four marks at least), with its lines as written; a title marked
    with "==" is not code. Nginx's notes on PHP hold an init script, which read as prose became "sentences"
    ("start() { start-stop-daemon --quiet … }."). Text already fenced is left as it is."""
    if any(FENCE.match(line) for line in text.splitlines()):
        return text
    blocks = re.split(r"(\n[ \t]*\n)", text)
    for i in range(0, len(blocks), 2):
        block = blocks[i]
        body = "".join(block.split())
        marks = sum(c in _CODE_MARKS for c in body)
        if body and not body.startswith("==") and (block.lstrip().startswith(("#", "$ ", "% ", ">>> "))
                                                   or (marks >= 4 and marks * 25 >= len(body))):
            code = block.strip("\n")
            blocks[i] = f"```\n{code}\n```"
    return "".join(blocks)


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
            if closes_fence(stripped, fence):
                fence = None
            continue
        opening = FENCE.match(line)
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
    fence: str | None = None
    while i < len(lines):
        line = lines[i]
        opening = FENCE.match(line.lstrip())
        if fence is not None or opening:  # code (fenced by rst_to_text) holds no titles, whatever its lines look like
            body.append(line)
            i += 1
            if fence is None and opening:
                fence = opening.group(1)
            elif fence is not None and closes_fence(line.strip(), fence):
                fence = None
            continue
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
        for block in _blocks(section.body):
            pieces.extend(_split_code(block, limit) if FENCE.match(block) else _split_long(block, limit))
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


def _blocks(body: str) -> list[str]:
    """Paragraphs (split at blank lines) and fenced code blocks (whole, blank lines and all), in order."""
    blocks: list[str] = []
    current: list[str] = []
    fence: str | None = None

    def close() -> None:
        text = "\n".join(current).strip("\n")
        if text.strip():
            blocks.append(text)
        current.clear()

    for line in body.split("\n"):
        if fence is not None:
            current.append(line)
            stripped = line.strip()
            if closes_fence(stripped, fence):
                fence = None
                close()
            continue
        opening = FENCE.match(line)
        if opening:
            close()
            fence = opening.group(1)
            current.append(line)
        elif line.strip():
            current.append(line)
        else:
            close()
    close()
    return blocks


def _split_code(block: str, limit: int) -> list[str]:
    """A fenced block over `limit` is cut at line ends, each piece fenced again, so every passage that holds code
    reads as code (a `#` comment never turns into a heading)."""
    if len(block) <= limit:
        return [block]
    lines = block.split("\n")
    fence = FENCE.match(lines[0])
    opening = lines[0]
    closing = fence.group(1) if fence else "```"
    inner = lines[1:-1] if len(lines) > 1 and lines[-1].strip().startswith(closing) else lines[1:]
    room = max(limit - len(opening) - len(closing) - 2, limit // 2)
    pieces = _split_long("\n".join(inner), room) if inner else []
    return [f"{opening}\n{piece}\n{closing}" for piece in pieces] or [block]


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
