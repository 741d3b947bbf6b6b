"""`OfflineModel`: every model role played extractively over retrieved documents, so research works with no API key.

It sits behind the same seam as the provider adapters. It keeps no per-conversation state: the stage is told from
the request's shape (structured-output name, offered tools, the system prompt's first line) and progress is read off
the messages, so concurrent researchers cannot interfere. Every sentence it writes is copied from a retrieved
document and carries that document's `[S<n>]` id; it never writes an id that is not in its input.
"""

from __future__ import annotations

import ast
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ... import prompts
from ..base import ChatResponse, Message, OutputSchema, ToolCall, ToolSpec, Usage
from ..stages import stage_of
from .extract import Ranked, cited_sentences, documents, finish, pick, rank, split_passages, words
from .planner import (
    ENGINE_TOOLS,
    MAX_SECTION_READS,
    QUERY_NAMES,
    fill_object,
    plan_topics,
    research_queries,
    search_tools,
    section_reader,
    sections_to_read,
    tool_arguments,
)

NOTE_SENTENCES = 12
REPORT_SENTENCES = 24  # in the sections, after the short answer
MIN_SECTION_SENTENCES = 5
SUMMARY_WORDS = 300
SECTION_PARAGRAPH = 3  # sentences per paragraph in a report section
NOTHING_FOUND = "No relevant passages were found for this topic."

_CALL_LINE = re.compile(r"^Tool call ([\w.-]+)\((.*)\)$", re.MULTILINE)
_ARGUMENT = re.compile(r"(\w+)=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")
# A cited sentence ends in its markers, before or after the closing punctuation ("fact [S1]." or "fact. [S1]"),
# followed by a space or the line's end: so a marker in quoted code ("`[S2]`") is no citation.
_CITED_SENTENCE = re.compile(
    r"(?P<text>.+?)(?P<marks>(?:\s*\[S\d+(?:\s*,\s*S\d+)*\])+)(?P<end>[.!?;:]?)(?=\s|$)"
)
_BUDGET = re.compile(r"at most (\d+) tool calls")
# A document as the engine shows it to a researcher, and the section headings inside it (markdown headings, or a
# search tool's "[section: …]" line before a passage from the middle of a section).
_SHOWN_DOCUMENT = re.compile(
    r'^<document id="S\d+">\nTitle: ([^\n]*)\nLocation: ([^\n]*)\n\n(.*?)\n</document>', re.MULTILINE | re.DOTALL
)
_SECTION_LINE = re.compile(r"^(?:\[section:\s*(.+?)\]|#{1,6}\s+(.+?))\s*$", re.MULTILINE)


