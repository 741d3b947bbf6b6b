"""HTML to readable text in a small markdown dialect, the one format every reader of pages relies on.

Shared by the local-document index and `fetch_url`. The output is:

- headings only from real `<h1>`–`<h6>`: a line `## text` with blank lines around it (Sphinx "¶" permalinks dropped);
- `<pre>` as fenced code: a line "```", the code verbatim (newlines, indentation, `#` comments), a line "```";
- each `<li>` on its own line, "- " (or "1. ", "2. " in an `<ol>`); a `<dt>` on its own line, its `<dd>` on the next;
- one line per table row, cells joined by " | ";
- paragraphs separated by blank lines; inline elements (`<code>`, `<a>`, `<b>`) keep their text verbatim.

Why lxml: its HTML parser (libxml2 ≥ 2.14, an HTML5 tokenizer in C) runs in time linear in the input and caps the
tree's depth (2,048 with `huge_tree`), so hostile markup costs what ordinary markup of the same size costs. The
standard library's `html.parser` used before is quadratic on unclosed tags (`'<a' * 100_000`: 26 s). selectolax
(Lexbor) was tried first and measured quadratic on deep nesting: its tree builder follows the HTML5 algorithm, whose
"element in scope" checks walk the whole stack of open elements (40,000 nested `<div>`: 5.9 s; 200,000: 220 s);
libxml2 reads the same 200,000 in 0.01 s. On top of that the input is capped at `MAX_HTML_CHARS`, so one call has
a hard bound; async callers still run it on a worker thread with a bounded wait (`html_to_text_async`), because
even linear work on megabytes should not hold the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import re
from dataclasses import dataclass
from typing import Any

from lxml import etree

from ..errors import ToolCallError

# Markup beyond this is not read: a hard bound on one call's time and memory whatever the caller's own caps are.
MAX_HTML_CHARS = 5_000_000
# Elements walked per page: the walk is Python, a few µs per element, so a page of millions of tiny elements (5 MB
# of "<p>x") would take seconds. Real pages hold far fewer (the largest in the Django and PostgreSQL manuals,
# their indexes: about 11,000).
MAX_ELEMENTS = 100_000
PARSE_TIMEOUT_S = 5.0

# Elements whose content is never visible text; their subtree is skipped.
_INVISIBLE = frozenset({
    "script", "style", "noscript", "template", "svg", "math", "head", "iframe", "object", "canvas", "nav", "button",
    "select", "textarea", "dialog",
})
# Skipped with their content: hidden elements, navigation chrome, Sphinx's "¶" permalinks, "[source]" links and
# sidebar, DocBook's (PostgreSQL's) previous/next bars, and what a site marks as not for its own search engine
# ("nosearch": SQLite's banner, menus and tables of contents on every page); a keyword's drop-down menu of the
# sections it may be used in (HAProxy's manual), which ran into the sentence naming the keyword.
_CHROME_CLASSES = frozenset({
    "headerlink", "sphinxsidebar", "navheader", "navfooter", "related", "skip-link", "nav", "navbar", "breadcrumb",
    "breadcrumbs", "viewcode-link", "nosearch", "dropdown-menu", "menu",
})
_CHROME_IDS = frozenset({"sidebar", "global-nav", "searchbox"})
_PERMALINK = frozenset({"#", "¶", "§", "🔗"})
_CHROME_ATTRIBUTES = frozenset({"hidden", "aria-hidden", "role", "style", "class", "id"})
# Blocks that end a paragraph; separated from their neighbours by a blank line.
_PARAGRAPH = frozenset({
    "p", "div", "section", "article", "main", "aside", "header", "footer", "blockquote", "figure", "figcaption",
    "form", "details", "summary", "fieldset", "address", "ul", "ol", "dl", "table", "hr", "center", "body",
})
# Blocks that only end a line: consecutive ones stay on consecutive lines.
_LINE = frozenset({"br", "li", "dt", "dd", "tr", "caption", "legend"})
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
# What cannot be inside a heading: a heading holding one was never closed (`_close_headings`).
_BLOCKS = (_PARAGRAPH - {"body"}) | frozenset(_HEADINGS) | frozenset({"pre", "li", "dt", "dd", "tr"})
_CELLS = frozenset({"td", "th"})
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+")
# Control characters other than tab and newline (never text; some confuse terminals and prompts), and the invisible
# break hints (zero-width space, word joiner, BOM, soft hyphen) that manuals put inside long identifiers:
# PostgreSQL's "BGWORKER_BACKEND_\u200bDATABASE_CONNECTION" must read, and match, as one word.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\u00ad\u200b\u2060\ufeff]")
_FENCE_RUN = re.compile(r"`{3,}")
# A Markdown code fence as CommonMark has it: three or more backticks or tildes, indented at most three spaces. The
# reader writes backtick fences; Markdown files read by localdocs may hold either kind.
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SITE_SEPARATOR = re.compile(r" +[—–|·:»-] +\S")
# Requirement numbers: SQLite's manual marks every testable statement with one ("R-37514-35566", in full eight
# groups of five digits), lists them on requirements.html as "R-…" over each statement followed by "(source: …,
# matrix: context, detail)", and keeps "/* IMP: R-… */" comments in code. They are bookkeeping, not text: quoted, a
# sentence would read "R-00013-61831-… The key comes first …". Only this shape is one: "R-tree" and "R-N-N" stay.
_REQUIREMENT = r"R-\d{5}(?:-\d{5})+\b"
_REQUIREMENT_MARK = re.compile(
    rf"[ \t]*/\*[ \t]*(?:[A-Z]+:[ \t]*)?{_REQUIREMENT}[ \t]*\*/|[ \t]*\([ \t]*{_REQUIREMENT}[ \t]*\)|\b{_REQUIREMENT}"
)
_REQUIREMENT_LINK = re.compile(rf"#{_REQUIREMENT}")
_REQUIREMENT_ANYWHERE = re.compile(r"R-\d{5}-\d{5}")
# A parenthesised note that links to a requirement ("(source: uri.html, matrix: context, detail)") goes; a link to one
# in running text keeps its words.
_NOTE_TAGS = frozenset({"i", "em", "span", "small", "sup", "font"})


@dataclass(frozen=True, slots=True)
class HtmlText:
    title: str
    text: str
    truncated: bool = False  # only the start was read (over MAX_HTML_CHARS of markup or MAX_ELEMENTS elements)
    words: int = 0  # words of running text (headings and code blocks aside)
    linked_words: int = 0  # ... of them inside links: most of a keyword index or site map, little of a page

    @property
    def link_share(self) -> float:
        return self.linked_words / self.words if self.words else 0.0


class _Writer:
    """Collects inline text into lines and lays the lines out with single or blank-line breaks."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.inline: list[str] = []
        self.prefix = ""  # the current list item's marker, written before its first text
        self.pending = 0  # line breaks owed before the next line: 1 = new line, 2 = blank line between
        # Inside a list item, term or definition before its first line: a paragraph opening there (Sphinx wraps
        # every <li> and <dd> in <p>) must not push the item away from its marker or its term.
        self.hold = False
        self.first_heading = ""

    def text(self, data: str) -> None:
        self.inline.append(data)

    def end_line(self, breaks: int) -> None:
        self._flush()
        self.pending = max(self.pending, min(breaks, 1) if self.hold else breaks)

    def start_item(self, prefix: str, tight: bool) -> None:
        """A list item, term or definition starts on a new line; `tight` keeps it right under the previous item
        even when that one ended with a paragraph."""
        self._flush()
        self.pending = 1 if tight and self.lines else max(self.pending, 1)
        self.prefix, self.hold = prefix, True

    def end_item(self) -> None:
        self.end_line(1)
        self.prefix, self.hold = "", False

    def _flush(self) -> None:
        if not self.inline:
            return
        line = " ".join("".join(self.inline).split())
        self.inline = []
        if line:
            self._emit(self.prefix + line)
            self.prefix = ""

    def _emit(self, line: str) -> None:
        if self.lines and self.pending >= 2 and self.lines[-1]:
            self.lines.append("")
        self.lines.append(line)
        self.pending = 0
        self.hold = False

    def heading(self, level: int, text: str) -> None:
        text = _SPACE.sub(" ", text).strip().rstrip("¶").rstrip()
        if not text:
            return
        self.end_line(2)
        self.prefix = ""  # an item that opens with a heading or code has no line of its own to mark
        self._emit(f"{'#' * level} {text}")
        self.pending = 2
        self.first_heading = self.first_heading or _CONTROL.sub("", text)

    def code(self, code: str) -> None:
        code = code.strip("\n")
        if not code.strip():
            return
        self.end_line(2)
        self.prefix = ""
        # A longer fence when the code itself holds one, as CommonMark allows, so the block cannot end early.
        fence = "`" * max(3, 1 + max((len(run) for run in _FENCE_RUN.findall(code)), default=0))
        self._emit(fence)
        for line in code.split("\n"):
            self.lines.append(line.rstrip())
        self.lines.append(fence)
        self.pending = 2

    def result(self) -> str:
        self._flush()
        return _CONTROL.sub("", "\n".join(self.lines)).strip()


