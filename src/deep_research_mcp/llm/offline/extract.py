"""Extractive reading without a model: crude stemming, BM25-style ranking, and the helpers that read a researcher's
transcript and topics (its documents, an ask's scope and carried words). Splitting a page into sentences is `units`'s
job, cleaning its inline markup `inline`'s.

Everything here works on the few documents one researcher retrieved, never on a whole corpus, so simple
per-call statistics (document frequencies over the candidate sentences) are both cheap and good enough.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ... import prompts

# Hyphenated, dotted and snake_case compounds stay one token ("deep-research-mcp" is a name, not three words).
TOKEN = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")
_PART = re.compile(r"[-_.]")


def word_set(text: str) -> frozenset[str]:
    """A word list written as one string, so long lists stay readable."""
    return frozenset(text.split())


STOPWORDS = word_set(
    """a about above after again against all also am an and any are aren as at be because been before being below
    between both but by can cannot could did didn do does doesn doing don down during each either else ever every few
    for from further get gets got had has have having he her here hers herself him himself his how i if in into is isn
    it its itself just let me might more most much must my myself need no nor not now of off on once one only or other
    our ours out over own per please same shall she should so some such than that the their theirs them themselves
    then there these they this those through thus to too under until up upon us very via was wasn we were what when
    where whether which while who whom whose why will with within without would yet you your yours"""
)
# Question scaffolding: words that shape a request but say nothing about its subject.
GENERIC = word_set(
    """compare compared comparing comparison difference differences differ differs distinguish explain describe
    overview tell know want like way ways thing things work works working mean means meaning versus vs kind kinds
    type types main key major primary important example examples better best worse worst list give show find
    happen happens happened use used using handle handles handled handling keep keeps kept make makes made
    making ensure ensures deal deals dealt"""
)
_ALNUM = re.compile(r"[a-z0-9]+")
_ANAPHORA = re.compile(r"^(?:it|its|this|these|that|those|they|their|he|she|his|her)\b", re.IGNORECASE)
_BOILERPLATE = re.compile(r"^(?:see|read|click|visit|learn more|for more|check out|subscribe|sign up)\b", re.IGNORECASE)
PASSAGE_BREAK = prompts.ELISION  # between two passages of one page shown apart (`documents`)
_UNIT = re.compile(
    r"\d(?:[\d.,]*)\s?(?:%|percent|[kmgt]?w\b|[kmgt]wh\b|km\b|cm\b|mm\b|m\b|kg\b|g\b|t\b|ms\b|s\b|sec|seconds?\b|"
    r"minutes?\b|hours?\b|days?\b|weeks?\b|months?\b|years?\b|°|[kmgt]b\b|usd\b|eur\b|tokens?\b|chars?\b|"
    r"characters\b|times\b|x\b)|[$€£]\s?\d",
    re.IGNORECASE,
)
_CODE_LIKE = re.compile(r"`[^`]+`|\b\w+_\w+\b|\b[a-z]+[A-Z]\w*\b|\b\w+\(\)|(?<!\w)--?[a-z][\w-]+|\b\w+\.\w+\(")
_PROPER = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z]{2,}")


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Crude suffix stripping so "stores", "stored", "storing" and "store" meet; not a linguistic stemmer."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ings") and len(word) > 6:
        word = word[:-1]  # "settings", "warnings" meet "setting" and "warning", which meet "set" and "warn"
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("ing") and len(word) > 5:
        word = _undoubled(word[:-3])
    elif word.endswith("ed") and len(word) > 4:
        word = _undoubled(word[:-2])
    elif word.endswith("es") and len(word) > 4 and word[-3] in "sxzh":
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def _undoubled(stem: str) -> str:
    """"stopp" (stopping, stopped) is "stop", "sett" is "set", "committ" is "commit"; "fall", "pass", "buzz" and
    "add" (whose "ad" would be too short to tell apart) keep their pair."""
    if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "aeiouylsz":
        return stem[:-1]
    return stem


# A run of capitalised keywords ("WITHOUT ROWID", "IF NOT EXISTS", "ON DELETE CASCADE") names one thing, and its
# stopwords are what tell it apart: "WITHOUT ROWID" without "WITHOUT" is every page on rowids. Such a run also
# counts as one compound term ("without_rowid"), in the question and in the documents alike.
SHOUTED_WORDS = 6  # "CREATE TABLE IF NOT EXISTS" alone is a keyword run, a six-word question in capitals is not
_KEYWORD_RUN = re.compile(r"(?<![\w-])[A-Z][A-Z0-9_]+(?:[ \t]+[A-Z][A-Z0-9_]+)+(?![\w-])")


def keyword_runs(text: str) -> list[str]:
    """The compound terms of `text`'s capitalised keyword runs, one per stopword group: the stopwords with the word
    after them ("WITHOUT ROWID", and "IF NOT EXISTS" also inside "CREATE TABLE IF NOT EXISTS"), or with the word
    before them at the run's end ("UNION ALL", "GROUP BY"). In order."""
    if not _KEYWORD_RUN.search(text) or _shouted(text):
        return []
    out: list[str] = []
    for run in _KEYWORD_RUN.findall(text):
        words = run.lower().split()
        i = 0
        while i < len(words):
            if words[i] not in STOPWORDS:
                i += 1
                continue
            j = i
            while j < len(words) and words[j] in STOPWORDS:
                j += 1
            group = words[i : j + 1] if j < len(words) else words[i - 1 : j] if i else []
            if len(group) > j - i:  # a stopword group with a word of its own beside it
                out.append("_".join(stem(w) for w in group))
            i = j
    return out


