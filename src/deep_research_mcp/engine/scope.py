"""Scope phase: decide whether to ask the user a question, then write the research brief."""

from __future__ import annotations

from .. import prompts
from ..llm.base import Message
from ..llm.client import ModelCaller
from .config import ClarifyWithUser, ResearchBrief


async def clarify(model: ModelCaller, question: str, *, date: str) -> ClarifyWithUser:
    messages = [
        Message.system(prompts.CLARIFY_SYSTEM.format(date=date, schema=prompts.CLARIFY_SCHEMA)),
        Message.user(question),
    ]
    result = await model.structured(messages, ClarifyWithUser, stage="clarify", name=prompts.CLARIFY_SCHEMA)
    if result.need_clarification and not result.question.strip():
        # A model that wants to ask but asks nothing is treated as not needing to ask.
        return ClarifyWithUser(need_clarification=False, verification=result.verification)
    return result


async def write_brief(model: ModelCaller, question: str, *, date: str) -> str:
    messages = [
        Message.system(prompts.BRIEF_SYSTEM.format(date=date, schema=prompts.BRIEF_SCHEMA)),
        Message.user(question),
    ]
    result = await model.structured(messages, ResearchBrief, stage="brief", name=prompts.BRIEF_SCHEMA)
    return result.research_brief.strip()
