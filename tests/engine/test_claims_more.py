"""The claim check's follow-ups: renumbering after removals, the `write` tool's report, one check per report with
pages tokenized once, bounded kept texts, a judge model, and a model report that cites nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp.client import Client

from deep_research_mcp.engine.support import check as check_module
from deep_research_mcp.engine.support.apply import MARK, check_and_apply
from deep_research_mcp.engine.support.texts import ReadTexts
from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer
from deep_research_mcp.llm.scripted.policy import Answer, ScriptedPolicy, ScriptedRequest
from deep_research_mcp.server.app import build_server
from deep_research_mcp.settings import Settings
from deep_research_mcp.tools.base import Document
from deep_research_mcp.tools.memory import InMemoryDocuments

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


async def test_the_write_tools_report_is_checked_against_the_runs_stored_texts(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(1, 4):
        (docs / f"lagoon{n}.md").write_text(f"Tidal lagoon {n} stores {n * 100} megawatt hours of energy behind its "
                                            f"wall. The wall of lagoon {n} is {n + 3} km long.\n")
    async with ScriptedLLMServer(Scenario(topics=2, tool_calls_per_researcher=1, quote_sources=True)) as llm:
        settings = Settings(research_model="openai:scripted", openai_base_url=llm.openai_base_url, openai_api_key="x",
                            docs_dir=docs, data_dir=tmp_path / "data", fetch_enabled=False,
                            allow_clarification=False, retry_base_delay_s=0.01)
        async with Client(build_server(settings)) as client:
            first = await client.call_tool("research", {"question": "How much energy does a tidal lagoon store?"})
            run_id = first.structured_content["run_id"]
            rewritten = await client.call_tool("write", {"run_id": run_id, "instructions": "Shorter."})
            new_id = rewritten.structured_content["run_id"]
            report = (await client.read_resource(f"research://runs/{new_id}/report")).contents[0].text
            claims = json.loads((await client.read_resource(f"research://runs/{new_id}/claims")).contents[0].text)
    assert not rewritten.is_error and rewritten.structured_content["status"] == "completed", rewritten.content
    verdicts = [c["verdict"] for c in claims["claims"]]
    # The scripted writer corrupts every second quote, in the rewrite as in the first report.
    assert "unchecked" not in verdicts and "supported" in verdicts and "unsupported" in verdicts, claims
    assert rewritten.structured_content["claim_check"] == claims["summary"]["line"]
    assert f"> Claim check: {claims['summary']['line']}" in report
    assert report.count("]" + MARK) == verdicts.count("unsupported")


async def test_with_revision_each_page_is_prepared_once_and_a_clean_report_checked_once(
    server: ScriptedLLMServer, make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared: list[str] = []
    checked: list[str] = []
    init, check = check_module.SourceText.__init__, check_module.check_claim

    def counting_init(self: check_module.SourceText, text: str) -> None:
        prepared.append(text)
        init(self, text)

    def counting_check(*args: Any) -> check_module.ClaimCheck:
        checked.append(args[0].text)
        return check(*args)

    monkeypatch.setattr(check_module.SourceText, "__init__", counting_init)
    monkeypatch.setattr(check_module, "check_claim", counting_check)
    server.scenario = Scenario(topics=3, tool_calls_per_researcher=1, quote_sources=True)
    async with make_engine(revise_unsupported_claims=True) as engine:
        result = await engine.run(QUESTION)
    assert server.stats.calls_by_stage["report"] == 2  # revised, then checked again
    assert len(prepared) == len(set(prepared)) == len(result.registry)
    assert len(checked) > len(result.claims)

    prepared.clear(), checked.clear()
    # One source, quoted truly: nothing to revise, so one check and no second report call.
    server.scenario = Scenario(topics=1, tool_calls_per_researcher=1, quote_sources=True)
    one = InMemoryDocuments([Document("https://docs.example/rance", "La Rance", PAGE.split("\n", 2)[2])])
    async with make_engine(revise_unsupported_claims=True, tools=[one]) as engine:
        result = await engine.run(QUESTION)
    assert [c.verdict for c in result.claims] == ["supported"]
    assert len(checked) == 1 and len(prepared) == 1 and server.stats.calls_by_stage["report"] == 3


def test_a_page_over_its_room_keeps_the_passages_the_researcher_was_shown() -> None:
    filler = " ".join(f"Paragraph {n} is about unrelated lock management details." for n in range(400))
    page = f"Tidal barrages overview.\n\n{filler}\n\nThe Sihwa Lake barrage has ten turbines of 25.4 MW each.\n"
    texts = ReadTexts(per_source_chars=2_000, per_run_chars=10_000)
    texts.add("S1", page, focus="Sihwa Lake barrage turbines: ten turbines of 25.4 MW")
    kept = texts.get("S1") or ""
    assert len(kept) <= 2_000 and kept.startswith("Tidal barrages overview.")
    assert "The Sihwa Lake barrage has ten turbines of 25.4 MW each." in kept  # not the head only
    source = check_module.SourceText(kept)
    assert check_module.check_sentence("The Sihwa Lake barrage has ten turbines of 25.4 MW each.",
                                       source).verdict == "supported"
    # The run record keeps, per source the notes cite, the passages their sentences match.
    stored = texts.for_storage(["Sihwa Lake has ten turbines of 25.4 MW each [S1].", "Nothing cited here."], 500)
    assert list(stored) == ["S1"] and len(stored["S1"]) <= 500 and "25.4 MW" in stored["S1"]
    assert texts.for_storage(["No citations."], 500) == {}


def script_stages(monkeypatch: pytest.MonkeyPatch, **stages: Callable[[ScriptedRequest], Answer | None]) -> None:
    """The scripted server answers the named stages with these functions (None: as it would have)."""
    answer = ScriptedPolicy.answer

    def patched(policy: ScriptedPolicy, stage: str, request: ScriptedRequest) -> Answer:
        made = stages[stage](request) if stage in stages else None
        return made if made is not None else answer(policy, stage, request)

    monkeypatch.setattr(ScriptedPolicy, "answer", patched)


PARAPHRASED = ("The planner opts for an index scan when the table is big and the filter is selective [S1].\n\n"
               "It has 26 bulb turbines with a combined capacity of 240 MW [S1].\n\n"
               "Autovacuum does not run on temporary tables [S1].")


async def test_a_judge_model_decides_what_the_lexical_check_doubted(
    server: ScriptedLLMServer, make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    judged: list[str] = []
    script_stages(monkeypatch, report=lambda _: Answer(text="# Report\n\n" + PARAPHRASED),
                  judge=lambda request: judged.append("\n".join(request.user_texts())))
    server.scenario = Scenario(topics=1, tool_calls_per_researcher=1)
    page = InMemoryDocuments([Document("https://docs.example/rance", "La Rance", PAGE)])
    async with make_engine(tools=[page]) as engine:
        lexical = await engine.run(QUESTION)
    assert [c.verdict for c in lexical.claims] == ["weak", "unsupported", "supported"] and not judged
    async with make_engine(tools=[page], claim_judge="model") as engine:
        result = await engine.run(QUESTION)
    # Only the two doubted sentences went to the judge, in one call, each with its closest passages.
    assert len(judged) == 1 and "1. Sentence: The planner opts" in judged[0] and "Sentence: Autovacuum" not in judged[0]
    assert "[S1] The planner chooses an index scan" in judged[0] and "2. Sentence: It has 26" in judged[0]
    assert [c.verdict for c in result.claims] == ["supported", "unsupported", "supported"]
    assert result.claims[0].reason == "judged by openai:scripted: the passages say this"
    assert result.claims[1].reason == "judged by openai:scripted: the passages do not have 26"
    assert "2 of 3 cited sentences are supported" in result.report
    # A judge that answers nothing usable leaves the lexical verdicts, and the run says so.
    script_stages(monkeypatch, report=lambda _: Answer(text="# Report\n\n" + PARAPHRASED),
                  judge=lambda _: Answer(text="I cannot tell."))
    async with make_engine(tools=[page], claim_judge="model", offline_fallback=False) as engine:
        failed = await engine.run(QUESTION)
    assert [(c.verdict, c.reason) for c in failed.claims] == [(c.verdict, c.reason) for c in lexical.claims]
    assert any(w.startswith("the claim judge failed") for w in failed.warnings), failed.warnings


async def test_a_model_report_that_cites_nothing_is_written_by_the_offline_engine(
    server: ScriptedLLMServer, make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    script_stages(monkeypatch,
                  report=lambda _: Answer(text="# Report\n\nTidal plants store energy in lagoons, as everyone knows."))
    server.scenario = Scenario(topics=1, tool_calls_per_researcher=1, quote_sources=True)
    async with make_engine() as engine:
        result = await engine.run(QUESTION)
    assert result.sources and "\n## Sources\n" in result.report and "as everyone knows" not in result.report
    assert any("cited none of the sources; the offline engine wrote the report" in w for w in result.warnings)
    assert result.claims and result.claim_summary.checked == len(result.claims)


def test_a_heavy_paraphrase_is_weak_but_a_sentence_stitched_from_two_passages_is_not() -> None:
    page = check_module.SourceText(PAGE + "\nThe turbines of a tidal barrage generate power on both the ebb and the "
                                   "flood tide, and the sluice gates let the basin refill quickly.\n")
    paraphrase = check_module.check_sentence("Sediment piles up behind a barrage since the currents get slower.", page)
    assert paraphrase.verdict == "weak" and paraphrase.evidence.startswith("Sediment builds up"), paraphrase
    stitched = check_module.check_sentence(
        "The planner chooses an index scan when the sluice gates let the basin refill quickly.", page)
    assert stitched.verdict == "unsupported", stitched
