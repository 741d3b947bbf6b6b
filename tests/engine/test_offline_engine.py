"""The whole engine with the offline model in every stage: no API key, no network, real documents."""

from __future__ import annotations

import random
import re
from pathlib import Path

from deep_research_mcp.engine.config import EngineConfig, ResearchResult
from deep_research_mcp.engine.run import ResearchEngine
from deep_research_mcp.llm.client import ModelCaller, RetryPolicy
from deep_research_mcp.llm.factory import StageModels
from deep_research_mcp.llm.offline import OfflineModel
from deep_research_mcp.tools.base import Document, ResearchTool
from deep_research_mcp.tools.memory import InMemoryDocuments

DOCS_DIR = Path(__file__).parents[2] / "docs"

CORPUS = {
    "barrages": ("Tidal barrages", """# Tidal barrages

A tidal barrage is a dam built across the mouth of an estuary. Sluice gates let the rising tide fill the basin
behind the barrage, and the water is released through low-head turbines when the tide falls.

## Operation

- Most barrages generate on the ebb tide; some also generate on the flood tide.
- A barrage needs a tidal range of at least 5 m to be economic.
"""),
    "rance": ("La Rance tidal power station", """# La Rance

The La Rance tidal power station in Brittany, France, opened in 1966 and was the world's first tidal barrage.
It has 24 bulb turbines with a combined capacity of 240 MW. The barrage is 750 m long and the tidal range at the
site reaches 13.5 m.
"""),
    "barrage-environment": ("Environmental impact of tidal barrages", """# Barrages and the environment

Tidal barrages change the flow of water in the estuary and reduce the intertidal area. Sediment builds up behind
a barrage because the currents slow down. Fish passing through barrage turbines can be injured, with mortality of
10-15% per passage reported for some species.
"""),
    "barrage-cost": ("Cost of tidal barrages", """# Barrage costs

Barrages are expensive to build: the proposed Severn barrage was estimated at £34 billion in 2010. Construction
takes around 10 years, but a barrage can operate for 120 years.
"""),
    "lagoons": ("Tidal lagoons", """# Tidal lagoons

A tidal lagoon is an artificial enclosure built with a breakwater wall on the coast, rather than across a whole
estuary. Like a barrage, a lagoon holds water and releases it through turbines as the tide turns.

```python
lagoon = Lagoon(area_km2=11.5)  # code is never quoted as a finding
```
"""),
    "swansea": ("Swansea Bay Tidal Lagoon", """# Swansea Bay

The proposed Swansea Bay Tidal Lagoon in Wales would have enclosed 11.5 km2 of the bay with a 9.5 km wall.
It was planned with 16 turbines and a capacity of 320 MW. In 2018 the UK government declined to fund the lagoon,
citing a cost of £1.3 billion.
"""),
    "lagoon-environment": ("Environmental impact of tidal lagoons", """# Lagoons and the environment

Tidal lagoons are thought to have a smaller environmental impact than barrages because they do not block an
entire estuary. A lagoon leaves the main river channel open, so fish migration is less affected.
"""),
    "lagoon-cost": ("Cost of tidal lagoons", """# Lagoon economics

Tidal lagoons have high upfront costs. The strike price requested for the Swansea Bay lagoon was £92.50 per MWh
over 35 years.
"""),
    "solar": ("Rooftop solar panels", """# Rooftop solar

Rooftop solar panels convert sunlight into electricity with photovoltaic cells. A typical home system in Europe has
a capacity of 4 kW.
"""),
}


def corpus() -> InMemoryDocuments:
    return InMemoryDocuments(Document(f"https://energy.example/{key}", title, text)
                             for key, (title, text) in CORPUS.items())


def offline_engine(tools: list[ResearchTool]) -> ResearchEngine:
    caller = ModelCaller(model=OfflineModel(), name="offline:extractive", context_window=10**6, timeout_s=30,
                         retry=RetryPolicy())
    return ResearchEngine(StageModels(caller, caller, caller, caller), tools, EngineConfig(allow_clarification=True))


def body_of(report: str) -> str:
    return report.split("\n## Sources", 1)[0]


def listed_locators(report: str) -> list[str]:
    """Locators of the generated Sources list: "[title](url)" for pages, "title — `path`" for files."""
    if "\n## Sources" not in report:
        return []
    section = report.split("\n## Sources", 1)[1]
    return [url or path for url, path in re.findall(r"\]\((https?://[^)]+)\)$|— `([^`]+)`$", section, re.MULTILINE)]


def assert_every_fact_is_cited(report: str) -> None:
    for block in body_of(report).split("\n\n")[1:]:
        block = block.strip()
        if block.startswith(("#", "> Claim check: ", "```", "Nothing in the searched documents matched", "- ")):
            continue  # a fenced example follows the cited sentence that brings it
        for sentence in re.split(r"(?<=\])\s+(?=\S)", block):
            assert re.search(r"\[\d+(?:, \d+)*\]$", sentence), f"uncited: {sentence!r}"


