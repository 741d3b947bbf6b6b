"""Query expansion from the first results (pseudo-relevance feedback): what the documents call the thing a topic
asks about.

A question is phrased in the asker's words ("tests that pass and fail intermittently", "password strength rules"),
the documentation in its own ("flaky tests", `AUTH_PASSWORD_VALIDATORS`). After a topic's own searches, the
documents they ranked highest are taken as relevant, and the words those documents use often, and the rest of what
was shown does not, become the expansion: their titles and headings, their distinctive terms and the identifiers
they name. The researcher then searches once more with the topic's most specific words and the best of them.

The words are learnt from the retrieved text alone, in a fixed order with fixed tie-breaks: the same results give
the same expansion, and nothing is looked up anywhere else.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Sequence

from .extract import GENERIC, STOPWORDS, content_terms, stem, without_scope, word_set
from .units import split_units

FEEDBACK_DOCUMENTS = 3  # the documents the first searches ranked highest, taken as relevant
EXPANSION_TERMS = 6
QUERY_TERMS = 2  # expansion words added to the feedback search: three matched more pages of no use on tune
MIN_SUPPORT = 2  # a word must occur this often in one relevant document (title and heading words count extra)
HEADING_WEIGHT = 1.5  # a title or heading word says what the passages under it are about
IDENTIFIER_WEIGHT = 1.5  # a name of the documented thing (`AUTH_PASSWORD_VALIDATORS`, `--doctest-modules`)

# Words that say nothing about any one subject, whatever page they are on.
_PLAIN = word_set(
    """also used using use uses example examples following default defaults value values see note notes may can
    new one two first second section chapter page pages documentation docs version versions set sets provide
    provides provided allows allow allowed called call calls way ways without within option options case cases
    instead however rather simply usually often always never need needs needed want wants like just even still
    already since whether order specific specified specify given give gives returns return returned true false
    none object objects thing things mean means different other others another available several many much more
    most less least only well number numbers part parts type types kind kinds time times run runs running i.e
    e.g etc"""
)
# A word as written: an option ("--doctest-modules"), or a word with inner dots, dashes or underscores and an
# optional call ("settings.PASSWORD_HASHERS", "get_result()"); sentence punctuation is not part of it.
_WORD = re.compile(r"--?[a-z][\w-]*\w|[A-Za-z_][\w-]*(?:\.[\w-]+)*\w(?:\(\))?")
_IDENTIFIER = re.compile(r"^(?:--?[a-z][\w-]+|\w+(?:[._]\w+)+(?:\(\))?|[a-z]+[A-Z]\w*|[A-Z][a-z]+[A-Z]\w*|\w+\(\))$")

Document = tuple[str, str]  # (title, text) as shown


def learn(topic: str, results: Sequence[Sequence[Document]], limit: int = EXPANSION_TERMS) -> list[str]:
    """The documents' own words for `topic`, best first, spelt as they are there (at most `limit`).

    `results` holds, per search the topic made, the documents it returned, best first. A document weighs
    1/(1 + its rank) in every search that returned it, so the one every search put first counts most; the
    `FEEDBACK_DOCUMENTS` heaviest stand for the relevant text. A word scores by its share of each of those
    documents' words (title and heading words `HEADING_WEIGHT`, identifiers `IDENTIFIER_WEIGHT`), weighted like
    its document, times how rare it is among all documents shown, so a word every page uses gains little. It must
    occur `MIN_SUPPORT` times in one relevant document, which keeps one sentence's accidents out; the topic's own
    words are left out."""
    own = set(content_terms(without_scope(topic)))
    weights: dict[Document, float] = {}
    for found in results:
        for position, document in enumerate(found):
            weights[document] = weights.get(document, 0.0) + 1 / (1 + position)
    if not own or not weights:
        return []
    bags = {document: _bag(*document) for document in weights}
    frequency: Counter[str] = Counter(key for bag in bags.values() for key in bag)
    shown = list(weights)  # in the order first shown, which breaks ties
    top = sorted(shown, key=lambda d: (-weights[d], shown.index(d)))[:FEEDBACK_DOCUMENTS]
    scored: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for document in top:
        bag = bags[document]
        size = sum(count for count, _ in bag.values()) or 1.0
        for key, (count, forms) in bag.items():
            if key in own or count < MIN_SUPPORT:
                continue
            scored[key] += weights[document] * count / size * math.log(1 + len(bags) / frequency[key])
            spellings.setdefault(key, Counter()).update(forms)
    chosen = sorted(scored, key=lambda k: (-scored[k], k))[:limit]
    return [_written(spellings[key]) for key in chosen]


@functools.lru_cache(maxsize=2_048)
def _bag(title: str, text: str) -> dict[str, tuple[float, Counter[str]]]:
    """The candidate words of one document: stem -> (weighted count, spellings). Cached, so read only: every
    researcher of a run makes the same scout search and learns from the same documents."""
    bag: dict[str, tuple[float, Counter[str]]] = {}

    def add(part: str, weight: float) -> None:
        for key, word in _candidates(part):
            count, forms = bag.get(key, (0.0, Counter()))
            forms[word] += 1
            bag[key] = (count + weight * (IDENTIFIER_WEIGHT if _IDENTIFIER.match(word) else 1.0), forms)

    headings: list[str] = []
    for unit in split_units(text):
        if unit.code:
            continue
        if unit.heading and unit.heading not in headings:
            headings.append(unit.heading)
        add(unit.text, 1.0)
    for label in dict.fromkeys([title, *headings]):
        add(label, HEADING_WEIGHT)
    return bag


def _candidates(text: str) -> list[tuple[str, str]]:
    """(stem, word as written) of every word of `text` that could name something: no stopwords, question
    scaffolding, words of any page, figures or section numbers ("F.38.7"), nothing under three letters."""
    out: list[tuple[str, str]] = []
    for word in _WORD.findall(text):
        low = word.lower()
        if low in STOPWORDS or low in GENERIC or low in _PLAIN or sum(c.isalpha() for c in low) < 3:
            continue
        out.append((stem(low), word))
    return out


def _written(forms: Counter[str]) -> str:
    """The most frequent spelling of a word, ties to the first in alphabetical order."""
    return sorted(forms, key=lambda w: (-forms[w], w))[0]


def expanded_query(expansion: Sequence[str], subject: Sequence[str], asked: Sequence[str]) -> str | None:
    """A search in the documents' words: the topic's most specific words (`subject`) and the best `QUERY_TERMS`
    expansion words; None when there are none or it would repeat a search already made."""
    if not expansion:
        return None
    query = " ".join([*subject, *expansion[:QUERY_TERMS]])
    if any(set(content_terms(query)) == set(content_terms(q)) for q in asked):
        return None
    return query


# --- the first results, as a researcher was shown them ----------------------------------------------------------

_SHOWN = re.compile(
    r'^<document id="(S\d+)">\nTitle: ([^\n]*)\nLocation: [^\n]*\n\n(.*?)\n</document>'
    r"|^\[(S\d+)\] \(already shown above\)",
    re.MULTILINE | re.DOTALL,
)


def results_of(blocks: Sequence[str]) -> list[list[Document]]:
    """Per tool result (the text a researcher was shown for one call), its documents in the order shown. A
    document shown again appears by id only; it counts again, with the text first shown."""
    known: dict[str, Document] = {}
    out: list[list[Document]] = []
    for block in blocks:
        found: list[Document] = []
        for source_id, title, text, again in _SHOWN.findall(block):
            if source_id:
                known.setdefault(source_id, (title.strip(), text))
                found.append(known[source_id])
            elif again in known:
                found.append(known[again])
        out.append(found)
    return out
