"""Research planning without a model: a question into sub-topics, a topic into search queries, a query into
tool calls.

The rules are deliberately shallow (word lists and punctuation, no parsing): comparisons and enumerations become one
topic per item, a question of several clauses one topic per clause, anything else stays one topic with at most two
narrower facets. Shallow rules fail safe: when no split is recognised, the question itself is researched.
"""

from __future__ import annotations

import re
from typing import Any

from ... import prompts
from ..base import ToolSpec
from .extract import GENERIC, STOPWORDS, content_terms, stem, word_set

MAX_TOPICS = 5
MAX_ITEM_WORDS = 5
RESULTS_PER_SEARCH = 5

ENGINE_TOOLS = frozenset({prompts.THINK, prompts.RESEARCH_COMPLETE, prompts.CONDUCT_RESEARCH})
QUERY_NAMES = ("query", "q", "search", "text", "question", "keywords", "terms", "search_query")
_COUNT_NAMES = ("k", "limit", "max_results", "num_results", "top_k", "count", "n")
_FETCH_WORDS = ("fetch", "read", "open", "scrape", "crawl", "download", "get_page", "browse", "visit")
_URL_NAMES = frozenset({"url", "uri", "urls", "link", "href", "path", "id", "page"})

_TOKEN = re.compile(r"[^\W_][\w'./+#-]*[\w+#]|[^\W_]|[,;:?!.]")
_PUNCT = frozenset(",;:?!.")
# Words that make a question a comparison; they are structure, so they never belong to an item or to the focus.
_CUES = word_set(
    """compare compares compared comparing comparison contrast contrasting difference differences differ differs
    distinguish versus vs"""
)
# Evaluative words also signal a comparison but stay in the focus ("which is cheaper" is what to research).
_EVALUATIVE = word_set("better worse faster slower cheaper costlier safer prefer preferable choose")
_ARTICLES = frozenset({"the", "a", "an"})
# Words after which a comma-separated list can start ("capacities of A, B and C"); elsewhere a comma before the
# items more likely ends a clause ("faster for caching, A or B").
_LIST_INTRODUCERS = word_set(
    ": of between among including like as about compare comparing contrast do does did are is were was"
)
_SEPARATORS = frozenset({",", "and", "or", "vs", "versus"})
_CLAUSE_SPLIT = re.compile(
    r"(?<=[?!;])\s+|(?<=\.)\s+(?=[A-Z])|,?\s+(?:and|but|also|then)\s+(?=(?:how|what|why|when|where|which|who|whose|"
    r"is|are|was|were|does|do|did|can|could|should|would|will|has|have)\b)",
    re.IGNORECASE,
)


def plan_topics(question: str, max_topics: int = MAX_TOPICS) -> list[str]:
    """Sub-topics to research in parallel, each self-contained, at most `max_topics`, without duplicates."""
    text = " ".join(question.split())
    if not text:
        return []
    clauses = [c for c in split_clauses(text) if len(content_terms(c)) >= 2]
    topics = clauses if len(clauses) >= 2 else split_items(text) or [text, *facets(text)]
    return _dedupe(topics)[:max_topics]


def split_clauses(text: str) -> list[str]:
    """Separate questions asked in one request ("How does X…, and how does Y…?")."""
    ends_with_question = text.rstrip().endswith("?")
    out: list[str] = []
    for raw in _CLAUSE_SPLIT.split(text):
        clause = raw.strip(" ,;")
        if not clause:
            continue
        clause = clause[0].upper() + clause[1:]
        if clause[-1] not in "?.!":
            clause += "?" if ends_with_question else "."
        out.append(clause)
    return out


def split_items(text: str) -> list[str]:
    """One topic per compared or enumerated item, each carrying the rest of the question as its focus."""
    tokens = _TOKEN.findall(text)
    found = _find_items(tokens)
    if found is None:
        return []
    start, end, items = found
    focus = " ".join(p for p in (_phrase(tokens[:start]), _phrase(tokens[end:])) if p)
    has_focus = bool(content_terms(focus))
    return [f"{item}: {focus}" if has_focus else item for item in items]


def facets(text: str, limit: int = 2) -> list[str]:
    """Narrower topics from the question's own noun-phrase-like runs of subject words, only when the question has
    several such runs and each facet brings terms the other facets do not cover."""
    runs: list[list[str]] = [[]]
    for token in _TOKEN.findall(text):
        if token in _PUNCT or _is_stop(token.lower()):
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append(token)
    runs = [r for r in runs if r]
    if len(runs) < 2:
        return []
    chosen: list[str] = []
    covered: set[str] = set()
    for run in sorted((r for r in runs if len(r) >= 2), key=lambda r: -max(_specificity(w) for w in r)):
        run_terms = set(content_terms(" ".join(run)))
        if run_terms - covered:
            chosen.append(" ".join(run))
            covered |= run_terms
        if len(chosen) == limit:
            break
    return sorted(chosen, key=text.find)  # chosen by specificity, listed as the question orders them


