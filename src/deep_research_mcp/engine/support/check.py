"""Does the cited source say what the sentence citing it says? A verdict per cited sentence, with evidence.

No model is needed. A sentence is checked against ONE passage (one sentence or list item) of the text the run read
from its cited source:

1. **supported** outright when the strict lexical rule (`lexical.judge`: the sentence near-verbatim, every negation,
   number and identifier matched) holds somewhere on the page;
2. otherwise the passages sharing most of the sentence's content words are candidates, and a candidate is rejected
   when it lacks one of the sentence's numbers or named entities (capitalised words past the first, all-caps words,
   identifiers; a name may also come from the two passages before or the page's title, for the page's "it"), or when
   the sentence and the stretch of the passage it matches differ in negations ("not", "never",
   "no", "cannot", "n't", "without", ...): a changed figure, a swapped name and a dropped or added "not" fail here
   however similar the rest is;
3. of the candidates left, the share of the sentence's content words the passage holds decides: a word the passage
   lacks still counts most of the way when a word of the passage is close in meaning (static word embeddings from
   `llm.offline.semantic`, shipped in the wordllama wheel), so a lightly reworded sentence stays supported;
   **supported** at `SUPPORTED_COVERAGE` and above, **weak** from `WEAK_COVERAGE` when the whole sentence is also
   close in meaning to the passage (`WEAK_SIMILARITY`), **unsupported** below. A sentence stitched from two places of
   a page, or taken from another page, has no single passage holding enough of it.

A sentence with fewer than two content words states nothing checkable and is **unchecked**, as is one whose cited
sources' text the run did not keep. A claim (the text one citation group closes) may hold several sentences: each
must be supported by some cited source, and the claim's verdict is its weakest sentence's.

All of it is CPU work (tokenizing pages, SequenceMatcher, embeddings): callers run it in a worker thread.
"""

from __future__ import annotations

import functools
import re
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any, Literal

from .lexical import NEGATIONS, TOKEN, DocumentWords, align, judge, tokenize
from .report import Claim, parse_report

Verdict = Literal["supported", "weak", "unsupported", "unchecked"]
_RANK: dict[str, int] = {"unchecked": 3, "supported": 2, "weak": 1, "unsupported": 0}

SUPPORTED_COVERAGE = 0.8
WEAK_COVERAGE = 0.6
WEAK_SIMILARITY = 0.7  # sentence vectors are averaged word vectors: a fair paraphrase scores 0.75-0.9
SYNONYM_SIMILARITY = 0.4  # word vectors: large/big 0.74, allows/lets 0.51, use/utilize 0.43, creates/allows 0.30
SYNONYM_CREDIT = 0.8
CANDIDATES = 6
PARAPHRASE_SIMILARITY = 0.8  # a heavy paraphrase of a passage: weak, not unsupported (see `_paraphrase`)
PARAPHRASE_COVERAGE = 0.4
STITCH_SHARE = 0.5  # of the words a sentence does not share with its passage, found in one other passage: stitched
EVIDENCE_CHARS = 400
MIN_CONTENT_WORDS = 2

_STOPWORD_TEXT = """
a an the and or but if then else of to in on at by for with from into onto over under as is are was were be been being
am do does did done doing has have had having it its this that these those there here which who whom whose what when
where why how than so such can could may might must shall should will would also very just only more most much many
some any each every all both either other another same own about after before between through during above below up
down out off again further once i you he she we they them their our your his her my me us him one s
usually quite highly generally typically often really actually simply especially particularly mostly largely rather
fairly somewhat certainly thus hence therefore instead still even now however
don doesn didn isn aren wasn weren won couldn shouldn wouldn hasn haven hadn mustn
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[`*])")
_BREAK = re.compile(r"\n\s*\n|\n\s*(?:[-*+]|\d+[.)])\s+|\n(?=#)")
_MAX_PASSAGE_WORDS = 120


@functools.lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """The word's Snowball (Porter 2) English stem, cut to six letters: "removing"/"remove", "interprets"/
    "interpreted", "configured"/"configuration" meet. Numbers stay whole. snowballstemmer is the Snowball port
    Sphinx uses for its search index; it runs on PyStemmer's C build (a dependency too) when that is installed."""
    if any(c.isdigit() for c in word):
        return word
    return _english().stemWord(word)[:6]