class OfflineModel:
    """A `ChatModel` that needs no network and no weights: it plans, searches, extracts and cites."""

    provider = "offline"
    model = "extractive"

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    async def complete(
        self,
        messages: list[Message],
        *,
        tools: list[ToolSpec] | None = None,
        output: OutputSchema | None = None,
        max_tokens: int | None = None,
        timeout: float | None = None,
    ) -> ChatResponse:
        stage = classify(messages, tools, output)
        request = _Request(messages, tools or [])
        handlers: dict[str, Callable[[_Request], ChatResponse]] = {
            "clarify": self._clarify,
            "brief": self._brief,
            "supervisor": self._supervisor,
            "researcher": self._researcher,
            "compress": lambda r: self._text(compress_notes(r.first_user)),
            "summarize": lambda r: self._text(summarize_document(r.first_user)),
            "report": lambda r: self._text(write_report(r.first_user)),
        }
        handler = handlers.get(stage)
        if handler is not None:
            return handler(request)
        if output is not None:
            return self._structured(fill_object(output.schema))
        return self._text("OK.")

    def _text(self, text: str) -> ChatResponse:
        return ChatResponse(text=text, usage=Usage(), model=self.model)

    def _structured(self, obj: dict[str, Any]) -> ChatResponse:
        return ChatResponse(text=json.dumps(obj), usage=Usage(), model=self.model, raw_json=obj)

    def _calls(self, calls: list[tuple[str, dict[str, Any]]]) -> ChatResponse:
        made = [ToolCall(f"offline_{next(self._ids)}", name, args) for name, args in calls]
        return ChatResponse(tool_calls=made, usage=Usage(), model=self.model)

    def _clarify(self, request: _Request) -> ChatResponse:
        question = " ".join(request.first_user.split())
        return self._structured(
            {"need_clarification": False, "question": "", "verification": f"I will research: {question}"}
        )

    def _brief(self, request: _Request) -> ChatResponse:
        return self._structured({"research_brief": " ".join(request.first_user.split())})

    def _supervisor(self, request: _Request) -> ChatResponse:
        names = {t.name for t in request.tools}
        if not any(m.role == "assistant" for m in request.messages):
            brief = _strip_template(request.first_user, prompts.SUPERVISOR_USER)
            topics = plan_topics(brief)
            if topics and prompts.CONDUCT_RESEARCH in names:
                return self._calls([(prompts.CONDUCT_RESEARCH, {"topic": t}) for t in topics])
        if prompts.RESEARCH_COMPLETE in names:
            return self._calls([(prompts.RESEARCH_COMPLETE, {})])
        return self._text("Research complete.")

    def _researcher(self, request: _Request) -> ChatResponse:
        topic = _strip_template(request.first_user, prompts.RESEARCHER_USER)
        previous = [
            [c for c in m.tool_calls if c.name not in ENGINE_TOOLS] for m in request.messages if m.role == "assistant"
        ]
        turn = sum(1 for calls in previous if calls)
        made = sum(len(calls) for calls in previous)
        budget_match = _BUDGET.search(request.system)
        left = int(budget_match.group(1)) - made if budget_match else None
        refused = any(m.role == "tool" and m.content.startswith("Not run:") for m in request.messages)
        queries = research_queries(topic)
        tools = search_tools(request.tools)
        can_call = not refused and (left is None or left > 0)
        if turn < len(queries) and tools and can_call:
            calls = [(tool.name, tool_arguments(tool, prop, queries[turn])) for tool, prop in tools]
            return self._calls(calls[:left] if left is not None else calls)
        reader = section_reader(request.tools)
        if reader is not None and can_call and not any(c.name == reader[0].name for c in itertools.chain(*previous)):
            # One last turn reads the sections whose headings name the topic: a search shows a few passages of a
            # section, the answer is often in the sentences around them.
            tool, locator_arg, section_arg = reader
            chosen = sections_to_read(topic, retrieved_sections(request.messages),
                                      limit=min(MAX_SECTION_READS, left or MAX_SECTION_READS))
            if chosen:
                return self._calls([(tool.name, {locator_arg: locator, **({section_arg: heading} if heading else {})})
                                    for locator, heading in chosen])
        if prompts.RESEARCH_COMPLETE in {t.name for t in request.tools}:
            return self._calls([(prompts.RESEARCH_COMPLETE, {})])
        return self._text("Research complete.")


@dataclass(slots=True)
class _Request:
    messages: list[Message]
    tools: list[ToolSpec]
    system: str = field(init=False)
    first_user: str = field(init=False)

    def __post_init__(self) -> None:
        self.system = "\n".join(m.content for m in self.messages if m.role == "system")
        self.first_user = next((m.content for m in self.messages if m.role == "user"), "")


def retrieved_sections(messages: list[Message]) -> list[tuple[str, str, str, str]]:
    """(locator, title, heading, text shown) of every section the tool results so far showed passages of, in the
    order shown."""
    found: list[tuple[str, str, str, str]] = []
    for message in messages:
        if message.role != "tool":
            continue
        for title, locator, body in _SHOWN_DOCUMENT.findall(message.content):
            for marker, heading in _SECTION_LINE.findall(body):
                found.append((locator.strip(), title.strip(), (marker or heading).strip(), body))
    return found


def classify(messages: list[Message], tools: list[ToolSpec] | None, output: OutputSchema | None) -> str:
    return stage_of(
        system="\n".join(m.content for m in messages if m.role == "system"),
        tool_names={t.name for t in tools or []},
        schema_name=output.name if output is not None else None,
    )


def _strip_template(text: str, template: str) -> str:
    head = template.split("{", 1)[0]
    if head and text.startswith(head):
        text = text[len(head) :]
    return " ".join(text.split())


def _between(text: str, start: str, end: str) -> str:
    _, found, rest = text.partition(start)
    body = rest if found else text
    return body.rsplit(end, 1)[0] if end and end in body else body


