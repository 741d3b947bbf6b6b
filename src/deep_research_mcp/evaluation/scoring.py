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
which is what a reader checks when following a citation.

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
fragments, dangling openers, mangled identifiers, long headings).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from html.parser import HTMLParser
from pathlib import Path

from .questions import Question
from .readability import MARKER_GROUP, SOURCES_HEADING, check_report, counts

SUPPORT_THRESHOLD = 0.9
MIN_CLAIM_WORDS = 3

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


_TOKEN = re.compile(r"\w+")
# Words that flip a sentence's meaning: a claim that drops or adds one of these says the opposite of its page.
NEGATIONS = frozenset({
    "not", "no", "never", "cannot", "without", "neither", "nor", "none", "nothing", "nobody", "nowhere", "t",  # n't
})


def words(text: str) -> list[str]:
    """Lower-cased word tokens. `\\w` keeps underscores, so an identifier stays one token: `__enter__` is not
    `enter`, `select_related` is not `select related`."""
    return _TOKEN.findall(text.lower())


def tokenize(text: str) -> tuple[list[str], list[bool]]:
    """`words(text)` and, per word, whether getting it wrong changes what the sentence says: negations, numbers and
    identifiers (underscores, a call's `(`, a dotted name, a camelCase or backticked word) must match exactly."""
    tokens, flags = [], []
    for match in _TOKEN.finditer(text):
        token, start, end = match.group(), match.start(), match.end()
        tokens.append(token.lower())
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        flags.append(
            token.lower() in NEGATIONS
            or any(c.isdigit() for c in token)
            or "_" in token
            or after == "(" or before == "`" or after == "`"
            or (before == "." and start >= 2 and text[start - 2].isalnum())
            or (after == "." and end + 1 < len(text) and text[end + 1].isalnum())
            or re.search(r"[a-z][A-Z]", token) is not None
        )
    return tokens, flags


@dataclass(slots=True)
class DocumentWords:
    """A document prepared for support checks: its tokens, which of them are critical, and where each word occurs."""

    tokens: list[str]
    critical: list[bool]
    positions: dict[str, list[int]]

    @classmethod
    def of(cls, text: str) -> DocumentWords:
        tokens, critical = tokenize(text)
        positions: dict[str, list[int]] = {}
        for i, token in enumerate(tokens):
            positions.setdefault(token, []).append(i)
        return cls(tokens, critical, positions)


@dataclass(frozen=True, slots=True)
class Judgement:
    """How well one passage of a document states a claim. `score` is the share of the claim's words matched in
    order within that passage (0 when a hard rule fails); `reason` says why a claim is not supported."""

    score: float
    supported: bool
    reason: str = ""


_NOT_FOUND = Judgement(0.0, False, "no passage of the page holds the claim's words")
# Anchors tried per claim, and occurrences tried per anchor: enough for any real claim, bounded for huge pages.
_ANCHORS, _OCCURRENCES = 3, 40


def _slack(n: int) -> int:
    """Words a claim of `n` words may add or leave out and still be the page's sentence: none under ten words."""
    return n // 10


def _align(claim: list[str], window: list[str]) -> list[tuple[int, int, int]]:
    """Matching blocks (claim start, window start, size) of `claim` in `window`, in order, with stray one-word
    matches far from the rest trimmed off the ends (a lone "the" must not stretch the passage)."""
    blocks = [b for b in SequenceMatcher(None, claim, window, autojunk=False).get_matching_blocks() if b.size]
    while len(blocks) > 1 and blocks[0].size == 1 and blocks[1].b - (blocks[0].b + 1) > 2:
        blocks.pop(0)
    while len(blocks) > 1 and blocks[-1].size == 1 and blocks[-1].b - (blocks[-2].b + blocks[-2].size) > 2:
        blocks.pop()
    return [(b.a, b.b, b.size) for b in blocks]


