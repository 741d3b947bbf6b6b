"""Running the evaluation: the real engine (offline model, local-document index, no fetch, no upstream servers) over
every question, one shared index, each report scored as it finishes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..engine.config import EngineConfig
from ..engine.run import ResearchEngine
from ..errors import ConfigError
from ..llm.factory import ModelHub
from ..settings import Settings
from ..tools.localdocs import IndexStats
from ..tools.toolbox import open_toolbox
from .questions import Question
from .readability import KINDS
from .scoring import DocumentCache, QuestionScore, score_report


@dataclass(slots=True)
class Totals:
    questions: int
    fact_recall: float  # mean of per-question recall: every question weighs the same
    facts: int
    missed_not_retrieved: int  # missed facts no retrieved page states: lost in retrieval
    missed_on_retrieved: int  # missed facts a retrieved page states: lost in reading or selection
    citation_accuracy: float  # over all cited claims of all reports
    claims: int
    claims_per_report: float  # report length, so recall is read next to how much text bought it
    unsupported_claims: int
    fabricated: int
    gold_hit_rate: float  # over all gold files
    gold_retrieved_rate: float
    cited_gold_share: float  # over all Sources entries of all reports: how many are gold pages
    uncited_sentences: int
    readability: dict[str, int]  # defects per kind, summed over the reports
    mean_elapsed_s: float
    max_elapsed_s: float

    @property
    def readability_defects(self) -> int:
        return sum(self.readability.values())


@dataclass(slots=True)
class EvalRun:
    corpus: str  # a name (postgres, django) or the folder
    index_files: int = 0
    index_s: float = 0.0
    scores: list[QuestionScore] = field(default_factory=list)
    reports: dict[str, str] = field(default_factory=dict)
    registries: dict[str, list[str]] = field(default_factory=dict)  # per question: the locators it retrieved
    cli_seconds: list[float] = field(default_factory=list)  # whole `deep-research run` commands, index reused

    def totals(self, split: str | None = None) -> Totals:
        chosen = [s for s in self.scores if split is None or s.split == split]
        return totals(chosen)

    def to_json(self) -> dict[str, Any]:
        splits = sorted({s.split for s in self.scores})
        return {
            "corpus": self.corpus,
            "index": {"files": self.index_files, "seconds": round(self.index_s, 3)},
            "cli_seconds": [round(t, 3) for t in self.cli_seconds],
            "totals": {"all": asdict(self.totals()), **{name: asdict(self.totals(name)) for name in splits}},
            "questions": [
                {**asdict(s), "fact_recall": s.fact_recall, "citation_accuracy": s.citation_accuracy,
                 "gold_hit_rate": s.gold_hit_rate, "cited_gold_share": s.cited_gold_share,
                 "report": self.reports.get(s.id, ""), "registry": self.registries.get(s.id, [])}
                for s in self.scores
            ],
        }


def totals(scores: Sequence[QuestionScore]) -> Totals:
    claims = sum(len(s.claims) for s in scores)
    supported = sum(s.supported_claims for s in scores)
    gold = sum(s.gold_total for s in scores)
    cited = sum(s.cited_sources for s in scores)
    readability = dict.fromkeys(KINDS, 0)
    for s in scores:
        for kind, n in s.readability.items():
            readability[kind] = readability.get(kind, 0) + n
    elapsed = [s.elapsed_s for s in scores] or [0.0]
    return Totals(
        questions=len(scores),
        fact_recall=sum(s.fact_recall for s in scores) / len(scores) if scores else 0.0,
        facts=sum(len(s.facts_found) + len(s.facts_missed) for s in scores),
        missed_not_retrieved=sum(len(s.facts_missed) - len(s.missed_on_retrieved) for s in scores),
        missed_on_retrieved=sum(len(s.missed_on_retrieved) for s in scores),
        citation_accuracy=supported / claims if claims else 0.0,
        claims=claims,
        claims_per_report=claims / len(scores) if scores else 0.0,
        unsupported_claims=claims - supported,
        fabricated=sum(s.fabricated for s in scores),
        gold_hit_rate=sum(len(s.gold_cited) for s in scores) / gold if gold else 0.0,
        gold_retrieved_rate=sum(len(s.gold_retrieved) for s in scores) / gold if gold else 0.0,
        cited_gold_share=sum(s.cited_gold_pages for s in scores) / cited if cited else 0.0,
        uncited_sentences=sum(s.uncited_sentences for s in scores),
        readability=readability,
        mean_elapsed_s=sum(elapsed) / len(elapsed),
        max_elapsed_s=max(elapsed),
    )


def offline_settings(data_dir: Path) -> Settings:
    """Settings for a run that is the offline engine's alone, whatever the environment says: no model, no fetch, no
    upstream servers, no clarifying question, and the index kept under `data_dir`."""
    return Settings(
        research_model=None, summarization_model=None, compression_model=None, final_report_model=None,
        fetch_enabled=False, mcp_config=None, allow_clarification=False, data_dir=data_dir,
    )


async def evaluate(
    corpus: Path,
    questions: Sequence[Question],
    *,
    data_dir: Path,
    on_score: Callable[[QuestionScore], None] | None = None,
    score: bool = True,
) -> EvalRun:
    """Index `corpus` (timed on its own), research every question with the offline engine and score each report;
    with `score=False` the reports are kept unscored (`run.scores` stays empty): a check of the reports' form needs
    no facts or claims judged, which is a third of a run's time."""
    settings = offline_settings(data_dir)
    run = EvalRun(corpus=str(corpus))
    documents = DocumentCache()
    seen: list[IndexStats] = []
    async with ModelHub(settings) as hub:
        if not hub.offline_only:
            raise ConfigError("the evaluation measures the offline engine, but a model is configured")
        started = time.perf_counter()
        async with open_toolbox(settings, docs=corpus, index_progress=seen.append) as tools:
            run.index_s = time.perf_counter() - started
            run.index_files = (seen[-1].indexed + seen[-1].unchanged) if seen else 0
            engine = ResearchEngine(hub.stage_models(), tools, EngineConfig.from_settings(settings))
            for question in questions:
                began = time.perf_counter()
                result = await engine.run(question.question)
                elapsed = time.perf_counter() - began
                registry = [source.locator for source in result.registry]
                run.reports[question.id] = result.report
                run.registries[question.id] = registry
                if not score:
                    continue
                scored = score_report(question, result.report, registry, corpus, load=documents.get,
                                      page_text=documents.text)
                scored.elapsed_s = elapsed
                run.scores.append(scored)
                if on_score is not None:
                    on_score(scored)
    return run