def research_queries(topic: str) -> list[str]:
    """Up to three search queries for one topic: the topic as written, then its subject terms; a "subject: focus"
    topic instead gets one query per aspect of the focus, or the subject alone ("Sihwa: capacity" also searches
    "Sihwa", since pages about a place rarely repeat the question's words). A plain topic with many terms also
    gets its most specific ones. Re-orderings of an earlier query's words are not searched again."""
    text = " ".join(topic.split()).strip().rstrip("?.!").strip()
    if not text:
        return []
    head, sep, focus = text.partition(": ")
    salient = salient_words(text)
    queries = [text.replace(": ", " "), " ".join(salient)]
    aspects = [a for a in re.split(r"\s*(?:,|\band\b|\bor\b)\s*", focus) if salient_words(a)] if sep else []
    if head and len(aspects) >= 2:
        # "X: cost and environmental impact" is two searches, "X cost" and "X environmental impact": one query
        # holding every aspect keeps finding the same few documents that mention all of them.
        queries = [queries[0], *(f"{head} {' '.join(salient_words(a))}" for a in aspects[:2])]
    elif sep and head:
        queries.append(head)
    elif len(salient) > 3:
        top = set(sorted(salient, key=lambda w: -_specificity(w))[:3])
        queries.append(" ".join(w for w in salient if w in top))
    seen: set[str] = set()
    term_sets: list[frozenset[str]] = []
    out: list[str] = []
    for position, query in enumerate(q.strip() for q in queries):
        terms = frozenset(content_terms(query))
        # The first two may share words (a question and its keywords read differently to a search engine).
        if not query or query.lower() in seen or (position >= 2 and terms in term_sets):
            continue
        seen.add(query.lower())
        term_sets.append(terms)
        out.append(query)
    return out


def search_tools(tools: list[ToolSpec]) -> list[tuple[ToolSpec, str]]:
    """The offered tools to search with, each with the argument that takes the query. Fetch/read-style tools are
    used only when nothing else can take a query."""
    search: list[tuple[ToolSpec, str]] = []
    fetch: list[tuple[ToolSpec, str]] = []
    for tool in tools:
        if tool.name in ENGINE_TOOLS:
            continue
        prop = query_property(tool.parameters)
        if prop is None:
            continue
        fetch_like = prop in _URL_NAMES or any(w in tool.name.lower() for w in _FETCH_WORDS)
        (fetch if fetch_like else search).append((tool, prop))
    return search or fetch


def query_property(schema: dict[str, Any]) -> str | None:
    props: dict[str, Any] = schema.get("properties") or {}
    required = [name for name in schema.get("required") or [] if (props.get(name) or {}).get("type") == "string"]
    for name in QUERY_NAMES:
        if name in required:
            return name
    if required:
        return required[0]
    # No required string: an optional one named like a query still works.
    return next((n for n in QUERY_NAMES if (props.get(n) or {}).get("type") == "string"), None)


def tool_arguments(tool: ToolSpec, prop: str, query: str) -> dict[str, Any]:
    """The query, a result count when the tool takes one, and plain values for any other required argument."""
    props: dict[str, Any] = tool.parameters.get("properties") or {}
    args: dict[str, Any] = {prop: query}
    for name in _COUNT_NAMES:
        spec = props.get(name) or {}
        if spec.get("type") == "integer":
            # Extraction sorts out relevance afterwards, so a few more documents per search cost little and help.
            args[name] = max(spec.get("minimum", 1), min(RESULTS_PER_SEARCH, spec.get("maximum", RESULTS_PER_SEARCH)))
            break
    for name in tool.parameters.get("required") or []:
        if name == prop:
            continue
        spec = props.get(name) or {}
        args[name] = _plain_value(spec, query)
    return args


def _plain_value(spec: dict[str, Any], query: str) -> Any:
    if "default" in spec:
        return spec["default"]
    if spec.get("enum"):
        return spec["enum"][0]
    kind = spec.get("type", "string")
    if kind in ("integer", "number"):
        return max(spec.get("minimum", 1), min(5, spec.get("maximum", 5)))
    return {"boolean": False, "array": [query], "object": {}}.get(kind, "")