def _visible_text(root: Any) -> str:
    """The text under `root` as written (no whitespace folding), leaving out what the walk leaves out (a heading's
    "¶" permalink, hidden spans, scripts); `<br>` is a newline, as some highlighters emit it inside `<pre>`."""
    parts: list[str] = []
    walker = etree.iterwalk(root, events=("start", "end"))
    for event, element in walker:
        tag = element.tag if isinstance(element.tag, str) else ""
        if event == "start":
            if element is not root and (not tag or tag in _INVISIBLE or _is_chrome(element)):
                walker.skip_subtree()
            elif tag == "br":
                parts.append("\n")
            elif element.text:
                parts.append(element.text)
        elif element is not root and element.tail:
            parts.append(element.tail)
    return "".join(parts)


def _code_text(pre: Any) -> str:
    return _visible_text(pre).replace("\r\n", "\n").replace("\r", "\n").expandtabs(8)


# `<pre>` classes that mark text, not code: HAProxy's manuals ("text", and "arguments" for a keyword's arguments).
_PROSE_PRE = frozenset({"text", "arguments"})


def _captions_out(pre: Any) -> list[str]:
    """The texts of the paragraphs and divisions inside `pre` (an example's caption before its code), taken out of
    it: read with the code, the caption ran into its first line ("… handled by HAProxy.redirect scheme https …")."""
    captions: list[str] = []
    for child in list(pre):
        if child.tag not in ("div", "p") or _is_chrome(child):
            continue
        captions.append(" ".join(_visible_text(child).split()))
        previous = child.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + (child.tail or "")
        else:
            pre.text = (pre.text or "") + (child.tail or "")
        pre.remove(child)
    return [caption for caption in captions if caption]


