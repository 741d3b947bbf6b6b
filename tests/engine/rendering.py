"""What a report's markdown becomes in a real renderer (markdown-it, with GFM-style autolinking of bare URLs)."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.token import Token


def renderer() -> MarkdownIt:
    return MarkdownIt("commonmark", {"linkify": True}).enable(["linkify", "table", "strikethrough"])


def links_and_media(markdown: str) -> tuple[list[str], list[str]]:
    """(link targets, images and raw HTML) of `markdown` as rendered."""
    links: list[str] = []
    media: list[str] = []

    def walk(tokens: list[Token]) -> None:
        for token in tokens:
            if token.type == "link_open":
                links.append(str(token.attrGet("href")))
            elif token.type == "image" or token.type.startswith("html"):
                media.append(token.content or str(token.attrGet("src")))
            walk(token.children or [])

    walk(renderer().parse(markdown))
    return links, media


def rendered_text(markdown: str) -> str:
    """The text a reader sees: every text and code token's content, joined."""
    parts: list[str] = []

    def walk(tokens: list[Token]) -> None:
        for token in tokens:
            if token.type in ("text", "code_inline", "text_special"):
                parts.append(token.content)
            elif token.type == "softbreak":
                parts.append(" ")
            walk(token.children or [])

    walk(renderer().parse(markdown))
    return "".join(parts)
