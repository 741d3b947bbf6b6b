"""A Word document (python-docx) built from the report's markdown tokens: headings, paragraphs with bold, italic,
code and links, bullet and numbered lists, tables, quotes and code blocks; then a numbered Sources list.

Citations stay `[n]`, each number an internal link to a bookmark on its source's entry, whose title links to the
URL (or file). Not Word footnotes: Word numbers footnotes by occurrence, so a source cited three times would become
three notes with three numbers, and the document's numbers would no longer match the report, the HTML, the PDF or
the JSON. python-docx has no API for hyperlinks or bookmarks; the few elements are built with its oxml helpers.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .document import ReportDocument, source_href
from .markdown import citation_numbers, parse

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument
    from docx.text.paragraph import Paragraph
    from markdown_it.token import Token

LINK_COLOR = (0x0B, 0x5C, 0xAD)
# Characters XML 1.0 cannot hold (lxml refuses them); a page's stray form feed must not sink the document.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
MONOSPACE = "DejaVu Sans Mono"


def check() -> None:
    import docx  # noqa: F401


def render(document: ReportDocument) -> bytes:
    from docx import Document

    doc = Document()
    doc.core_properties.title = _xml_text(document.title)[:255]
    doc.core_properties.subject = _xml_text(document.question)[:255]
    doc.core_properties.comments = f"Research run {document.run_id}"
    _Writer(doc).blocks(parse(_xml_text(document.body), len(document.sources)))
    if document.sources:
        doc.add_heading("Sources", level=2)
        for n, source in enumerate(document.sources, start=1):
            paragraph = doc.add_paragraph(style="List Paragraph" if _has_style(doc, "List Paragraph") else None)
            _bookmark(paragraph, f"src_{n}", n)
            paragraph.add_run(f"{n}. ")
            href = source_href(source)
            title = _xml_text(source.title or source.locator)
            if href is None:
                paragraph.add_run(title)
            else:
                _hyperlink(paragraph, title, url=href)
            if source.title:
                locator = paragraph.add_run(f" — {_xml_text(source.locator)}")
                locator.font.name = MONOSPACE
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


@dataclass
class _Format:
    bold: bool = False
    italic: bool = False
    strike: bool = False
    code: bool = False
    href: str | None = None
    link_text: list[str] = field(default_factory=list)


class _Writer:
    """Walks markdown-it's block tokens, writing paragraphs; inline tokens become runs and links."""

    def __init__(self, doc: DocxDocument) -> None:
        self.doc = doc
        self.lists: list[dict[str, Any]] = []  # open lists: ordered?, next number
        self.quote = 0
        self.item_prefix: str | None = None  # a list item's marker, written into its first paragraph

    def blocks(self, tokens: list[Token]) -> None:
        i = 0
        while i < len(tokens):
            token = tokens[i]
            kind = token.type
            if kind == "heading_open":
                heading = self.doc.add_heading(level=min(int(token.tag[1]), 9))
                self.inline(heading, tokens[i + 1])
                i += 2
            elif kind == "paragraph_open":
                self.paragraph(tokens[i + 1])
                i += 2
            elif kind in ("bullet_list_open", "ordered_list_open"):
                start = int(token.attrGet("start") or 1)
                self.lists.append({"ordered": kind == "ordered_list_open", "next": start})
            elif kind in ("bullet_list_close", "ordered_list_close"):
                self.lists.pop()
            elif kind == "list_item_open":
                current = self.lists[-1]
                self.item_prefix = f"{current['next']}. " if current["ordered"] else "• "
                current["next"] += 1
            elif kind == "blockquote_open":
                self.quote += 1
            elif kind == "blockquote_close":
                self.quote -= 1
            elif kind in ("fence", "code_block"):
                paragraph = self.doc.add_paragraph()
                run = paragraph.add_run(token.content.rstrip("\n"))
                run.font.name = MONOSPACE
            elif kind == "table_open":
                i = self.table(tokens, i)
            i += 1

    def paragraph(self, inline: Token) -> None:
        from docx.shared import Cm

        paragraph = self.doc.add_paragraph(style="Quote" if self.quote and _has_style(self.doc, "Quote") else None)
        if self.lists:
            paragraph.paragraph_format.left_indent = Cm(0.75 * len(self.lists))
            if self.item_prefix is not None:
                paragraph.paragraph_format.first_line_indent = Cm(-0.5)
                paragraph.add_run(self.item_prefix)
                self.item_prefix = None
        self.inline(paragraph, inline)

    def table(self, tokens: list[Token], i: int) -> int:
        rows: list[list[Token]] = []
        while tokens[i].type != "table_close":
            if tokens[i].type == "tr_open":
                rows.append([])
            elif tokens[i].type == "inline":
                rows[-1].append(tokens[i])
            i += 1
        width = max((len(r) for r in rows), default=0)
        if rows and width:
            table = self.doc.add_table(rows=len(rows), cols=width)
            if _has_style(self.doc, "Table Grid"):
                table.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    paragraph = table.cell(r, c).paragraphs[0]
                    self.inline(paragraph, cell, bold=r == 0)
        return i

    def inline(self, paragraph: Paragraph, inline: Token, *, bold: bool = False) -> None:
        state = _Format(bold=bold)
        for child in inline.children or []:
            kind = child.type
            if kind in ("text", "softbreak", "code_inline"):
                text = " " if kind == "softbreak" else child.content
                if state.href is not None:
                    state.link_text.append(text)
                else:
                    self.run(paragraph, text, state, code=kind == "code_inline")
            elif kind == "hardbreak":
                paragraph.add_run().add_break()
            elif kind in ("strong_open", "strong_close"):
                state.bold = kind == "strong_open" or bold
            elif kind in ("em_open", "em_close"):
                state.italic = kind == "em_open"
            elif kind in ("s_open", "s_close"):
                state.strike = kind == "s_open"
            elif kind == "link_open":
                state.href, state.link_text = str(child.attrGet("href") or ""), []
            elif kind == "link_close":
                _hyperlink(paragraph, "".join(state.link_text), url=state.href or None)
                state.href = None
            elif kind == "citation":
                paragraph.add_run("[")
                for k, n in enumerate(citation_numbers(child)):
                    if k:
                        paragraph.add_run(", ")
                    _hyperlink(paragraph, str(n), anchor=f"src_{n}")
                paragraph.add_run("]")

    @staticmethod
    def run(paragraph: Paragraph, text: str, state: _Format, *, code: bool = False) -> None:
        run = paragraph.add_run(text)
        run.bold, run.italic = state.bold or None, state.italic or None
        if state.strike:
            run.font.strike = True
        if code:
            run.font.name = MONOSPACE