@functools.cache
def _english() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def negation_flags(text: str) -> list[bool]:
    """Per `\\w+` token of `text`, whether it negates. A lone "t" only does as the end of "n't": in a table, `t` is
    PostgreSQL's "true"."""
    flags = []
    for match in TOKEN.finditer(text):
        token = match.group().lower()
        if token == "t":
            flags.append(match.start() > 0 and text[match.start() - 1] in "'’")
        else:
            flags.append(token in NEGATIONS)
    return flags


@dataclass(slots=True)
class Passage:
    text: str
    tokens: list[str]
    stems: list[str]  # per token; "" for stopwords and negations
    negates: list[bool]  # per token

    @property
    def vocabulary(self) -> frozenset[str]:
        """Every lower-cased token (made when asked: a set per passage would double a prepared page's memory)."""
        return frozenset(self.tokens)


def _content(tokens: Sequence[str]) -> list[str]:
    return ["" if t in STOPWORDS or t in NEGATIONS or (len(t) < 2 and not t.isdigit()) else sys.intern(stem(t))
            for t in tokens]


def content_stems(text: str) -> list[str]:
    """The stems of `text`'s content words (no stopwords, negations or one-letter words), in order."""
    return [s for s in _content(TOKEN.findall(text.lower())) if s]


def split_passages(text: str) -> list[str]:
    """Sentences and list items, long runs without punctuation (tables) cut into pieces."""
    passages: list[str] = []
    # A table row is a passage of its own: run together, one row's "no" was counted against its neighbour's claim
    # ("queue_run_max | of simultaneous queue runners" beside "queue_smtp_domains | no immediate SMTP delivery").
    blocks = [piece for block in _BREAK.split(text) for piece in (_rows_apart(block) if " | " in block else [block])]
    for block in blocks:
        for sentence in _SENTENCE_END.split(" ".join(block.split())):
            words = sentence.split()
            for i in range(0, len(words), _MAX_PASSAGE_WORDS):
                piece = " ".join(words[i : i + _MAX_PASSAGE_WORDS])
                if TOKEN.search(piece):
                    passages.append(piece)
    return passages


def _rows_apart(block: str) -> list[str]:
    """`block` with each table row ("cell | cell") a piece of its own; the lines between rows stay together."""
    pieces: list[str] = []
    prose: list[str] = []
    for line in block.split("\n"):
        if " | " in line:
            pieces += [" ".join(prose), line] if prose else [line]
            prose = []
        else:
            prose.append(line)
    return [*pieces, " ".join(prose)] if prose else pieces


class SourceText:
    """One source's kept text, prepared once: the strict rule's word list and the passages with a stem index."""

    def __init__(self, text: str) -> None:
        self.words = DocumentWords.of(text)
        self.vocabulary = frozenset(self.words.positions)
        self.passages: list[Passage] = []
        self.index: dict[str, list[int]] = {}
        self.whole: dict[tuple[str, ...], int] = {}  # each passage's words: a sentence quoted whole finds its own
        for number, piece in enumerate(split_passages(text)):
            tokens = [sys.intern(t) for t in TOKEN.findall(piece.lower())]
            stems = _content(tokens)
            self.passages.append(Passage(piece, tokens, stems, negation_flags(piece)))
            self.whole.setdefault(tuple(tokens), number)
            for s in set(stems) - {""}:
                self.index.setdefault(s, []).append(number)

    def around(self, number: int) -> frozenset[str]:
        """The words of passage `number`, the two before it and the page's first (its title or heading)."""
        vocabulary = set(self.passages[0].tokens)
        for passage in self.passages[max(0, number - 2) : number + 1]:
            vocabulary.update(passage.tokens)
        return frozenset(vocabulary)


