"""Measured quality of the offline engine: an evaluation set of questions with gold facts and gold sources over a
real documentation corpus, and a scorer for fact recall, citation accuracy, fabricated citations and gold-source
hits. Run it with `python -m deep_research_mcp.evaluation --corpus DIR`; the scoring rules are in `scoring`."""

from .questions import Fact, Question, QuestionSet, load_questions
from .runner import EvalRun, Totals, evaluate, offline_settings, totals
from .scoring import (
    SUPPORT_THRESHOLD,
    DocumentWords,
    Judgement,
    ParsedReport,
    QuestionScore,
    document_text,
    fact_found,
    judge,
    parse_report,
    score_report,
    support,
    supports,
)

__all__ = [
    "SUPPORT_THRESHOLD",
    "DocumentWords",
    "EvalRun",
    "Fact",
    "Judgement",
    "ParsedReport",
    "Question",
    "QuestionScore",
    "QuestionSet",
    "Totals",
    "document_text",
    "evaluate",
    "fact_found",
    "judge",
    "load_questions",
    "offline_settings",
    "parse_report",
    "score_report",
    "support",
    "supports",
    "totals",
]
