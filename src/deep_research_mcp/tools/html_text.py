"""HTML to readable text: visible text only, the title kept, headings as markdown so sections survive.

Shared by the local-document index and the web fetcher. Built on the standard library's tolerant parser, so broken
markup degrades to less structure, never to an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

_INVISIBLE = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe", "object", "canvas"})
_BLOCK = frozenset({
    "p", "div", "section", "article", "main", "aside", "header", "footer", "nav", "ul", "ol", "li", "table", "tr",
    "br", "hr", "blockquote", "pre", "dl", "dt", "dd", "figure", "figcaption", "form", "details", "summary",
})
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "wbr"})


@dataclass(frozen=True, slots=True)
class HtmlText:
    title: str
    text: str


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        # The invisible element we are inside, and how many of the same tag are open in it (they nest).
        self.hidden_tag: str | None = None
        self.hidden_nesting = 0
        self.in_title = False
        self.in_pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":  # checked first: the title lives in <head>, which is otherwise invisible
            self.in_title = True
        elif self.hidden_tag is not None:
            if tag == self.hidden_tag:
                self.hidden_nesting += 1
        elif tag not in _VOID and (tag in _INVISIBLE or any(name == "hidden" for name, _ in attrs)):
            self.hidden_tag, self.hidden_nesting = tag, 1
        elif tag in _HEADINGS:
            self.parts.append("\n\n" + "#" * _HEADINGS[tag] + " ")
        elif tag in _BLOCK:
            self.parts.append("\n- " if tag == "li" else "\n")
            if tag == "pre":
                self.in_pre += 1
        elif tag in ("td", "th"):
            self.parts.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif self.hidden_tag is not None:
            if tag == self.hidden_tag:
                self.hidden_nesting -= 1
                if self.hidden_nesting == 0:
                    self.hidden_tag = None
        elif tag in _HEADINGS:
            self.parts.append("\n\n")
        elif tag in _BLOCK:
            self.parts.append("\n")
            if tag == "pre" and self.in_pre:
                self.in_pre -= 1

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title_parts.append(data)
        elif self.hidden_tag is None:
            self.parts.append(data if self.in_pre else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> HtmlText:
    parser = _Extractor()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # the parser's only failure modes on hostile markup
        pass
    title = re.sub(r"\s+", " ", "".join(parser.title_parts)).strip()
    text = "".join(parser.parts)
    text = "\n".join(line.strip() for line in text.splitlines())
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if not title:
        heading = re.search(r"^#{1,6} (.+)$", text, re.MULTILINE)
        title = heading.group(1).strip() if heading else ""
    return HtmlText(title=title, text=text)
