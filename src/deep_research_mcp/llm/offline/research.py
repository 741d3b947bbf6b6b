"""The offline researcher's moves: what to search for a topic, with which of the offered tools and arguments, and
which sections of the documents found to read next.

Kept apart from planning (`planner.py`, a question into topics): planning reads the question alone, while these
moves depend on what a researcher is offered and finds (the tools' names and schemas, the documents its searches
return). Imports run one way: this module uses the planner's word handling (`salient_words`, `specificity`), so a
query's words are picked by the same rules as a topic's.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from typing import Any

from ... import prompts
from ..base import ToolSpec
from . import expand
from .extract import content_terms, terms, without_scope
from .planner import salient_words, specificity

RESULTS_PER_SEARCH = 5

ENGINE_TOOLS = frozenset({prompts.THINK, prompts.RESEARCH_COMPLETE, prompts.CONDUCT_RESEARCH})
QUERY_NAMES = ("query", "q", "search", "text", "question", "keywords", "terms", "search_query", "pattern", "regex",
               "keyword")
_COUNT_NAMES = ("k", "limit", "max_results", "num_results", "top_k", "count", "n")
_FETCH_WORDS = ("fetch", "read", "open", "scrape", "crawl", "download", "get_page", "browse", "visit")
_URL_NAMES = frozenset({"url", "uri", "urls", "link", "href", "path", "id", "page"})
_SECTION_NAMES = ("section", "heading", "anchor")
MAX_SECTION_READS = 3


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
        top = set(sorted(salient, key=lambda w: -specificity(w))[:3])
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


def scout_query(brief: str, topic: str, queries: Sequence[str] = ()) -> str | None:
    """One search over the whole question for a researcher of one part of it, or None when the topic is the
    question (nothing to add) or the search is already among `queries`.

    A question's clauses share one subject, but often only the whole question names it in words the documents
    use: "two branches checked out at the same time … How do I create, list and clean those up?" finds the
    `git worktree` page through its first clause's words, never through "create, list and clean up". Every
    researcher of a run makes the same scout search (the same words give the same results, so parallel researchers
    share nothing yet agree), and its documents join the topic's own in choosing the feedback search's words."""
    words = salient_words(without_scope(brief))
    if not words or set(content_terms(" ".join(words))) <= set(content_terms(topic)):
        return None
    query = " ".join(words)
    return None if query.lower() in {q.lower() for q in queries} else query


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


def section_reader(tools: list[ToolSpec]) -> tuple[ToolSpec, str, str] | None:
    """A tool that reads one section of a document found by a search: (tool, locator argument, section argument).
    Only a tool that names a section argument qualifies; whole pages are already in the search results."""
    for tool in tools:
        if tool.name in ENGINE_TOOLS:
            continue
        props: dict[str, Any] = tool.parameters.get("properties") or {}
        locator = next((n for n in tool.parameters.get("required") or [] if n in _URL_NAMES), None)
        section = next((n for n in _SECTION_NAMES if n in props), None)
        if locator is not None and section is not None:
            return tool, locator, section
    return None


def sections_to_read(
    topic: str, found: list[tuple[str, str, str, str]], *, limit: int = MAX_SECTION_READS
) -> list[tuple[str, str]]:
    """The sections of retrieved documents whose headings name the topic, best first: (locator, heading), the
    heading "" for the whole document.

    `found` holds (locator, document title, heading, text shown) in the order the searches returned them. A heading
    counts by the topic terms it names, each weighted by how rare it is in the retrieved text (a corpus's own name
    is in every heading), the subject of a "subject: focus" topic double; the title and an earlier search rank break
    ties. A section a search passage came from is usually longer than that passage, and its heading is the best
    evidence that it answers the topic, so a heading that names nothing of the topic is skipped.
    """
    wanted = set(content_terms(topic))
    head = set(content_terms(topic.partition(": ")[0])) if ": " in topic else set()
    # Each document's last entry gives its words (one page's passages are shown many times over: reading each entry
    # took a tenth of a long page's research).
    last = {locator: (title, heading, text) for locator, title, heading, text in found}
    bodies = {locator: set(terms(f"{title} {heading} {text}")) for locator, (title, heading, text) in last.items()}
    rarity = {t: math.log(1 + len(bodies) / (1 + sum(t in b for b in bodies.values()))) for t in wanted}
    scored: dict[tuple[str, str], float] = {}
    for position, (locator, title, heading, _) in enumerate(found):
        # The top section of a document ("11.2. Index Types" in "11.2. Index Types") is often just its introduction,
        # its subsections being sections of their own: read the whole document instead ("" for no section).
        key = (locator, "" if heading.strip().lower() == title.strip().lower() else heading)
        if not heading or key in scored:
            continue
        named = set(terms(heading)) & wanted
        if not named:
            continue
        in_title = (set(terms(title)) & wanted) - named
        scored[key] = (sum(rarity[t] * (2 if t in head else 1) for t in named)
                       + 0.3 * sum(rarity[t] for t in in_title) - 0.01 * position)
    return sorted(scored, key=lambda k: -scored[k])[:limit]


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


def tool_arguments(
    tool: ToolSpec, prop: str, query: str, locators: Sequence[str] = ()
) -> tuple[dict[str, Any] | None, str]:
    """(arguments, "") for one call with `query`, or (None, why) when a required argument has no sensible value.

    The query goes to the query argument, a result count to a count argument, and every other required argument
    gets what its name and schema ask for: a path the docs root (the schema's default or example, else the folder
    the earlier results came from), a URL one of the earlier results (`locators`, in the order found), a text the
    query. Never an empty string: a tool called with `path=''` finds nothing and says nothing."""
    props: dict[str, Any] = tool.parameters.get("properties") or {}
    args: dict[str, Any] = {}
    for name in tool.parameters.get("required") or []:
        spec = props.get(name) or {}
        value = query if name == prop and not _is_locator(name) else _argument(name, spec, query, locators)
        if value is None or value == "":
            return None, f"no value for its required argument {name!r}"
        args[name] = value
    if prop not in args:
        args[prop] = query if not _is_locator(prop) else _argument(prop, props.get(prop) or {}, query, locators)
        if args[prop] in (None, ""):
            return None, f"no value for its argument {prop!r}"
    for name in _COUNT_NAMES:
        spec = props.get(name) or {}
        if spec.get("type") == "integer" and name not in args:
            # Extraction sorts out relevance afterwards, so a few more documents per search cost little and help.
            args[name] = max(spec.get("minimum", 1), min(RESULTS_PER_SEARCH, spec.get("maximum", RESULTS_PER_SEARCH)))
            break
    return args, ""


_PATH_NAMES = frozenset({"path", "paths", "dir", "directory", "root", "folder", "file", "filepath", "file_path",
                         "cwd", "location", "base_path", "search_path"})
_LINK_NAMES = frozenset({"url", "uri", "urls", "link", "href", "page"})
_TEXT_HINT = re.compile(r"\b(?:query|search|pattern|regex|keywords?|text|terms?|question)\b", re.IGNORECASE)
_DEFAULT_HINT = re.compile(r"\bdefaults?(?: to|:)?\s+[`'\"]?([^\s`'\",;)]+)", re.IGNORECASE)


def _is_locator(name: str) -> bool:
    return name.lower() in _PATH_NAMES or name.lower() in _LINK_NAMES


def _argument(name: str, spec: dict[str, Any], query: str, locators: Sequence[str]) -> Any:
    """A sensible value for one argument, or None when there is none."""
    low = name.lower()
    kind = spec.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if "default" in spec and spec["default"] not in (None, ""):
        return spec["default"]
    if spec.get("enum"):
        return spec["enum"][0]
    if spec.get("examples"):
        return spec["examples"][0]
    if low in _LINK_NAMES or spec.get("format") == "uri":
        found = next((loc for loc in locators if re.match(r"https?://", loc)), None)
        return ([found] if kind == "array" else found) if found else None
    if low in _PATH_NAMES:
        hinted = _DEFAULT_HINT.search(str(spec.get("description", "")))
        root = hinted.group(1) if hinted else _common_folder(locators)
        return ([root] if kind == "array" else root) if root else None
    if kind in ("integer", "number"):
        return max(spec.get("minimum", 1), min(5, spec.get("maximum", 5)))
    if kind == "boolean":
        return False
    if kind == "object":
        return {}
    if low in QUERY_NAMES or _TEXT_HINT.search(f"{name} {spec.get('description', '')}"):
        return [query] if kind == "array" else query
    return None


def _common_folder(locators: Sequence[str]) -> str | None:
    """The deepest folder holding every local file found so far."""
    paths = [loc for loc in locators if loc.startswith("/")]
    if not paths:
        return None
    folder = os.path.commonpath([os.path.dirname(p) for p in paths])
    return folder if folder not in ("", "/") else None


def feedback_query(topic: str, results: Sequence[Sequence[tuple[str, str]]], asked: Sequence[str],
                   brief: str = "") -> str | None:
    """One more query in the documents' own words (pseudo-relevance feedback, see `expand.learn`): what the
    documents the topic's searches ranked highest call the thing, added to the topic's two most specific words. A
    question phrased without the documents' vocabulary ("tests that pass and fail intermittently") then finds what
    they call it ("flaky"). `results`: per search made, the (title, text) of its documents, best first; `brief`: the
    question the topic is part of, whose words are not learnt either."""
    subject = sorted(salient_words(without_scope(topic)), key=lambda w: (-specificity(w), w))[:2]
    # Words the brief already has were searched by the scout search (see `scout_query`): the feedback search is for
    # the documents' own words, such as the name of the command that answers the whole question.
    return expand.expanded_query(expand.learn(f"{topic} {without_scope(brief)}", results), subject, asked)


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