@dataclass(frozen=True, slots=True)
class SentenceCheck:
    sentence: str
    verdict: Verdict
    coverage: float = 0.0  # share of the sentence's content words the evidence holds (near-synonyms counted in part)
    similarity: float = 0.0  # cosine of sentence and evidence embeddings (0 when not computed)
    evidence: str = ""
    source_id: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ClaimCheck:
    """The verdict on one claim (the text one citation group closes), with the passage that best supports it."""

    text: str
    citations: tuple[int, ...]  # as numbered in the report
    source_ids: tuple[str, ...]  # the run's ids of the cited sources
    verdict: Verdict
    evidence: str = ""
    evidence_source: str = ""
    coverage: float = 0.0
    similarity: float = 0.0
    reason: str = ""
    claim: Claim | None = field(default=None, compare=False, repr=False)  # where it sits in the report


@dataclass(slots=True)
class _Features:
    tokens: list[str]
    stems: list[str]  # distinct content stems
    words: dict[str, str]  # content stem -> the sentence's word
    numbers: Counter[str]
    entities: set[str]
    negations: int


def _features(sentence: str) -> _Features:
    tokens, critical = tokenize(sentence)
    stems = _content(tokens)
    words: dict[str, str] = {}
    for token, s in zip(tokens, stems, strict=True):
        if s:
            words.setdefault(s, token)
    numbers = Counter(t for t in tokens if any(c.isdigit() for c in t))
    entities: set[str] = set()
    for i, match in enumerate(TOKEN.finditer(sentence)):
        word, token = match.group(), tokens[i]
        if token in NEGATIONS or token in numbers or (token in STOPWORDS and not word.isupper()):
            continue
        capital = word[0].isupper() and i > 0 and not _after_sentence_end(sentence, match.start())
        if critical[i] or capital or (len(word) > 1 and word.isupper()):
            entities.add(token)
    return _Features(tokens, list(words), words, numbers, entities, sum(negation_flags(sentence)))


def _after_sentence_end(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \"'(*`")
    return not before or before[-1] in ".!?:"


def _plural_in(token: str, vocabulary: frozenset[str]) -> bool:
    return token in vocabulary or f"{token}s" in vocabulary or (token.endswith("s") and token[:-1] in vocabulary)


def _negation_mismatch(features: _Features, passage: Passage) -> bool:
    """Negations in the stretch of the passage the sentence lines up with (two words either side, for "does not"
    before and "whereas cidr does not" after) must be as many as the sentence's. Only that stretch: a "no" in the
    passage's next clause is not the sentence's business. A reworded sentence may move a clause, so what the first
    in-order alignment leaves over is aligned again and the stretch covers both."""
    first = align(features.tokens, passage.tokens)
    matched = {a + k for a, _, size in first for k in range(size)}
    rest = [i for i in range(len(features.tokens)) if i not in matched]
    second = [b for b in align([features.tokens[i] for i in rest], passage.tokens) if b[2] >= 2] if rest else []
    blocks = first + second
    if not blocks:
        return features.negations > 0
    start = min(b for _, b, _ in blocks)
    end = max(b + size for _, b, size in blocks)
    low, high = max(0, start - 2), end + 2
    if any(passage.negates[low:start]) or any(passage.negates[end:high]):  # only then do the bounds matter
        low, high = _slack_within_sentence(passage, start, end)
    return sum(passage.negates[low:high]) != features.negations


_CLAUSE_END = re.compile(r"[.!?;]\s")


def _slack_within_sentence(passage: Passage, start: int, end: int, slack: int = 2) -> tuple[int, int]:
    """Token bounds `slack` words either side of `start:end`, short of a sentence end: the passages of a page whose
    sentences open in lower case ("… when it is not. git commit also invokes git rerere …") are not split there, and
    the sentence before is not the claim's."""
    spans = [m.span() for m in TOKEN.finditer(passage.text)]
    if len(spans) != len(passage.tokens):  # lower-casing changed the tokens: keep the plain bounds
        return max(0, start - slack), end + slack
    def ends_between(a: int, b: int) -> bool:
        return bool(_CLAUSE_END.search(passage.text[spans[a][1] : spans[b][0]]))

    low = start
    while low > max(0, start - slack) and not ends_between(low - 1, low):
        low -= 1
    high = end
    while high < min(len(spans), end + slack) and not ends_between(high - 1, high):
        high += 1
    return low, high


