"""Choosing what answers a topic: passages, not isolated sentences, ranked by words and by meaning.

A chosen sentence brings what it needs to be read on its own: the sentence before it when it opens with a pronoun or
a connective ("It must be one of…", "Thus…"), the definition term it stands under ("autovacuum_vacuum_threshold
(integer): Specifies…"), and the items of a list it introduces. Ranking is BM25 over the retrieved sentences (see
`extract.rank`) re-weighted by the cosine similarity of static sentence embeddings (`semantic`; the sentence's own
or, when closer, its section's: `context`), so a sentence that shares the topic's words in another sense ("static
methods" for "static typing") sinks and one that answers in other words rises. Everything is ordered by score, then
by position: the same input always gives the same passages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import context, semantic
from .extract import (
    RELATIVE_FLOOR,
    STOPWORDS,
    asked,
    content_terms,
    flat_words,
    focus,
    holds,
    jaccard,
    rank,
    terms,
    word_set,
    words,
)
from .inline import prose_words
from .units import LABEL_WORDS, Unit, ends_open, is_signature, split_units

MIN_WORDS = 5  # shorter candidates are fragments ("See below.", "Default: 5.")
MAX_FOLLOWERS = 6  # list items brought along by the sentence that introduces them
MAX_PREDECESSORS = 2  # 3 took the room of other answers (tune replay 3.804 -> 3.783)
SHORT_CODE_LINES = 4  # an example a statement brings along without introducing it with a colon
MAX_CODE_LINES = 20  # a longer example is a page of its own, not an answer
# Switches for the replay bench (`bench/replay_selection.py --set select.NAME=False`) to measure each rule alone:
CODE_BEFORE = True  # a sentence pointing at a short example is quoted after it (`_predecessors`)
LEAD_BEFORE_CODE = True  # ... with the lead-in that introduced the example
TERM_BEFORE = True  # a sentence pointing at a term line of its own is quoted as "term: sentence" (`_term_before`)
LEAD_PRIOR = 1.2
TITLE_PRIOR = 0.6
LEXICAL_CAP = 2.0  # a lexical score counts up to twice the reference (third best) score
SEMANTIC_ONLY = 0.9  # a sentence none of whose words match needs near-top similarity to be considered
DUPLICATE_COSINE = 0.95
SEMANTIC_POOL = 300
# Relative to the same reference as `RELATIVE_FLOOR`. 0.2 until session 15; once sentences pointing at code, option
# entries and short finishing sentences could be quoted, a lower floor let their pages' weaker sentences in to
# the notes' end and the report chose among more (tune replay 8.124 -> 8.264, 10 of 15 halves up; reports 5% longer).
TAIL_FLOOR = 0.05
PAGE_MIN_SPREAD = 0.2  # in cosine similarity
PAGE_SUPPORT = 0.7  # how much a page's three best sentences lift each of its sentences
PAGE_PRIOR_LOW, PAGE_PRIOR_SPAN = 0.7, 0.6  # the page whose title means the topic least x0.7, the most x1.3
COVER_BONUS = 0.5  # a sentence naming all of the topic's terms not yet covered counts x1.5
COVER_DEPTH = 80  # how far down the ranking the re-ranking for coverage looks
SEMANTIC_WEIGHT = 0.5  # how far meaning moves a lexical score: x0.5 for the least similar, x1.1 for the most
# A few candidates that all mean about the same (0.78 and 0.77) are not stretched into "closest" and "farthest" when
# meaning weighs a lexical score: with x0.5-x1.1, such noise decided between a reference page and release notes.
SEMANTIC_MIN_SPREAD = 0.15  # in cosine similarity; the candidates of 9 in 10 real topics spread wider
SECTION_CONTEXT = True  # a sentence means the topic at least as much as its section does (`context`)

CHANGELOG_PRIOR = 0.3
# Pages that record what changed in one version: they name every feature once ("Added Paginator.get_page()"), in
# the words of the topic, yet they say what is new rather than how the thing works.
# The titles tools/localdocs/kinds.py counts as a changelog's ("Change history", "Release History Of SQLite").
_CHANGELOG = re.compile(r"\brelease notes?\b|\bchange ?log\b|\bwhat[’']s new\b|\bnews\b|\brelease \d|"
                        r"\bhistory of changes\b|\bchange history\b|\brelease history\b|\bversion history\b|"
                        r"^changes\b|"  # the Pallets projects' (Jinja, Flask, Werkzeug) changelog page: "Changes"
                        r"^[\w.]+-v?\d+(?:\.\d+)+\w*\s*:",  # an announcement: "pytest-2.3.3: integration fixes"
                        re.IGNORECASE)
# A section headed by a version alone ("2.28.1 (2022-06-29)", "Version 8.1.3", "pytest 7.2.0 (2022-10-23)") is one
# release's entry, whatever the page's title: Requests keeps its release history on a page titled "Community Updates".
_VERSION_HEADING = re.compile(
    r"^(?:(?:version|release|v)\s*)?v?\d+(?:\.\d+)+[\w.+-]*(?:\s*\([^)]*\))?$"
    r"|^[\w.-]+\s+v?\d+(?:\.\d+)+[\w.+-]*\s*\([^)]*\d{4}[^)]*\)$",
    re.IGNORECASE,
)
# A topic about what changed wants exactly those pages.
_ASKS_CHANGES = re.compile(r"\b(?:release|releases|changed?|changes|new in|versions?|deprecat\w*|removed|added|"
                           r"upgrad\w*)\b", re.IGNORECASE)
_VERSION_NOTE = re.compile(
    r"^(?:new|changed|deprecated|removed)\s+(?:in|since)\s+version\s+[\w.]+(?:\s*,\s*[\w.]+)*\s*[:.]?\s*", re.I
)
# Openers that mark a sentence's tone, not what it refers to: when what came before cannot be quoted with it (it
# points at code, or has nothing before it), the sentence still reads alone.
_ASIDE = re.compile(r"^\W*(?:actually|of course|indeed|in fact),\s+(?!(?:it|its|this|these|that|those|they|their|them|"
                    r"such)\b)", re.IGNORECASE)
# Openers that point back at the sentence before: pronouns, demonstratives and connectives.
_NEEDS_PREVIOUS = re.compile(
    r"^\W*(?:it|its|this|these|that|those|they|their|them|such|he|she|thus|hence|therefore|however|also|moreover|"
    r"furthermore|otherwise|instead|then|so|but|and|or|nor|consequently|likewise|similarly|accordingly|"
    r"nevertheless|nonetheless|besides|here|both|neither|either|another|in fact|indeed|actually|of course|still|"
    r"again|yet|rather|specifically|namely|in other words|"
    r"the (?:former|latter|same|other|above|previous|rest)|in (?:this|that|such|either|both|these|those) cases?|"
    r"in addition|as a result|for (?:this|that|these) reasons?|for (?:example|instance)|in particular|"
    r"on the other hand|in contrast|by contrast|in this way|conversely|alternatively|as (?:mentioned|noted|"
    r"described|explained|discussed|shown|above|such)|"
    # A sequence word before a pronoun: "First, it can act as …" points back as "It can act as …" does.
    r"(?:first|second|third|finally|next|additionally|by default)\W+(?:it|its|they|their|these|this|them)\b(?!'s\b))\b",
    re.IGNORECASE,
)
# Forward-pointing openers that stand alone ("It is possible to …"); "That is, …" restates the sentence before.
_SELF_CONTAINED = re.compile(r"^\W*it is (?:possible|recommended|important|not possible|also possible|often|"
                             r"usually|best|safe|a good idea)\b"
                             # "It's tempting to …", "It’s almost always better to …", "It is critical that …"
                             r"|^\W*it(?: is|['’]s)(?: (?:almost|nearly|usually|often|generally|also|always|not|"
                             r"very|quite|still|therefore|thus))* (?:necessary|essential|critical|crucial|vital|"
                             r"tempting|advisable|better|preferable|worth|common practice|a (?:good|bad) idea|"
                             r"important|possible|impossible|recommended|safe|safer|best)\b", re.IGNORECASE)
# A pronoun or demonstrative names what came before, which a heading can be; a connective ("Thus", "First, it")
# carries on an argument, which a heading is not.
_NAMES_BACK = re.compile(r"^\W*(?:it|its|this|these|they|their)\b(?!,)", re.IGNORECASE)
_FOLLOWING = re.compile(r"\bthe following\b|:$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Candidate:
    unit: Unit
    owner: str  # source id
    position: int  # index of the unit within its document
    text: str  # what would be quoted: the sentence, with its definition term when it needs one


Passage = list[tuple[str, list[str]]]  # cited sentences that read together, in document order


_OPTION_START = re.compile(r"--?[A-Za-z0-9]")  # a manual page's "-p Produce a … listing." states what -p does


def statement(text: str) -> str:
    """`text` without a leading "New in version 3.5:" note, or "" when nothing else is left or it is the tail of a
    sentence cut by code or markup ("even though there will …")."""
    stripped = _VERSION_NOTE.sub("", text).strip()
    if not stripped or not (stripped[0].isalnum() or stripped[:1] in "`\"'(" or _OPTION_START.match(stripped)):
        return ""
    first = stripped.split(" ", 1)[0]
    if stripped != text.strip() and (first.islower() or needs_previous(stripped)):
        # A version note is about the API entry it stands under: without it, "Changed in version 0.8: This function
        # now ensures …" and "New in version 0.9: added support for …" say nothing of what.
        return ""
    return "" if first.isalpha() and first.islower() and first in _CONTINUATIONS else stripped


_CONTINUATIONS = STOPWORDS | word_set("even though whereas although unless since because than e.g i.e")


def needs_previous(text: str) -> bool:
    return bool(_NEEDS_PREVIOUS.match(text)) and not _SELF_CONTAINED.match(text)


# Last words that leave a lead-in's sentence open: "… a command such as:", "… by issuing:", "… as follows:".
_OPEN_ENDINGS = STOPWORDS | word_set("follows following below like example examples e.g eg i.e ie")
_OPEN_GERUND = re.compile(r"\b(?:by|when|after|before|while)\s+\w+ing\W*$", re.IGNORECASE)


def unfinished(text: str) -> bool:
    """Whether a lead-in's sentence only reads on with what it introduces: its last word cannot end a sentence, it
    ends in "by issuing", or it points at "the following". "… will not see any records, due to the restrictive
    policy:" states its point before the example and reads alone."""
    body = text.rstrip(" .:")
    last = body.rsplit(None, 1)[-1].lower().rstrip(".") if body else ""
    return last in _OPEN_ENDINGS or bool(_OPEN_GERUND.search(body) or _FOLLOWING.search(text))


