"""`python -m deep_research_mcp.evaluation --corpus DIR`: research every question of the evaluation set with the
offline engine, print a table per question and totals per split, and write every score (and report) as JSON.

Exit status: 0 when the run completed (whatever the numbers), 2 for bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from ..errors import ConfigError, InputError
from .questions import load_questions
from .runner import EvalRun, Totals, evaluate
from .scoring import QuestionScore

DEFAULT_QUESTIONS = Path("eval/questions.json")
DEFAULT_OUTPUT = Path("eval/results.json")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deep_research_mcp.evaluation",
                                     description="Measure the offline engine on the evaluation set.")
    parser.add_argument("--corpus", type=Path, required=True, help="corpus root (scripts/eval-corpus.sh prints it)")
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS, help=f"default {DEFAULT_QUESTIONS}")
    parser.add_argument("--split", choices=("all", "tune", "holdout"), default="all", help="questions to run")
    parser.add_argument("--only", action="append", default=[], metavar="ID", help="run only this question (repeat)")
    parser.add_argument("--json", type=Path, default=DEFAULT_OUTPUT, help=f"results file (default {DEFAULT_OUTPUT})")
    parser.add_argument("--data-dir", type=Path, help="keep the index here (default: a temporary folder)")
    parser.add_argument("--show", action="store_true", help="also print unsupported claims and missed facts")
    return parser


def row(score: QuestionScore) -> str:
    facts = len(score.facts_found) + len(score.facts_missed)
    cells = [
        score.id, score.split, f"{len(score.facts_found)}/{facts}", f"{score.fact_recall:.2f}",
        f"{score.supported_claims}/{len(score.claims)}", f"{score.citation_accuracy:.2f}", str(score.fabricated),
        f"{len(score.gold_cited)}/{score.gold_total}", f"{len(score.gold_retrieved)}/{score.gold_total}",
        f"{score.elapsed_s:.2f}",
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = ("| question | split | facts | fact recall | supported claims | citation accuracy | fabricated "
          "| gold cited | gold retrieved | seconds |\n|---|---|---|---|---|---|---|---|---|---|")


def totals_row(name: str, t: Totals) -> str:
    cells = [
        f"{name} ({t.questions})", f"{t.fact_recall:.2f}",
        f"{t.citation_accuracy:.3f} ({t.claims - t.unsupported_claims}/{t.claims})", str(t.fabricated),
        f"{t.gold_hit_rate:.2f}", f"{t.gold_retrieved_rate:.2f}", f"{t.claims_per_report:.1f}",
        f"{t.mean_elapsed_s:.2f} / {t.max_elapsed_s:.2f}",
    ]
    return "| " + " | ".join(cells) + " |"


TOTALS_HEADER = ("| split | fact recall | citation accuracy | fabricated | gold cited | gold retrieved "
                 "| cited sentences per report | seconds mean / max |\n|---|---|---|---|---|---|---|---|")


def print_summary(run: EvalRun, show: bool) -> None:
    print(HEADER)
    for score in run.scores:
        print(row(score))
    print()
    print(TOTALS_HEADER)
    for split in ("tune", "holdout"):
        if any(s.split == split for s in run.scores):
            print(totals_row(split, run.totals(split)))
    print(totals_row("all", run.totals()))
    print(f"\nindex: {run.index_files:,} files in {run.index_s:.1f} s (built once, before the first question)")
    if show:
        for score in run.scores:
            bad = [c for c in score.claims if not c.supported]
            if not bad and not score.facts_missed:
                continue
            print(f"\n## {score.id}")
            for fact in score.facts_missed:
                print(f"  missed fact: {fact}")
            for claim in bad:
                shares = ", ".join(f"{s:.2f}" for s in claim.support)
                print(f"  unsupported ({shares}): {claim.text[:160]}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        question_set = load_questions(args.questions)
        if not args.corpus.is_dir():
            raise InputError(f"corpus {args.corpus} is not a folder (run scripts/eval-corpus.sh)")
        chosen = [q for q in question_set.questions
                  if (args.split == "all" or q.split == args.split) and (not args.only or q.id in args.only)]
        if not chosen:
            raise InputError("no question matches --split/--only")

        def progress(score: QuestionScore) -> None:
            print(f"{score.id}: recall {score.fact_recall:.2f}, citations {score.citation_accuracy:.2f}, "
                  f"{score.elapsed_s:.2f} s", file=sys.stderr)

        with tempfile.TemporaryDirectory(prefix="dr-eval-") as scratch:
            data_dir = args.data_dir or Path(scratch)
            run = asyncio.run(evaluate(args.corpus, chosen, data_dir=data_dir, on_score=progress))
    except ValidationError as exc:
        print(f"error: {args.questions} is not a valid question set:\n{exc}", file=sys.stderr)
        return 2
    except (InputError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_summary(run, args.show)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(run.to_json(), indent=2) + "\n", encoding="utf-8")
    print(f"results: {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
