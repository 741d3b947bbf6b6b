"""Scoring one report against one question's gold facts and gold sources.

Everything here is a pure function of the report text, the run's registry (the locators it really retrieved) and the
corpus on disk, so it can judge any engine, not just the offline one.

**Citation accuracy** — the share of cited claims whose every cited document supports them. A claim is the text a
citation marker group (`[2]`, `[1, 3]`) closes: everything since the previous marker group or the paragraph's start.
A document *supports* a claim when ONE passage of it states the claim near-verbatim (`judge`): the claim's words
(lower-cased `\\w+` tokens, so markup, punctuation and quotes do not matter, and an identifier such as `__enter__` stays
one token) must be found in order in one stretch of the page, with at most 10% of the claim's words missing and at
most 10% extra words inside the stretch (none for a claim under ten words). At any length every negation, number and
identifier of the claim must match exactly, and the stretch may hold no unmatched negation, number or identifier. So
a dropped "not", a changed figure, `enter()` for `__enter__()`, two places of one page stitched together, a sentence
stitched from two documents and a paraphrase all fail; a claim of one or two words states nothing checkable and
fails too. `difflib.SequenceMatcher` (standard library) does the in-order alignment. A claim citing several
documents needs every one of them to support it. Deliberately strict: the bar is "the cited page says this, here",
which is what a reader checks when following a citation. The rule and the report parser live in
`engine.support` (the product's own claim check starts from the same rule), imported here so there is one of each.

**Fact recall** — the share of gold facts for which any pattern matches the report's prose as whole words (title,
headings and the Sources section excluded, citation markers removed, whitespace collapsed, case-insensitive; `GIN`
does not match "begin"): headings of the offline report repeat the question, and a question's own words must not
count as answers.

**Fabricated citations** — markers whose number has no entry in the Sources section, plus Sources entries whose
locator is not in the run's registry. The engine makes these impossible by construction; the scorer checks anyway.

**Gold-source hit rate** — the share of gold files the report cites (and, as a diagnosis of retrieval versus
selection, the share the run retrieved at all). **Cited gold share** — the other way round: the share of the
report's sources that are gold pages (a report citing ten pages to find one answer scores low).

**Readability** — defects per kind from `readability.check_report` (raw markup, cut titles, duplicate sources,
fragments, dangling openers, mangled identifiers, long headings, repeated sentences).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from ..engine.support.lexical import (
    MIN_CLAIM_WORDS,
    NEGATIONS,
    SUPPORT_THRESHOLD,
    DocumentWords,
    Judgement,
    judge,
    support,
    supports,
    tokenize,
    words,
)
from ..engine.support.report import Claim, ParsedReport, parse_report
from ..tools.localdocs.index import DEFAULT_MAX_FILE_BYTES as MAX_DOCUMENT_BYTES
from ..tools.localdocs.parsing import document_bytes, document_name, parse_document
from .questions import Question
from .readability import check_report, counts

__all__ = [
    "MIN_CLAIM_WORDS", "NEGATIONS", "SUPPORT_THRESHOLD", "Claim", "DocumentWords", "Judgement", "ParsedReport",
    "judge", "parse_report", "support", "supports", "tokenize", "words",
    # this module's own
    "ClaimVerdict", "DocumentCache", "QuestionScore", "document_text", "fact_found", "relative_to", "score_report",
]


# --- document text -------------------------------------------------------------------------------------------

_SKIP_TAGS = frozenset({"head", "script", "style", "noscript", "template"})
_BREAK_TAGS = frozenset({
    "p", "div", "br", "li", "ul", "ol", "dl", "dt", "dd", "tr", "td", "th", "table", "pre", "h1", "h2", "h3", "h4",
    "h5", "h6", "blockquote", "section", "hr", "title",
})


# Sphinx's "[source]" and "¶" links beside API entries and headings: links elsewhere, not words the page says.
_NAVIGATION_CLASSES = frozenset({"viewcode-link", "headerlink"})


class _Text(HTMLParser):
    """Visible text with a space at block boundaries. Independent of the engine's own HTML reader on purpose: the
    judge should not share the reading code of the engine it judges."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.link: tuple[str, int] | None = None  # a navigation element being skipped: its tag, how deep it nests

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.link is not None:
            if tag == self.link[0]:
                self.link = (tag, self.link[1] + 1)
            return
        if _NAVIGATION_CLASSES & set((dict(attrs).get("class") or "").split()):
            self.link = (tag, 1)
        elif tag in _SKIP_TAGS:
            self.skipping += 1
        elif tag in _BREAK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if self.link is not None:
            if tag == self.link[0]:
                self.link = (tag, self.link[1] - 1) if self.link[1] > 1 else None
            return
        if tag in _SKIP_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BREAK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skipping and self.link is None:
            self.parts.append(data)