def _pre_chunks(text: str, *, page: bool = False) -> list[tuple[str, bool]]:
    """A `<pre class="text">`'s blank-line-separated chunks, each with whether it is prose: HAProxy's manuals keep
    their prose in such blocks, wrapped at 80 columns, beside the examples. A chunk is prose when most of its lines
    (the last aside) hold five words or more and it has a sentence end; prose is one line, its wrapping undone; the
    rest stays code. A chunk that opens with a few short lines before its prose (Vim's help: a command's synopsis,
    then its indented description) is that code, then that prose. On a text page (`page`) rules and titles are
    chunks of their own."""
    chunks: list[tuple[str, bool]] = []
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.split("\n") if line.strip()]
        for group in _titles_apart(lines) if page else [lines]:
            chunks += _chunk(group)
    return chunks


def _titles_apart(lines: list[str]) -> list[list[str]]:
    """A text page's lines in groups, each rule line and tagged title line a group of its own: Vim's help sets
    "4.2 Substitute   *:substitute*" right under a rule and right above its command's synopsis."""
    groups: list[list[str]] = [[]]
    for line in lines:
        if _RULE.match(line) or _TAGGED_HEADING.match(line) or ("*" in line and _NUMBERED_HEADING.match(line)):
            groups += [[line], []]
        else:
            groups[-1].append(line)
    return [group for group in groups if group]


