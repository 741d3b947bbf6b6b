"""Every evaluation report reads like an answer: the offline engine researches the tune questions of both corpora
(real index of the Debian documentation trees, real engine, no model) and the readability check counts zero defects.

Only the tune halves: the held-out halves are for measuring, never for a test that engine work is tuned against.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from deep_research_mcp.evaluation import EvalRun, evaluate, load_questions
from deep_research_mcp.evaluation.questions import CORPORA
from deep_research_mcp.evaluation.readability import KINDS, check_report

_RUNS: dict[str, EvalRun] = {}


@pytest.fixture(scope="session")
def tune_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], EvalRun]:
    """The evaluation run of one corpus's tune questions, built once per test session (indexing takes seconds)."""

    def get(name: str) -> EvalRun:
        if name not in _RUNS:
            corpus = CORPORA[name]
            if not corpus.root.is_dir():
                pytest.fail(f"the {name} corpus is not installed: run `bash scripts/eval-corpus.sh {name}`")
            questions = [q for q in load_questions(*corpus.question_files).questions if q.split == "tune"]
            data_dir = tmp_path_factory.mktemp(f"eval-{name}")
            _RUNS[name] = asyncio.run(evaluate(corpus.root, questions, data_dir=Path(data_dir), score=False))
        return _RUNS[name]

    return get


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", ["postgres", "django"])
def test_every_tune_report_is_free_of_readability_defects(tune_run: Callable[[str], EvalRun], name: str) -> None:
    run = tune_run(name)
    corpus = CORPORA[name]
    tune = {q.id for q in load_questions(*corpus.question_files).questions if q.split == "tune"}
    assert run.reports and set(run.reports) == tune and not run.scores  # every tune question, unscored
    findings = {qid: check_report(report) for qid, report in run.reports.items()}
    tally = dict.fromkeys(KINDS, 0)
    for found in findings.values():
        for finding in found:
            tally[finding.kind] += 1
    examples = [f"{qid}: {f.kind}: {f.excerpt}" for qid, found in findings.items() for f in found][:15]
    assert tally == dict.fromkeys(KINDS, 0), "\n".join(examples)
