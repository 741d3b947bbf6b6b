"""Follow-up research and the report language, through the whole engine: the scripted LLM server over the real
openai SDK (its counters say which calls a follow-up made), and the offline engine over a small docs folder."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import pytest

from deep_research_mcp.cli import main
from deep_research_mcp.engine.config import EngineConfig, PriorRun, ResearchResult, valid_language
from deep_research_mcp.engine.run import ResearchEngine
from deep_research_mcp.engine.sources import Source
from deep_research_mcp.errors import InputError
from deep_research_mcp.llm.client import ModelCaller, RetryPolicy
from deep_research_mcp.llm.factory import StageModels
from deep_research_mcp.llm.offline import OfflineModel
from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer
from deep_research_mcp.llm.scripted.scenario import FailureRule
from deep_research_mcp.tools.base import Document
from deep_research_mcp.tools.memory import InMemoryDocuments

from .conftest import QUESTION, EngineFactory

FOLLOW_UP = "How long do plants hold the stored water?"


def two_subjects() -> InMemoryDocuments:
    """Pages on storing (what the first question finds) and on holding times (what the follow-up finds)."""
    storing = [Document(f"https://docs.example/store/{i}", f"Storing {i}",
                        f"Tidal power plants store energy in a lagoon basin. Storage note {i}.") for i in (1, 2, 3)]
    holding = [Document(f"https://docs.example/hold/{i}", f"Holding {i}",
                        f"Plants hold stored water for {i + 2} hours; how long depends on the tide.") for i in (1, 2)]
    return InMemoryDocuments([*storing, *holding])


def prior_of(result: ResearchResult) -> PriorRun:
    return PriorRun(result.run_id, result.brief, tuple(u for u in result.units if u.ok), tuple(result.registry),
                    texts=result.texts)


def sources_listed(report: str) -> list[str]:
    """The locators of the report's Sources section, in its numbering."""
    section = report.split("## Sources", 1)[1]
    return [link or path for link, path in re.findall(r"\((https?://[^)]+)\)|`([^`]+)`", section)]


async def test_a_follow_up_researches_only_what_is_new_and_cites_old_and_new_in_one_registry(
    server: ScriptedLLMServer, make_engine: EngineFactory
) -> None:
    # A supervisor that delegates the earlier topics again (as a model ignoring the prompt would): the engine
    # answers them from the earlier notes, so only the new topics cost researcher, compression and tool calls.
    server.scenario = Scenario(topics=2, repeat_known_topics=True)
    tool = two_subjects()
    async with make_engine(tools=[tool]) as engine:
        first = await engine.run(QUESTION)
        first_calls, first_tool_calls = dict(server.stats.calls_by_stage), tool.calls
        server.reset_stats()
        tool.calls = 0
        second = await engine.run(FOLLOW_UP, prior=prior_of(first))
    assert first.status == second.status == "completed"
    assert second.follow_up_of == first.run_id
    calls = server.stats.calls_by_stage
    # Two new topics, as many as the first run had: the four delegated topics cost what two did the first time.
    assert calls["researcher"] == first_calls["researcher"] and calls["compress"] == first_calls["compress"]
    assert tool.calls == first_tool_calls
    assert calls["supervisor"] == first_calls["supervisor"] and calls["report"] == 1
    # The writer had old and new notes; the old topics come first, then the new ones.
    old_topics = [u.topic for u in first.units]
    assert [u.topic for u in second.units][:2] == old_topics and len(second.units) == 4
    assert all(u.topic.startswith(("Topic 1:", "Topic 2:")) for u in second.units[2:])
    # One registry: the earlier sources keep their ids, new ones follow; the report cites both in one numbering.
    assert second.registry[: len(first.registry)] == first.registry
    assert [s.id for s in second.registry] == [f"S{n}" for n in range(1, len(second.registry) + 1)]
    old = {s.locator for s in first.registry}
    cited = [s.locator for s in second.sources]
    assert any(loc in old for loc in cited) and any(loc not in old for loc in cited)
    assert sources_listed(second.report) == cited


async def test_the_supervisor_is_shown_what_is_known_as_quoted_data(
    server: ScriptedLLMServer, make_engine: EngineFactory
) -> None:
    server.scenario = Scenario(topics=1)
    async with make_engine() as engine:
        first = await engine.run(QUESTION)
        # The scripted server fails the first supervisor request that carries the earlier notes, once: that the
        # retry succeeds and the failure counts shows what the request held.
        note_line = first.units[0].note.splitlines()[0]
        server.scenario = Scenario(topics=1, failures=[
            FailureRule(kind="500", stage="supervisor", match=f"### {first.units[0].topic}\n{note_line}")])
        server.reset_stats()
        second = await engine.run(FOLLOW_UP, prior=prior_of(first))
    assert server.stats.failures_injected == 1 and second.status == "completed"


async def test_the_report_language_reaches_the_writer_and_not_the_notes(
    server: ScriptedLLMServer, make_engine: EngineFactory
) -> None:
    # Each rule fails its stage's request once when the request asks for German; the counters say which did.
    rules = [FailureRule(kind="500", stage=stage, match="Report language: German.") for stage in ("report", "compress")]
    server.scenario = Scenario(topics=1, failures=rules)
    async with make_engine(unsupported_claims="mark") as engine:
        engine.config = dataclasses.replace(engine.config, report_language="German")
        result = await engine.run(QUESTION)
    assert server.stats.failures_injected == 1  # the report request only: notes stay in the sources' language
    assert result.status == "completed"
    assert any("asked in German" in w for w in result.warnings)  # claim check: verdicts kept, nothing marked
    assert "⚠" not in result.report

    server.scenario = Scenario(topics=1, failures=rules)
    server.reset_stats()
    async with make_engine() as engine:
        await engine.run(QUESTION)
    assert server.stats.failures_injected == 0