def assert_cites_only_retrieved(result: ResearchResult, tool: InMemoryDocuments) -> None:
    known = {d.locator for d in tool.documents}
    listed = listed_locators(result.report)
    assert listed and set(listed) <= known
    assert listed == [s.locator for s in result.sources]
    assert result.citations.dropped == 0
    prose = re.sub(r"`[^`\n]*`", "", body_of(result.report))  # "`[4]`" quoted from a page is code, not a citation
    numbers = {int(n) for group in re.findall(r"\[(\d+(?:, \d+)*)\]", prose)
               for n in group.split(", ")}
    assert numbers == set(range(1, len(result.sources) + 1))


async def test_a_comparison_is_researched_per_item_and_fully_cited() -> None:
    tool = corpus()
    result = await offline_engine([tool]).run(
        "Compare tidal barrages and tidal lagoons in cost and environmental impact"
    )
    assert result.status == "completed" and not result.warnings
    assert result.brief == "Compare tidal barrages and tidal lagoons in cost and environmental impact"
    assert [u.topic for u in result.units] == [
        "tidal barrages: cost and environmental impact", "tidal lagoons: cost and environmental impact"]
    assert all(u.ok and u.tool_calls >= 2 for u in result.units)
    report = result.report
    assert report.startswith("# Compare tidal barrages and tidal lagoons in cost and environmental impact\n")
    for unit in result.units:
        assert f"\n## {unit.topic}\n" in report
    assert_cites_only_retrieved(result, tool)
    assert_every_fact_is_cited(report)
    assert "£34 billion" in report and "£92.50 per MWh" in report
    assert "photovoltaic" not in report
    # Code is never quoted as a finding: at most shown as a fenced example after the sentence it follows.
    assert all(line.startswith("lagoon = ") for line in report.splitlines() if "Lagoon(area_km2" in line)
    # The lagoon section does not borrow barrage-only sentences.
    lagoon_section = report.split("## tidal lagoons", 1)[1].split("\n## ", 1)[0]
    assert "Severn" not in lagoon_section
    assert result.usage["calls"] > 0 and result.usage["input_tokens"] == 0


async def test_an_enumeration_gets_one_researcher_per_item() -> None:
    tool = corpus()
    result = await offline_engine([tool]).run("What is the capacity of La Rance, Sihwa and Swansea Bay?")
    assert [u.topic for u in result.units] == ["La Rance: capacity", "Sihwa: capacity", "Swansea Bay: capacity"]
    assert "240 MW" in result.report and "320 MW" in result.report
    # The corpus knows nothing about Sihwa: its section says so instead of borrowing other plants' facts.
    sihwa = result.report.split("## Sihwa: capacity", 1)[1].split("\n## ", 1)[0]
    # One plain sentence: what was looked for and what to try, not the engine's searches ("Searched: …", keyword
    # strings and words learnt from other pages).
    assert sihwa.strip() == ('Nothing in the searched documents matched "Sihwa: capacity"; try asking it in other '
                             "words, or searching documents that cover it.")
    assert_cites_only_retrieved(result, tool)
    assert_every_fact_is_cited(result.report)


async def test_every_search_tool_is_called_each_turn() -> None:
    first, second = corpus(), InMemoryDocuments(corpus().documents, name="search_archive")
    result = await offline_engine([first, second]).run("How do tidal barrages generate electricity?")
    assert first.calls == second.calls >= 2
    assert all(u.tool_calls % 2 == 0 for u in result.units)
    assert "generate on the ebb tide" in result.report


async def test_nothing_matching_says_so_and_lists_the_searches() -> None:
    tool = corpus()
    result = await offline_engine([tool]).run("What are the health effects of drinking coffee?")
    assert result.status == "completed" and result.sources == []
    assert "Nothing relevant to this question was found in the searched documents" in result.report
    assert '"What are the health effects of drinking coffee"' in result.report
    assert "## Sources" not in result.report and "[S" not in result.report


async def test_the_projects_own_docs_make_a_cited_report() -> None:
    tool = InMemoryDocuments.from_directory(DOCS_DIR)
    assert tool.documents, "docs/ should hold markdown files"
    result = await offline_engine([tool]).run(
        "How does deep-research-mcp keep citations accurate, and what happens when a researcher fails?"
    )
    print(result.report)  # shown with -s: read it when changing the offline model
    assert len(result.units) == 2 and all(u.ok for u in result.units)
    assert_cites_only_retrieved(result, tool)
    assert_every_fact_is_cited(result.report)
    body = body_of(result.report).lower()
    assert "citation" in body and "researcher" in body