def _chunk(lines: list[str]) -> list[tuple[str, bool]]:
    """One chunk's (text, is prose) parts: prose as one line, code as written, a short lead before prose apart."""
    if not lines:
        return []
    if _is_prose(lines):
        return [(" ".join(" ".join(lines).split()), True)]
    lead = next((k for k in range(1, min(len(lines) - 1, PRE_LEAD_LINES) + 1) if _is_prose(lines[k:])), None)
    if lead is None:
        return [("\n".join(lines), False)]
    return [("\n".join(lines[:lead]), False), (" ".join(" ".join(lines[lead:]).split()), True)]


PRE_LEAD_LINES = 3


def _is_prose(lines: list[str]) -> bool:
    body = lines[:-1] or lines  # a paragraph's last line may be short
    wordy = sum(1 for line in body if len(line.split()) >= 5)
    return wordy >= 0.7 * len(body) and bool(re.search(r"[.!?](?:\s|$)", "\n".join(lines)))


# A `<pre>` this long, holding most of its page, that is partly prose is a text page shown in a fixed font (Vim's
# help, man pages and RFCs turned into HTML), not code: read chunk by chunk like HAProxy's `<pre class="text">`. A
# code listing this long is rarely a third prose by `_pre_chunks`' rule (lines of five words or more ending a
# sentence).
PAGE_PRE_CHARS = 2_000
PAGE_PRE_SHARE = 0.5  # of the page's visible text
PAGE_PRE_PROSE = 0.3


# A numbered title alone on a line of a text page, Vim's help tags after it: "4.2 Substitute      *:substitute*".
_NUMBERED_HEADING = re.compile(
    r"^\s*(\d{1,2}(?:\.\d{1,2})*)\.?\s+([A-Z][\w'-]*(?: [\w'-]+){0,7})(?:\s+\*[^*\s]+\*)*\s*$")
_RULE = re.compile(r"^\s*(?:={10,}|-{10,})\s*$")
# Two words or more in capitals with help tags, a subsection of Vim's help: "VIMINFO FILE NAME  *viminfo-file-name*"
# (not a key's synopsis: "CTRL-W S  *CTRL-W_S*").
_TAGGED_HEADING = re.compile(r"^\s*([A-Z]{2,}(?: [A-Z]{2,}){1,7})(?:\s+\*[^*\s]+\*)+\s*$")


def _prose_share(chunks: list[tuple[str, bool]]) -> float:
    total = sum(len(chunk) for chunk, _ in chunks)
    return sum(len(chunk) for chunk, prose in chunks if prose) / total if total else 0.0


_INLINE_CODE = frozenset({"code", "kbd", "samp", "tt"})


def _code_paragraph(p: Any) -> str:
    """The code of a paragraph that is nothing but one code element of two words or more: the Apache manual's
    examples (`<div class="example"><p><code>kill -TERM `cat httpd.pid`</code></p></div>`) have no `<pre>`. Read
    as prose, a command became a fragment and "… a command such as:" lost what it introduces. Lines are folded as
    HTML folds a paragraph's whitespace, one per `<br>`; "" for any other paragraph."""
    if (p.text or "").strip() or len(p) != 1 or p[0].tag not in _INLINE_CODE or (p[0].tail or "").strip():
        return ""
    lines = [" ".join(line.split()) for line in _visible_text(p[0]).split("\n")]
    code = "\n".join(line for line in lines if line)
    return code if len(code.split()) >= 2 and not _is_chrome(p[0]) else ""


def _is_link_only(heading: Any) -> bool:
    """A heading that is nothing but a link to another page is site chrome (Django's "Django documentation"
    banner, a blog index's post links): its text is kept as a paragraph, but it opens no section."""
    if (heading.text or "").strip() or len(heading) != 1:
        return False
    link = heading[0]
    href = link.get("href") or ""
    return link.tag == "a" and bool(href) and not href.startswith("#") and not (link.tail or "").strip()


