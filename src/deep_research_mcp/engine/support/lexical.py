"""The strict lexical support rule: does ONE passage of a page state a claim near-verbatim?

A claim's words (lower-cased `\\w+` tokens, so markup, punctuation and quotes do not matter, and an identifier such as
`__enter__` stays one token) must be found in order in one stretch of the page, with at most 10% of the claim's words
missing and at most 10% extra words inside the stretch (none for a claim under ten words). At any length every
negation, number and identifier of the claim must match exactly, and the stretch may hold no unmatched negation,
number or identifier. `difflib.SequenceMatcher` (standard library) does the in-order alignment.

Shared by the engine's claim check (where passing it means "supported" outright) and the evaluation's citation
accuracy (where it is the whole rule), so the two can never drift apart.
"""

from __future__ import annotations

import re
import sys
from array import array
from dataclasses import dataclass
from difflib import SequenceMatcher

SUPPORT_THRESHOLD = 0.9
MIN_CLAIM_WORDS = 3

TOKEN = re.compile(r"\w+")
# Words that flip a sentence's meaning: a claim that drops or adds one of these says the opposite of its page.
NEGATIONS = frozenset({
    "not", "no", "never", "cannot", "without", "neither", "nor", "none", "nothing", "nobody", "nowhere", "t",  # n't
})


def words(text: str) -> list[str]:
    """Lower-cased word tokens. `\\w` keeps underscores, so an identifier stays one token: `__enter__` is not
    `enter`, `select_related` is not `select related`."""
    return TOKEN.findall(text.lower())


def tokenize(text: str) -> tuple[list[str], list[bool]]:
    """`words(text)` and, per word, whether getting it wrong changes what the sentence says: negations, numbers and
    identifiers (underscores, a call's `(`, a dotted name, a camelCase or backticked word) must match exactly."""
    tokens, flags = [], []
    size = len(text)
    for match in TOKEN.finditer(text):
        token = match.group()
        start, end = match.span()
        lower = token.lower()
        tokens.append(sys.intern(lower))  # a page repeats its words: one string each, not per use
        before = text[start - 1] if start else " "
        after = text[end] if end < size else " "
        flags.append(
            lower in NEGATIONS
            # Letters only (most words) hold no digit or underscore: the per-character test is for the rest.
            or (not token.isalpha() and (any(c.isdigit() for c in token) or "_" in token))
            or after == "(" or before == "`" or after == "`"
            or (before == "." and start >= 2 and text[start - 2].isalnum())
            or (after == "." and end + 1 < size and text[end + 1].isalnum())
            or (lower != token and _CAMEL.search(token) is not None)
        )
    return tokens, flags


_CAMEL = re.compile(r"[a-z][A-Z]")


@dataclass(slots=True)
class DocumentWords:
    """A document prepared for support checks: its tokens, which of them are critical, and where each word occurs."""

    tokens: list[str]
    critical: list[bool]
    positions: dict[str, array[int]]  # machine ints, not int objects: a long page has a million positions

    @classmethod
    def of(cls, text: str) -> DocumentWords:
        tokens, critical = tokenize(text)
        positions: dict[str, array[int]] = {}
        for i, token in enumerate(tokens):
            positions.setdefault(token, array("i")).append(i)
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


def align(claim: list[str], window: list[str]) -> list[tuple[int, int, int]]:
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
    blocks = align(tokens, document.tokens[start:end])
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