# A one-letter option ("-U", "-n", "-3"): lower-cased and one character long, its letter counted as nothing, so
# "What does the -U flag do?" ranked the sentences on "flag". It is a term of its own, its case kept ("-n" is not
# "-N").
_FLAG = re.compile(r"(?<![\w-])-[A-Za-z0-9](?![\w-])")


def flags(text: str) -> list[str]:
    """The one-letter options `text` names, as written, in order."""
    return _FLAG.findall(text)


def _shouted(text: str) -> bool:
    """Whether `text` is all capitals at sentence length ("HOW DO I RESET MY PASSWORD?"): emphasis, not keywords."""
    return not any(c.islower() for c in text) and len(TOKEN.findall(text.lower())) >= SHOUTED_WORDS


def terms(text: str) -> list[str]:
    """Stemmed words that carry meaning, in order, repeats kept (term frequencies count)."""
    return list(_terms(text))


@functools.lru_cache(maxsize=100_000)
def _terms(text: str) -> tuple[str, ...]:
    # Researchers of one run rank the same retrieved sentences again and again: tokenize each once.
    out: list[str] = []
    for word in TOKEN.findall(text.lower()):
        parts = _PART.split(word)
        # A compound also counts as its parts here (not in queries), so "research" finds "deep-research-mcp".
        for part in [word, *parts] if len(parts) > 1 else parts:
            if part not in STOPWORDS and (len(part) > 1 or part.isdigit()):
                out.append(stem(part))
    out += keyword_runs(text)
    if "-" in text:
        out += flags(text)
    return tuple(out)


def content_terms(text: str) -> list[str]:
    """Distinct stemmed subject terms of a question or topic: no stopwords, no question scaffolding."""
    seen: dict[str, None] = {}
    for word in TOKEN.findall(text.lower()):
        if word in STOPWORDS or word in GENERIC or (len(word) < 2 and not word.isdigit()):
            continue
        seen.setdefault(stem(word), None)
    for compound in [*keyword_runs(text), *flags(text)]:
        seen.setdefault(compound, None)
    return list(seen)


def words(text: str) -> set[str]:
    return set(TOKEN.findall(text.lower()))