class _Walk:
    """One depth-first pass over the tree (lxml's iterwalk, so no recursion: nesting depth is the page's to
    choose). Text sits in `element.text` (before the first child) and `element.tail` (after the element closes)."""

    def __init__(self, writer: _Writer) -> None:
        self.out = writer
        self.root: Any = None  # the element `run` walks: its text, measured when a long `<pre>` asks, sizes the page
        self.cells = 0  # inside a table cell: blocks become spaces so the row stays one line
        self.row_cells: list[int] = []  # cells written so far in each open table row
        self.lists: list[int | None] = []  # per open list: the next number, or None when unordered
        self.items: list[int] = []  # per open list: items started so far
        self.link: Any = None  # the <a> the walk is inside, if any
        self.words = 0
        self.linked_words = 0

    def run(self, root: Any) -> bool:
        """Walk the tree; False when it stopped at `MAX_ELEMENTS`."""
        self.root = root
        walker = etree.iterwalk(root, events=("start", "end"))
        budget = MAX_ELEMENTS
        for event, element in walker:
            tag = element.tag if isinstance(element.tag, str) else ""
            if event == "start":
                budget -= 1
                if budget < 0:
                    return False
                if self.enter(tag, element):
                    if tag == "a" and self.link is None:
                        self.link = element
                    if element.text:
                        self._text(element.text)
                else:
                    walker.skip_subtree()
            else:
                if tag:
                    self.leave(tag)
                if element is self.link:
                    self.link = None
                if element.tail and element is not root:
                    self._text(element.tail)
        return True

    def _text(self, data: str) -> None:
        if "<" in data:
            # A tag written out in the page's text is code: Jinja's "converts line breaks into HTML <br> and <p>
            # tags" lost both once read as markup ("… into HTML and tags").
            data = _LITERAL_TAG.sub(lambda m: _code_span(m.group()), data)
        self.out.text(data)
        count = len(_WORD.findall(data))
        self.words += count
        if self.link is not None:
            self.linked_words += count

    @functools.cached_property
    def page_chars(self) -> int:
        """The page's visible text, in characters: read once, and only for a page with a long `<pre>`."""
        return len(_text_of(self.root)) if self.root is not None else 0

    def _paragraph(self, text: str) -> None:
        """A paragraph of prose found inside a `<pre>`: the same text path (words counted, written-out tags as code)
        as any paragraph's."""
        self.out.end_line(2)
        if text.startswith("#"):  # Vim's "#  A count before …" (the flag '#'): a sentence, not a heading line
            mark = text.split(" ", 1)[0]
            self.out.text(_code_span(mark))
            text = text[len(mark):]
        self._text(text)
        self.out.end_line(2)

    def enter(self, tag: str, node: Any) -> bool:
        """Handle the opening of `node`; True to walk its text and children."""
        if not tag or tag in _INVISIBLE or _is_chrome(node):
            return False
        out = self.out
        if tag in _HEADINGS and not self.cells:
            if _is_link_only(node):
                out.end_line(2)
                return True
            out.heading(_HEADINGS[tag], _visible_text(node))
            return False
        if tag == "pre" and not self.cells:
            for caption in _captions_out(node):  # HAProxy's "<pre><div class="example-desc">Redirect all …</div><code>"
                self._paragraph(caption)
            text = _code_text(node)
            page = len(text) >= PAGE_PRE_CHARS and len(text) >= PAGE_PRE_SHARE * self.page_chars
            chunks = _pre_chunks(text, page=True) if page else []
            if _PROSE_PRE.isdisjoint((node.get("class") or "").split()) and _prose_share(chunks) < PAGE_PRE_PROSE:
                out.code(text)
                return False
            after_rule = False
            for chunk, prose in chunks or _pre_chunks(text):
                ruled, after_rule = after_rule, bool(_RULE.match(chunk))
                numbered = _NUMBERED_HEADING.match(chunk) if chunks else None
                # A numbered line is a section's title after a rule or with its help tags; else a step of a list.
                if numbered and (ruled or "*" in chunk):
                    # "4.2 Substitute   *:substitute*" on a line of its own: a section of the text page.
                    number, title = numbered.groups()
                    out.heading(2 + number.count("."), f"{number if '.' in number else number + '.'} {title}")
                elif chunks and (tagged := _TAGGED_HEADING.match(chunk)):
                    out.heading(4, tagged.group(1).capitalize())
                elif prose:
                    self._paragraph(chunk)
                else:
                    out.code(chunk)
            return False
        if tag == "p" and not self.cells and (code := _code_paragraph(node)):
            out.code(code)
            return False
        if tag in _CELLS:
            if self.row_cells and self.row_cells[-1]:
                out.text(" | ")
            if self.row_cells:
                self.row_cells[-1] += 1
            self.cells += 1
        elif self.cells:
            if tag in _PARAGRAPH or tag in _LINE or tag in _HEADINGS or tag == "pre":
                out.text(" ")
            if tag == "tr":
                self.row_cells.append(0)
        elif tag == "tr":
            out.end_line(1)
            self.row_cells.append(0)
        elif tag == "li":
            numbering = self.lists[-1] if self.lists else None
            out.start_item("- " if numbering is None else f"{numbering}. ", tight=bool(self.items and self.items[-1]))
            if self.lists:
                if numbering is not None:
                    self.lists[-1] = numbering + 1
                self.items[-1] += 1
        elif tag in ("ul", "ol"):
            if self.lists:  # a nested list stays right under its item
                out.start_item("", tight=True)
            else:
                out.end_line(2)
            self.lists.append(_start(node) if tag == "ol" else None)
            self.items.append(0)
        elif tag in ("dt", "dd"):
            if tag == "dt":
                # Each term opens a block of its own, so a term after a one-line definition ("restart" under
                # "stop: Stops the daemon.") is read as the next entry's name, not the end of that sentence.
                out.end_line(2)
            out.start_item("", tight=tag == "dd")
            if tag == "dt" and _is_signature(node) and "<" in (signature := " ".join(_visible_text(node).split())):
                out.text(_code_span(signature))
                return False
        elif tag in _LINE:
            out.end_line(1)
        elif tag in _PARAGRAPH:
            out.end_line(2)
        return True

    def leave(self, tag: str) -> None:
        if tag in _CELLS:
            self.cells = max(0, self.cells - 1)
        elif tag == "tr":
            if self.row_cells:
                self.row_cells.pop()
            if not self.cells:
                self.out.end_line(1)
        elif self.cells:
            return
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
                self.items.pop()
            self.out.end_line(1 if self.lists else 2)
        elif tag in ("li", "dt", "dd"):
            self.out.end_item()
        elif tag in _HEADINGS or tag in _PARAGRAPH:
            self.out.end_line(2)
        elif tag in _LINE:
            self.out.end_line(1)