def _soft_matches(missing: list[str], passage: Passage) -> int:
    """How many of the sentence's `missing` words have a word of the passage close in meaning."""
    if not missing:
        return 0
    from ...llm.offline import semantic

    candidates = sorted({t for t, s in zip(passage.tokens, passage.stems, strict=True) if s and not t.isdigit()})
    if not candidates:
        return 0
    try:
        vectors = semantic.embed([*missing, *candidates])
    except semantic.SemanticUnavailable:
        return 0
    sims = vectors[: len(missing)] @ vectors[len(missing) :].T
    return int((sims.max(axis=1) >= SYNONYM_SIMILARITY).sum())


def _similarity(sentence: str, evidence: str) -> float:
    from ...llm.offline import semantic

    return semantic.similarities(sentence, [evidence])[0]


def _ranked(features: _Features, source: SourceText) -> list[int]:
    """The source's passages sharing most of the sentence's content stems (ties: most alike in order), best first."""
    scores: dict[int, int] = {}
    for s in features.stems:
        for number in source.index.get(s, ()):
            scores[number] = scores.get(number, 0) + 1
    closest = sorted(scores, key=lambda n: (-scores[n], n))[: CANDIDATES * 2]
    likeness = {n: SequenceMatcher(None, features.tokens, source.passages[n].tokens, autojunk=False).ratio()
                for n in closest}
    return sorted(closest, key=lambda n: (-scores[n], -likeness[n], n))[:CANDIDATES]


def closest_passages(sentence: str, source: SourceText, count: int = 2) -> list[str]:
    """The `count` passages of the source closest to the sentence: what a judge model is shown."""
    return [_evidence(source.passages[n].text) for n in _ranked(_features(sentence), source)[:count]]


def check_sentence(sentence: str, source: SourceText, source_id: str = "") -> SentenceCheck:
    features = _features(sentence)
    if len(features.stems) < MIN_CONTENT_WORDS:
        return SentenceCheck(sentence, "unchecked", reason="too short to state anything checkable")
    same = source.whole.get(tuple(features.tokens))
    if same is not None:
        # A sentence of the page quoted word for word. A short one shares its few words with many passages, and a
        # closer-ranked one without its "not" read as a contradiction ("The process could not be killed." against
        # "… the process will be killed forcefully"), before its own passage was ever looked at.
        return SentenceCheck(sentence, "supported", 1.0, 1.0, _evidence(source.passages[same].text), source_id)
    ranked = _ranked(features, source)
    # The strict rule allows one word in ten to differ: not when that word is a name the page never uses.
    strict_ok = judge(sentence, source.words).supported and all(
        _plural_in(e, source.vocabulary) for e in features.entities)
    best: SentenceCheck | None = None
    contradicted = False
    loose: list[int] = []  # passages that passed every hard check but hold too few of the sentence's words
    for number in ranked:
        if contradicted:
            # A passage further from the sentence than one that contradicts it cannot vouch for it: the sentence is
            # about the contradicting one ("X is not supplied" must not find support in another "not" nearby).
            break
        passage = source.passages[number]
        verdict = _against(sentence, features, passage, source.around(number), source_id)
        if verdict.verdict == "supported":
            return verdict
        if verdict.reason.startswith(_CONTRADICTION) and verdict.coverage >= SUPPORTED_COVERAGE:
            contradicted = True  # (a passage holding only part of the sentence, cut from a table, does not count)
        if _better(verdict, best):
            best = verdict
        if verdict.reason in _TOO_FEW_WORDS:
            loose.append(number)
    if strict_ok and not contradicted:  # the rule holds, maybe across a passage boundary the splitter drew
        evidence = best.evidence if best else (source.passages[ranked[0]].text if ranked else "")
        return SentenceCheck(sentence, "supported", 1.0, 1.0, _evidence(evidence), source_id)
    if best is not None and best.verdict == "unsupported" and loose and not contradicted:
        return _paraphrase(sentence, features, source, loose, source_id) or best
    return best or SentenceCheck(sentence, "unsupported", source_id=source_id,
                                 reason="no passage of the source shares its content words")


