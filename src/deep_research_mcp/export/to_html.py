"""One self-contained HTML page: the report, each `[n]` a link to its entry in an anchored Sources list whose entries
link to the source (its URL, or a file: URI for a local document). A small embedded stylesheet (also the PDF's
print layout); no scripts, fonts or images from anywhere, so the page opens the same offline and loads nothing.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from ..engine.sources import Source
from .document import ReportDocument, source_href
from .markdown import check, citation_numbers, parser

if TYPE_CHECKING:
    from markdown_it.token import Token

__all__ = ["check", "page", "render"]

STYLE = """
@page { size: A4; margin: 2cm 2cm 2.2cm;
  @bottom-center { content: counter(page) " / " counter(pages); font-size: 9pt; color: #666; } }
html { font-family: "DejaVu Serif", Georgia, "Times New Roman", serif; font-size: 11pt; line-height: 1.5;
  color: #1a1a1a; }
body { max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
h1, h2, h3, h4 { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; line-height: 1.25;
  page-break-after: avoid; }
h1 { font-size: 1.7em; margin-bottom: 0.4em; }
a { color: #0b5cad; text-decoration: none; }
a:hover { text-decoration: underline; }
a.cite { font-size: 0.85em; }
code, pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.88em; }
pre { background: #f5f5f5; padding: 0.6em 0.8em; white-space: pre-wrap; overflow-wrap: anywhere; }
blockquote { margin: 1em 0; padding: 0.2em 1em; border-left: 3px solid #ccc; color: #444; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; vertical-align: top; }
ol.sources li { margin-bottom: 0.4em; overflow-wrap: anywhere; }
ol.sources .locator { display: block; font-size: 0.85em; color: #555; }
:target { background: #fff4c2; }
footer { margin-top: 2.5em; font-size: 0.85em; color: #666; border-top: 1px solid #ddd; padding-top: 0.5em; }
"""


def render(document: ReportDocument) -> bytes:
    return page(document).encode()


def page(document: ReportDocument) -> str:
    md = parser()
    md.add_render_rule("citation", _citation_html)
    body = md.render(document.body, {"sources": len(document.sources)})
    items = "\n".join(_source_item(n, source) for n, source in enumerate(document.sources, start=1))
    sources = (f'<section class="sources">\n<h2 id="sources">Sources</h2>\n<ol class="sources">\n{items}\n</ol>\n'
               "</section>\n") if document.sources else ""
    footer = " · ".join(escape(part) for part in (f"Research run {document.run_id}", document.created_at,
                                                  "deep-research-mcp") if part)
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(document.title)}</title>\n"
        f'<meta name="description" content="{escape(document.question)}">\n'
        f"<style>{STYLE}</style>\n</head>\n<body>\n<article>\n{body}{sources}</article>\n"
        f"<footer>{footer}</footer>\n</body>\n</html>\n"
    )


def _citation_html(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    links = ", ".join(f'<a class="cite" href="#src-{n}">{n}</a>' for n in citation_numbers(tokens[idx]))
    return f'<span class="citation">[{links}]</span>'


def _source_item(n: int, source: Source) -> str:
    title = escape(source.title or source.locator)
    locator = escape(source.locator)
    href = source_href(source)
    if href is None:
        return f'<li id="src-{n}">{title} <code class="locator">{locator}</code></li>'
    return (f'<li id="src-{n}"><a href="{escape(href)}">{title}</a>'
            f'<span class="locator">{locator}</span></li>')