def _is_signature(dt: Any) -> bool:
    # Sphinx's API entries: <dt class="sig sig-object py"> holds a signature. One whose defaults are reprs
    # ("f(x=<module 'time'>)") is code: as text, its "<module" would be escaped and read as a stray tag. Others stay
    # text, so "f(x) Return y." still reads as one sentence.
    return "sig" in (dt.get("class") or "").split()


# An HTML element's tag as text (the names a Markdown reader would take for markup).
_LITERAL_TAG = re.compile(
    r"</?(?:a|abbr|b|br|code|div|em|form|h[1-6]|head|hr|html|i|img|input|li|link|meta|ol|p|pre|script|span|strong|"
    r"style|table|td|th|tr|ul|body|title|iframe|button|select|option|textarea|label|section|article|nav|header|"
    r"footer|main|template|slot|svg)(?:\s[^<>]*)?/?>", re.IGNORECASE)


def _code_span(text: str) -> str:
    """`text` as an inline code span, so a signature's "<function uuid4>" reads as code, not as a tag to escape;
    a span holding backticks is delimited by a longer run, as CommonMark allows."""
    if not text:
        return ""
    ticks = "`" * (1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _start(ol: Any) -> int:
    try:
        return int((ol.get("start") or "1").strip())
    except ValueError:
        return 1


def _text_of(element: Any) -> str:
    return str(etree.tostring(element, method="text", encoding="unicode", with_tail=False))


def _is_chrome(element: Any) -> bool:
    if (element.tag == "a" and (element.get("href") or "").startswith("#")
            and any(parent.tag in _HEADINGS for parent in element.iterancestors())
            and _text_of(element).strip() in _PERMALINK):
        return True  # a heading's link to itself (Node.js's "#", MkDocs' "¶"): read along, it ended the heading
    if _CHROME_ATTRIBUTES.isdisjoint(element.keys()):  # most elements: one C call and no more
        return False
    if element.get("hidden") is not None or element.get("aria-hidden") == "true":
        return True
    # ARIA landmarks of site chrome; "contentinfo" is a site's footer (Sphinx's "© Copyright … Created using Sphinx").
    if element.get("role") in ("navigation", "search", "contentinfo"):
        return True
    if "display:none" in (element.get("style") or "").replace(" ", "").lower():
        return True
    classes = (element.get("class") or "").split()
    if element.tag == "table" and "header" in classes:
        return True  # texinfo's navigation bar on every node: "[ << ] | [ < ] | [ Up ] | … | [Index] | [ ? ]"
    return element.get("id") in _CHROME_IDS or not _CHROME_CLASSES.isdisjoint(classes)


def _parser() -> Any:
    # lxml's plain HTML parser, not lxml.html's: the latter looks up a Python element class for every node, which
    # costs more than the parse. huge_tree lifts libxml2's depth cap from 256 to 2,048 (real pages nest a few dozen
    # levels; deeper is hostile and is cut there). Comments and processing instructions are dropped while parsing;
    # nothing is ever fetched.
    return etree.HTMLParser(
        encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True, huge_tree=True,
        default_doctype=False,
    )


def html_to_text(html: str) -> HtmlText:
    """The page's title (`<title>`, else its first heading) and its visible text in the format above. Never
    raises on bad markup: the parser recovers as far as it can. Input past `MAX_HTML_CHARS` is not read."""
    truncated = len(html) > MAX_HTML_CHARS
    if truncated:
        html = html[:MAX_HTML_CHARS]
    # Bytes, not str: lxml refuses a str that carries an XML encoding declaration (XHTML pages do).
    data = html.encode("utf-8", errors="replace")
    if not data.strip():
        return HtmlText("", "", truncated)
    try:
        tree = etree.fromstring(data, parser=_parser())
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):  # nothing parseable
        return HtmlText("", "", truncated)
    if tree is None:  # "Document is empty"
        return HtmlText("", "", truncated)
    title_node = tree.find("head/title")
    if title_node is None:
        title_node = tree.find(".//title")
    title = _SPACE.sub(" ", _CONTROL.sub("", _text_of(title_node))).strip() if title_node is not None else ""
    _close_headings(tree)
    if _REQUIREMENT_ANYWHERE.search(html):  # a scan of the markup in C; the tree is searched only on such pages
        _drop_requirement_marks(tree)
    writer = _Writer()
    body = tree.find("body")
    walk = _Walk(writer)
    complete = walk.run(body if body is not None else tree)
    return HtmlText(title=_page_title(title, writer.first_heading), text=writer.result(),
                    truncated=truncated or not complete, words=walk.words, linked_words=walk.linked_words)