def rescore(saved: dict[str, Any], corpus: Path, questions: Sequence[Question]) -> EvalRun:
    """Score the reports of a saved run (`EvalRun.to_json`) again, with today's scorer and question files, without
    running the engine: how a scorer or pattern fix changes the numbers of one and the same set of reports."""
    by_id = {q.id: q for q in questions}
    run = EvalRun(corpus=saved["corpus"], index_files=saved["index"]["files"], index_s=saved["index"]["seconds"],
                  cli_seconds=list(saved.get("cli_seconds", [])))
    documents = DocumentCache()
    for entry in saved["questions"]:
        question = by_id.get(entry["id"])
        if question is None:
            continue
        score = score_report(question, entry["report"], entry["registry"], corpus, load=documents.get,
                             page_text=documents.text)
        score.elapsed_s = entry["elapsed_s"]
        run.scores.append(score)
        run.reports[question.id] = entry["report"]
        run.registries[question.id] = entry["registry"]
    return run


def time_cli_runs(corpus: Path, questions: Sequence[Question], data_dir: Path, scratch: Path) -> list[float]:
    """Wall-clock seconds of the whole `deep-research run --docs CORPUS QUESTION` command per question, as a user
    runs it: a new Python process, start-up, the no-change check of the index `evaluate` built under `data_dir`, the
    research and the report file. The environment is stripped of keys and model settings so it is the offline
    engine's run."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DEEP_RESEARCH_") and k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
    env.update(DEEP_RESEARCH_DATA_DIR=str(data_dir), DEEP_RESEARCH_FETCH_ENABLED="false")
    seconds = []
    for i, question in enumerate(questions):
        command = [sys.executable, "-m", "deep_research_mcp.cli", "run", "--docs", str(corpus), "--no-clarify",
                   "--no-cache", "-q", "-o", str(scratch / f"cli-{i}.md"), question.question]
        began = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
        seconds.append(time.perf_counter() - began)
        if done.returncode != 0:
            raise ConfigError(f"`deep-research run` failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    return seconds

