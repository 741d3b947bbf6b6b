"""Wire-neutral half of the scripted server: normalize a request, tell its stage, compute the answer.

Both wire formats are parsed into one `ScriptedRequest` (reusing the engine's own `Message`/`ToolSpec`/
`OutputSchema`), so stage detection and answers cannot drift between OpenAI and Anthropic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ... import prompts
from .. import prompt_tools
from ..base import Message, OutputSchema, ToolCall, ToolSpec
from ..stages import stage_of
from .scenario import Scenario

# Matches both "[S3]" and combined markers like "[S1, S2]".
_CITE_RE = re.compile(r"\[(S\d+(?:\s*,\s*S\d+)*)\]")
# The schema an adapter put in the system prompt (prompts.STRUCTURED_IN_PROMPT) for a server without JSON modes.
_PROMPTED_SCHEMA = re.compile(r"for the schema named (\w+):\n(\{.*\})\s*$", re.DOTALL)
_ENGINE_TOOLS = {prompts.RESEARCH_COMPLETE, prompts.THINK, prompts.CONDUCT_RESEARCH}


@dataclass(slots=True)
class ScriptedRequest:
    system: str = ""
    messages: list[Message] = field(default_factory=list)
    tools: list[ToolSpec] = field(default_factory=list)
    output: OutputSchema | None = None
    # How an OpenAI-wire request asked for JSON: json_schema, json_object, tool (forced) or prompt; None for none.
    structured_mode: str | None = None
    tools_in_prompt: bool = False  # the tools came described in the system prompt (see llm/prompt_tools.py)

    @classmethod
    def from_openai(cls, body: dict[str, Any]) -> ScriptedRequest:
        req = cls()
        systems: list[str] = []
        for m in body.get("messages") or []:
            role, text = m.get("role"), _openai_text(m.get("content"))
            if role in ("system", "developer"):
                systems.append(text)
            elif role == "tool":
                req.messages.append(Message("tool", text, tool_call_id=m.get("tool_call_id")))
            else:
                calls = tuple(
                    ToolCall(c.get("id", ""), c["function"]["name"], _loads(c["function"].get("arguments")))
                    for c in m.get("tool_calls") or []
                )
                req.messages.append(Message(role, text, tool_calls=calls))
        req.system = "\n".join(systems)
        for t in body.get("tools") or []:
            fn = t.get("function") or {}
            req.tools.append(ToolSpec(fn["name"], fn.get("description", ""), fn.get("parameters") or {}))
        if not req.tools and (prompted_tools := prompt_tools.parse_tools(req.system)):
            req.tools_in_prompt = True
            req.tools = prompted_tools
            req.messages = [_native(m, {t.name for t in prompted_tools}) for m in req.messages]
        fmt = body.get("response_format") or {}
        choice = body.get("tool_choice")
        forced = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
        prompted = _PROMPTED_SCHEMA.search(req.system)
        if fmt.get("type") == "json_schema":
            js = fmt.get("json_schema") or {}
            req.output = OutputSchema(js.get("name", ""), js.get("schema") or {}, js.get("description", ""))
            req.structured_mode = "json_schema"
        elif fmt.get("type") == "json_object" and isinstance(fmt.get("schema"), dict):
            # llama.cpp's form carries no name: the schema's title (a pydantic model's class name) stands in.
            req.output = OutputSchema(str(fmt["schema"].get("title", "")), fmt["schema"])
            req.structured_mode = "json_object"
        elif forced is not None and any(t.name == forced for t in req.tools):
            spec = next(t for t in req.tools if t.name == forced)
            req.tools = [t for t in req.tools if t.name != forced]
            req.output = OutputSchema(spec.name, spec.parameters, spec.description)
            req.structured_mode = "tool"
        elif prompted is not None:
            req.output = OutputSchema(prompted.group(1), json.loads(prompted.group(2)))
            req.structured_mode = "prompt"
        return req

    @classmethod
    def from_anthropic(cls, body: dict[str, Any]) -> ScriptedRequest:
        req = cls()
        system = body.get("system") or ""
        req.system = system if isinstance(system, str) else _block_text(system)
        for m in body.get("messages") or []:
            content = m.get("content")
            if isinstance(content, str):
                req.messages.append(Message(m["role"], content))
                continue
            # One Anthropic message may mix text, tool_use and tool_result blocks; tool results become
            # their own "tool" messages so the policy sees the same shape as on the OpenAI wire.
            texts: list[str] = []
            calls: list[ToolCall] = []
            for b in content or []:
                if b.get("type") == "text":
                    texts.append(b.get("text", ""))
                elif b.get("type") == "tool_use":
                    calls.append(ToolCall(b.get("id", ""), b["name"], b.get("input") or {}))
                elif b.get("type") == "tool_result":
                    c = b.get("content")
                    text = c if isinstance(c, str) else _block_text(c or [])
                    req.messages.append(Message("tool", text, tool_call_id=b.get("tool_use_id")))
            if texts or calls:
                req.messages.append(Message(m["role"], "\n".join(texts), tool_calls=tuple(calls)))
        tools = [
            ToolSpec(t["name"], t.get("description", ""), t.get("input_schema") or {}) for t in body.get("tools") or []
        ]
        choice = body.get("tool_choice") or {}
        forced = choice.get("name") if choice.get("type") == "tool" else None
        # Anthropic has no response_format: adapters force a tool whose input is the object. Any forced
        # tool is read as structured output, so a new schema name in the engine needs no change here.
        for t in tools:
            if t.name == forced:
                req.output = OutputSchema(t.name, t.parameters, t.description)
            else:
                req.tools.append(t)
        return req

    def message_text(self) -> str:
        """Every message's text, tool-call arguments and tool results (what failure rules `match` against)."""
        parts: list[str] = []
        for m in self.messages:
            parts.append(m.content)
            parts.extend(json.dumps(c.arguments) for c in m.tool_calls)
        return "\n".join(parts)

    def all_text(self) -> str:
        """What the prompt-token estimate is taken over: the system text plus `message_text()`."""
        return self.system + "\n" + self.message_text()

    def user_texts(self) -> list[str]:
        return [m.content for m in self.messages if m.role == "user"]


