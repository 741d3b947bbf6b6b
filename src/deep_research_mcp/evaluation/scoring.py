"""Scoring one report against one question's gold facts and gold sources.

Everything here is a pure function of the report text, the run's registry (the locators it really retrieved) and the
corpus on disk, so it can judge any engine, not just the offline one.

**Citation accuracy** — the share of cited claims whose every cited document supports them. A claim is the text a
citation marker group (`[2]`, `[1, 3]`) closes: everything since the previous marker group or the paragraph's start.
A document *supports* a claim when the claim is near-verbatim in it: the claim and the document's text are lower-cased
and cut into words (`[a-z0-9]+`, so markup, punctuation and quotes do not matter), and at least
`SUPPORT_THRESHOLD` (90%) of the claim's word trigrams occur in the document; a claim of one or two words must occur
as a contiguous run. So a sentence stitched from two documents, a changed number, or a paraphrase is *not*
supported. A claim citing several documents needs every one of them to support it. Deliberately strict: the bar is
"the cited page says this", which is what a reader checks when following a citation.

**Fact recall** — the share of gold facts for which any pattern matches the report's prose (title, headings and the
Sources section excluded, citation markers removed, whitespace collapsed, case-insensitive): headings of the offline
report repeat the question, and a question's own words must not count as answers.

**Fabricated citations** — markers whose number has no entry in the Sources section, plus Sources entries whose
locator is not in the run's registry. The engine makes these impossible by construction; the scorer checks anyway.

**Gold-source hit rate** — the share of gold files the report cites (and, as a diagnosis of retrieval versus
selection, the share the run retrieved at all).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from .questions import Question

SUPPORT_THRESHOLD = 0.9

_WORD = re.compile(r"[a-z0-9]+")
_MARKER_GROUP = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_SOURCES_HEADING = re.compile(r"^#{1,6}\s*Sources\s*$", re.IGNORECASE)
_SOURCE_LINE = re.compile(r"^(\d+)\.\s+(?:\[[^\]]*\]\((?P<url>[^)\s]+)\)|.*`(?P<path>[^`]+)`\s*)$")
_ANY_SENTENCE = re.compile(r"[a-z0-9]", re.IGNORECASE)


# --- document text -------------------------------------------------------------------------------------------

_SKIP_TAGS = frozenset({"head", "script", "style", "noscript", "template"})
_BREAK_TAGS = frozenset({
    "p", "div", "br", "li", "ul", "ol", "dl", "dt", "dd", "tr", "td", "th", "table", "pre", "h1", "h2", "h3", "h4",
    "h5", "h6", "blockquote", "section", "hr", "title",
})


class _Text(HTMLParser):
    """Visible text with a space at block boundaries. Independent of the engine's own HTML reader on purpose: the
    judge should not share the reading code of the engine it judges."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skipping += 1
        elif tag in _BREAK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BREAK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def document_text(path: Path) -> str:
    """The readable text of a corpus file: visible HTML text, or the file as it is."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() not in (".html", ".htm"):
        return raw
    parser = _Text()
    parser.feed(raw)
    parser.close()
    return "".join(parser.parts)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@dataclass(slots=True)
class DocumentWords:
    """A document prepared for support checks: its word sequence and word trigrams."""

    joined: str
    trigrams: frozenset[tuple[str, str, str]]

    @classmethod
    def of(cls, text: str) -> DocumentWords:
        tokens = words(text)
        return cls(f" {' '.join(tokens)} ", frozenset(zip(tokens, tokens[1:], tokens[2:], strict=False)))


def support(claim: str, document: DocumentWords) -> float:
    """How much of `claim` the document states, 0..1: the share of the claim's word trigrams found in it (a one- or
    two-word claim: 1.0 when it occurs as a contiguous run, else 0.0)."""
    tokens = words(claim)
    if not tokens:
        return 0.0
    if len(tokens) < 3:
        return 1.0 if f" {' '.join(tokens)} " in document.joined else 0.0
    grams = list(zip(tokens, tokens[1:], tokens[2:], strict=False))
    return sum(1 for g in grams if g in document.trigrams) / len(grams)


def supports(claim: str, document: DocumentWords) -> bool:
    return support(claim, document) >= SUPPORT_THRESHOLD


# --- report parsing ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claim:
    text: str
    numbers: tuple[int, ...]  # the report's citation numbers, as written


@dataclass(slots=True)
class ParsedReport:
    prose: str  # body text for fact matching: no title, headings, markers or Sources
    claims: list[Claim]
    uncited: list[str]  # prose sentences no marker closes
    sources: dict[int, str]  # citation number -> locator, from the Sources section


def parse_report(report: str) -> ParsedReport:
    body_lines: list[str] = []
    sources: dict[int, str] = {}
    in_sources = False
    for line in report.splitlines():
        stripped = line.strip()
        if _SOURCES_HEADING.match(stripped):
            in_sources = True
            continue
        if in_sources:
            if stripped.startswith("#"):
                in_sources = False
            else:
                match = _SOURCE_LINE.match(stripped)
                if match:
                    sources[int(match.group(1))] = match.group("url") or match.group("path")
                continue
        if stripped.startswith("#"):
            continue
        body_lines.append(stripped)
    claims: list[Claim] = []
    uncited: list[str] = []
    prose: list[str] = []
    for paragraph in "\n".join(body_lines).split("\n\n"):
        text = " ".join(paragraph.split())
        if not text:
            continue
        position = 0
        for match in _MARKER_GROUP.finditer(text):
            claim = text[position : match.start()].strip().lstrip(".;:,!? ").strip()
            numbers = tuple(int(n) for n in re.split(r"\s*,\s*", match.group(1)))
            if _ANY_SENTENCE.search(claim):
                claims.append(Claim(claim, numbers))
            position = match.end()
        tail = text[position:].strip().lstrip(".;:,!? ").strip()
        if _ANY_SENTENCE.search(tail):
            uncited.append(tail)
        prose.append(_MARKER_GROUP.sub("", text))
    return ParsedReport(" ".join(" ".join(prose).split()), claims, uncited, sources)


# --- one question ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class ClaimVerdict:
    text: str
    locators: list[str]
    support: list[float]  # per cited locator, in order
    supported: bool


@dataclass(slots=True)
class QuestionScore:
    id: str
    split: str
    question: str
    facts_found: list[str] = field(default_factory=list)
    facts_missed: list[str] = field(default_factory=list)
    claims: list[ClaimVerdict] = field(default_factory=list)
    uncited_sentences: int = 0
    fabricated: int = 0
    gold_cited: list[str] = field(default_factory=list)
    gold_retrieved: list[str] = field(default_factory=list)
    gold_total: int = 0
    cited_sources: int = 0
    retrieved_sources: int = 0
    elapsed_s: float = 0.0

    @property
    def fact_recall(self) -> float:
        total = len(self.facts_found) + len(self.facts_missed)
        return len(self.facts_found) / total if total else 0.0

    @property
    def supported_claims(self) -> int:
        return sum(1 for c in self.claims if c.supported)

    @property
    def citation_accuracy(self) -> float:
        # A report that cites nothing has no accurate citations: 0, not a vacuous 1.
        return self.supported_claims / len(self.claims) if self.claims else 0.0

    @property
    def gold_hit_rate(self) -> float:
        return len(self.gold_cited) / self.gold_total if self.gold_total else 0.0


def fact_found(prose: str, patterns: list[str]) -> bool:
    return any(re.search(p, prose, re.IGNORECASE) for p in patterns)


def relative_to(locator: str, corpus: Path) -> str:
    """A locator as a corpus-relative path when it lies under the corpus, else unchanged."""
    try:
        return Path(locator).resolve().relative_to(corpus.resolve()).as_posix()
    except (ValueError, OSError):
        return locator


def score_report(
    question: Question,
    report: str,
    registry: Collection[str],
    corpus: Path,
    *,
    load: Callable[[str], DocumentWords | None] | None = None,
) -> QuestionScore:
    """Score `report` for `question`. `registry` holds the locators the run retrieved; `load` turns a locator into
    its document (default: read it from disk; None when it cannot be read, which makes the claim unsupported)."""
    loader = load or DocumentCache().get
    parsed = parse_report(report)
    score = QuestionScore(question.id, question.split, question.question, gold_total=len(question.gold_sources))
    for fact in question.facts:
        (score.facts_found if fact_found(parsed.prose, fact.patterns) else score.facts_missed).append(fact.fact)
    known = set(registry)
    score.fabricated = sum(1 for locator in parsed.sources.values() if locator not in known)
    for claim in parsed.claims:
        locators = [parsed.sources.get(n) for n in claim.numbers]
        score.fabricated += sum(1 for loc in locators if loc is None)
        shares = []
        for locator in locators:
            document = loader(locator) if locator is not None and locator in known else None
            shares.append(support(claim.text, document) if document is not None else 0.0)
        score.claims.append(ClaimVerdict(claim.text, [loc or "?" for loc in locators], shares,
                                         bool(shares) and all(s >= SUPPORT_THRESHOLD for s in shares)))
    score.uncited_sentences = len(parsed.uncited)
    cited = {relative_to(loc, corpus) for loc in parsed.sources.values()}
    retrieved = {relative_to(loc, corpus) for loc in known}
    score.gold_cited = [g for g in question.gold_sources if g in cited]
    score.gold_retrieved = [g for g in question.gold_sources if g in retrieved]
    score.cited_sources = len(parsed.sources)
    score.retrieved_sources = len(known)
    return score


class DocumentCache:
    """Corpus documents read once per evaluation (several questions cite the same pages)."""

    def __init__(self) -> None:
        self._documents: dict[str, DocumentWords | None] = {}

    def get(self, locator: str) -> DocumentWords | None:
        if locator not in self._documents:
            path = Path(locator)
            try:
                self._documents[locator] = DocumentWords.of(document_text(path)) if path.is_file() else None
            except OSError:
                self._documents[locator] = None
        return self._documents[locator]