def _xml_text(text: str) -> str:
    return _NOT_XML.sub(" ", text)


def _has_style(doc: DocxDocument, name: str) -> bool:
    return any(style.name == name for style in doc.styles)


def _hyperlink(paragraph: Paragraph, text: str, *, url: str | None = None, anchor: str | None = None) -> None:
    """A `w:hyperlink` to an external URL (a relationship) or to a bookmark in the document (`w:anchor`)."""
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import RGBColor
    from docx.text.run import Run

    if url is None and anchor is None:
        paragraph.add_run(text)
        return
    link = OxmlElement("w:hyperlink")
    if anchor is not None:
        link.set(qn("w:anchor"), anchor)
    else:
        link.set(qn("r:id"), paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True))
    element = OxmlElement("w:r")
    link.append(element)
    paragraph._p.append(link)
    run = Run(element, paragraph)
    run.text = text
    run.font.color.rgb = RGBColor(*LINK_COLOR)
    run.font.underline = True


def _bookmark(paragraph: Paragraph, name: str, bookmark_id: int) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    start, end = OxmlElement("w:bookmarkStart"), OxmlElement("w:bookmarkEnd")
    start.set(qn("w:id"), str(bookmark_id))
    start.set(qn("w:name"), name)
    end.set(qn("w:id"), str(bookmark_id))
    paragraph._p.append(start)
    paragraph._p.append(end)