@dataclass(slots=True)
class Answer:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    structured: dict[str, Any] | None = None
    schema_name: str = ""  # set with `structured`: the Anthropic wire answers with a tool_use of this name

    def output_text(self) -> str:
        if self.structured is not None:
            return json.dumps(self.structured)
        return self.text + "".join(c.name + json.dumps(c.arguments) for c in self.tool_calls)


def _native(message: Message, names: set[str]) -> Message:
    """A message of a prompted-tools conversation as it would have been with native tool calls."""
    if message.role == "user" and (result := prompt_tools.parse_result(message.content)) is not None:
        return Message("tool", result[1], name=result[0])
    if message.role == "assistant":
        prose, calls = prompt_tools.parse_calls(message.content, names)
        if calls:
            return Message("assistant", prose, tuple(ToolCall(f"p{i}", n, a) for i, (n, a) in enumerate(calls)))
    return message


def estimate_tokens(text: str) -> int:
    return len(text) // 4 + 1


def classify(req: ScriptedRequest) -> str:
    return stage_of(
        system=req.system,
        tool_names={t.name for t in req.tools},
        schema_name=req.output.name if req.output is not None else None,
    )


def broken_json(obj: dict[str, Any]) -> str:
    """The object as a sloppy model writes it: fenced, with a trailing comma; `json.loads` rejects it."""
    body = json.dumps(obj, indent=2)
    body = body[: body.rfind("}")].rstrip() + ",\n}" if obj else "{,}"
    return f"```json\n{body}\n```"