def _close_headings(tree: Any) -> None:
    """A heading ends where a block starts inside it. HTML5 closes an open `<h2>` at `</h1>` (any heading's end tag
    closes any heading); libxml2 does not, so on a page that writes `<h2>Documentation</h1>` (SQLite's doclist.html,
    docs.html) the whole rest of the page would be one heading. Blocks found in a heading move out after it, in order,
    each with the text that follows it."""
    for heading in list(tree.iter(*_HEADINGS)):
        children = list(heading)
        first = next((i for i, child in enumerate(children) if child.tag in _BLOCKS), None)
        if first is None:
            continue
        after, heading.tail = heading.tail, None  # what followed the heading follows what moves out of it
        anchor = heading
        for child in children[first:]:
            anchor.addnext(child)  # moves the child, and its tail with it
            anchor = child
        anchor.tail = (anchor.tail or "") + (after or "")


def _drop_requirement_marks(tree: Any) -> None:
    """Take requirement numbers (`_REQUIREMENT_MARK`) out of the page's text, and the parenthesised notes that link
    to them out of its markup. XPath finds the places in C: two searches, not a walk of the page in Python."""
    notes: dict[int, Any] = {}
    for link in tree.xpath("//a[contains(@href, '#R-')]"):
        if not _REQUIREMENT_LINK.search(link.get("href") or ""):
            continue
        note = next((a for a in link.iterancestors() if a.tag in _NOTE_TAGS
                     and (text := "".join(a.itertext()).strip()).startswith("(") and text.endswith(")")), None)
        if note is not None:
            notes[id(note)] = note
    for element in notes.values():
        _remove_keeping_tail(element)
    for found in tree.xpath("//text()[contains(., 'R-')]"):
        cleaned = _REQUIREMENT_MARK.sub("", str(found))
        if cleaned == found:
            continue
        owner = found.getparent()
        if owner is None:
            continue
        if found.is_tail:
            owner.tail = cleaned
            continue
        owner.text = cleaned
        if cleaned.strip() or next(iter(owner), None) is not None:
            continue
        # An element that held nothing but the number (SQLite's <dt><b>R-…</b></dt>) goes, with the elements that
        # held only it, so no empty term is left; the definition under such a term reads as a paragraph of its own,
        # not as a line of the one before.
        top = owner
        # (Siblings are looked at, never counted: len() of an lxml element walks its children, and a list of
        # thousands of requirements would make that quadratic.)
        while ((parent := top.getparent()) is not None and parent.tag != "body" and top.getprevious() is None
               and top.getnext() is None and not (parent.text or "").strip() and not (top.tail or "").strip()):
            top = parent
        following = top.getnext()
        if top.tag == "dt" and following is not None and following.tag == "dd":
            following.tag = "div"
        _remove_keeping_tail(top)