def introduces(text: str) -> bool:
    return bool(_FOLLOWING.search(text.rstrip(".")) and (text.rstrip().endswith(":") or "following" in text.lower()))


# A command-line option or configuration name on a line of its own ("-Mt <message id> <message id> ...", "`smtp_
# accept_max`"), the way a manual page sets an entry's term above its description.
_TERM_LINE = re.compile(r"^\W{0,2}(?:--?[A-Za-z0-9]|<[\w-]+>|\w+_\w+|`)")


def _term_before(units: list[tuple[str, int, Unit]], index: int) -> str:
    """The term line right before the sentence at `index` that points back at it ("This option requests Exim to
    thaw …" under "-Mt <message id> ..."), or "": what the sentence is quoted with, "term: sentence"."""
    owner, _, unit = units[index]
    if index == 0 or not TERM_BEFORE or unit.label or not needs_previous(unit.text):
        return ""
    before_owner, _, before = units[index - 1]
    text = before.text.strip().rstrip(". ")
    if (before_owner != owner or before.code or before.heading != unit.heading or len(text) > 80
            or prose_words(statement(before.text)) >= MIN_WORDS or not _TERM_LINE.match(text)):
        return ""
    return text


def _labelled(unit: Unit, text: str) -> str:
    """The first sentence under a definition term carries the term when it does not name it itself, or when it
    points back at it ("This parameter …")."""
    if unit.label and unit.first and (needs_previous(text) or not set(words(unit.label)) & set(words(text))
                                      or is_signature(unit.label)):  # "Extend from …" says nothing of what extends
        return f"{unit.label}: {text}"
    return text