def judge(claim: str, document: DocumentWords) -> Judgement:
    """Does one passage of `document` state `claim`?

    The claim's words must be found in order in ONE stretch of the page, at most 10% of the claim's words may be
    missing from it and at most 10% extra words may sit inside it (none for a claim under ten words, so a short
    claim must be a verbatim run). At any length, every negation, number and identifier of the claim must be
    matched exactly, and the stretch may not hold an unmatched negation, number or identifier: a dropped "not", a
    changed figure, a mangled `__enter__()` or two places of the page stitched together all fail."""
    tokens, critical = tokenize(claim)
    n = len(tokens)
    if n < MIN_CLAIM_WORDS:
        # One or two words state nothing a reader can check: "space" or "VACUUM FULL" is on the page, but not as a
        # claim, and it would pass on any page that mentions it.
        return Judgement(0.0, False, f"a claim of {n} words states nothing checkable")
    present = sorted({t for t in tokens if t in document.positions}, key=lambda t: len(document.positions[t]))
    if not present:
        return _NOT_FOUND
    margin = n // 2 + 5
    best: Judgement = _NOT_FOUND
    tried: set[int] = set()
    for anchor in present[:_ANCHORS]:
        offset = tokens.index(anchor)
        for position in document.positions[anchor][:_OCCURRENCES]:
            start = max(0, position - offset - margin)
            if start in tried:
                continue
            tried.add(start)
            end = min(len(document.tokens), start + n + 2 * margin)
            verdict = _judge_window(tokens, critical, document, start, end)
            if verdict.supported:
                return verdict
            if verdict.score > best.score or best is _NOT_FOUND:
                best = verdict
    return best


def _judge_window(tokens: list[str], critical: list[bool], document: DocumentWords, start: int, end: int) -> Judgement:
    blocks = _align(tokens, document.tokens[start:end])
    if not blocks:
        return _NOT_FOUND
    n = len(tokens)
    matched_claim = {a + k for a, _, size in blocks for k in range(size)}
    matched_doc = {start + b + k for _, b, size in blocks for k in range(size)}
    span_start, span_end = start + blocks[0][1], start + blocks[-1][1] + blocks[-1][2]
    matched = len(matched_claim)
    score = matched / max(n, span_end - span_start)
    for i, token in enumerate(tokens):
        if critical[i] and i not in matched_claim:
            return Judgement(0.0, False, f"the page's passage does not have {token!r} where the claim has it")
    for i in range(span_start, span_end):
        if document.critical[i] and i not in matched_doc:
            return Judgement(0.0, False, f"the claim leaves out {document.tokens[i]!r} from the page's passage")
    missing, extra = n - matched, (span_end - span_start) - matched
    if missing > _slack(n) or extra > _slack(n):
        return Judgement(score, False, f"{missing} words of the claim are not in one passage, {extra} of it skipped")
    return Judgement(score, True)


def support(claim: str, document: DocumentWords) -> float:
    """How much of `claim` one passage of the document states, 0..1 (0 when a negation, number or identifier does
    not match); see `judge` for the rule."""
    return judge(claim, document).score


def supports(claim: str, document: DocumentWords) -> bool:
    return judge(claim, document).supported


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


_FENCE = re.compile(r"^(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
# Brackets inside code (`name[0]`, a fenced sample) are code, not citation markers: hidden while markers are found.
_HIDE = str.maketrans({"[": "\ue000", "]": "\ue001"})
_SHOW = str.maketrans({"\ue000": "[", "\ue001": "]"})


def _hide_code_brackets(text: str) -> str:
    return _CODE_SPAN.sub(lambda m: m.group(0).translate(_HIDE), text)


def parse_report(report: str) -> ParsedReport:
    body_lines: list[str] = []
    code_lines: list[str] = []
    sources: dict[int, str] = {}
    in_sources = False
    fence: str | None = None
    for line in report.splitlines():
        stripped = line.strip()
        opener = _FENCE.match(stripped)
        if fence is not None or opener:
            # A fenced block is code: its text counts for facts, never as a claim; it ends the paragraph before it.
            if fence is None:
                fence = opener.group(1) if opener else None
                body_lines.append("")
            elif stripped.startswith(fence) and not stripped[len(fence):].strip():
                fence = None
            else:
                code_lines.append(stripped)
            continue
        if SOURCES_HEADING.match(stripped):
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
        text = _hide_code_brackets(" ".join(paragraph.split()))
        if not text:
            continue
        position = 0
        for match in MARKER_GROUP.finditer(text):
            claim = text[position : match.start()].strip().lstrip(".;:,!? ").strip().translate(_SHOW)
            numbers = tuple(int(n) for n in re.split(r"\s*,\s*", match.group(1)))
            if _ANY_SENTENCE.search(claim):
                claims.append(Claim(claim, numbers))
            position = match.end()
        tail = text[position:].strip().lstrip(".;:,!? ").strip().translate(_SHOW)
        if _ANY_SENTENCE.search(tail):
            uncited.append(tail)
        prose.append(MARKER_GROUP.sub("", text).translate(_SHOW))
    prose += code_lines
    return ParsedReport(" ".join(" ".join(prose).split()), claims, uncited, sources)


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
    score.readability = counts(check_report(report))
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
