"""The report's markdown parsed once for every rich format, with its `[n]` citation groups as tokens of their own.

markdown-it-py: a maintained CommonMark parser with a token stream (the DOCX writer walks it) and an HTML renderer
that escapes text and refuses unsafe link schemes. Raw HTML stays text (`html=False`): a report holds words from
the pages it read, and none of them may become markup.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.rules_inline import StateInline
    from markdown_it.token import Token

# The report's citation groups, as the citation pass writes them: `[1]`, `[2, 5]`; not a link's `[text](...)`.
_GROUP = re.compile(r"\[(\d{1,4}(?:\s*,\s*\d{1,4})*)\](?![(\[:])")


def check() -> None:
    import markdown_it  # noqa: F401


def parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.disable("image")  # an export loads nothing: an image's text stays text
    md.inline.ruler.before("link", "citation", _citation)
    return md


def parse(markdown: str, sources: int) -> list[Token]:
    """Block tokens of `markdown`; a citation group whose numbers are all in 1..`sources` becomes a `citation`
    token with `meta["numbers"]` (any other bracketed number stays text)."""
    return parser().parse(markdown, {"sources": sources})


def _citation(state: StateInline, silent: bool) -> bool:
    if state.src[state.pos] != "[":
        return False
    match = _GROUP.match(state.src, state.pos)
    if match is None:
        return False
    numbers = [int(n) for n in re.split(r"\s*,\s*", match.group(1))]
    count = int(state.env.get("sources", 0)) if isinstance(state.env, dict) else 0
    if not all(1 <= n <= count for n in numbers):
        return False
    if not silent:
        token = state.push("citation", "", 0)
        token.meta = {"numbers": numbers}
        token.content = match.group(0)
    state.pos = match.end()
    return True


def citation_numbers(token: Token) -> list[int]:
    meta: dict[str, Any] = token.meta or {}
    return list(meta.get("numbers", []))
