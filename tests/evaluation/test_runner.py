"""The evaluation set on disk, and a whole evaluation run (real engine, offline model) over a tiny corpus."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from deep_research_mcp.errors import InputError
from deep_research_mcp.evaluation import Question, document_text, evaluate, fact_found, load_questions
from deep_research_mcp.evaluation.__main__ import main
from deep_research_mcp.evaluation.questions import CORPORA, resolve_corpus

QUESTIONS = Path(__file__).parents[2] / "eval" / "questions.json"
PG_DOCS = Path("/usr/share/doc/postgresql-doc-15/html")
# Corpora whose tune and held-out halves are separate files.
SPLIT_CORPORA = ["django", "pytest", "git", "sqlite", "celery", "apache", "postfix", "node", "cmake", "sqlalchemy",
                 "exim4", "werkzeug", "flask", "zsh"]

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


@pytest.mark.parametrize("name", SPLIT_CORPORA)
def test_the_set_is_split_into_tune_and_held_out_files(name: str) -> None:
    files = CORPORA[name].question_files
    tune, heldout = (load_questions(path).questions for path in files)
    questions = [*tune, *heldout]
    assert len(questions) >= 26 and abs(len(tune) - len(heldout)) <= 1
    assert {q.split for q in tune} == {"tune"} and {q.split for q in heldout} == {"holdout"}
    assert all(3 <= len(q.facts) <= 8 and 1 <= len(q.gold_sources) <= 4 for q in questions)
    assert sum(len(q.gold_sources) >= 2 for q in questions) >= len(questions) // 2
    assert load_questions(*files).questions == questions


@pytest.mark.parametrize("name", ["postgres", *SPLIT_CORPORA])
def test_every_gold_fact_is_stated_in_its_gold_sources(name: str) -> None:
    root, files = CORPORA[name].root, CORPORA[name].question_files
    if not root.is_dir():
        pytest.fail(f"the {name} corpus is not installed: run `bash scripts/eval-corpus.sh {name}` (.ci/run does)")
    pages: dict[str, str] = {}  # a page several questions cite (git-config.html, 170 kB) is read once
    for q in load_questions(*files).questions:
        for g in q.gold_sources:
            if g not in pages:
                pages[g] = " ".join(document_text(root / g).split())
        text = " ".join(pages[g] for g in q.gold_sources)
        for fact in q.facts:
            # Every pattern, not just one: a pattern the gold pages do not hold is a pattern nobody checked.
            for pattern in fact.patterns:
                assert fact_found(text, [pattern]), (q.id, fact.fact, pattern)


def test_no_fact_pattern_is_a_bare_word_or_the_question_itself() -> None:
    """A pattern that is one plain word ("loops", "GIN") is met by sentences that do not state the fact, and one
    the question's own words meet is met by a report that repeats the question."""
    for files in ((QUESTIONS,), *(CORPORA[name].question_files for name in SPLIT_CORPORA)):
        for q in load_questions(*files).questions:
            for fact in q.facts:
                for pattern in fact.patterns:
                    assert not fact_found(q.question, [pattern]), (q.id, pattern)
                    assert not is_bare_word(pattern), (q.id, pattern)


# Short one-word patterns checked by hand: names of programs, protocols and catalog columns, not words of prose.
VETTED_NAMES = frozenset({"relpages", "Gunicorn", "Daphne", "Uvicorn", "ASGI"})


def is_bare_word(pattern: str) -> bool:
    """One run of letters with nothing that makes it an identifier (underscore, digit, inner capital, call
    parentheses, dot, dash), unless it is long enough to be a name nobody uses in passing (`createcachetable`)."""
    plain = pattern.replace("\\b", "")
    return (bool(re.fullmatch(r"[A-Za-z]+", plain)) and not re.search(r"[a-z][A-Z]", plain) and len(plain) < 9
            and plain not in VETTED_NAMES)


def test_a_corpus_is_named_or_a_folder_with_questions(tmp_path: Path) -> None:
    assert resolve_corpus("django").root == Path("/usr/share/doc/python-django-doc/html")
    assert resolve_corpus("postgres").question_files == (QUESTIONS,)
    assert resolve_corpus(str(PG_DOCS)).name == "postgres"  # the folder scripts/eval-corpus.sh prints
    assert resolve_corpus(str(tmp_path), [QUESTIONS]).root == tmp_path
    with pytest.raises(InputError, match="give --questions"):
        resolve_corpus(str(tmp_path))


def test_a_split_file_holds_only_its_split(tmp_path: Path) -> None:
    mislabelled = tmp_path / "questions_tune.json"
    mislabelled.write_text(json.dumps({"questions": [QUESTION.model_dump()]}))  # a holdout question
    with pytest.raises(InputError, match="holds tune questions only"):
        load_questions(mislabelled)


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
    assert main(["--corpus", str(corpus), "--questions", str(questions), "--json", str(out), "--show",
                 "--cli-runs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "| barrages | held-out | 2/3 |" in printed and "| held-out (1) |" in printed and "missed fact" in printed
    (run,) = json.loads(out.read_text())["runs"]
    assert run["questions"][0]["id"] == "barrages" and run["questions"][0]["registry"]
    assert len(run["cli_seconds"]) == 1 and run["cli_seconds"][0] > 0  # one whole `deep-research run`
    # The saved reports score again without the engine, to the same numbers.
    again = tmp_path / "again.json"
    assert main(["--corpus", str(corpus), "--questions", str(questions), "--rescore", str(out),
                 "--json", str(again)]) == 0
    (rescored,) = json.loads(again.read_text())["runs"]
    assert rescored["totals"] == run["totals"] and rescored["cli_seconds"] == run["cli_seconds"]
    assert main(["--corpus", str(tmp_path / "nowhere"), "--questions", str(questions)]) == 2
    assert main(["--corpus", str(corpus), "--questions", str(questions), "--only", "unknown"]) == 2