def fill_object(schema: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = schema.get("properties") or {}
    return {name: _plain_value(props.get(name) or {}, "OK") for name in schema.get("required") or []}


def salient_words(text: str) -> list[str]:
    """Subject words as written (one per stem), in order."""
    seen: dict[str, str] = {}
    for token in _TOKEN.findall(text):
        low = token.lower()
        if token in _PUNCT or _is_stop(low) or low in _EVALUATIVE:
            continue
        seen.setdefault(stem(low), token)
    return list(seen.values())


def _find_items(tokens: list[str]) -> tuple[int, int, list[str]] | None:
    low = [t.lower() for t in tokens]
    versus = [i for i, t in enumerate(low) if t in ("vs", "versus")]
    cue = any(t in _CUES or t in _EVALUATIVE for t in low)
    if versus:
        pivots, need = versus, 2
    elif cue:
        pivots, need = [i for i, t in enumerate(low) if t in ("and", "or")], 2
    else:
        # Without a cue, "X or Y" is still a choice; "and" only makes an enumeration when commas list 3+ items.
        pivots = [i for i, t in enumerate(low) if t == "or"]
        pivots += [i for i, t in enumerate(low) if t in ("and", "or") and "," in low[:i]]
        need = 2
    for pivot in pivots:
        found = _items_around(tokens, low, pivot)
        if found is None:
            continue
        start, end, items = found
        if len(items) >= need and (versus or cue or low[pivot] == "or" or len(items) >= 3):
            return start, end, [" ".join(item) for item in items]
    return None


def _items_around(tokens: list[str], low: list[str], pivot: int) -> tuple[int, int, list[list[str]]] | None:
    left: list[list[str]] = []
    start = pivot
    i = pivot - 1
    if i >= 0 and low[i] == ",":
        i -= 1
    while i >= 0:
        j = i
        while j >= 0 and _is_item_word(low[j]) and i - j < MAX_ITEM_WORDS:
            j -= 1
        if j == i:
            break
        left.insert(0, tokens[j + 1 : i + 1])
        start = j + 1
        if j >= 0 and low[j] == ",":
            i = j - 1
            continue
        break
    right: list[list[str]] = []
    end = pivot + 1
    k = pivot + 1
    while k < len(tokens):
        while k < len(tokens) and low[k] in _ARTICLES:
            k += 1
        m = k
        while m < len(tokens) and _is_item_word(low[m]) and m - k < MAX_ITEM_WORDS:
            m += 1
        if m == k:
            break
        right.append(tokens[k:m])
        end = m
        if m < len(tokens) and low[m] in _SEPARATORS:
            k = m + 1
            if low[m] == "," and k < len(tokens) and low[k] in ("and", "or"):
                k += 1
            continue
        break
    if not left or not right:
        return None
    if len(left) > 1 and start > 0 and low[start - 1] not in _LIST_INTRODUCERS:
        start += sum(len(item) + 1 for item in left[:-1])
        left = left[-1:]
    items = left + right
    # An edge item longer than the others has probably swallowed words of the question ("plants harm fish").
    longest_inner = max(len(it) for it in items[1:]) if len(items) > 1 else MAX_ITEM_WORDS
    if len(items[0]) > longest_inner + 1:
        cut = len(items[0]) - (longest_inner + 1)
        items[0] = items[0][cut:]
        start += cut
    longest_inner = max(len(it) for it in items[:-1])
    if len(items[-1]) > longest_inner + 1:
        cut = len(items[-1]) - (longest_inner + 1)
        items[-1] = items[-1][:-cut]
        end -= cut
    return start, end, items


def _phrase(tokens: list[str]) -> str:
    """The focus left around the items: structure words dropped, stopwords trimmed from both edges."""
    kept = [t for t in tokens if t.lower() not in _CUES]
    while kept and (kept[0] in _PUNCT or _is_stop(kept[0].lower())):
        kept.pop(0)
    while kept and (kept[-1] in _PUNCT or _is_stop(kept[-1].lower())):
        kept.pop()
    return re.sub(r"\s+([,;:?!.])", r"\1", " ".join(kept))


def _is_stop(word: str) -> bool:
    return word in STOPWORDS or word in GENERIC or word in _CUES


def _is_item_word(word: str) -> bool:
    return word not in _PUNCT and not _is_stop(word) and word not in _EVALUATIVE


def _specificity(word: str) -> float:
    """Names, figures and code-like words first, then longer words."""
    special = any(c.isupper() or c.isdigit() for c in word[1:]) or word[:1].isupper() or bool(set(word) & set("_./#+"))
    return (2.0 if special else 0.0) + min(len(word), 12) / 12


def _dedupe(topics: list[str]) -> list[str]:
    seen: set[frozenset[str]] = set()
    out: list[str] = []
    for topic in topics:
        key = frozenset(content_terms(topic)) or frozenset({topic.lower()})
        if key not in seen:
            seen.add(key)
            out.append(topic)
    return out
