"""Inline markup read as quotable text: reST roles and emphasis dropped, names that Markdown would mangle (special
methods, placeholders in angle brackets, underscored names, indexes, addresses) kept whole as code spans, and anything
that would pose as a citation removed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from ...spans import outside

_WORD_CHAR = re.compile(r"\w")
_CODE_SPAN = re.compile(r"`[^`\n]*`")
# Inline HTML a markdown page may hold. Only real element names: "clean_<fieldname>()" or "<app_label>/" in prose is
# a placeholder of the documented name, and dropping it would misquote the page.
_HTML_TAG = re.compile(
    r"</?(?:a|abbr|b|big|br|cite|code|del|dfn|div|em|font|i|img|ins|kbd|mark|p|q|s|samp|small|span|strike|strong|"
    r"sub|sup|tt|u|var|wbr|details|summary|table|tr|td|th|ul|ol|li|dl|dt|dd|hr|h[1-6]|pre|blockquote|section|"
    r"figure|figcaption|picture|source|video|audio|iframe|center|nobr)(?:\s[^>]*)?/?>",
    re.IGNORECASE,
)
# A word with a placeholder or an expression in angle brackets ("clean_<fieldname>()", "CMAKE_<LANG>_FLAGS_<CONFIG>",
# CMake's "$<CONFIG:Debug>", "-DCMAKE_POLICY_DEFAULT_CMP<NNNN>=<OLD|NEW>", "<string[]>"): code, whole, so that Markdown
# shows it instead of taking it for a tag. So is an address in angle brackets ("Your Name <your@email.address>"): left
# as text it would be escaped to an inert "&lt;" in the report, which reads as markup. `_angle_word` checks brackets.
_ANGLE_WORD = re.compile(r"(?<!\S)[^\s`]*<[A-Za-z_$][^\s`]*>[^\s`]*(?!\S)")
_OPENING_MARKS = "(\"'“‘["
_CLOSING_MARKS = ".,;:!?)\"'”’]"
# A placeholder of a few words ("<ascii type without space>", git's object format): code as well, for the same reason.
_PHRASE_PLACEHOLDER = re.compile(r"(?<![\w`<])<[a-z][\w.\\-]*(?: [\w.\\-]+){0,5}>(?![\w`>])")
# A configuration section's tag as Apache httpd's manual writes it: closing (`</Location>`) or with its arguments
# (`<Directory "/usr/local/htdocs">`, `<VirtualHost *:80>`). Code as well: Markdown would take it for a tag and the
# report would show an inert "&lt;Location>". Real HTML elements are left to `_placeholder`, which keeps them markup.
_SECTION_TAG = re.compile(r"(?<![\w`<])(?:</[A-Za-z][\w.:-]*>|<[A-Za-z][\w.:-]*\s+[^<>`\n]{1,80}>)(?![\w`])")
_REST_ROLE = re.compile(r":(?:py:)?([a-z]+):`([^`]+)`")
# "argv[1]" too: a number in brackets right after a name, with no space, indexes it.
_INDEXED = re.compile(r"(?<![\w`])([A-Za-z_]\w*(?:[._]\w+)*\[\d+\])")
# A name wrapped in underscores (SQLite's "_ROWID_", or "_rowid_" in quotes) would read as emphasis and lose them.
_UNDERSCORED_NAME = re.compile(r"(?<![\w`])(_[A-Z][A-Z0-9]*_|(?<=[\"'“‘])_[a-z][a-z0-9]*_(?=[\"'”’]))(?![\w`])")
_DUNDER = re.compile(r"(?<![\w`.])((?:[A-Za-z_]\w*\.)*__[A-Za-z]\w*?__(?:\(\))?)(?![\w`])")
# A web address, without the punctuation of the sentence it ends ("… at http://www.apache.org/. This …").
_URL = re.compile(r"<?(https?://[^\s<>)\]`]*[^\s<>)\].,;:!?'\"`])>?")
_CITATION_LIKE = re.compile(r"\s*\[\s*S?\d+(?:\s*[,;]\s*S?\d+)*\s*\]")


def prose_words(text: str) -> int:
    """Words outside code spans: "Syntax: `<Directory path>`... `</Directory>`." says one word of its own, and a
    reader (and the readability check) takes it for a fragment. A dash or bracket alone is no word ("7Z - 7zip -
    (.7z)" is three)."""
    return sum(1 for token in _CODE_SPAN.sub(" ", text).split() if _WORD_CHAR.search(token))


def clean_rest(text: str) -> str:
    """reST roles as plain names: ":func:`~asyncio.gather`" is "asyncio.gather()", ":class:`Task`" is
    "Task", ":ref:`the docs <target>`" is "the docs", "``code``" is "code"."""

    def role(match: re.Match[str]) -> str:
        kind, body = match.group(1), match.group(2)
        titled = re.match(r"^(.*?)\s*<[^>]+>$", body)
        if titled and titled.group(1):
            return titled.group(1)
        name = body.lstrip("!~")  # the full dotted name says more than the short form "~" would render
        return f"{name}()" if kind in ("func", "meth") and not name.endswith(")") else name

    text = _REST_ROLE.sub(role, text)
    return re.sub(r"``([^`]+)``", r"\1", text)


_TYPEWRITER_QUOTE = re.compile(r"`([^`\s']{1,40})'(?!\w)")


@functools.lru_cache(maxsize=16_384)
def clean_inline(text: str) -> str:
    """Drop markup and anything that would pose as a citation; code spans stay as they are. Cached: one page's
    paragraphs reach every researcher that finds it, each time inside a differently cut transcript."""
    text = clean_rest(text)
    # Old typewriter quoting (the Apache manual's "match a `/' character"): a grave accent that opens a quote closed
    # by an apostrophe is no code span; left as is, it opened one that swallowed the rest of the sentence.
    text = _TYPEWRITER_QUOTE.sub(r"‘\1’", text)
    # An index on an identifier ("settings.PASSWORD_HASHERS[0]") is code: a code span, so that no citation pass
    # takes "[0]" for a marker.
    # Angle-bracket words first, and each later pass outside code spans only: "CMAKE_<LANG>_FLAGS_<CONFIG>" is one
    # name, not "_FLAGS_" as an underscored name between two placeholders, and a definition's term already in a code
    # span ("`--repeat-until-fail <n>`") is not wrapped again.
    text = code_tags(text)
    text = outside_code(text, lambda prose: _INDEXED.sub(r"`\1`", prose))
    text = outside_code(text, dunders_as_code)
    text = outside_code(text, lambda prose: _UNDERSCORED_NAME.sub(r"`\1`", prose))
    return " ".join(outside_code(text, _clean_prose).split())


def dunders_as_code(text: str) -> str:
    """Special method names as code spans: bare, Markdown renders "Pizza.__str__()" as "Pizza.str()" in bold."""
    return _DUNDER.sub(r"`\1`", text)


# A shell's here-document and here-string operators ("<<EOF", "<<-END", "<<<"): as text, the report's HTML escaping
# showed "<&lt;EOF".
_REDIRECTION = re.compile(r"(?<![\w`<])(<<-?['\"]?[A-Za-z_]\w*['\"]?|<<<)(?![\w`<>])")


def code_tags(text: str) -> str:
    """`text` with the placeholders and configuration tags its prose names in angle brackets ("<name>",
    "<ascii type without space>", `</Location>`, `<Directory "/">`) as code spans, so Markdown shows them as written."""
    text = outside_code(text, lambda prose: _ANGLE_WORD.sub(_angle_word, prose))
    text = outside_code(text, lambda prose: _REDIRECTION.sub(r"`\1`", prose))
    return outside_code(text, lambda prose: _SECTION_TAG.sub(
        _placeholder, _PHRASE_PLACEHOLDER.sub(_placeholder, prose)))


def outside_code(text: str, change: Callable[[str], str]) -> str:
    """`text` with `change` applied to what lies outside its code spans."""
    return outside(_CODE_SPAN, text, change)


def _angle_word(match: re.Match[str]) -> str:
    """The word as a code span without the sentence's punctuation around it, if its angle brackets pair up and none is
    an HTML element (markup, removed with the rest of it)."""
    word = match.group(0)
    start, end = 0, len(word)
    while start < end and word[start] in _OPENING_MARKS and not _pairs(word[start + 1 : end], word[start]):
        start += 1
    while end > start and word[end - 1] in _CLOSING_MARKS and not _pairs(word[start : end - 1], word[end - 1]):
        end -= 1
    core = word[start:end]
    depth = 0
    for char in core:
        depth += (char == "<") - (char == ">")
        if depth < 0:
            return word
    if depth or "<" not in core or any(_HTML_TAG.fullmatch(tag) for tag in re.findall(r"<[^<>]+>", core)):
        return word
    return f"{word[:start]}`{core}`{word[end:]}"


def _pairs(rest: str, mark: str) -> bool:
    """Whether `mark` at the edge of a word closes or opens a bracket of the word itself ("clean_<x>()" keeps its
    ")"); quotes and sentence punctuation never do."""
    pair = {"(": ")", ")": "(", "[": "]", "]": "["}.get(mark)
    return pair is not None and rest.count(pair) > rest.count(mark)


def _placeholder(match: re.Match[str]) -> str:
    name = match.group(0)
    if any(_HTML_TAG.fullmatch(tag) for tag in re.findall(r"<[^>]+>", name)):
        return name  # markup, removed with the rest of it
    core = name.rstrip(".")
    return f"`{core}`{name[len(core):]}"


def _citation_or_value(match: re.Match[str]) -> str:
    """"" for a page's own citation mark ("[2]"); a list holding a zero is a value ("range(4) … return [0, 1, 2, 3]"),
    kept as code, where the citation pass does not read it."""
    found = match.group()
    return f" `{found.strip()}`" if re.search(r"(?<![\dS])0(?!\d)", found) else ""


def _clean_prose(text: str) -> str:
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\[[^\]]*\]", r"\1", text)
    # Bracketed numbers and bare URLs in page text would read as citations to the engine's citation pass.
    text = _CITATION_LIKE.sub(_citation_or_value, text)
    # An address the sentence needs ("… can be found at http://www.apache.org/. This will list …") is kept as code,
    # where the citation pass neither drops it nor reads it as a citation, and a reader's Markdown does not link it.
    text = _URL.sub(lambda m: f"`{m.group(1)}`", text)
    text = _HTML_TAG.sub("", text)
    # Underscores inside or around a word belong to identifiers ("__enter__()", "work_mem"), not emphasis.
    text = re.sub(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", r"\1", text)
    text = re.sub(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])", r"\1", text)
    # "_word_", not "__x__", nor a name that goes on ("_cache_{name}", "_x_(…)") or is an attribute ("obj._x_").
    text = re.sub(r"(?<![\w_.])_([^\s_](?:[^_]*[^\s_])?)_(?![\w_{(\[<=])", r"\1", text)
    return re.sub(r"~~(.+?)~~", r"\1", text)
