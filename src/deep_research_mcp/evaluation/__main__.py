"""`python -m deep_research_mcp.evaluation --corpus postgres --corpus django`: research every question of each
corpus's evaluation set with the offline engine, print a table per question and one row per corpus and split (tune,
held-out): fact recall, citation accuracy (strict rule), the share of cited pages that are gold pages, readability
defects and seconds per research; write every score, report and registry as JSON.

A corpus is a name (`postgres`, `django`: the Debian tree scripts/eval-corpus.sh installs, with its question files
in eval/) or a folder given with `--questions`.

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
from .questions import CORPORA, Corpus, Question, load_questions, resolve_corpus
from .readability import KINDS
from .runner import EvalRun, Totals, evaluate, rescore, time_cli_runs
from .scoring import QuestionScore

DEFAULT_OUTPUT = Path("eval/results.json")
SPLIT_NAMES = {"tune": "tune", "holdout": "held-out"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deep_research_mcp.evaluation",
                                     description="Measure the offline engine on the evaluation sets.")
    parser.add_argument("--corpus", action="append", required=True, metavar="NAME|DIR",
                        help=f"a corpus by name ({', '.join(CORPORA)}) or a folder with --questions (repeat)")
    parser.add_argument("--questions", type=Path, action="append", default=[],
                        help="question file(s); default: the named corpus's files (one corpus only)")
    parser.add_argument("--split", choices=("all", "tune", "holdout"), default="all", help="questions to run")
    parser.add_argument("--only", action="append", default=[], metavar="ID", help="run only this question (repeat)")
    parser.add_argument("--json", type=Path, default=DEFAULT_OUTPUT, help=f"results file (default {DEFAULT_OUTPUT})")
    parser.add_argument("--data-dir", type=Path, help="keep the indexes here (default: a temporary folder)")
    parser.add_argument("--show", action="store_true", help="also print unsupported claims and missed facts")
    parser.add_argument("--cli-runs", type=int, default=0, metavar="N",
                        help="also time N whole `deep-research run` commands per corpus (default 0)")
    parser.add_argument("--rescore", type=Path, metavar="RESULTS",
                        help="score the reports of an earlier results file again instead of running the engine")
    return parser


def row(score: QuestionScore) -> str:
    facts = len(score.facts_found) + len(score.facts_missed)
    cells = [
        score.id, SPLIT_NAMES[score.split], f"{len(score.facts_found)}/{facts}", f"{score.fact_recall:.2f}",
        f"{score.supported_claims}/{len(score.claims)}", f"{score.citation_accuracy:.2f}", str(score.fabricated),
        f"{score.cited_gold_pages}/{score.cited_sources}", f"{len(score.gold_cited)}/{score.gold_total}",
        f"{len(score.gold_retrieved)}/{score.gold_total}", str(sum(score.readability.values())),
        f"{score.elapsed_s:.2f}",
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = ("| question | split | facts | fact recall | supported claims | citation accuracy | fabricated "
          "| cited pages that are gold | gold pages cited | gold pages retrieved | readability defects | seconds |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|")


def totals_row(corpus: str, split: str, t: Totals, index_s: float, cli_seconds: Sequence[float] = ()) -> str:
    cli = f"{sum(cli_seconds) / len(cli_seconds):.2f} ({len(cli_seconds)})" if cli_seconds else "–"
    cells = [
        corpus, f"{split} ({t.questions})", f"{t.fact_recall:.2f}",
        f"{t.missed_not_retrieved} / {t.missed_on_retrieved} of {t.facts}",
        f"{t.citation_accuracy:.3f} ({t.claims - t.unsupported_claims}/{t.claims})",
        f"{t.cited_gold_share:.2f}", f"{t.gold_hit_rate:.2f}", str(t.readability_defects),
        " ".join(str(t.readability[k]) for k in KINDS), str(t.fabricated),
        f"{t.mean_elapsed_s:.2f} / {t.max_elapsed_s:.2f}", cli, f"{index_s:.1f}",
    ]
    return "| " + " | ".join(cells) + " |"


TOTALS_HEADER = (
    "| corpus | split | fact recall | facts missed: on no retrieved page / on a retrieved page "
    "| citation accuracy (strict) | cited pages that are gold | gold pages cited "
    "| readability defects | markup / cut titles / duplicate sources / fragments / dangling openers / mangled "
    "identifiers / long headings / repeated sentences | fabricated | seconds per research, mean / max "
    "| whole CLI run, s (runs) "
    "| index s |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def totals_rows(runs: Sequence[EvalRun]) -> list[str]:
    rows = []
    for run in runs:
        for split in ("tune", "holdout"):
            if any(s.split == split for s in run.scores):
                rows.append(totals_row(run.corpus, SPLIT_NAMES[split], run.totals(split), run.index_s,
                                       run.cli_seconds))
    return rows


def print_summary(runs: Sequence[EvalRun], show: bool) -> None:
    for run in runs:
        print(f"## {run.corpus}: {run.index_files:,} files indexed in {run.index_s:.1f} s\n")
        print(HEADER)
        for score in run.scores:
            print(row(score))
        print()
    print(TOTALS_HEADER)
    for line in totals_rows(runs):
        print(line)
    if show:
        for run in runs:
            for score in run.scores:
                bad = [c for c in score.claims if not c.supported]
                if not bad and not score.facts_missed:
                    continue
                print(f"\n## {run.corpus} / {score.id}")
                for fact in score.facts_missed:
                    where = "on a retrieved page" if fact in score.missed_on_retrieved else "never retrieved"
                    print(f"  missed fact ({where}): {fact}")
                for claim in bad:
                    print(f"  unsupported ({'; '.join(claim.reasons)}): {claim.text[:160]}")


def chosen_questions(corpus: Corpus, split: str, only: Sequence[str]) -> list[Question]:
    question_set = load_questions(*corpus.question_files)
    return [q for q in question_set.questions
            if (split == "all" or q.split == split) and (not only or q.id in only)]


def rescored(results: Path, plan: Sequence[tuple[Corpus, list[Question]]]) -> list[EvalRun]:
    if not results.is_file():
        raise InputError(f"results file {results} does not exist")
    try:
        saved = {run["corpus"]: run for run in json.loads(results.read_text(encoding="utf-8"))["runs"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{results} is not a results file of this command") from exc
    return [rescore(saved[corpus.name], corpus.root, questions) for corpus, questions in plan
            if questions and corpus.name in saved]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.questions and len(args.corpus) > 1:
            raise InputError("--questions applies to one corpus; give one --corpus with it")
        corpora = [resolve_corpus(name, args.questions) for name in args.corpus]
        plan = []
        for corpus in corpora:
            if not corpus.root.is_dir():
                raise InputError(f"corpus {corpus.root} is not a folder (run scripts/eval-corpus.sh {corpus.name})")
            plan.append((corpus, chosen_questions(corpus, args.split, args.only)))
        if not any(questions for _, questions in plan):
            raise InputError("no question matches --split/--only")

        def progress(score: QuestionScore) -> None:
            print(f"{score.id}: recall {score.fact_recall:.2f}, citations {score.citation_accuracy:.2f}, "
                  f"{score.elapsed_s:.2f} s", file=sys.stderr)

        if args.rescore:
            runs = rescored(args.rescore, plan)
        else:
            runs = []
            with tempfile.TemporaryDirectory(prefix="dr-eval-") as scratch:
                for corpus, questions in plan:
                    if not questions:
                        continue
                    data_dir = (args.data_dir or Path(scratch)) / corpus.name
                    run = asyncio.run(evaluate(corpus.root, questions, data_dir=data_dir, on_score=progress))
                    run.corpus = corpus.name
                    if args.cli_runs > 0:
                        run.cli_seconds = time_cli_runs(corpus.root, questions[: args.cli_runs], data_dir,
                                                        Path(scratch))
                    runs.append(run)
    except ValidationError as exc:
        print(f"error: a question file is not a valid question set:\n{exc}", file=sys.stderr)
        return 2
    except (InputError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_summary(runs, args.show)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"runs": [run.to_json() for run in runs]}, indent=2) + "\n", encoding="utf-8")
    print(f"results: {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