# --- compress ------------------------------------------------------------------------------------------------


def searched_queries(transcript: str) -> list[str]:
    queries: list[str] = []
    for _, args in _CALL_LINE.findall(transcript):
        values = dict(_ARGUMENT.findall(args))
        raw = next((values[n] for n in QUERY_NAMES if n in values), next(iter(values.values()), None))
        if raw is None:
            continue
        try:
            value = str(ast.literal_eval(raw))
        except (ValueError, SyntaxError):
            value = raw.strip("'\"")
        if value and value not in queries:
            queries.append(value)
    return queries


def compress_notes(user_text: str) -> str:
    topic = _between(user_text, "Topic:", "\n\nResearcher's transcript:").strip()
    transcript = _between(user_text, "Researcher's transcript:\n", "\n\nWrite the cited notes now.")
    notes = cited_sentences(documents(transcript), topic, NOTE_SENTENCES)
    if not notes:
        return nothing_found(searched_queries(transcript))
    return "\n".join(f"{text} [{', '.join(ids)}]" for text, ids in notes)


def nothing_found(queries: list[str]) -> str:
    searched = "; ".join(f'"{q}"' for q in queries) if queries else "nothing (no search was made)"
    return f"{NOTHING_FOUND} Searched: {searched}."


# --- summarize -----------------------------------------------------------------------------------------------


def summarize_document(user_text: str) -> str:
    """About `SUMMARY_WORDS` words: the sentences most about the focus, topped up with the opening, in document
    order and under their headings, which later tell compression what a terse sentence is about."""
    focus = _between(user_text, "The researcher is looking into:", '\n\nDocument "').strip()
    focus = re.sub(r"\b\w+=", " ", focus)  # argument names of the tool call are not part of the focus
    focus = re.sub(r"\S*[/\\]\S*", " ", focus)  # nor are paths and URLs: "usr share doc" would pull in noise
    passages = split_passages(user_text.rsplit("<document>", 1)[-1].rsplit("</document>", 1)[0])
    sentences = [sentence for sentence, _ in passages]
    ranked = rank(sentences, focus, min_matches=1)
    chosen = {index for index, _ in pick(sentences, ranked, limit=40, max_words=SUMMARY_WORDS)}
    used = sum(len(sentences[i].split()) for i in chosen)
    for index, sentence in enumerate(sentences):
        if used >= SUMMARY_WORDS * 2 // 3:
            break
        if index not in chosen:
            chosen.add(index)
            used += len(sentence.split())
    blocks: list[str] = []
    heading = ""
    for index in sorted(chosen):
        sentence, under = passages[index]
        if under != heading or not blocks:
            heading = under
            blocks.append(f"## {under}\n\n{sentence}" if under else sentence)
        else:
            blocks[-1] += " " + sentence
    return "\n\n".join(blocks)


# --- report --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Section:
    topic: str
    notes: list[tuple[str, list[str]]] = field(default_factory=list)
    nothing: str = ""  # the researcher's "nothing found" line, when it found nothing


def parse_findings(findings: str) -> list[Section]:
    parts = re.split(r"^## (.+)$", findings, flags=re.MULTILINE)
    pairs = list(zip(parts[1::2], parts[2::2], strict=True))
    if not pairs and parts[0].strip():
        pairs = [("", parts[0])]
    sections: list[Section] = []
    for topic, body in pairs:
        section = Section(topic.strip())
        if "<document id=" in body:  # compression failed upstream and the note is raw transcript
            section.notes = cited_sentences(documents(body), section.topic)
        for line in body.splitlines():
            line = line.strip().lstrip("-* ").strip()
            if line.startswith((NOTHING_FOUND, "No sources were read")):
                section.nothing = line
                continue
            if "<document" in body:
                continue
            for cited in _CITED_SENTENCE.finditer(line):
                ids = re.findall(r"S\d+", cited.group("marks"))
                text = (cited.group("text").strip() + cited.group("end")).strip()
                if text.strip(".!?;: "):
                    section.notes.append((finish(text), list(dict.fromkeys(ids))))
        sections.append(section)
    return sections