def offline_engine(tool: InMemoryDocuments, **config: object) -> ResearchEngine:
    caller = ModelCaller(model=OfflineModel(), name="offline:extractive", context_window=10**6, timeout_s=30,
                         retry=RetryPolicy(max_retries=0))
    return ResearchEngine(StageModels(caller, caller, caller, caller), [tool],
                          EngineConfig(allow_clarification=False, **config))  # type: ignore[arg-type]


DOCS = {
    "lagoons.md": "# Tidal lagoons\n\nTidal lagoons store energy by holding water behind a wall at high tide and "
                  "releasing it through turbines.\n",
    "pumped.md": "# Pumped hydro\n\nPumped hydro is efficient: it returns about 80% of the energy put in. Pumped "
                 "hydro stores energy by pumping water uphill.\n",
}


@pytest.fixture
def docs_tool(tmp_path: Path) -> InMemoryDocuments:
    for name, text in DOCS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return InMemoryDocuments.from_directory(tmp_path)


async def test_offline_follow_up_skips_covered_topics_and_combines_the_reports(docs_tool: InMemoryDocuments) -> None:
    engine = offline_engine(docs_tool)
    first = await engine.run("How do tidal lagoons store energy?")
    second = await engine.run("Compare tidal lagoons with pumped hydro.", prior=prior_of(first))
    # The plan is the comparison, then each side; the lagoons are known from the first run's topic.
    assert [u.topic for u in second.units] == [first.units[0].topic, "Compare tidal lagoons with pumped hydro.",
                                               "pumped hydro"]
    assert "holding water behind a wall" in second.report and "80%" in second.report
    cited = [Path(s.locator).name for s in second.sources]
    assert sorted(cited) == ["lagoons.md", "pumped.md"]
    assert second.registry[0] == first.registry[0]
    # Sentences citing the earlier run's source are checked against the text that run stored, not left unchecked.
    old_claims = [c for c in second.claims if first.registry[0].id in c.source_ids]
    assert old_claims and all(c.verdict != "unchecked" for c in old_claims)


async def test_offline_follow_up_of_a_fully_covered_question_researches_nothing(
    docs_tool: InMemoryDocuments
) -> None:
    engine = offline_engine(docs_tool)
    first = await engine.run("How do tidal lagoons store energy?")
    calls_before = docs_tool.calls
    second = await engine.run("What are tidal lagoons?", prior=prior_of(first))
    assert docs_tool.calls == calls_before
    assert [u.topic for u in second.units] == [u.topic for u in first.units]
    assert "holding water behind a wall" in second.report


async def test_the_offline_engine_says_it_cannot_translate(docs_tool: InMemoryDocuments) -> None:
    result = await offline_engine(docs_tool, report_language="German").run("How do tidal lagoons store energy?")
    note = "The offline writer cannot write the report in German"
    assert note in result.report and any(note in w for w in result.warnings)
    assert "holding water behind a wall" in result.report  # the quoted sources, untranslated


async def test_a_registry_out_of_order_cannot_be_built_on(docs_tool: InMemoryDocuments) -> None:
    prior = PriorRun("r1", "brief", (), (Source("S2", "https://a.example/", "A"),))
    with pytest.raises(InputError, match="out of order at S2"):
        await offline_engine(docs_tool).run("How do tidal lagoons store energy?", prior=prior)


@pytest.mark.parametrize("good", ["German", "de", "pt-BR", "zh-Hant-TW", "es-419", "Deutsch (Schweiz)", "日本語"])
def test_language_names_and_tags_are_accepted(good: str) -> None:
    assert valid_language(f" {good} ") == good


@pytest.mark.parametrize("bad", ["German\x00", "de\nfr", "write a poem; then German", "x" * 41, "-de", "Ger  man"])
def test_anything_else_is_refused_in_one_sentence(bad: str) -> None:
    with pytest.raises(InputError, match=r"^language: must be a language name or tag"):
        valid_language(bad)


def test_the_cli_follows_up_a_stored_run_in_a_language(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    assert main(["run", "How do tidal lagoons store energy?", "--docs", str(docs), "-q", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    argv = ["run", "Compare tidal lagoons with pumped hydro.", "--follow-up", first["run_id"], "--language", "de",
            "--docs", str(docs), "-q", "--json", "-o", str(tmp_path / "more.md")]
    assert main(argv) == 0
    second = json.loads(capsys.readouterr().out)
    report = (tmp_path / "more.md").read_text()
    assert "holding water behind a wall" in report and "80%" in report
    assert any("cannot write the report in de" in w for w in second["warnings"])
    stored = json.loads((Path(os.environ["DEEP_RESEARCH_DATA_DIR"]) / "runs" / f"{second['run_id']}.json").read_text())
    assert stored["parent_run_id"] == first["run_id"] and stored["options"]["language"] == "de"

    assert main(["run", "More?", "--follow-up", "no-such-run", "--docs", str(docs), "-q"]) == 2
    assert "--follow-up: no run 'no-such-run'" in capsys.readouterr().err
    assert main(["run", "More?", "--language", "de; and more", "--docs", str(docs), "-q"]) == 2
    assert "language: must be a language name or tag" in capsys.readouterr().err
