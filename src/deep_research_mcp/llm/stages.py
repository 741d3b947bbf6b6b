"""Which stage of the engine a request belongs to, read off its shape: the contract between the engine's prompts and
everything that answers them without a real model (the scripted LLM server and the offline engine)."""

from __future__ import annotations

from collections.abc import Collection

from .. import prompts

_SCHEMA_STAGES = {prompts.CLARIFY_SCHEMA: "clarify", prompts.BRIEF_SCHEMA: "brief", prompts.JUDGE_SCHEMA: "judge"}
_MARKED_STAGES = ("compress", "report", "summarize")  # the stages whose requests carry neither schema nor tools


def stage_of(*, system: str, tool_names: Collection[str], schema_name: str | None) -> str:
    """The stage name: by structured-output name, then by the tools offered, then by the system prompt's marker
    line; "other" when nothing matches."""
    if schema_name in _SCHEMA_STAGES:
        return _SCHEMA_STAGES[schema_name]
    if prompts.CONDUCT_RESEARCH in tool_names:
        return "supervisor"
    if tool_names:
        return "researcher"
    return next((stage for stage in _MARKED_STAGES if prompts.STAGE_MARKERS[stage] in system), "other")