def _headed(unit: Unit, text: str) -> str:
    """The first sentence under a short heading of its page carries the heading when it does not name it itself
    ("Higher-scoped fixtures are executed first: Within a function request …"): what the heading says is often the
    fact, and it is nowhere else. Only in the quote, not in ranking: the heading's words already count for the
    sentence as its context, and as sentence words they pushed other answers out (django tune −0.03)."""
    label = heading_label(unit.heading) if unit.opens and not unit.label else ""
    if label and (needs_previous(text) or not _names(text, label)):
        return f"{label}: {text}"
    return text


def _names(text: str, label: str) -> bool:
    """Whether `text` names every word of `label`, a word's first six letters standing for it ("cancelled" names
    "Cancellation")."""
    stems = {t[:6] for t in terms(text)}
    return all(t[:6] in stems for t in content_terms(label))


_NUMBERING = re.compile(r"^(?:[A-Z]?\d+(?:\.\d+)*\.?|[A-Z]\.(?:\d+\.)*)\s+")
_GENERIC_HEADINGS = word_set("introduction overview examples example notes note description synopsis options see also "
                             "details summary discussion usage reference contents")


_ASKING = re.compile(r"^(?:how|what|why|when|where|which|who)\b", re.IGNORECASE)  # "How to run doctests" is a title


def heading_label(heading: str) -> str:
    """A heading as a label for the sentence under it: without its numbering ("F.38.5."), of at most `LABEL_WORDS`
    words, neither a question ("How to …") nor only generic words ("Examples", "See also"); else ""."""
    text = _NUMBERING.sub("", heading.strip()).strip()
    if not text or text.endswith(("?", ":")) or len(text.split()) > LABEL_WORDS or _ASKING.match(text):
        return ""
    if not set(re.findall(r"[a-z]+", text.lower())) - _GENERIC_HEADINGS:
        return ""
    # A number ("Part 0") or a lone name ("SQLITE_OMIT_DISKIO") must come from the sentence's own passage for the
    # claim check to hold it supported: such a heading would make the quote unsupported.
    if re.search(r"\d", text) or (len(text.split()) == 1 and "_" in text):
        return ""
    return text


def cited_sentences(docs: dict[str, tuple[str, str]], topic: str, limit: int = 8) -> list[tuple[str, list[str]]]:
    """`cited_passages` as one list of cited sentences, best passage first (code left out)."""
    return [note for passage in cited_passages(docs, topic, limit) for note in passage if note[1]]