def document_text(path: Path) -> str:
    """The readable text of a corpus file: visible HTML text; a text page (AsciiDoc, reStructuredText, markdown)
    as the engine's reader renders it, which is what the page says once its markup is read (git's
    `<<def_repository,repository>>` says "repository", `linkgit:git-clone[1]` says "git-clone(1)") and what the
    engine quotes: judged against the raw file, a faithful quote would fail on the markup's extra words. One
    reader for both (`localdocs.parsing.parse_document`), not a copy of its rules that could drift."""
    name = document_name(path.name) or path.name
    # Debian's x.html.gz is read unpacked, as the engine reads it.
    raw = (document_bytes(path.name, path.read_bytes(), MAX_DOCUMENT_BYTES) or b"").decode("utf-8", errors="replace")
    if Path(name).suffix.lower() not in (".html", ".htm"):
        parsed = parse_document(name, raw)
        return "\n\n".join(part for section in parsed.sections for part in (section.heading, section.body) if part)
    parser = _Text()
    parser.feed(raw)
    parser.close()
    return "".join(parser.parts)


# --- one question ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class ClaimVerdict:
    text: str
    locators: list[str]
    support: list[float]  # per cited locator, in order
    supported: bool
    reasons: list[str] = field(default_factory=list)  # why a cited locator does not support it, when one does not


@dataclass(slots=True)
class QuestionScore:
    id: str
    split: str
    question: str
    facts_found: list[str] = field(default_factory=list)
    facts_missed: list[str] = field(default_factory=list)
    # Missed facts a retrieved page states (the pattern matches its text): lost in reading or selection, not in
    # retrieval. The rest of facts_missed is on pages the run never retrieved.
    missed_on_retrieved: list[str] = field(default_factory=list)
    claims: list[ClaimVerdict] = field(default_factory=list)
    uncited_sentences: int = 0
    fabricated: int = 0
    gold_cited: list[str] = field(default_factory=list)
    gold_retrieved: list[str] = field(default_factory=list)
    gold_total: int = 0
    cited_sources: int = 0
    cited_gold_pages: int = 0  # Sources entries that are gold pages
    retrieved_sources: int = 0
    readability: dict[str, int] = field(default_factory=dict)  # defects per kind (readability.KINDS)
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

    @property
    def cited_gold_share(self) -> float:
        """The share of the report's sources that are pages holding the answer."""
        return self.cited_gold_pages / self.cited_sources if self.cited_sources else 0.0


def fact_found(prose: str, patterns: list[str]) -> bool:
    """Does any pattern match `prose` as whole words? Where a match starts or ends with a word character, the
    neighbouring character must not be one (a plural "s"/"es" aside): `GIN` does not match "begin" but matches
    "GINs", `enter\\(\\)` does not match "__enter__()"."""
    return any(_whole_word_match(p, prose) for p in patterns)


def _whole_word_match(pattern: str, text: str) -> bool:
    for match in re.finditer(pattern, text, re.IGNORECASE):
        start, end = match.start(), match.end()
        if start == end:
            continue
        if _is_word(text[start]) and start > 0 and _is_word(text[start - 1]):
            continue
        if _is_word(text[end - 1]) and end < len(text) and _is_word(text[end]):
            # A plural ending still ends the word: `user mapping` matches "user mappings".
            plural = _PLURAL.match(text, end)
            if plural is None:
                continue
        return True
    return False


