"""Research phase: the supervisor delegates topics to researchers, which run in parallel behind a run-wide queue."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from .. import prompts
from ..errors import BudgetExceeded, ProviderError
from ..llm.base import Message, ToolCall, ToolSpec
from .config import UnitOutcome
from .context import RunContext
from .reading import quote, quote_line
from .researcher import RESEARCH_COMPLETE_TOOL, THINK_TOOL, run_researcher

CONDUCT_RESEARCH_TOOL = ToolSpec(
    prompts.CONDUCT_RESEARCH,
    "Start a researcher on one topic. The topic must stand alone: the researcher sees nothing else.",
    {
        "type": "object",
        "properties": {"topic": {"type": "string", "description": "The topic, described in full"}},
        "required": ["topic"],
    },
)
SUPERVISOR_TOOLS = [CONDUCT_RESEARCH_TOOL, RESEARCH_COMPLETE_TOOL, THINK_TOOL]


async def supervise(
    ctx: RunContext, brief: str, *, known: Sequence[UnitOutcome] = (), earlier_brief: str = ""
) -> list[UnitOutcome]:
    """Run supervisor turns until it calls ResearchComplete, stops calling tools, or runs out of turns.

    A supervisor call that fails after its retries ends research with what was gathered so far; the writer goes on.
    With `known` (a follow-up), the supervisor is shown the earlier brief and notes; a topic it delegates again is
    answered with the earlier notes instead of a researcher, so what the earlier run covered costs no call.
    """
    config = ctx.config
    system = prompts.SUPERVISOR_SYSTEM.format(
        date=ctx.date, conduct=prompts.CONDUCT_RESEARCH, think=prompts.THINK, complete=prompts.RESEARCH_COMPLETE,
        max_units=config.max_concurrent_units, max_iterations=config.max_supervisor_iterations,
    )
    user = prompts.SUPERVISOR_USER.format(brief=brief)
    if known or earlier_brief:
        topics = "\n\n".join(prompts.KNOWN_TOPIC.format(topic=quote_line(u.topic, 500), note=_shortened(u.note))
                             for u in known)
        user += "\n\n" + prompts.SUPERVISOR_FOLLOW_UP.format(earlier_brief=quote(earlier_brief),
                                                             known=topics or prompts.NO_KNOWN_TOPICS)
    messages = [Message.system(system), Message.user(user)]
    earlier = {_topic_key(u.topic): u for u in known}
    outcomes: list[UnitOutcome] = []
    for _ in range(config.max_supervisor_iterations):
        try:
            response = await ctx.models.research.chat(messages, stage="supervisor", tools=SUPERVISOR_TOOLS)
        except (ProviderError, BudgetExceeded) as exc:
            if not outcomes and not known:  # a follow-up still has the earlier notes to write from
                raise
            ctx.warn(f"supervisor stopped early ({exc}); writing the report from the findings so far")
            break
        messages.append(Message("assistant", response.text, tuple(response.tool_calls)))
        calls = response.tool_calls
        if not calls or any(c.name == prompts.RESEARCH_COMPLETE for c in calls):
            break
        replies = await _run_turn(ctx, calls, outcomes, earlier, brief)
        messages.extend(Message.tool_result(call, replies[call.id]) for call in calls)
    return outcomes


def _topic_key(topic: str) -> str:
    return " ".join(topic.casefold().split()).rstrip(" ?.!")


def _shortened(note: str) -> str:
    # A heading inside a note must not read as the next topic's `### ` line (the offline engine splits on those).
    text = re.sub(r"(?m)^#", r"\\#", quote(note.strip()))
    limit = prompts.KNOWN_TOPIC_NOTE_CHARS
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)  # whole lines: each ends with its citations
    return text[: cut if cut > limit // 2 else limit] + " …"


async def _run_turn(
    ctx: RunContext, calls: list[ToolCall], outcomes: list[UnitOutcome], earlier: dict[str, UnitOutcome], brief: str
) -> dict[str, str]:
    replies: dict[str, str] = {}
    units: dict[str, asyncio.Task[UnitOutcome]] = {}
    # Every ConductResearch of the turn starts now; the run-wide semaphore queues those beyond the limit.
    async with asyncio.TaskGroup() as group:
        for call in calls:
            if call.name == prompts.THINK:
                replies[call.id] = "Reflection recorded."
            elif call.name != prompts.CONDUCT_RESEARCH:
                replies[call.id] = f"Error: unknown tool {call.name!r}."
            elif not str(call.arguments.get("topic", "")).strip():
                replies[call.id] = "Error: ConductResearch needs a non-empty 'topic'."
            elif (done := earlier.get(_topic_key(str(call.arguments["topic"])))) is not None:
                replies[call.id] = prompts.KNOWN_TOPIC_REPLY.format(note=quote(done.note))
            else:
                topic = str(call.arguments["topic"]).strip()
                units[call.id] = group.create_task(run_researcher(ctx, topic, brief))
    for call_id, task in units.items():
        outcome = task.result()
        outcomes.append(outcome)
        replies[call_id] = outcome.note if outcome.ok else f"Research on this topic failed: {outcome.error}"
    return replies