def cited_passages(docs: dict[str, tuple[str, str]], topic: str, limit: int = 8) -> list[Passage]:
    """The passages of `docs` that best answer `topic`, best first, `limit` counting sentences. Each sentence
    carries the ids of the documents that state it word for word (one id per page: the same page held twice is
    cited once)."""
    units: list[tuple[str, int, Unit]] = []  # owner, position, unit
    for source_id, (_, text) in docs.items():
        units += [(source_id, position, unit) for position, unit in enumerate(split_units(text))]
    if not units:
        return []
    candidates, where = candidates_of(units)
    if not candidates:
        return []
    scores, vectors = _scores(docs, candidates, topic)
    order = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))
    order = [i for i in order if scores[i] > 0]
    if not order:
        return []
    # What is relevant at all is judged on the sentence's own score; the page it stands on then orders the rest.
    distinct = list(dict.fromkeys(candidates[i].text for i in order))
    reference = scores[next(i for i in order if candidates[i].text == distinct[min(2, len(distinct) - 1)])]
    kept = {i for i in order if scores[i] >= RELATIVE_FLOOR * reference}
    lifted = _with_page_support(candidates, scores)
    wanted = set(content_terms(asked(topic)))
    covers = [set(terms(c.text)) & wanted for c in candidates]
    order = _covering(sorted(kept, key=lambda i: (-lifted[i], i)), lifted, covers, len(wanted))
    # A topic whose few best sentences stand far above the rest would stop at them: its notes fill up with what
    # clears a lower floor, after everything above the first (pytest tune +0.04 with the other corpora unchanged;
    # lowering the floor itself reordered the best notes and lost postgres 0.02).
    if TAIL_FLOOR < RELATIVE_FLOOR:
        pages = {candidates[i].owner for i in kept}
        order += sorted((i for i in range(len(candidates)) if i not in kept and scores[i] > 0
                         and scores[i] >= TAIL_FLOOR * reference and candidates[i].owner in pages),
                        key=lambda i: (-lifted[i], i))
    return _assemble(docs, units, candidates, where, order, vectors, limit)


def _covering(order: list[int], scores: list[float], covers: list[set[str]], wanted: int) -> list[int]:
    """`order` re-ranked so the parts of a topic all get sentences: each next sentence is the best once its score
    is raised by the share of the topic's terms it names that none ranked above it named ("clickjacking and HTTPS":
    after the clickjacking sentences, one naming HTTPS moves up). Ties keep their order, so it is deterministic."""
    if COVER_BONUS <= 0 or wanted < 2:
        return order
    head, tail = order[:COVER_DEPTH], order[COVER_DEPTH:]
    left = dict.fromkeys(head)
    out: list[int] = []
    covered: set[str] = set()
    while left:
        best = max(left, key=lambda i: (scores[i] * (1 + COVER_BONUS * len(covers[i] - covered) / wanted), -i))
        out.append(best)
        covered |= covers[best]
        del left[best]
    return out + tail


# A section of links to other pages: its items name where to read ("How <Directory>, <Location> and <Files>
# sections work for an explanation of how …", a link's title run into its gloss), they state nothing themselves.
_POINTERS_ONLY = re.compile(r"^\W*(?:see also|related (?:topics|pages|links|information))\W*$", re.IGNORECASE)


def candidates_of(units: list[tuple[str, int, Unit]]) -> tuple[list[Candidate], list[int]]:
    """The sentences of `units` (owner, position, unit) that could be quoted, and where each stands in `units`."""
    candidates: list[Candidate] = []
    where: list[int] = []
    # Overlapping search passages show one page's sentence several times; counted once, a repeat cannot pass for a
    # page that says more (page support) or make its words look common (BM25's document frequencies).
    seen: set[tuple[str, str]] = set()
    for index, (owner, position, unit) in enumerate(units):
        if unit.code or _POINTERS_ONLY.match(unit.heading):
            continue
        text = statement(unit.text)
        if not text or unit.text.rstrip().endswith("?"):
            continue
        text = _labelled(unit, text)
        term = _term_before(units, index)
        if term:
            text = f"{term}: {text}"
        if unit.intro or introduces(text):
            # A lead-in is quoted with the list it merges with, so it is ranked by all of those words.
            merged = _merged_list(units, index, _followers(units, index))
            text = _labelled(unit, merged) if merged else text
        if prose_words(text) < MIN_WORDS or (owner, text) in seen or _DANGLING_DASH.search(text):
            continue
        seen.add((owner, text))
        candidates.append(Candidate(unit, owner, position, text))
        where.append(index)
    return candidates, where


def _with_page_support(candidates: list[Candidate], scores: list[float]) -> list[float]:
    """Scores lifted for pages with several good sentences: a page that answers the topic says so more than once,
    while a page that mentions it in passing has one lucky sentence."""
    if PAGE_SUPPORT <= 0:
        return scores
    best: dict[str, list[float]] = {}
    for candidate, score in zip(candidates, scores, strict=True):
        best.setdefault(candidate.owner, []).append(score)
    # The mean of its three best (a short page: of all it has), so a page is not lifted for merely being long.
    support = {owner: sum(sorted(values, reverse=True)[:3]) / min(3, len(values)) for owner, values in best.items()}
    top = max(support.values()) or 1.0
    return [score * (1 - PAGE_SUPPORT + PAGE_SUPPORT * support[c.owner] / top)
            for c, score in zip(candidates, scores, strict=True)]