_PLURAL = re.compile(r"e?s(?![\w])", re.IGNORECASE)


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


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
    page_text: Callable[[str], str] | None = None,
) -> QuestionScore:
    """Score `report` for `question`. `registry` holds the locators the run retrieved; `load` turns a locator into
    its document (default: read it from disk; None when it cannot be read, which makes the claim unsupported);
    `page_text` a locator into its whitespace-normalised text, to tell where missed facts were lost."""
    documents = DocumentCache()
    loader = load or documents.get
    text_of = page_text or documents.text
    parsed = parse_report(report)
    score = QuestionScore(question.id, question.split, question.question, gold_total=len(question.gold_sources))
    # Code spans are the report's markup, not its words: "forget `<pathspec>` Reset …" states what the page's
    # "forget <pathspec> Reset …" does, and the patterns are written on the page's text.
    prose = parsed.prose.replace("`", "")
    for fact in question.facts:
        (score.facts_found if fact_found(prose, fact.patterns) else score.facts_missed).append(fact.fact)
    known = set(registry)
    score.missed_on_retrieved = [fact.fact for fact in question.facts if fact.fact in score.facts_missed
                                 and any(fact_found(text_of(loc), fact.patterns) for loc in known)]
    score.fabricated = sum(1 for locator in parsed.sources.values() if locator not in known)
    for claim in parsed.claims:
        locators = [parsed.sources.get(n) for n in claim.numbers]
        score.fabricated += sum(1 for loc in locators if loc is None)
        verdicts = []
        for locator in locators:
            document = loader(locator) if locator is not None and locator in known else None
            verdicts.append(judge(claim.text, document) if document is not None
                            else Judgement(0.0, False, "the cited source was not retrieved or cannot be read"))
        score.claims.append(ClaimVerdict(
            claim.text, [loc or "?" for loc in locators], [v.score for v in verdicts],
            bool(verdicts) and all(v.supported for v in verdicts), [v.reason for v in verdicts if not v.supported]))
    score.uncited_sentences = len(parsed.uncited)
    cited = {relative_to(loc, corpus) for loc in parsed.sources.values()}
    retrieved = {relative_to(loc, corpus) for loc in known}
    score.gold_cited = [g for g in question.gold_sources if g in cited]
    score.gold_retrieved = [g for g in question.gold_sources if g in retrieved]
    score.cited_sources = len(parsed.sources)
    gold = set(question.gold_sources)
    score.cited_gold_pages = sum(1 for loc in parsed.sources.values() if relative_to(loc, corpus) in gold)
    score.retrieved_sources = len(known)
    score.readability = counts(check_report(report, [text_of(loc) for loc in parsed.sources.values() if loc in known]))
    return score


class DocumentCache:
    """Corpus documents read once per evaluation (several questions cite the same pages), each page parsed once for
    both of its uses: its words for the support rule (`get`) and its flat text for the fact patterns (`text`)."""

    def __init__(self) -> None:
        self._raw: dict[str, str | None] = {}
        self._documents: dict[str, DocumentWords | None] = {}
        self._flat: dict[str, str] = {}

    def _read(self, locator: str) -> str | None:
        if locator not in self._raw:
            path = Path(locator)
            try:
                self._raw[locator] = document_text(path) if path.is_file() else None
            except OSError:
                self._raw[locator] = None
        return self._raw[locator]

    def get(self, locator: str) -> DocumentWords | None:
        if locator not in self._documents:
            raw = self._read(locator)
            self._documents[locator] = DocumentWords.of(raw) if raw is not None else None
        return self._documents[locator]

    def text(self, locator: str) -> str:
        """The page's text with whitespace runs made one space (patterns are written against sentences, which the
        HTML breaks across lines); "" when it cannot be read."""
        if locator not in self._flat:
            self._flat[locator] = " ".join((self._read(locator) or "").split())
        return self._flat[locator]
