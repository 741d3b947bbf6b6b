"""The claim check's follow-ups: renumbering after removals, the `write` tool's report, one check per report with
pages tokenized once, bounded kept texts, a judge model, and a model report that cites nothing."""

from __future__ import annotations

import re

from deep_research_mcp.engine.support.apply import check_and_apply
from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer

from .conftest import QUESTION, EngineFactory
from .test_claims import PAGE

THREE_SOURCES = """# Title

La Rance has 24 bulb turbines with a combined capacity of 240 MW [1]. It opened in 1972 [2]. The barrage is
750 m long [3]. Sediment builds up behind a barrage because the currents slow down [1, 3].

## Sources

1. [La Rance](https://x.example/rance)
2. [Other](https://x.example/other)
3. [Rance again](https://x.example/rance2)
"""


def test_removing_a_sentence_renumbers_citations_and_sources() -> None:
    checked = check_and_apply(THREE_SOURCES, ["S1", "S2", "S3"], {"S1": PAGE, "S2": PAGE, "S3": PAGE}, "remove")
    assert "1972" not in checked.report
    assert "240 MW [1]. The barrage is\n750 m long [2]. Sediment" in checked.report
    assert "slow down [1, 2]." in checked.report
    assert checked.report.endswith("## Sources\n\n1. [La Rance](https://x.example/rance)\n"
                                   "2. [Rance again](https://x.example/rance2)\n")
    assert checked.kept == [1, 3]
    assert [c.citations for c in checked.checks] == [(1,), (), (2,), (1, 2)]
    # Marking removes nothing, so nothing moves.
    assert check_and_apply(THREE_SOURCES, ["S1", "S2", "S3"], {"S1": PAGE, "S2": PAGE, "S3": PAGE}, "mark").kept is None


def _cited_numbers(report: str) -> list[int]:
    body = report.split("\n## Sources", 1)[0]
    return [int(n) for group in re.findall(r"\[(\d+(?:, \d+)*)\]", body) for n in group.split(", ")]


async def test_a_run_that_removes_sentences_lists_only_the_sources_still_cited(
    server: ScriptedLLMServer, make_engine: EngineFactory
) -> None:
    server.scenario = Scenario(topics=3, tool_calls_per_researcher=1, quote_sources=True)
    async with make_engine(unsupported_claims="remove") as engine:
        result = await engine.run(QUESTION)
    assert result.claim_summary.removed >= 1
    listed = re.findall(r"^(\d+)\. ", result.report.split("\n## Sources\n", 1)[1], flags=re.MULTILINE)
    assert [int(n) for n in listed] == list(range(1, len(result.sources) + 1))
    assert sorted(set(_cited_numbers(result.report))) == list(range(1, len(result.sources) + 1))
    assert result.citations.cited == len(result.sources)
    assert result.citations.unused == result.citations.registered - len(result.sources)
    for check in result.claims:  # each kept claim's numbers name the same source ids as before
        if check.verdict == "supported":
            assert [result.sources[n - 1].id for n in check.citations] == list(check.source_ids)