async def test_a_500_document_corpus_is_researched() -> None:
    # How fast is measured by the evaluation and bench/, not here: timings make pass/fail tests flaky on a shared CPU.
    rng = random.Random(7)
    vocabulary = [
        "energy", "power", "tidal", "barrage", "lagoon", "turbine", "estuary", "cost", "river", "sediment", "fish",
        "wind", "solar", "grid", "storage", "battery", "dam", "plant", "capacity", "efficiency", "climate", "policy",
    ]

    def paragraph() -> str:
        sentences = (" ".join(rng.choice(vocabulary) for _ in range(rng.randint(8, 25))) for _ in range(6))
        return " ".join(f"{s.capitalize()} {rng.randint(1, 999)} MW." for s in sentences)

    documents = list(corpus().documents)
    for i in range(491):
        sections = "\n\n".join(f"## Part {j}\n\n{paragraph()}" for j in range(rng.randint(2, 25)))
        documents.append(Document(f"https://bulk.example/{i}", f"Bulk document {i}", f"# Bulk {i}\n\n{sections}"))
    tool = InMemoryDocuments(documents)
    engine = offline_engine([tool])
    result = await engine.run("Compare tidal barrages and tidal lagoons in cost and environmental impact")
    assert result.reading["summarized"] > 0  # long documents went through the offline summarize stage
    assert_cites_only_retrieved(result, tool)
    assert_every_fact_is_cited(result.report)


PAGES = {
    "tasks.html": """<html><head><title>Coroutines and Tasks</title></head><body>
<h1>Coroutines and Tasks</h1>
<p>Tasks are used to schedule coroutines concurrently. When a coroutine is wrapped into a Task with
asyncio.create_task() the coroutine is automatically scheduled to run soon.</p>
<h2>Cancellation</h2>
<p>Tasks can be cancelled easily and safely. It raises CancelledError inside the wrapped coroutine at the next
opportunity.</p>
<pre># Wait for 1 hour
await asyncio.sleep(3600)
</pre>
<p>Thus, well-behaved code should re-raise CancelledError after cleaning up.</p>
<p>Task cancellation is cooperative: a coroutine can only be cancelled where it awaits something.</p>
<h2>Task groups</h2>
<p>A TaskGroup is an asynchronous context manager holding a group of tasks. If any task fails, the remaining
tasks in the group are cancelled.</p>
</body></html>""",
    "sync.html": """<html><head><title>Synchronization Primitives</title></head><body>
<h1>Synchronization Primitives</h1>
<p>asyncio synchronization primitives are designed to be similar to those of the threading module.</p>
<p>A Lock is a mutex lock for asyncio tasks. A Lock is not thread-safe. It can be used to guarantee exclusive
access to a shared resource.</p>
<p>An Event object manages an internal flag that can be set to true with the set() method.</p>
</body></html>""",
}


async def _local_engine(tmp_path: Path) -> tuple[ResearchEngine, list[ResearchTool]]:
    from deep_research_mcp.tools.localdocs import open_local_documents

    root = tmp_path / "docs"
    root.mkdir()
    for name, html in PAGES.items():
        (root / name).write_text(html, encoding="utf-8")
    tools = await open_local_documents(root, tmp_path / "index.db")
    return offline_engine(tools), tools


async def test_the_same_question_gives_the_same_report(tmp_path: Path) -> None:
    from deep_research_mcp.tools.localdocs import close_local_documents

    engine, tools = await _local_engine(tmp_path)
    try:
        question = "How does task cancellation work, and what is a Lock for?"
        first, second = await engine.run(question), await engine.run(question)
    finally:
        close_local_documents(tools)
    assert first.report == second.report
    assert "Tasks can be cancelled easily and safely" in first.report
    # A comment in code is neither a heading nor a sentence: at most a line of a fenced example.
    prose = re.sub(r"```.*?```", "", first.report, flags=re.DOTALL)
    assert "Wait for 1 hour" not in prose


async def test_write_offline_follows_what_it_can_and_warns_about_the_rest(tmp_path: Path) -> None:
    from deep_research_mcp.tools.localdocs import close_local_documents

    engine, tools = await _local_engine(tmp_path)
    try:
        question = "How does task cancellation work, and what is a Lock for?"
        done = await engine.run(question)
        bullets = await engine.rewrite(question, brief=done.brief, units=done.units, registry=done.registry,
                                       instructions="make it a three-bullet summary")
        french = await engine.rewrite(question, brief=done.brief, units=done.units, registry=done.registry,
                                      instructions="the same, but in French")
    finally:
        close_local_documents(tools)
    body = body_of(bullets.report).strip().split("\n\n")
    assert body[0].startswith("# ") and body[1].count("\n- ") == 2 and "## " not in body_of(bullets.report)
    assert not bullets.warnings
    assert body_of(french.report).count("## ") >= 1 and french.warnings
    assert "another language (French)" in french.warnings[0]
    assert done.report != bullets.report
