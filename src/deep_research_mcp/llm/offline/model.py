"""`OfflineModel`: every model role played extractively over retrieved documents, so research works with no API key.

It sits behind the same seam as the provider adapters. It keeps no per-conversation state: the stage is told from
the request's shape (structured-output name, offered tools, the system prompt's first line) and progress is read off
the messages, so concurrent researchers cannot interfere. Every sentence it writes is copied from a retrieved
document and carries that document's `[S<n>]` id; it never writes an id that is not in its input.
"""

from __future__ import annotations

import ast
import asyncio
import itertools
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ... import prompts
from ..base import ChatResponse, Message, OutputSchema, ToolCall, ToolSpec, Usage
from ..stages import stage_of
from . import expand
from .extract import between, documents
from .planner import MAX_TOPICS, plan_topics, split_follow_up
from .report import NOTHING_FOUND, write_report
from .research import (
    ENGINE_TOOLS,
    MAX_SECTION_READS,
    QUERY_NAMES,
    feedback_query,
    fill_object,
    research_queries,
    scout_query,
    search_tools,
    section_reader,
    sections_to_read,
    tool_arguments,
)
from .select import cited_passages

log = logging.getLogger(__name__)

NOTE_SENTENCES = 64  # what a topic's notes may hold; the report quotes the best 60 sentences of all topics' notes
DIGEST_CHARS = 19_000  # just under the engine's cap on the text shown for one document (20,000)

_CALL_LINE = re.compile(r"^Tool call ([\w.-]+)\((.*)\)$", re.MULTILINE)
_ARGUMENT = re.compile(r"(\w+)=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")
_BUDGET = re.compile(r"at most (\d+) tool calls")
_MAX_UNITS = re.compile(r"up to (\d+) run at once")
# A document as the engine shows it to a researcher, and the section headings inside it (markdown headings, or a
# search tool's "[section: …]" line before a passage from the middle of a section).
_SHOWN_DOCUMENT = re.compile(
    r'^<document id="S\d+">\nTitle: ([^\n]*)\nLocation: ([^\n]*)\n\n(.*?)\n</document>', re.MULTILINE | re.DOTALL
)
_SECTION_LINE = re.compile(r"^(?:\[section:\s*(.+?)\]|#{1,6}\s+(.+?))\s*$", re.MULTILINE)
# A fenced block's lines are code: a shell comment ("# tweak the working tree …") is not a section to read.
_FENCED = re.compile(r"^(```|~~~)[^\n]*\n.*?(?:^\1[^\n]*$|\Z)", re.MULTILINE | re.DOTALL)


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
            "report": lambda r: self._report(r.first_user),
        }
        handler = handlers.get(stage)
        if handler is not None:
            # Ranking and embedding sentences is CPU work: off the event loop, so researchers and progress flow.
            return await asyncio.to_thread(handler, request)
        if output is not None:
            return self._structured(fill_object(output.schema))
        return self._text("OK.")

    def _text(self, text: str) -> ChatResponse:
        return ChatResponse(text=text, usage=Usage(), model=self.model)

    def _report(self, user_text: str) -> ChatResponse:
        # What it cannot do with rewrite instructions is said in writer's notes inside the text, which survive the
        # chat cache; engine/writer.py turns them into run warnings.
        return self._text(write_report(user_text))

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
            asked, known = split_follow_up(request.first_user)
            brief = _strip_template(asked, prompts.SUPERVISOR_USER)
            units = _MAX_UNITS.search(request.system)
            # Every part of the question gets a researcher, up to the number that run at once; on a follow-up, every
            # part the earlier run did not cover.
            topics = plan_topics(brief, int(units.group(1)) if units else MAX_TOPICS, known)
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
        brief = research_brief(request.system)
        scout = scout_query(brief, topic, queries)
        if scout is not None:
            # Second, so every researcher of the run makes the same search early and its documents feed the topic's
            # feedback search (see `scout_query`).
            queries = [*queries[:1], scout, *queries[1:]]
        tools = search_tools(request.tools)
        can_call = not refused and (left is None or left > 0)
        query = queries[turn] if turn < len(queries) else None
        if turn == len(queries) and tools and can_call:
            # One search in the words the documents the topic's own searches found use for it.
            query = feedback_query(topic, expand.results_of(own_results(request.messages, queries)), queries, brief)
        if query is not None and tools and can_call:
            calls, skipped = [], []
            locators = [loc.strip() for _, loc, _ in _SHOWN_DOCUMENT.findall(_tool_text(request.messages))]
            for tool, prop in tools:
                args, why = tool_arguments(tool, prop, query, locators)
                if args is None:
                    skipped.append(f"{tool.name} ({why})")
                else:
                    calls.append((tool.name, args))
            if skipped:
                log.warning("offline researcher skipped %s", "; ".join(skipped))
            if calls:
                response = self._calls(calls[:left] if left is not None else calls)
                if skipped:
                    response.text = f"Skipped {'; '.join(skipped)}."
                return response
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


