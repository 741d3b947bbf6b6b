"""Replay the offline engine's selection and report over captured research, to try a ranking idea in seconds.

A full evaluation run of the six tune halves takes minutes, nearly all of it retrieval. Selection (the compress
stage, `llm/offline/select.py`) and the report (`llm/offline/report.py`) are pure functions of their inputs, so:

    python bench/replay_selection.py capture /tmp/cap.pkl --corpus postgres --corpus sqlite   # one full run
    python bench/replay_selection.py replay /tmp/cap.pkl                                       # ~30 s
    python bench/replay_selection.py replay /tmp/cap.pkl --set select.PAGE_SUPPORT=0.5         # a variant

`capture` runs the evaluation on the tune halves and records every compress input, the report input and the run's
source registry per question. `replay` runs today's `compress_notes` and `write_report` on them, finalizes the
citations as the engine does and scores each report with the evaluation's scorer; with no change to the selection
code it reproduces the evaluation's figures exactly. `--set module.NAME=value` (a Python literal) overrides a constant
of a module under `deep_research_mcp.llm.offline` for the replay. Tune halves only: the held-out halves are for
measuring, never for choosing a variant. The pickle is a local scratch file of this machine, never shared.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import importlib
import json
import pickle
from pathlib import Path
from typing import Any

from deep_research_mcp.engine.sources import finalize_report, scrub_citations
from deep_research_mcp.evaluation.questions import Question, load_questions, resolve_corpus
from deep_research_mcp.evaluation.runner import evaluate
from deep_research_mcp.evaluation.scoring import DocumentCache, QuestionScore, score_report
from deep_research_mcp.llm.offline import model


def _tune_questions(name: str) -> tuple[Path, list[Question]]:
    corpus = resolve_corpus(name)
    return corpus.root, [q for q in load_questions(*corpus.question_files).questions if q.split == "tune"]


def capture(path: Path, corpora: list[str], data_dir: Path) -> None:
    """One evaluation run of the tune halves, recording what selection and report were given."""
    from deep_research_mcp.engine import writer

    record: dict[str, Any] = {"compress": [], "report": [], "registry": None}
    compress, report, finalize = model.compress_notes, model.write_report, writer.finalize_report

    def compress_spy(text: str) -> str:
        record["compress"].append((text, out := compress(text)))
        return out

    def report_spy(text: str) -> str:
        record["report"].append((text, out := report(text)))
        return out

    def finalize_spy(text: str, registry: Any) -> Any:
        record["registry"] = registry
        return finalize(text, registry)

    model.compress_notes, model.write_report = compress_spy, report_spy  # type: ignore[assignment]
    writer.finalize_report = finalize_spy  # type: ignore[assignment]
    captured: dict[tuple[str, str], dict[str, Any]] = {}
    for name in corpora:
        root, questions = _tune_questions(name)

        def keep(score: QuestionScore, name: str = name) -> None:
            captured[(name, score.id)] = {**record, "recall": score.fact_recall}
            record.update(compress=[], report=[], registry=None)

        run = asyncio.run(evaluate(root, questions, data_dir=data_dir / name, on_score=keep))
        print(f"{name}: captured {len(run.scores)} questions, fact recall {run.totals().fact_recall:.3f}")
    path.write_bytes(pickle.dumps(captured))


def replay(path: Path, overrides: list[str], dump: Path | None = None) -> float:
    """Today's selection and report over the captured inputs; prints recall per corpus and returns their sum. With
    `dump`, each report and the facts it found are written there (`<corpus>__<id>.md`, `found.json`), so two variants
    can be compared question by question with diff."""
    for override in overrides:
        target, _, literal = override.partition("=")
        module, _, attribute = target.rpartition(".")
        setattr(importlib.import_module(f"deep_research_mcp.llm.offline.{module}"), attribute,
                ast.literal_eval(literal))
    captured: dict[tuple[str, str], dict[str, Any]] = pickle.loads(path.read_bytes())  # noqa: S301 - our own file
    documents = DocumentCache()
    questions: dict[str, tuple[Path, dict[str, Question]]] = {}
    scores: dict[str, list[QuestionScore]] = {}
    for (name, question_id), record in captured.items():
        if name not in questions:
            root, tune = _tune_questions(name)
            questions[name] = (root, {q.id: q for q in tune})
        root, by_id = questions[name]
        registry = record["registry"]
        report_input = record["report"][-1][0]
        for compress_input, old_notes in record["compress"]:
            # The report input holds each researcher's notes as the engine scrubbed them: swap in today's.
            old = scrub_citations(old_notes, registry).text
            new = scrub_citations(model.compress_notes(compress_input), registry).text
            report_input = report_input.replace(old, new, 1)
        report, _, _ = finalize_report(model.write_report(report_input), registry)
        locators = [source.locator for source in registry.all()]
        scores.setdefault(name, []).append(score_report(by_id[question_id], report, locators, root,
                                                        load=documents.get, page_text=documents.text))
        if dump is not None:
            dump.mkdir(parents=True, exist_ok=True)
            (dump / f"{name}__{question_id}.md").write_text(report, encoding="utf-8")
    if dump is not None:
        found = {f"{name}/{s.id}": s.facts_found for name, done in scores.items() for s in done}
        (dump / "found.json").write_text(json.dumps(found, indent=1, sort_keys=True), encoding="utf-8")
    total = 0.0
    for name, done in scores.items():
        recall = sum(s.fact_recall for s in done) / len(done)
        claims = sum(len(s.claims) for s in done)
        supported = sum(s.supported_claims for s in done)
        defects = sum(sum(s.readability.values()) for s in done)
        total += recall
        print(f"{name:9s} recall {recall:.3f}  citations {supported}/{claims}  readability defects {defects}")
    print(f"sum of recalls {total:.3f}")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    take = commands.add_parser("capture", help="run the tune halves once and record selection's inputs")
    take.add_argument("path", type=Path)
    take.add_argument("--corpus", action="append", required=True)
    take.add_argument("--data-dir", type=Path, default=Path("/tmp/replay-index"))
    again = commands.add_parser("replay", help="today's selection and report over a capture")
    again.add_argument("path", type=Path)
    again.add_argument("--set", action="append", default=[], metavar="MODULE.NAME=VALUE")
    again.add_argument("--dump", type=Path, help="write each report and the facts it found into this folder")
    args = parser.parse_args()
    if args.command == "capture":
        capture(args.path, args.corpus, args.data_dir)
    else:
        replay(args.path, args.set, args.dump)


if __name__ == "__main__":
    main()