_NOT_ONE_PASSAGE = "no single passage of the source holds most of its words"
_SAYS_ELSE = "the source's closest passage says something else"
_TOO_FEW_WORDS = (_NOT_ONE_PASSAGE, _SAYS_ELSE)


def _paraphrase(sentence: str, features: _Features, source: SourceText, loose: list[int], source_id: str
                ) -> SentenceCheck | None:
    """A heavy paraphrase of one passage, or a sentence stitched from two? Both hold too few of the passage's words,
    and both can read alike to sentence embeddings. What tells them apart: the words a stitched sentence does not
    share with its closest passage are the page's own words from ANOTHER passage, while a paraphrase's are new
    words. So: "weak" (not flagged) when the sentence means nearly what the passage means (`PARAPHRASE_SIMILARITY`),
    shares a good part of its words (`PARAPHRASE_COVERAGE`), and no other single passage holds most of the rest.
    The passage already passed the number, name and negation checks."""
    best: tuple[float, int] | None = None
    for number in loose:
        passage = source.passages[number]
        present = {s for s in passage.stems if s}
        exact = sum(1 for s in features.stems if s in present) / len(features.stems)
        if exact < PARAPHRASE_COVERAGE:
            continue
        similarity = _similarity(sentence, passage.text)
        if similarity >= PARAPHRASE_SIMILARITY and (best is None or similarity > best[0]):
            best = (similarity, number)
    if best is None:
        return None
    similarity, number = best
    present = {s for s in source.passages[number].stems if s}
    rest = [s for s in features.stems if s not in present]
    elsewhere: dict[int, int] = {}
    for s in rest:
        for other in source.index.get(s, ()):
            if abs(other - number) > 1:
                elsewhere[other] = elsewhere.get(other, 0) + 1
    if rest and max(elsewhere.values(), default=0) >= max(2, STITCH_SHARE * len(rest)):
        return None  # the rest of the sentence is another passage's: stitched
    coverage = (len(features.stems) - len(rest)) / len(features.stems)
    return SentenceCheck(sentence, "weak", coverage, similarity, _evidence(source.passages[number].text),
                         source_id, "the source's passage says something close, in other words")


def _better(verdict: SentenceCheck, best: SentenceCheck | None) -> bool:
    """A stronger verdict, or the same verdict with more of the sentence covered."""
    return best is None or _RANK[verdict.verdict] > _RANK[best.verdict] or (
        verdict.verdict == best.verdict and verdict.coverage > best.coverage)


_CONTRADICTION = ("the source's passage does not", "the sentence and the source's passage differ")


