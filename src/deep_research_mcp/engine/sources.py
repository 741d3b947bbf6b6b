"""The run's source registry and the citation pass that makes reports cite only what was really retrieved.

Models see documents as `[S<n>]` ids. Whatever a model writes, the pass below keeps only markers and links that
resolve to the registry, renumbers them [1], [2], ... in order of first use, and appends a Sources section built from
the registry. Anything else that looks like a citation (unknown ids, bare [n], links or URLs to pages never
retrieved, a model-written references section) is removed and counted as dropped.

Titles are the sources' words, not ours: in the Sources section they are escaped markdown text, so a title cannot
add a link, an image or HTML to the report; the only link per source is the locator the run really retrieved.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from ..spans import outside
from ..tools.base import Document

_MARKER = re.compile(r"\[\s*(S?\d+(?:\s*[,;]\s*S?\d+)*)\s*\](?!\()")
# A markdown link or image: `[label](url)`, `[label](<url> "title")`.
_LINK = re.compile(r"""\[([^\]\n]*)\]\(\s*<?(https?://[^)\s<>]+)>?(?:\s+(?:"[^"\n]*"|'[^'\n]*'|\([^)\n]*\)))?\s*\)""")
_AUTOLINK = re.compile(r"<(https?://[^\s<>]+)>")
_HTML_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_WWW = re.compile(r"(?<![\w.\\/])(www)\.(?=\w)", re.IGNORECASE)
# Characters that can start markdown or HTML syntax inline; CommonMark lets any ASCII punctuation be backslash-escaped.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()!<>#|~{}&])")
_LINE_START_SPECIAL = re.compile(r"^(\d*)([-+=>.)])")
# What autolinkers (GFM's `www.`/`scheme://`, linkify's bare domains) take for a link.
_LINKISH = re.compile(r"(?<=[A-Za-z0-9])(\.)(?=[A-Za-z]{2,})|(:)(?=//)")
_BARE_URL = re.compile(r"(?<![(<\w])https?://[^\s)\]>]+")
_SOURCES_HEADING = re.compile(
    r"^(#{1,6})\s*(?:sources|references|bibliography|citations|works cited|links)\b.*$", re.IGNORECASE
)
_HEADING = re.compile(r"^(#{1,6})\s")
_TRAILING_PUNCT = ".,;:!?'\""
_CODE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Source:
    id: str  # "S<n>", stable for the run
    locator: str  # URL or path
    title: str


@dataclass(slots=True)
class CitationStats:
    cited: int = 0  # distinct registry sources the report cites
    dropped: int = 0  # citations removed (from notes and report) because they pointed at nothing retrieved
    unused: int = 0  # registered sources the report never cites
    registered: int = 0


def normalize_locator(locator: str) -> str:
    """Dedupe key: URLs lose fragment, default ports and a trailing slash and get a lower-case host."""
    text = locator.strip()
    if not text.lower().startswith(("http://", "https://")):
        return text
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    default_port = {"http": 80, "https": 443}.get(parts.scheme.lower())
    if parts.port and parts.port != default_port:
        host = f"{host}:{parts.port}"
    path = parts.path.rstrip("/") or ""
    return urlunsplit((parts.scheme.lower(), host, path, parts.query, ""))


class SourceRegistry:
    """Every document read during one run, by stable id. Registering the same locator twice returns one id."""

    def __init__(self) -> None:
        self._by_id: dict[str, Source] = {}
        self._by_key: dict[str, Source] = {}

    def register(self, document: Document) -> Source:
        key = normalize_locator(document.locator)
        existing = self._by_key.get(key)
        if existing is not None:
            return existing
        source = Source(id=f"S{len(self._by_id) + 1}", locator=document.locator, title=document.title.strip())
        self._by_id[source.id] = source
        self._by_key[key] = source
        return source

    def get(self, source_id: str) -> Source | None:
        return self._by_id.get(source_id)

    def by_locator(self, locator: str) -> Source | None:
        return self._by_key.get(normalize_locator(locator))

    def all(self) -> list[Source]:
        return list(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)


@dataclass(slots=True)
class Scrubbed:
    text: str
    dropped: int
    cited_ids: list[str] = field(default_factory=list)  # registry ids in order of first use


def scrub_citations(text: str, registry: SourceRegistry, *, drop_sources_section: bool = True) -> Scrubbed:
    """Keep `[S<n>]` markers that resolve; turn links/URLs of retrieved pages into markers; drop the rest."""
    dropped = 0
    if drop_sources_section:
        text, dropped = _drop_sources_sections(text)
    order: list[str] = []

    def remember(source_id: str) -> None:
        if source_id not in order:
            order.append(source_id)

    def link(match: re.Match[str]) -> str:
        nonlocal dropped
        label, url = match.group(1), match.group(2)
        source = registry.by_locator(url)
        if source is None:
            dropped += 1
            return label
        return f"{label} [{source.id}]"

    def bare(match: re.Match[str]) -> str:
        nonlocal dropped
        url = match.group(0)
        tail = ""
        while url and url[-1] in _TRAILING_PUNCT:
            url, tail = url[:-1], url[-1] + tail
        source = registry.by_locator(url)
        if source is None:
            dropped += 1
            return tail.lstrip() if tail else ""
        return f"[{source.id}]{tail}"

    def autolink(match: re.Match[str]) -> str:
        nonlocal dropped
        source = registry.by_locator(match.group(1))
        if source is None:
            dropped += 1
            return ""
        return f"[{source.id}]"

    def marker(match: re.Match[str]) -> str:
        nonlocal dropped
        kept: list[str] = []
        for raw in re.split(r"\s*[,;]\s*", match.group(1)):
            source_id = raw.upper()
            if source_id.startswith("S") and registry.get(source_id) is not None:
                if source_id not in kept:
                    kept.append(source_id)
            else:
                dropped += 1
        for source_id in kept:
            remember(source_id)
        return f"[{', '.join(kept)}]" if kept else ""

    def prose(segment: str) -> str:
        segment = _LINK.sub(link, segment)
        segment = _AUTOLINK.sub(autolink, segment)
        segment = _BARE_URL.sub(bare, segment)
        segment = _MARKER.sub(marker, segment)
        # A dropped marker leaves "fact ." behind; a name that starts with the mark (".htaccess", ":memory:", ".NET")
        # is a word of its own and keeps its space.
        segment = re.sub(r"[ \t]+([.,;:])(?![\w/~])", r"\1", segment)
        return re.sub(r"(?<=\S)[ \t]{2,}", " ", segment)

    text = outside_code(text, prose)
    return Scrubbed(text=text.strip(), dropped=dropped, cited_ids=order)


def outside_code(text: str, transform: Callable[[str], str]) -> str:
    """Apply `transform` to everything but code spans and fenced blocks, where `a[0]` is code, not a citation."""
    return outside(_CODE, text, transform)


def finalize_report(text: str, registry: SourceRegistry) -> tuple[str, list[Source], CitationStats]:
    """Scrub, renumber markers by first use, and append the Sources section generated from the registry."""
    scrubbed = scrub_citations(text, registry)
    numbers = {source_id: n for n, source_id in enumerate(scrubbed.cited_ids, start=1)}

    def renumber(match: re.Match[str]) -> str:
        ids = [i.strip().upper() for i in re.split(r"[,;]", match.group(1))]
        return "[" + ", ".join(str(numbers[i]) for i in ids if i in numbers) + "]"

    # Whatever a model copied from a page or a title (`<img src=...>`, `<a href>`, `www.` names) must not load or
    # link anything when the report is rendered.
    body = outside_code(scrubbed.text, lambda segment: _inert(_MARKER.sub(renumber, segment)))
    cited = [registry.get(i) for i in scrubbed.cited_ids]
    sources = [s for s in cited if s is not None]
    if sources:
        lines = [f"{n}. {_source_line(s)}" for n, s in enumerate(sources, start=1)]
        body = f"{body}\n\n## Sources\n\n" + "\n".join(lines) + "\n"
    stats = CitationStats(
        cited=len(sources), dropped=scrubbed.dropped, unused=len(registry) - len(sources), registered=len(registry)
    )
    return body, sources, stats


def _inert(prose: str) -> str:
    """Raw HTML shown as text, and `www.` names that GFM would autolink left unlinked (their dot escaped)."""
    return _WWW.sub(r"\1\\.", _HTML_TAG_START.sub("&lt;", prose))


def _source_line(source: Source) -> str:
    """A title is text: escaped so it renders literally (no links, images or HTML of its own); the only link is the
    locator the run really retrieved."""
    title = markdown_text(source.title or source.locator)
    if source.locator.lower().startswith(("http://", "https://")):
        return f"[{title}]({_link_destination(source.locator)})"
    return f"{title} — {code_span(source.locator)}"


def markdown_text(text: str) -> str:
    """`text` as one line of markdown that renders as exactly that text.

    Hand-rolled because no maintained library escapes markdown text (markdown-it and mistune escape HTML only).
    CommonMark lets any ASCII punctuation be backslash-escaped, so escaping a superset of the syntax is safe; dots
    in domain names and the colon of `://` are escaped too, which stops autolinkers from making links of them.
    """
    line = " ".join(text.split())
    line = _MARKDOWN_SPECIAL.sub(r"\\\1", line)
    line = _LINKISH.sub(lambda m: "\\" + (m.group(1) or m.group(2)), line)
    return _LINE_START_SPECIAL.sub(r"\1\\\2", line)


def code_span(text: str) -> str:
    """`text` as an inline code span, fenced by a backtick run longer than any inside it."""
    line = " ".join(text.split())
    longest = max((len(run) for run in re.findall(r"`+", line)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if line.startswith("`") or line.endswith("`") or not line.strip() else ""
    return f"{fence}{pad}{line}{pad}{fence}"


def _link_destination(url: str) -> str:
    # A destination ends at a space or an unbalanced ")"; percent-encoded, those stay inside the retrieved URL.
    return re.sub(r"[()<>\s\\]", lambda m: f"%{ord(m.group(0)):02X}", url)


def _drop_sources_sections(text: str) -> tuple[str, int]:
    """Remove model-written sources/references sections; each list item or link in them counts as dropped."""
    kept: list[str] = []
    dropped = 0
    skipping_level: int | None = None
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if skipping_level is not None:
            if heading and len(heading.group(1)) <= skipping_level:
                skipping_level = None
            else:
                if line.strip().startswith(("-", "*", "[")) or re.match(r"\s*\d+[.)]\s", line):
                    dropped += 1
                continue
        sources_heading = _SOURCES_HEADING.match(line)
        if sources_heading:
            skipping_level = len(sources_heading.group(1))
            continue
        kept.append(line)
    return "\n".join(kept), dropped