def write_report(user_text: str) -> str:
    brief = _between(user_text, "Research brief:\n", "\n\nFindings (cited notes from the researchers):").strip()
    findings = _between(user_text, "Findings (cited notes from the researchers):\n", "")
    findings = findings.split("\nAdditional instructions for this report:", 1)[0]
    findings = findings.replace(prompts.FINDINGS_TRUNCATED.strip(), "").strip()
    title = report_title(brief)
    # The engine's placeholder when every researcher failed: there are no sections, not one empty one.
    sections = [] if findings == "No findings were gathered." else parse_findings(findings)
    if not any(s.notes for s in sections):
        return _empty_report(title, sections)
    pool = [(si, ni) for si, s in enumerate(sections) for ni in range(len(s.notes))]
    texts = [sections[si].notes[ni][0] for si, ni in pool]
    # A note's section topic is its context: "It has 24 turbines" under "La Rance: capacity" is about La Rance.
    contexts = [sections[si].topic for si, _ in pool]
    short = _short_answer(texts, pool, rank(texts, brief, contexts=contexts, min_matches=1))
    used_words: list[set[str]] = [words(texts[i]) for i in short]
    lines = [f"# {title}", " ".join(_cite(*sections[pool[i][0]].notes[pool[i][1]]) for i in short)]
    # The report has a length budget rather than each section: two topics get twelve sentences each, five get
    # five, so a question split finer does not make a longer report, only a broader one.
    cap = max(MIN_SECTION_SENTENCES, REPORT_SENTENCES // max(1, sum(1 for s in sections if s.notes)))
    for section in sections:
        lines.append(f"## {section.topic or 'Findings'}")
        if not section.notes:
            lines.append(section.nothing or NOTHING_FOUND)
            continue
        fresh = [n for n in section.notes if not any(_same(words(n[0]), seen) for seen in used_words)]
        kept = (fresh or section.notes)[:cap]
        used_words.extend(words(n[0]) for n in kept)
        for start in range(0, len(kept), SECTION_PARAGRAPH):
            lines.append(" ".join(_cite(*n) for n in kept[start : start + SECTION_PARAGRAPH]))
    return "\n\n".join(lines) + "\n"


def _short_answer(texts: list[str], pool: list[tuple[int, int]], ranked: list[Ranked]) -> list[int]:
    """Two or three of the best sentences, preferring one per section (each item of a comparison gets a voice)."""
    want = 3 if len(texts) >= 6 else min(2, len(texts))
    if not ranked:  # nothing matches the brief's words: the first note of each section stands in
        firsts = [next(i for i, (si, _) in enumerate(pool) if si == s) for s in dict.fromkeys(si for si, _ in pool)]
        return firsts[:want]
    chosen: list[int] = []

    def fits(index: int) -> bool:
        return len(chosen) < want and not any(_same(words(texts[index]), words(texts[c])) for c in chosen)

    for r in ranked:
        if pool[r.index][0] not in {pool[c][0] for c in chosen} and fits(r.index):
            chosen.append(r.index)
    for r in ranked:
        if r.index not in chosen and fits(r.index):
            chosen.append(r.index)
    return sorted(chosen, key=lambda i: (pool[i][0], [r.index for r in ranked].index(i)))


def _empty_report(title: str, sections: list[Section]) -> str:
    lines = [f"# {title}"]
    if not sections:
        lines.append("No findings were gathered, so this question cannot be answered from the searched documents.")
        return "\n\n".join(lines) + "\n"
    lines.append("Nothing relevant to this question was found in the searched documents, so it cannot be answered "
                 "from them.")
    lines.append("## What was searched")
    searched = []
    for section in sections:
        what = section.nothing.partition("Searched:")[2].strip().rstrip(".") or "no searches were recorded"
        searched.append(f"- {section.topic or 'Research'}: {what}.")
    lines.append("\n".join(searched))
    return "\n\n".join(lines) + "\n"


def report_title(brief: str) -> str:
    text = " ".join(brief.split())
    first = re.split(r"(?<=[.!?])\s+", text, maxsplit=1)[0].rstrip(".") or "Research report"
    if len(first) <= 80:
        return first
    cut = first[:79].rsplit(" ", 1)[0].rstrip(",;:")
    return f"{cut}…"


def _cite(text: str, ids: list[str]) -> str:
    return f"{text} [{', '.join(ids)}]"


def _same(a: set[str], b: set[str]) -> bool:
    return bool(a and b) and len(a & b) / len(a | b) >= 0.6
