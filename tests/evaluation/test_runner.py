"""The evaluation set on disk, and a whole evaluation run (real engine, offline model) over a tiny corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deep_research_mcp.evaluation import Question, document_text, evaluate, fact_found, load_questions
from deep_research_mcp.evaluation.__main__ import main

QUESTIONS = Path(__file__).parents[2] / "eval" / "questions.json"
PG_DOCS = Path("/usr/share/doc/postgresql-doc-15/html")

DOCS = {
    "barrage.md": """# Tidal barrages

A tidal barrage is a dam built across the mouth of an estuary. Sluice gates let the rising tide fill the basin,
and the water is released through low-head turbines when the tide falls. A barrage needs a tidal range of at least
5 m to be economic.
""",
    "rance.md": """# La Rance

The La Rance tidal power station in Brittany opened in 1966. It has 24 bulb turbines with a combined capacity of
240 MW.
""",
    "lagoon.html": """<html><head><title>Tidal lagoons</title></head><body><h1>Tidal lagoons</h1>
<p>A tidal lagoon is an artificial enclosure built with a breakwater wall on the coast, rather than across a whole
estuary.</p></body></html>""",
}


def test_the_evaluation_set_is_well_formed() -> None:
    questions = load_questions(QUESTIONS).questions
    assert len(questions) >= 15
    assert sum(q.split == "holdout" for q in questions) >= 5
    assert sum(len(q.gold_sources) >= 2 for q in questions) >= 15  # multi-document questions
    assert all(len(q.facts) >= 5 for q in questions)


def test_every_gold_fact_is_stated_in_its_gold_sources() -> None:
    if not PG_DOCS.is_dir():
        pytest.fail("postgresql-doc-15 is not installed: run `bash scripts/eval-corpus.sh` (.ci/run does)")
    for q in load_questions(QUESTIONS).questions:
        text = " ".join(" ".join(document_text(PG_DOCS / g).split()) for g in q.gold_sources)
        for fact in q.facts:
            assert fact_found(text, fact.patterns), (q.id, fact.fact)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    for name, text in DOCS.items():
        (root / name).write_text(text)
    return root


QUESTION = Question.model_validate({
    "id": "barrages", "split": "holdout",
    "question": "How does a tidal barrage work, and what is the capacity of La Rance?",
    "gold_sources": ["barrage.md", "rance.md"],
    "facts": [{"fact": "turbines", "patterns": ["low-head turbines"]}, {"fact": "capacity", "patterns": ["240 MW"]},
              {"fact": "not in the corpus", "patterns": ["gigawatt"]}],
})


async def test_evaluate_runs_the_offline_engine_and_scores_each_report(corpus: Path, tmp_path: Path) -> None:
    seen: list[str] = []
    run = await evaluate(corpus, [QUESTION], data_dir=tmp_path / "data", on_score=lambda s: seen.append(s.id))
    (score,) = run.scores
    assert seen == ["barrages"] and run.index_files == 3
    assert score.facts_found == ["turbines", "capacity"] and score.fact_recall == pytest.approx(2 / 3)
    assert score.claims and score.citation_accuracy == 1.0  # an extractive report quotes what it cites
    assert score.fabricated == 0
    assert score.gold_cited == ["barrage.md", "rance.md"]
    totals = run.totals("holdout")
    assert totals.questions == 1 and totals.citation_accuracy == 1.0 and run.totals("tune").questions == 0
    document = json.loads(json.dumps(run.to_json()))
    assert document["questions"][0]["report"].startswith("# ") and document["totals"]["all"]["fabricated"] == 0


def test_the_command_line_prints_a_table_and_writes_json(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = tmp_path / "questions.json"
    questions.write_text(json.dumps({"questions": [QUESTION.model_dump()]}))
    out = tmp_path / "out" / "results.json"
    assert main(["--corpus", str(corpus), "--questions", str(questions), "--json", str(out), "--show"]) == 0
    printed = capsys.readouterr().out
    assert "| barrages | holdout | 2/3 |" in printed and "| all (1) |" in printed and "missed fact" in printed
    assert json.loads(out.read_text())["questions"][0]["id"] == "barrages"
    assert main(["--corpus", str(tmp_path / "nowhere"), "--questions", str(questions)]) == 2
    assert main(["--corpus", str(corpus), "--questions", str(questions), "--only", "unknown"]) == 2