def jaccard(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def fact_count(sentence: str) -> int:
    """How concrete a sentence is: figures, units, names and code-like tokens, capped so they only break ties."""
    count = 0
    if re.search(r"\d", sentence):
        count += 1
    if _UNIT.search(sentence):
        count += 1
    count += min(2, len(_PROPER.findall(sentence)))
    if _CODE_LIKE.search(sentence):
        count += 1
    return min(count, 4)


# Words that answers to a kind of question tend to use, though the question does not: "when is X triggered?" is
# answered by "… if the count exceeds the threshold". Keyed by the question's opening words; plain English, nothing
# about any one corpus.
_CUES: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = (
    (re.compile(r"^\W*why\b|\breasons?\b|\bpurpose\b", re.IGNORECASE),
     word_set("because since so therefore thus hence prevent prevents avoid avoids otherwise reason ensure ensures "
              "must necessary order")),
    (re.compile(r"^\W*when\b|\btrigger(?:s|ed)?\b|\bhow often\b", re.IGNORECASE),
     word_set("when whenever if once after before until every exceeds exceeded exceed threshold reaches reached "
              "triggers triggered")),
    (re.compile(r"^\W*how (?:much|many|big|large|long)\b|\bsize\b|\bdefaults?\b", re.IGNORECASE),
     word_set("default defaults typically value setting mb gb kb percent megabytes gigabytes reasonable")),
    (re.compile(r"^\W*(?:which|what) (?:\w+ )?(?:kinds?|types?|forms?|methods?|levels?)\b", re.IGNORECASE),
     word_set("following types kinds forms include includes including supports provides offers")),
    (re.compile(r"\bdiffer|\bdifference|\bcompare|\bversus\b|\bvs\b|\bprefer", re.IGNORECASE),
     word_set("whereas while unlike instead contrast rather than however only both more less")),
)


def answer_cues(question: str) -> frozenset[str]:
    """The cue words of every kind of question `question` is."""
    found: set[str] = set()
    for pattern, cue_words in _CUES:
        if pattern.search(question):
            found |= cue_words
    return frozenset(found)


def is_prose(sentence: str) -> bool:
    """Whether a sentence reads as a statement rather than a list of names, an index entry or a command synopsis:
    statements need function words ("GIN, GIN, Preferred Index Types for Text Search" has one, and commas)."""
    if sum(sentence.count(c) for c in "[{|") >= 2:
        return False
    function_words = sum(1 for w in TOKEN.findall(sentence.lower()) if w in STOPWORDS)
    return function_words >= 2 or (function_words == 1 and sentence.count(",") < 2)


@dataclass(frozen=True, slots=True)
class Ranked:
    index: int
    score: float
    matched: int


def rank(
    texts: Sequence[str], query: str, *, head: str = "", contexts: Sequence[str] | None = None,
    priors: Sequence[float] | None = None, min_matches: int | None = None,
) -> list[Ranked]:
    """Texts that are about `query`, best first. BM25 over the given texts only; terms of `head` (the subject of a
    "subject: focus" topic) count more, and its head word must appear.

    A text qualifies with one query term, or two when the query has four or more terms, because long queries
    match incidental words. A text's context (its document title and heading) can supply missing terms, with a
    small weight, so a terse sentence under "## Costs" still counts as being about costs."""
    query_terms = content_terms(query)
    head_terms = set(content_terms(head))
    if not query_terms or not texts:
        return []
    need = min_matches if min_matches is not None else (2 if len(query_terms) >= 4 else 1)
    need = max(1, min(need, len(query_terms)))
    bags = [Counter(terms(t)) for t in texts]
    around = [set(terms(c)) for c in contexts] if contexts is not None else [set() for _ in texts]
    lengths = [sum(b.values()) for b in bags]
    average = (sum(lengths) / len(lengths)) or 1.0
    df = Counter(t for bag in bags for t in set(bag) if t in query_terms or t in head_terms)
    n = len(texts)
    idf = {t: math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in {*query_terms, *head_terms}}
    # The subject's head word (English noun phrases end in it) must be there: in "tidal lagoons", "tidal" alone
    # would admit every barrage sentence. A word no candidate has cannot be required, but one of them must be there.
    ordered_head = content_terms(head)
    key = next((t for t in reversed(ordered_head) if df[t] or any(t in c for c in around)), None)
    if head_terms and key is None:
        return []  # none of the retrieved text names the subject: nothing here is about it
    # What the sentence should be about: the subject of a "subject: focus" topic, else the two rarest query terms.
    lead = head_terms or set(sorted((t for t in query_terms if df[t]), key=lambda t: (-idf[t], t))[:2])
    cues = answer_cues(query)
    k1, b = 1.2, 0.75
    out: list[Ranked] = []
    for index, (bag, text) in enumerate(zip(bags, texts, strict=True)):
        direct = [t for t in query_terms if t in bag]
        implied = [t for t in query_terms if t not in bag and t in around[index]]
        matched = direct + implied
        if len(matched) < need or (key is not None and key not in matched):
            continue
        norm = k1 * (1 - b + b * lengths[index] / average)
        weight = {t: idf[t] * (1.5 if t in head_terms else 1.0) for t in matched}
        relevance = sum(weight[t] * bag[t] * (k1 + 1) / (bag[t] + norm) for t in direct)
        relevance += sum(0.5 * weight[t] for t in implied)
        relevance *= 0.25 + len(matched) / len(query_terms)  # covering more of the query beats repeating a term
        size = len(text.split())
        shape = 0.5 if size < 6 else 0.6 if size > 60 else 1.0
        if text.rstrip().endswith("?"):
            shape *= 0.7  # a question in the source is rarely the answer
        if _ANAPHORA.match(text):
            shape *= 0.75  # "It has 24 turbines" needs the sentence before it; prefer self-contained ones
        if _BOILERPLATE.match(text):
            shape *= 0.5  # "See the X page" names the subject without saying anything about it
        if not is_prose(text):
            shape *= 0.3  # an index entry, a list of names or a command synopsis: words, but no statement
        if lead and set(terms(" ".join(text.split()[:LEAD_WORDS]))) & lead:
            shape *= 1.25  # the subject opens the sentence: "GIN indexes are …" defines, "… unlike GIN" mentions
        if cues and cues & words(text):
            shape *= 1.2  # phrased like an answer to this kind of question ("… if it exceeds" for "when …")
        prior = priors[index] if priors is not None else 1.0
        out.append(Ranked(index, relevance * (1 + SPECIFICITY * fact_count(text)) * shape * prior, len(matched)))
    out.sort(key=lambda r: (-r.score, r.index))
    return out


RELATIVE_FLOOR = 0.4
SPECIFICITY = 0.1  # how much concrete details (figures, names, identifiers) lift a sentence: they break ties
LEAD_WORDS = 5

# --- researcher transcripts ----------------------------------------------------------------------------------

_DOCUMENT = re.compile(
    r'<document id="(S\d+)">\n?(?:Title: [^\n]*\nLocation: [^\n]*\n\n)?(.*?)\n?</document>', re.DOTALL
)
_TITLE = re.compile(r'^<document id="(S\d+)">\nTitle: (.+)$', re.MULTILINE)


def documents(transcript: str) -> dict[str, tuple[str, str]]:
    """(title, text) by source id from the engine's `<document id="S<n>">` blocks; an id shown more than once
    keeps each distinct text."""
    titles = {sid: title.removesuffix(" (already shown above)") for sid, title in _TITLE.findall(transcript)}
    texts: dict[str, list[str]] = {}
    for source_id, raw in _DOCUMENT.findall(transcript):
        text = raw.strip().removeprefix("[extractive summary]").strip()
        seen = texts.setdefault(source_id, [])
        if text and text not in seen:
            seen.append(text)
    # Two passages of a page are not one text: a term ending one is not the label of the next one's first line.
    return {sid: (titles.get(sid, ""), f"\n\n{PASSAGE_BREAK}\n\n".join(parts)) for sid, parts in texts.items()}


def between(text: str, start: str, end: str) -> str:
    """The part of a filled prompt template between `start` and the last `end` (all of `text` when `start` is
    missing, the rest when `end` is)."""
    _, found, rest = text.partition(start)
    body = rest if found else text
    return body.rsplit(end, 1)[0] if end and end in body else body


_SCOPE = re.compile(r"(?:,\s*|\s+)(?:in|on|for|within|inside|under)\s+(?:the\s+)?[A-Z][\w.+#-]*(?:\s+[A-Z][\w.+#-]*)*"
                    r"(?=\s*(?:\([^)]*\))?\s*[?.!]?\s*$)")


_NAMES_ONLY = re.compile(r"^\s*[A-Z][\w.+#-]*(?:\s+[A-Z][\w.+#-]*)*\s*[?.!]?\s*$")


def without_scope(topic: str) -> str:
    """`topic` without a closing "in <Name>" that only says where the question applies ("… work in PostgreSQL?"):
    every page of that product's documentation names it, so as a ranking term it picks sentences at random. Kept when
    nothing else would be left."""
    body, sep, focus = topic.partition(": ") if ": " in topic else ("", "", topic)
    # "logical replication: PostgreSQL" is the item of "… differ … in PostgreSQL?" with the scope as its focus.
    trimmed = "" if sep and _NAMES_ONLY.match(focus) else _SCOPE.sub("", focus)
    if trimmed == focus or not content_terms(f"{body} {trimmed}"):
        return topic
    return f"{body}{sep}{trimmed}" if trimmed.strip(" ?.!") else body


# The planner writes what an ask carries as " (words)" before the ask's closing mark (planner._carried and
# with_subject); a call's own brackets ("fetch(url)?") have no space before them.
_CARRIED = re.compile(r" \(([^()]+)\)(?=[?.!]?\s*$)")
ASKED_TERMS = 2  # an ask with fewer words of its own is ranked by what it carries too


def split_carried(topic: str) -> tuple[str, str]:
    """(the ask, the words the planner carried into it): ("What is it?", "mydb.db-journal") for "What is it
    (mydb.db-journal)?"; (topic, "") when it carries none."""
    found = _CARRIED.search(topic)
    if not found:
        return topic, ""
    return topic[: found.start()] + topic[found.end() :], found.group(1)


def asked(topic: str) -> str:
    """`topic` without the words the planner carried into it in closing parentheses ("How long are the records kept
    (re-merging master, long-running topic branch)?"), when the ask keeps `ASKED_TERMS` words of its own. The
    carried words say what the ask is about, which finds the right pages; as ranking terms they outweigh the ask
    inside those pages: every sentence of a topic-branch page names "topic branch", the one answering "how long are
    the records kept" says "kept for 60 days". An ask of fewer words ("What is it (mydb.db-journal)?") keeps them."""
    topic = without_scope(topic)
    ask, carried = split_carried(topic)
    if POINTED_KEEPS and _POINTED.search(ask):
        return topic
    return ask if carried and len(content_terms(ask)) >= ASKED_TERMS else topic


POINTED_KEEPS = True
# An ask whose object is a pronoun ("How do I fix it properly …", "make them give up") is about what the carried words
# name: without them its own words are a verb and its manner ("fix properly"), which a changelog's "Fix …" matches.
_POINTED = re.compile(r"\b(?:fix|stop|make|get|keep|turn|set|change|use|configure|do|avoid|disable|enable|prevent|"
                      r"undo|remove|delete|find|read|run|debug|solve|handle)\s+(?:it|them|(?:this|that|those|these)(?=\s*(?:[?.!,]|$)))\b",
                      re.IGNORECASE)


def focus(label: str, wanted: set[str]) -> float:
    """How much of a title or heading is the topic: the share of its words that are topic terms (numbering and
    words like "chapter" aside)."""
    named = {t for t in terms(label) if not t.replace(".", "").isdigit() and t not in _LABEL_WORDS}
    return len(named & wanted) / len(named) if named else 0.0


_LABEL_WORDS = word_set("chapter section part appendix introduction overview")


def states(container: str, sentence: str) -> bool:
    """Whether `container` holds `sentence` word for word (case, punctuation and markup aside)."""
    return holds(flat_words(container), flat_words(sentence))


def flat_words(text: str) -> str:
    """`text`'s letters and digits, lower case, one space between runs: what `states` compares."""
    return " ".join(_ALNUM.findall(text.lower()))


def holds(container: str, sentence: str) -> bool:
    """`states` for texts already flattened by `flat_words` (a caller comparing one text with many flattens once)."""
    return bool(sentence) and f" {sentence} " in f" {container} "