_BRIEF_BLOCK = re.compile(r"<brief>\n(.*?)\n</brief>", re.DOTALL)


def research_brief(system: str) -> str:
    """The research brief a researcher's topic is part of (prompts.RESEARCHER_BRIEF), "" when not given."""
    found = _BRIEF_BLOCK.search(system)
    return " ".join(found.group(1).split()) if found else ""


def _tool_text(messages: list[Message]) -> str:
    return "\n\n".join(m.content for m in messages if m.role == "tool")


def own_results(messages: list[Message], queries: Sequence[str]) -> list[str]:
    """The result texts of the calls that searched one of `queries` (a topic's own searches, not a feedback
    search or a read), in the order they came."""
    asked = {call.id: _query_of(call.arguments) for m in messages if m.role == "assistant" for call in m.tool_calls}
    wanted = set(queries)
    return [m.content for m in messages if m.role == "tool" and asked.get(m.tool_call_id or "") in wanted]


def _query_of(arguments: dict[str, Any]) -> str | None:
    value = next((arguments[name] for name in QUERY_NAMES if name in arguments), None)
    return value if isinstance(value, str) else None


def retrieved_sections(messages: list[Message]) -> list[tuple[str, str, str, str]]:
    """(locator, title, heading, text shown) of every section the tool results so far showed passages of, in the
    order shown."""
    found: list[tuple[str, str, str, str]] = []
    for message in messages:
        if message.role != "tool":
            continue
        for title, locator, body in _SHOWN_DOCUMENT.findall(message.content):
            for marker, heading in _SECTION_LINE.findall(_FENCED.sub("", body)):
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
    topic = between(user_text, "Topic:", "\n\nResearcher's transcript:").strip()
    transcript = between(user_text, "Researcher's transcript:\n", "\n\nWrite the cited notes now.")
    passages = cited_passages(documents(transcript), topic, NOTE_SENTENCES)
    if not passages:
        return nothing_found(searched_queries(transcript))
    # One passage per line: the report keeps a line's sentences together ("It …" stays after what it refers to);
    # its code stands where it stood on the page, as a fenced block. A passage that opens with code (the example a
    # "This …" sentence points at) starts after a blank line, so the code is not read as the previous one's
    # (`report.parse_findings`).
    lines: list[str] = []
    for passage in passages:
        if passage and not passage[0][1] and lines:
            lines.append("")
        sentences: list[str] = []
        for text, ids in passage:
            if ids:
                sentences.append(f"{text} [{', '.join(ids)}]")
                continue
            if sentences:
                lines.append(" ".join(sentences))
                sentences = []
            lines.append(text)
        if sentences:
            lines.append(" ".join(sentences))
    return "\n".join(lines)


def nothing_found(queries: list[str]) -> str:
    searched = "; ".join(f'"{q}"' for q in queries) if queries else "nothing (no search was made)"
    return f"{NOTHING_FOUND} Searched: {searched}."


# --- summarize -----------------------------------------------------------------------------------------------


def summarize_document(user_text: str) -> str:
    """A long document shortened the same way whoever reads it first: every section keeps its heading and its
    opening, in document order, within `DIGEST_CHARS`.

    The engine digests a document once per run and shares the digest between researchers, so a digest chosen for
    one researcher's focus would make the report depend on which researcher got there first. The offline
    compression stage ranks sentences for its own topic afterwards; the digest only has to keep every part."""
    text = user_text.rsplit("<document>", 1)[-1].rsplit("</document>", 1)[0].strip()
    if len(text) <= DIGEST_CHARS:
        return text
    sections: list[list[str]] = [[]]
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if not fenced and re.match(r"^#{1,6}\s", line) and sections[-1]:
            sections.append([])
        sections[-1].append(line)
    share = max(400, DIGEST_CHARS // len(sections))
    kept: list[str] = []
    used = 0
    for lines in sections:
        block = "\n".join(lines).strip()
        if len(block) > share:
            cut = block.rfind("\n\n", 0, share)
            if cut < share // 3:  # no paragraph end near: the last sentence end, so no sentence is cut short
                cut = max(block.rfind(". ", 0, share) + 1, block.rfind("\n", 0, share))
            block = block[: cut if cut > 0 else share]
            if block.count("```") % 2:
                block += "\n```"
        if used + len(block) > DIGEST_CHARS:
            break
        kept.append(block)
        used += len(block) + 2
    return "\n\n".join(kept)


# --- report: see report.py ----------------------------------------------------------------------------------