def cited_ids(texts: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for text in texts:
        for group in _CITE_RE.findall(text):
            for sid in group.split(","):
                seen.setdefault(sid.strip(), None)
    return list(seen)


class ScriptedPolicy:
    """Deterministic answers per stage.

    Progress (fan-out rounds, tool calls made) is read off the conversation, so the policy keeps no
    per-conversation state and concurrent conversations cannot interfere.
    """

    def __init__(self, scenario: Scenario, next_id: Callable[[str], str]) -> None:
        self.scenario = scenario
        self._next_id = next_id

    def answer(self, stage: str, req: ScriptedRequest) -> Answer:
        handlers: dict[str, Callable[[ScriptedRequest], Answer]] = {
            "clarify": self._clarify,
            "brief": self._brief,
            "supervisor": self._supervisor,
            "researcher": self._researcher,
            "compress": self._compress,
            "report": self._report,
            "summarize": self._summarize,
            "judge": self._judge,
        }
        handler = handlers.get(stage)
        if handler is not None:
            answer = handler(req)
        elif req.output is not None:
            answer = Answer(structured=_fill_object(req.output.schema, "OK"))
        else:
            answer = Answer(text="OK.")
        if req.output is not None:
            answer.schema_name = req.output.name
        return answer

    def _call(self, stage: str, name: str, args: dict[str, Any]) -> ToolCall:
        return ToolCall(self._next_id(stage), name, args)

    def _clarify(self, req: ScriptedRequest) -> Answer:
        question = _payload(_last(req.user_texts()))
        if self.scenario.needs_clarification:
            q = f"Which aspect of '{question[:120]}' should the research focus on?"
            return Answer(structured={"need_clarification": True, "question": q, "verification": ""})
        v = f"I will research {question[:200]}."
        return Answer(structured={"need_clarification": False, "question": "", "verification": v})

    def _brief(self, req: ScriptedRequest) -> Answer:
        return Answer(structured={"research_brief": f"I want to know: {_payload(_last(req.user_texts()))}"})

    def _supervisor(self, req: ScriptedRequest) -> Answer:
        done = sum(
            1
            for m in req.messages
            if m.role == "assistant" and any(c.name == prompts.CONDUCT_RESEARCH for c in m.tool_calls)
        )
        if done < self.scenario.supervisor_rounds and self.scenario.topics > 0:
            # A follow-up's message goes on with what the earlier run found: the new topics are about the brief.
            brief, _, earlier = _first(req.user_texts()).partition(prompts.FOLLOW_UP_MARKER)
            base = _payload(brief, prompts.SUPERVISOR_USER)[:80]
            first = done * self.scenario.topics + 1
            topics = [f"Topic {n}: aspect {n} of {base}" for n in range(first, first + self.scenario.topics)]
            if self.scenario.repeat_known_topics and done == 0:
                topics = re.findall(r"^### (.+)$", earlier, flags=re.MULTILINE) + topics
            calls = [self._call("supervisor", prompts.CONDUCT_RESEARCH, {"topic": t}) for t in topics]
            return Answer(tool_calls=calls)
        if any(t.name == prompts.RESEARCH_COMPLETE for t in req.tools):
            return Answer(tool_calls=[self._call("supervisor", prompts.RESEARCH_COMPLETE, {})])
        return Answer(text="Research complete.")

    def _researcher(self, req: ScriptedRequest) -> Answer:
        tool = next((t for t in req.tools if t.name not in _ENGINE_TOOLS), None)
        done = sum(len(m.tool_calls) for m in req.messages if m.role == "assistant")
        left = self.scenario.tool_calls_per_researcher - done
        if tool is None or left <= 0:
            if any(t.name == prompts.RESEARCH_COMPLETE for t in req.tools):
                return Answer(tool_calls=[self._call("researcher", prompts.RESEARCH_COMPLETE, {})])
            return Answer(text="Done researching.")
        topic = _payload(_first(req.user_texts()), prompts.RESEARCHER_USER)
        calls = [
            self._call("researcher", tool.name, _fill_object(tool.parameters, f"{topic} (query {k})"))
            for k in range(done + 1, done + 1 + min(left, self.scenario.tool_calls_per_turn))
        ]
        return Answer(tool_calls=calls)

    def _compress(self, req: ScriptedRequest) -> Answer:
        if self.scenario.quote_sources:
            shown = "\n".join(m.content for m in req.messages if m.role in ("tool", "user"))
            quotes = [f"{_first_sentence(body).rstrip('.')} [{sid}]."
                      for sid, body in _SHOWN.findall(shown) if _first_sentence(body)]
            return Answer(text="\n".join(dict.fromkeys(quotes)) or "No sources were found for this topic.")
        ids = cited_ids([m.content for m in req.messages if m.role in ("tool", "user")])
        first = _first(req.user_texts())
        topic_line = next((ln[6:].strip() for ln in first.splitlines() if ln.startswith("Topic:")), "")
        about = topic_line or " ".join(first.split())[:60]
        lines = [f"Finding {j} about {about} is supported by the document [{sid}]." for j, sid in enumerate(ids, 1)]
        text = "\n".join(lines) if lines else "No sources were found for this topic."
        if self.scenario.invent_citations:
            text += "\n" + _INVENTED_INLINE
        return Answer(text=text)

    def _summarize(self, req: ScriptedRequest) -> Answer:
        # A faithful-looking summary: the document's opening sentences, so tests can see which page it came from.
        text = _first(req.user_texts())
        body = text.split("<document>", 1)[-1].split("</document>", 1)[0]
        sentences = re.split(r"(?<=[.!?])\s+", " ".join(body.split()))
        return Answer(text="Summary: " + " ".join(sentences[:2]))

    def _report(self, req: ScriptedRequest) -> Answer:
        user = "\n".join(req.user_texts())
        if _REVISE_HEADER in user:  # the revision turn: the listed sentences are deleted, the rest kept
            listed, draft = user.split(_REVISE_HEADER, 1)
            wrong = re.findall(r"^- Sentence: (.+)$", listed, flags=re.MULTILINE)
            kept = [p for p in draft.strip().split("\n\n") if not any(w in p for w in wrong)]
            return Answer(text="\n\n".join(kept))
        if self.scenario.quote_sources:
            quoted = _QUOTED.findall("\n".join(req.user_texts()))
            lines = [f"{_corrupted(s) if j % 2 else s} [{sid}]." for j, (s, sid) in enumerate(dict.fromkeys(quoted))]
            return Answer(text="# Report\n\n## Findings\n\n" + "\n\n".join(lines))
        ids = cited_ids(req.user_texts())
        if ids:
            lead = f"The short answer is that the evidence agrees on the main point [{ids[0]}]."
        else:
            lead = "No cited findings were available, so this report cannot answer the question."
        parts = ["# Report", lead, "## Findings"]
        parts += [f"Finding {j} is described in detail by its source [{sid}]." for j, sid in enumerate(ids, 1)]
        if len(ids) >= 2:
            # Engines must expand combined markers, so always emit one when there is something to combine.
            parts.append(f"Taken together, the first two sources point the same way [{ids[0]}, {ids[1]}].")
        if self.scenario.invent_citations:
            parts.append(_INVENTED_INLINE)
            parts.append(
                "## Sources\n\n1. https://invented.example/fake-3\n2. [Fake paper](https://invented.example/fake-4)"
            )
        return Answer(text="\n\n".join(parts))


    def _judge(self, req: ScriptedRequest) -> Answer:
        """A literal-minded judge, enough to test the plumbing: a sentence is unsupported when one of its numbers or
        its count of negations is not in its passages, else supported. Not a measure of any real model."""
        text = "\n".join(req.user_texts())
        judgements = []
        for number, sentence, passages in _JUDGE_ITEM.findall(text):
            lost = sorted(set(re.findall(r"\d+(?:\.\d+)?", sentence)) - set(re.findall(r"\d+(?:\.\d+)?", passages)))
            negations = [len(_NEGATION.findall(t)) for t in (sentence, passages)]
            if lost:
                verdict, reason = "unsupported", f"the passages do not have {lost[0]}"
            elif negations[0] and not negations[1]:
                verdict, reason = "unsupported", "the passages do not negate it"
            else:
                verdict, reason = "supported", "the passages say this"
            judgements.append({"number": int(number), "verdict": verdict, "reason": reason})
        return Answer(structured={"judgements": judgements})


_JUDGE_ITEM = re.compile(r"^(\d+)\. Sentence: (.+)\n   Passages of its cited sources:\n((?:   .*\n?)*)", re.MULTILINE)
_NEGATION = re.compile(r"\b(?:not|never|no|cannot)\b|n't", re.IGNORECASE)
_SHOWN = re.compile(r'<document id="(S\d+)">\n(?:Title:[^\n]*\n)?(?:Location:[^\n]*\n)?\n?(.*?)</document>', re.DOTALL)
_REVISE_HEADER = "Report to revise:"
_QUOTED = re.compile(r"^(.+?) \[(S\d+)\]\.$", re.MULTILINE)


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s+", " ".join(text.split()), maxsplit=1)[0].strip()


def _corrupted(sentence: str) -> str:
    """The sentence made false: its first number changed, or else a "not" added after its first verb."""
    number = re.search(r"\d+", sentence)
    if number:
        return f"{sentence[: number.start()]}{int(number.group()) + 1}{sentence[number.end():]}"
    return re.sub(r"\b(is|are|can|does|will|store|stores|uses)\b", lambda m: f"{m.group(1)} not", sentence, count=1)


# Everything an engine must strip: an id never handed out, a markdown link and a bare URL to invented pages.
_INVENTED_INLINE = (
    "Some experts also agree [S999]; [see this](https://invented.example/fake-1) "
    "and https://invented.example/fake-2 for more."
)


def _fill_object(schema: dict[str, Any], text: str) -> dict[str, Any]:
    """Arguments from a JSON schema: required properties (string ones, if none are marked) get a value."""
    props: dict[str, Any] = schema.get("properties") or {}
    required = schema.get("required") or [k for k, v in props.items() if v.get("type") == "string"]
    out: dict[str, Any] = {}
    for name in required:
        kind = (props.get(name) or {}).get("type", "string")
        if kind in ("integer", "number"):
            out[name] = 3
        elif kind == "boolean":
            out[name] = False
        elif kind == "array":
            out[name] = [text]
        elif kind == "object":
            out[name] = {}
        else:
            out[name] = text
    return out


def _payload(text: str, template: str | None = None) -> str:
    """The user's own words: the engine's template header (e.g. "Topic to research:") dropped and whitespace
    folded, so topics and queries stay one readable line."""
    if template:
        head = template.split("{", 1)[0]
        if head and text.startswith(head):
            text = text[len(head) :]
    return " ".join(text.split())


def _first(items: list[str]) -> str:
    return items[0] if items else ""


def _last(items: list[str]) -> str:
    return items[-1] if items else ""


def _openai_text(content: Any) -> str:
    if isinstance(content, list):
        return _block_text(content)
    return content or ""


def _block_text(blocks: list[Any]) -> str:
    return "\n".join(b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text")


def _loads(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        # A client may echo back broken arguments; keep them visible to matching and token counts.
        return {"_raw": str(arguments)}
    return value if isinstance(value, dict) else {"_value": value}