def _page_priors(docs: dict[str, tuple[str, str]], query: str) -> dict[str, float]:
    """How much each page is about the topic by its title's meaning, as a weight for its sentences: a page titled
    "Cross Site Request Forgery protection" answers "CSRF for AJAX requests" more than "Django 1.2.5 release
    notes", which uses the same words. Relative to the pages at hand; 1.0 for all when meaning is unavailable."""
    titles = sorted({title for title, _ in docs.values()})
    if len(titles) < 2:
        return {}
    try:
        vectors = semantic.embed([query.replace(": ", " "), *titles])
    except semantic.SemanticUnavailable:
        return {}
    sims = dict(zip(titles, (float(v) for v in vectors[1:] @ vectors[0]), strict=True))
    low, high = min(sims.values()), max(sims.values())
    spread = max(high - low, PAGE_MIN_SPREAD)  # titles that all mean about the same get about the same weight
    return {sid: PAGE_PRIOR_LOW + PAGE_PRIOR_SPAN * (sims[title] - low) / spread for sid, (title, _) in docs.items()}


def _scores(
    docs: dict[str, tuple[str, str]], candidates: list[Candidate], topic: str
) -> tuple[list[float], _Vectors | None]:
    """Lexical relevance re-weighted by meaning: (score per candidate, their unit vectors or None)."""
    query = asked(topic)
    wanted = set(content_terms(query))
    pages = _page_priors(docs, query)
    changelog = 1.0 if _ASKS_CHANGES.search(topic) else CHANGELOG_PRIOR
    contexts: list[str] = []
    priors: list[float] = []
    for candidate in candidates:
        title = docs[candidate.owner][0]
        unit = candidate.unit
        contexts.append(f"{title} {unit.heading} {unit.lead}")
        prior = pages.get(candidate.owner, 1.0)
        if _CHANGELOG.search(title) or _VERSION_HEADING.match(" ".join(unit.heading.split())):
            prior *= changelog
        prior *= LEAD_PRIOR if candidate.position < 3 else 1.0  # pages tend to state their point first
        # A page or section titled with the topic is about it, even where a sentence does not repeat the words.
        prior *= 1 + TITLE_PRIOR * max(focus(title, wanted), focus(unit.heading, wanted))
        priors.append(prior)
    texts = [c.text for c in candidates]
    head = topic.partition(": ")[0] if ": " in topic else ""
    lexical = [0.0] * len(texts)
    for r in rank(texts, query, head=head, contexts=contexts, priors=priors):
        lexical[r.index] = r.score
    top = sorted({s for s in lexical if s > 0}, reverse=True)
    reference = top[min(2, len(top) - 1)] if top else 1.0
    # Meaning is measured for the sentences that match some of the topic's words, or stand under a title or
    # heading that does: enough to re-rank and to admit answers worded differently, at a bounded cost.
    pool = [i for i in range(len(texts)) if lexical[i] > 0 or wanted & set(terms(contexts[i]))]
    pool = sorted(pool, key=lambda i: (-lexical[i], i))[:SEMANTIC_POOL]
    try:
        vectors = semantic.embed([query.replace(": ", " "), *(texts[i] for i in pool)])
    except semantic.SemanticUnavailable:
        return lexical, None
    if not pool:
        return lexical, None
    pooled = vectors[1:] @ vectors[0]
    sims = [0.0] * len(texts)
    for slot, i in enumerate(pool):
        sims[i] = float(pooled[slot])
    ordered = sorted(float(s) for s in pooled)
    middle = ordered[len(ordered) // 2]
    high = ordered[min(len(ordered) - 1, int(len(ordered) * 0.97))]
    spread = max(high - middle, 1e-6)
    slots = {i: slot for slot, i in enumerate(pool)}
    # Meaning in context: "The default is four megabytes." says little alone, its section ("work_mem") says what.
    sectioned = context.section_closeness(
        query.replace(": ", " "), [(c.owner, c.unit.heading, c.unit.label) for c in candidates], texts,
    ) if SECTION_CONTEXT else [0.0] * len(texts)
    out: list[float] = []
    for index, sim in enumerate(sims):
        own = index in slots
        closeness = max(context.scaled(sim, middle, spread) if own else 0.0, sectioned[index])
        if lexical[index] > 0:
            weight = min(LEXICAL_CAP, lexical[index] / reference)
            steady = context.scaled(sim, middle, max(spread, SEMANTIC_MIN_SPREAD)) if own else 0.0
            out.append(weight * (1 - SEMANTIC_WEIGHT + SEMANTIC_WEIGHT * max(steady, sectioned[index])))
        elif closeness >= SEMANTIC_ONLY and head == "":
            out.append(0.3 * closeness * priors[index] / LEAD_PRIOR)
        else:
            out.append(0.0)
    return out, _Vectors(vectors[1:], slots)


@dataclass(frozen=True, slots=True)
class _Vectors:
    """Embeddings of the pooled candidates, by candidate index."""

    rows: Any
    slots: dict[int, int]

    def cosine(self, a: int, b: int) -> float:
        if a not in self.slots or b not in self.slots:
            return 0.0
        return float(self.rows[self.slots[a]] @ self.rows[self.slots[b]])


def _assemble(
    docs: dict[str, tuple[str, str]], units: list[tuple[str, int, Unit]], candidates: list[Candidate],
    where: list[int], order: list[int], vectors: _Vectors | None, limit: int,
) -> list[Passage]:
    passages: list[Passage] = []
    chosen: list[int] = []  # candidates chosen, for near-duplicate checks
    taken: set[int] = set()  # unit indices already quoted
    used = 0
    ends_at: dict[int, int] = {}  # passage (by id) -> the unit it ends with
    bags = [words(c.text) for c in candidates]
    restatements = _Restatements(docs, candidates, order)
    quoted: list[set[str]] = []  # every sentence quoted so far, chosen or brought along
    for ci in order:
        if used >= limit:
            break
        candidate = candidates[ci]
        index = where[ci]
        if index in taken or any(_near(ci, other, bags, vectors) for other in chosen) or any(
                jaccard(bags[ci], bag) >= 0.6 for bag in quoted):
            continue
        before = _predecessors(units, index)
        if before is None and _ASIDE.match(candidate.unit.text):
            before = []  # "Of course, all connections … must be in the same process." says it all itself
        if before is None:
            continue  # "Thus …" with nothing before it to refer to
        followers = _followers(units, index)
        merged, covered = _merge(units, index, followers)
        if merged:
            after = []
        else:  # a list item under five words ("Security overview.") is a name, not a statement, and one that carries
            # on its lead-in's sentence ("… use them: in managers where appropriate.") is not a sentence
            after = [i for i in followers if units[i][2].code or (
                prose_words(_labelled(units[i][2], units[i][2].text)) >= MIN_WORDS
                and bool(statement(units[i][2].text)))]
            # A lead-in whose sentence cannot end where it does promises what must come: "… you can read its
            # progress by issuing:" needs what follows it; "… you'd do the following." ends in a full stop, so only a
            # list or code after it is what it promised (its example was code too long to quote, or none at all).
            promised = candidate.unit.intro or introduces(candidate.unit.text)
            fulfilled = (bool(after) if candidate.unit.intro
                         else any(units[i][2].code or units[i][2].item for i in after))
            if promised and not fulfilled and unfinished(candidate.unit.text):
                continue
            if candidate.unit.intro and after and all(i in taken for i in after):
                continue  # its items are already quoted on their own: alone, "… one of the following:" says nothing
        passage: Passage = []
        quoted_before = [m for m in before if m in taken]
        if quoted_before:
            # What it refers to is already quoted: it reads on only right after it, at the end of that passage.
            host = next((p for p in passages if p and ends_at.get(id(p)) == quoted_before[-1]), None)
            if host is None or before[: len(quoted_before)] != quoted_before:
                continue
            passage = host
            before = before[len(quoted_before):]
        members = [*before, index, *after]
        last_tail = -1
        for position, member in enumerate(members):
            if member in taken:
                continue
            owner, _, unit = units[member]
            if unit.code:
                passage.append((f"```\n{unit.text}\n```", []))  # uncited: the sentence before it cites the page
                taken.add(member)
                continue
            text = candidate.text if member == index else _labelled(unit, statement(unit.text) or unit.text)
            introduced = after if member == index else members[position + 1:position + 2]
            if unit.intro and introduced and text.endswith("."):
                text = text[:-1] + ":"  # "… such as:" before the items or the code it introduces
            if member == index and merged:
                text = _labelled(unit, merged)  # "Ancestors (MRO): This view inherits … from the following views: …"
                taken.update(covered)
            ids = [owner]
            if member == index:
                ids += restatements.of(ci)
            headed = _headed(unit, text)
            if headed != text:
                ids, text = [owner], headed  # the heading is this page's: another page stating the sentence has its own
            tail = [] if text.endswith(":") else _short_tail(units, member, set(members) | taken)
            if tail:
                ids, text = [owner], " ".join([text, *(units[t][2].text for t in tail)])
                taken.update(tail)
                last_tail = max(last_tail, tail[-1])
            passage.append((text, ids))
            quoted.append(words(text))
            taken.add(member)
            used += 1
        if passage:
            ends_at[id(passage)] = max((m for m in [*before, index, *after, last_tail] if m in taken), default=index)
            if all(p is not passage for p in passages):
                passages.append(passage)
            chosen.append(ci)
    return passages


# How a short sentence that only finishes the one before it opens: with what it is ("Default: 8.", "Type: int."), or
# with no subject of its own ("Defaults to false.", "Do not use.", "Set app.json.sort_keys instead.").
_FINISHING = re.compile(r"^(?:(?:default|type|values?|range|units?|since|example|added|changed|deprecated)\b\s*:|"
                        r"(?:defaults?|do|does|set|use|see|must|should|can|cannot|may|only|not|never|always|implies|"
                        r"requires|ignored|validated|deprecated|removed|added|overrides|enabled|disabled)\b)",
                        re.IGNORECASE)
MAX_TAIL = 2  # short sentences a quoted sentence takes along ("Default: 16384.", "It is OFF by default.")


def _short_tail(units: list[tuple[str, int, Unit]], index: int, taken: set[int]) -> list[int]:
    """The sentences right after `index` in its paragraph too short to be quoted alone (under `MIN_WORDS` words:
    "Default: 8.", "This is the default.", "Set app.json.sort_keys instead."): they finish what it says, so it
    quotes them with it, as one claim."""
    if MAX_TAIL <= 0:
        return []
    owner, _, unit = units[index]
    out: list[int] = []
    for after in range(index + 1, min(len(units), index + 1 + MAX_TAIL)):
        other_owner, _, other = units[after]
        if (after in taken or other_owner != owner or other.code or other.paragraph != unit.paragraph
                or other.heading != unit.heading or other.intro or not statement(other.text)
                or prose_words(other.text) >= MIN_WORDS or unfinished(other.text)
                or not (needs_previous(other.text) or _FINISHING.match(other.text))):
            break  # "For example, if." was cut short by markup; "Brittany has many beaches." says something else
        out.append(after)
    return out


def _near(a: int, b: int, bags: list[set[str]], vectors: _Vectors | None) -> bool:
    if jaccard(bags[a], bags[b]) >= 0.6:
        return True
    if vectors is None:
        return False
    return vectors.cosine(a, b) >= DUPLICATE_COSINE


def _predecessors(units: list[tuple[str, int, Unit]], index: int) -> list[int] | None:
    """The sentences `index` needs before it (at most `MAX_PREDECESSORS`), or None when it needs one that is not
    there."""
    out: list[int] = []
    current = index
    while len(out) < MAX_PREDECESSORS:
        owner, _, unit = units[current]
        if not needs_previous(unit.text) or (unit.label and unit.first):
            return out
        if current == index and _term_before(units, index):
            return out  # quoted with the term it describes
        if unit.opens and not unit.label and _NAMES_BACK.match(unit.text) and heading_label(unit.heading):
            # "My First Blueprint: This is what a very basic blueprint looks like.": the first sentence under a
            # short heading points at it, and is quoted with it (`_headed`). Tune replay +0.028, node +0.018.
            return out
        previous = current - 1
        while previous >= 0 and units[previous][0] == owner and not units[previous][2].code and not statement(
                units[previous][2].text):
            previous -= 1  # a version note between them ("New in version 3.11.") is not what it points at
        if previous < 0 or units[previous][0] != owner or units[previous][2].heading != unit.heading:
            return None
        if units[previous][2].code:
            # "This prints …" after code points at the code: quoted before it as a block, when short enough to be
            # an example, it is what the sentence refers to (tune halves +0.16 recall in sum, 14 of 15 halves).
            if not CODE_BEFORE or units[previous][2].text.count("\n") >= MAX_CODE_LINES:
                return None
            out.insert(0, previous)
            lead = previous - 1  # what introduced the example ("The default setting is:") reads before it
            if (LEAD_BEFORE_CODE and lead >= 0 and units[lead][0] == owner and units[lead][2].heading == unit.heading
                    and not units[lead][2].code and units[lead][2].intro and not needs_previous(units[lead][2].text)
                    and prose_words(statement(units[lead][2].text)) >= MIN_WORDS):
                out.insert(0, lead)
            return out
        if prose_words(statement(units[previous][2].text)) < MIN_WORDS:
            # What it points at is a heading-like fragment ("MCV Lists."), not a statement; or becomes one once its
            # version note goes ("Deprecated since version 3.4: Do not use.").
            return None
        out.insert(0, previous)
        current = previous
    return out if not needs_previous(units[current][2].text) else None


def _followers(units: list[tuple[str, int, Unit]], index: int) -> list[int]:
    """What a sentence that introduces something brings along: the items of the list (or definition list) right
    after it, each item's first sentence only; or, when no list follows, the next paragraph's first sentence. Any
    other sentence brings a short example that follows it right away."""
    owner, _, unit = units[index]
    if not introduces(unit.text) and not unit.intro:
        # A short example right after a statement shows what it says ("… with --doctest-modules." then the
        # command): the statement brings it, so the names in it are quoted too.
        after = index + 1
        if (after < len(units) and units[after][0] == owner and units[after][2].code
                and units[after][2].heading == unit.heading and units[after][2].text.count("\n") < SHORT_CODE_LINES):
            return [after]
        return []
    out: list[int] = []
    last = unit
    for follower in range(index + 1, min(len(units), index + 1 + 4 * MAX_FOLLOWERS)):
        other_owner, _, other = units[follower]
        if other_owner != owner or other.heading != unit.heading:
            break
        if other.code:
            # Code right after a lead-in ("Create a task like this:") is what it introduces, when short enough.
            if not out and unit.intro and other.text.count("\n") < MAX_CODE_LINES:
                out.append(follower)
            break
        if other.paragraph == last.paragraph:
            continue  # the rest of an item's paragraph: its first sentence names it
        # A definition term takes a block of its own; code or a table between means what follows is something else.
        if other.paragraph > last.paragraph + (2 if other.label and other.first else 1):
            break
        entry = other.item or bool(other.label and other.first)  # a list item, or a definition list's entry
        if not entry and len(other.text.split()) < MIN_WORDS:
            break  # "When DEBUG is True." after a lead-in is a fragment, not what it introduced
        if out and not entry:
            break  # a paragraph after the list is no longer part of it
        out.append(follower)
        last = other
        if not entry or other.intro or len(out) >= MAX_FOLLOWERS:
            break
    return out


def _merged_list(units: list[tuple[str, int, Unit]], index: int, items: list[int]) -> str:
    """A lead-in and its list as one sentence, in the page's order, or "": bare names ("… provides several index
    types: B-tree, Hash, GiST."), or items that carry on its sentence ("… in the following way: by scanning …; by
    loading …")."""
    return _merge(units, index, items)[0]


def _merge(units: list[tuple[str, int, Unit]], index: int, items: list[int]) -> tuple[str, list[int]]:
    """`_merged_list` and the units the merged sentence quotes."""
    unit = units[index][2]
    if not items or not all(units[i][2].item for i in items):
        return "", []
    if items[0] == index + 1 and all(_carries_on(units[i][2]) for i in items):
        return _merged_items(units, index, items)
    names = [units[i][2].text.rstrip(".") for i in items]
    if any(prose_words(name) >= MIN_WORDS for name in names):
        return "", []
    return f"{unit.text.rstrip('.')}: {', '.join(names)}.", list(items)


MAX_MERGED_WORDS = 90


def _carries_on(unit: Unit) -> bool:
    """A list item that continues its lead-in's sentence ("by scanning …")."""
    return not unit.code and unit.text[:1].islower() and not statement(unit.text)


def _merged_items(units: list[tuple[str, int, Unit]], index: int, items: list[int]) -> tuple[str, list[int]]:
    """The lead-in with whole items (every sentence of each), as many as fit in `MAX_MERGED_WORDS`, stopping where
    anything but the next item follows: the sentence reads the page's words in order with nothing left out."""
    owner = units[index][0]
    lead = units[index][2].text.rstrip(".:")
    pieces: list[str] = []
    covered: list[int] = []
    expected = index + 1
    for item in items:
        if item != expected:
            break
        sentences = [item]
        while (sentences[-1] + 1 < len(units) and units[sentences[-1] + 1][0] == owner
               and units[sentences[-1] + 1][2].paragraph == units[item][2].paragraph
               and not units[sentences[-1] + 1][2].code):
            sentences.append(sentences[-1] + 1)
        # One sentence in the end: an item's own sentences are joined like the items, so no full stop splits it.
        piece = "; ".join(units[i][2].text.rstrip(".;, ") for i in sentences)
        if len(" ".join([lead, *pieces, piece]).split()) > MAX_MERGED_WORDS:
            break
        pieces.append(piece)
        covered += sentences
        expected = sentences[-1] + 1
    if not pieces or all(_DANGLING_DASH.search(piece) for piece in pieces):
        return "", []  # "Parameters: args (Any) –, kwargs (Any) –": names whose descriptions are empty say nothing
    # A lead-in that runs on into its items ("… any table in an SQLite schema that" / "is not a virtual table, and" /
    # "is not a WITHOUT ROWID table.") reads as one sentence with no colon, and an item ending in "and" runs on too.
    text = lead + (" " if ends_open(units[index][2].text) else ": ")
    for number, piece in enumerate(pieces):
        if number:
            text += " " if re.search(r"\b(?:and|or)$", pieces[number - 1]) else "; "
        text += piece
    return f"{text}.", covered


_DANGLING_DASH = re.compile(r"\s[–—-]\W*$")


class _Restatements:
    """Other documents that state a chosen sentence word for word, one per page and at most two. Every candidate's
    words are flattened once and scanned in one order (ranked candidates first): asked afresh for each chosen
    sentence, that was a tenth of a long page's research time."""

    def __init__(self, docs: dict[str, tuple[str, str]], candidates: list[Candidate], order: list[int]) -> None:
        self.docs, self.candidates = docs, candidates
        ranked = set(order)
        self.scan = sorted(range(len(candidates)), key=lambda i: (i not in ranked, i))
        self.flat: list[str | None] = [None] * len(candidates)

    def _flat(self, index: int) -> str:
        flat = self.flat[index]
        if flat is None:
            flat = self.flat[index] = flat_words(self.candidates[index].text)
        return flat

    def of(self, ci: int) -> list[str]:
        owner = self.candidates[ci].owner
        sentence = self._flat(ci)
        seen_titles = {self.docs[owner][0].strip().lower()}
        out: list[str] = []
        for other in self.scan:
            candidate = self.candidates[other]
            if other == ci or candidate.owner == owner or candidate.owner in out:
                continue
            title = self.docs[candidate.owner][0].strip().lower()
            if title in seen_titles or not holds(self._flat(other), sentence):
                continue
            seen_titles.add(title)
            out.append(candidate.owner)
            if len(out) == 2:
                break
        return out