def _against(sentence: str, features: _Features, passage: Passage, around: frozenset[str], source_id: str
             ) -> SentenceCheck:
    present = {s for s in passage.stems if s}
    missing = [features.words[s] for s in features.stems if s not in present]
    exact = len(features.stems) - len(missing)
    evidence = _evidence(passage.text)

    def unsupported(reason: str, coverage: float) -> SentenceCheck:
        return SentenceCheck(sentence, "unsupported", coverage, 0.0, evidence, source_id, reason)

    # Counted, not just present: "returns 1 on success and -1 on error" is not "returns 0 on success and -1 ...".
    have = Counter(t for t in passage.tokens if t in features.numbers)
    lost_numbers = sorted(n for n, count in features.numbers.items() if have[n] < count)
    if lost_numbers:
        return unsupported(f"the source's passage does not have {lost_numbers[0]!r}", exact / len(features.stems))
    # A report names what the page calls "it": a name may come from the passages just before, or the page's title.
    lost_entities = sorted(e for e in features.entities if not _plural_in(e, around))
    if lost_entities:
        return unsupported(f"the source's passage does not name {lost_entities[0]!r}", exact / len(features.stems))
    if _negation_mismatch(features, passage):
        return unsupported("the sentence and the source's passage differ in a negation", exact / len(features.stems))
    floor = (exact + SYNONYM_CREDIT * len(missing)) / len(features.stems)
    if floor < WEAK_COVERAGE:  # even if every missing word had a synonym here, too little of it is on this passage
        return unsupported(_NOT_ONE_PASSAGE, exact / len(features.stems))
    # A word from the passages just before or the title (the thing the passage calls "it") counts like a synonym.
    missing = [w for w in missing if not _plural_in(w, around)]
    soft = len(features.stems) - exact - len(missing) + (_soft_matches(missing, passage) if missing else 0)
    coverage = (exact + SYNONYM_CREDIT * soft) / len(features.stems)
    unexplained = len(features.stems) - exact - soft  # words of the sentence with nothing like them in the passage
    if coverage >= SUPPORTED_COVERAGE and unexplained <= max(1, len(features.stems) // 8):
        return SentenceCheck(sentence, "supported", coverage, 0.0, evidence, source_id)
    if coverage >= WEAK_COVERAGE and unexplained <= max(2, len(features.stems) // 4):
        similarity = _similarity(sentence, passage.text)
        if similarity >= WEAK_SIMILARITY:
            return SentenceCheck(sentence, "weak", coverage, similarity, evidence, source_id,
                                 "the source's passage says something close, in other words")
        return SentenceCheck(sentence, "unsupported", coverage, similarity, evidence, source_id, _SAYS_ELSE)
    return unsupported(_NOT_ONE_PASSAGE, coverage)


def _evidence(text: str) -> str:
    return text if len(text) <= EVIDENCE_CHARS else text[: EVIDENCE_CHARS - 1] + "…"


def split_sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


def check_claim(claim: Claim, cited: Sequence[tuple[str, SourceText | None]]) -> ClaimCheck:
    """Each sentence of the claim against each cited source; a sentence takes its best source, the claim its
    weakest sentence."""
    ids = tuple(source_id for source_id, _ in cited)
    readable = [(source_id, text) for source_id, text in cited if text is not None]
    if not readable:
        return ClaimCheck(claim.text, claim.numbers, ids, "unchecked", reason="the cited source's text was not kept",
                          claim=claim)
    worst: SentenceCheck | None = None
    for sentence in split_sentences(claim.text):
        best: SentenceCheck | None = None
        for source_id, text in readable:
            verdict = check_sentence(sentence, text, source_id)
            if _better(verdict, best):
                best = verdict
        assert best is not None
        if worst is None or _RANK[best.verdict] < _RANK[worst.verdict]:
            worst = best
    if worst is None:
        return ClaimCheck(claim.text, claim.numbers, ids, "unchecked", reason="no sentence", claim=claim)
    return ClaimCheck(claim.text, claim.numbers, ids, worst.verdict, worst.evidence, worst.source_id,
                      round(worst.coverage, 3), round(worst.similarity, 3), worst.reason, claim)


def check_report(
    report: str, cited_ids: Sequence[str], texts: Mapping[str, str], prepared: dict[str, SourceText] | None = None
) -> list[ClaimCheck]:
    """Every claim of a finished report. `cited_ids[n - 1]` is the run's id of the source the report cites as [n];
    `texts` holds the text the run read per source id. `prepared` caches each source's prepared text by id across
    checks of one run (the first report and a revised one cite the same pages: tokenized once)."""
    prepared = {} if prepared is None else prepared

    def source(source_id: str) -> SourceText | None:
        if source_id not in prepared and source_id in texts:
            prepared[source_id] = SourceText(texts[source_id])
        return prepared.get(source_id)

    checks: list[ClaimCheck] = []
    for claim in parse_report(report).claims:
        cited = [(cited_ids[n - 1], source(cited_ids[n - 1])) for n in claim.numbers if 0 < n <= len(cited_ids)]
        checks.append(check_claim(claim, cited))
    return checks
