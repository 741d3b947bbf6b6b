"""Scripted LLM server: deterministic OpenAI- and Anthropic-compatible endpoints for offline runs.

Stages are told apart by structured-output name (clarify, brief), offered tools (supervisor, researcher) or
the system prompt's first line (compress, report); answers follow a `Scenario`. Run it standalone with
`python -m deep_research_mcp.llm.scripted [--scenario FILE] [--port N]`.
"""

from .scenario import FailureRule, Scenario
from .server import Limits, ScriptedLLMServer, Stats

__all__ = ["FailureRule", "Limits", "Scenario", "ScriptedLLMServer", "Stats"]