def _remove_keeping_tail(element: Any) -> None:
    parent = element.getparent()
    if parent is None:
        return
    if element.tail:
        before = element.getprevious()
        if before is not None:
            before.tail = (before.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def _page_title(title: str, heading: str) -> str:
    """The `<title>` without the site's name when the page's first heading says the same before it ("Database
    transactions — Django 3.2.25 documentation" → "Database transactions"): the suffix repeats on every page of a
    site and only lengthens citations. Else the `<title>` as it is, else the first heading."""
    if heading and title.startswith(heading) and _SITE_SEPARATOR.match(title, len(heading)):
        return heading
    return title or heading


def closes_fence(line: str, fence: str) -> bool:
    """Whether `line` closes a code block opened by `fence`: only a run of the fence's character at least as long,
    with nothing but spaces around it."""
    stripped = line.strip()
    return stripped.startswith(fence) and not stripped.strip(fence[0])


def close_open_fence(text: str) -> str:
    """`text` with a code fence it leaves open closed: for callers that cut text in this format to a length, so a
    cut inside a code block does not turn what follows (a "[truncated…]" note) into code."""
    fence = ""
    for line in text.split("\n"):
        if not fence:
            opening = FENCE.match(line)
            fence = opening.group(1) if opening else ""
        elif closes_fence(line, fence):
            fence = ""
    return f"{text}\n{fence}" if fence else text


async def html_to_text_async(html: str, *, source: str, timeout_s: float = PARSE_TIMEOUT_S) -> HtmlText:
    """`html_to_text` on a worker thread, waiting at most `timeout_s`: the event loop (every other client, status
    call and cancel) keeps running meanwhile. A parse that overruns is abandoned, not killed; the input cap bounds
    how long it can go on."""
    try:
        async with asyncio.timeout(timeout_s):
            return await asyncio.to_thread(html_to_text, html)
    except TimeoutError:
        raise ToolCallError(f"the page at {source} could not be read within {timeout_s:g} s") from None
