"""Where a gold fact is lost on its way to the report, over a replay capture (see replay_selection.py):

    python bench/replay_selection.py capture /tmp/cap.pkl --corpus sqlite      # once
    python bench/where_facts_go.py /tmp/cap.pkl                                  # seconds

For each tune half: the facts whose patterns match what the researchers were shown (every compress input), today's
notes for those inputs, and the report written from them. "Shown, not in notes" is selection's loss; "in notes,
not in report" is the writer's. Facts never shown were lost earlier: retrieval or reading (the evaluation's "facts
missed" column splits those). Tune halves only, as the capture is.
"""

from __future__ import annotations

import argparse
import pickle
import re
from collections import Counter
from pathlib import Path
from typing import Any

from deep_research_mcp.engine.sources import finalize_report, scrub_citations
from deep_research_mcp.evaluation.scoring import fact_found
from deep_research_mcp.llm.offline import model
from replay_selection import _tune_questions


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[`*]", "", text).split())


def stages(path: Path) -> dict[str, Counter[str]]:
    captured: dict[tuple[str, str], dict[str, Any]] = pickle.loads(path.read_bytes())  # noqa: S301 - our own file
    questions: dict[str, dict[str, Any]] = {}
    totals: dict[str, Counter[str]] = {}
    for (name, question_id), record in captured.items():
        if name not in questions:
            questions[name] = {q.id: q for q in _tune_questions(name)[1]}
        question = questions[name][question_id]
        registry = record["registry"]
        report_input = record["report"][-1][0]
        notes = []
        for compress_input, old_notes in record["compress"]:
            new = model.compress_notes(compress_input)
            notes.append(new)
            old = scrub_citations(old_notes, registry).text
            report_input = report_input.replace(old, scrub_citations(new, registry).text, 1)
        report, _, _ = finalize_report(model.write_report(report_input), registry)
        shown = _plain("\n".join(text for text, _ in record["compress"]))
        noted, written = _plain("\n".join(notes)), _plain(report)
        count = totals.setdefault(name, Counter())
        for fact in question.facts:
            seen, kept, said = (fact_found(text, fact.patterns) for text in (shown, noted, written))
            count.update(facts=1, shown=seen, in_notes=kept, in_report=said,
                         shown_not_in_notes=seen and not kept, in_notes_not_in_report=kept and not said)
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="a capture made by replay_selection.py")
    args = parser.parse_args()
    columns = ("facts", "shown", "in_notes", "in_report", "shown_not_in_notes", "in_notes_not_in_report")
    print("| half | " + " | ".join(c.replace("_", " ") for c in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name, count in stages(args.path).items():
        print(f"| {name} | " + " | ".join(str(count[c]) for c in columns) + " |")


if __name__ == "__main__":
    main()
