"""The offline model's pieces: planning, queries, sentence extraction, scoring, and every stage behind the seam."""

from __future__ import annotations

import json
import re

import pytest

from deep_research_mcp import prompts
from deep_research_mcp.llm.base import Message, OutputSchema, ToolCall, ToolSpec
from deep_research_mcp.llm.offline import OfflineModel
from deep_research_mcp.llm.offline.extract import documents, rank, stem
from deep_research_mcp.llm.offline.model import classify, write_report
from deep_research_mcp.llm.offline.planner import plan_topics
from deep_research_mcp.llm.offline.research import research_queries, search_tools
from deep_research_mcp.llm.offline.select import cited_sentences

SEARCH = ToolSpec("search_documents", "Search", {
    "type": "object",
    "properties": {"query": {"type": "string"}, "k": {"type": "integer"}},
    "required": ["query"],
})
FETCH = ToolSpec("fetch_page", "Fetch a page", {
    "type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"],
})
THINK = ToolSpec(prompts.THINK, "", {"type": "object", "properties": {"reflection": {"type": "string"}}})
COMPLETE = ToolSpec(prompts.RESEARCH_COMPLETE, "", {"type": "object", "properties": {}})
CONDUCT = ToolSpec(prompts.CONDUCT_RESEARCH, "", {
    "type": "object", "properties": {"topic": {"type": "string"}}, "required": ["topic"],
})


# --- planning -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "topics"),
    [
        ("Compare tidal barrages and tidal lagoons in cost and environmental impact",
         ["tidal barrages: cost and environmental impact", "tidal lagoons: cost and environmental impact"]),
        ("What are the differences between tidal barrages and tidal lagoons?", ["tidal barrages", "tidal lagoons"]),
        ("Redis vs Memcached for session caching", ["Redis: session caching", "Memcached: session caching"]),
        ("Postgres versus MySQL", ["Postgres", "MySQL"]),
        ("Which is faster for caching, Redis or Memcached?",
         ["Redis: faster for caching", "Memcached: faster for caching"]),
        ("What is the capacity of Sihwa, La Rance and Swansea Bay?",
         ["Sihwa: capacity", "La Rance: capacity", "Swansea Bay: capacity"]),
        ("How does the scope phase work, and how does the citation pass remove invented sources?",
         ["How does the scope phase work?", "How does the citation pass remove invented sources?"]),
        ("How do tidal power plants store energy?", ["How do tidal power plants store energy?"]),
    ],
)
def test_planner_splits(question: str, topics: list[str]) -> None:
    assert plan_topics(question) == topics


def test_plain_question_gets_distinct_facets_only() -> None:
    topics = plan_topics("What are the environmental impacts of tidal barrages on estuaries?")
    assert topics[0] == "What are the environmental impacts of tidal barrages on estuaries?"
    assert topics[1:] == ["environmental impacts", "tidal barrages"]
    # "or" without a second item is not a choice between two things.
    assert plan_topics("Is tidal power renewable or not?") == ["Is tidal power renewable or not?"]


def test_planner_caps_and_dedupes() -> None:
    many = "Compare Alpha, Beta, Gamma, Delta, Epsilon, Zeta and Eta"
    assert plan_topics(many) == ["Alpha", "Beta", "Gamma", "Delta", "Epsilon"]
    assert plan_topics("Redis vs redis") == ["Redis"]
    assert plan_topics("   ") == []


def test_research_queries() -> None:
    assert research_queries("tidal barrages: cost and environmental impact") == [
        "tidal barrages cost and environmental impact",
        "tidal barrages cost",  # one search per aspect of the focus
        "tidal barrages environmental impact",
    ]
    assert research_queries("Sihwa: storage capacities") == ["Sihwa storage capacities", "Sihwa"]
    plain = research_queries("How do tidal power plants store energy?")
    assert plain[0] == "How do tidal power plants store energy"
    assert plain[1] == "tidal power plants store energy"
    assert 2 <= len(plain) <= 3 and len(set(plain)) == len(plain)
    assert research_queries("Redis") == ["Redis"]


# --- stemming and scoring ------------------------------------------------------------------------------------


def test_stemming_meets_inflections() -> None:
    assert stem("stores") == stem("stored") == stem("storing") == stem("store")
    assert stem("energies") == stem("energy")


def test_scoring_prefers_the_on_topic_fact_sentence() -> None:
    texts = [
        "Solar panels convert sunlight into electricity.",
        "Tidal barrages are interesting.",
        "The La Rance tidal barrage has 24 turbines with a capacity of 240 MW.",
        "Tidal barrage capacity varies.",
    ]
    ranked = rank(texts, "tidal barrage capacity")
    assert ranked[0].index == 2
    assert 0 not in [r.index for r in ranked]  # no topic term at all


def test_long_topics_need_two_terms_and_the_subject() -> None:
    texts = ["Lagoons are enclosures on the coast.", "Tidal lagoons cost a lot to build.", "Barrages cost a lot."]
    ranked = rank(texts, "tidal lagoons: cost and environmental impact", head="tidal lagoons")
    assert [r.index for r in ranked] == [1]
    # Context (title or heading) can supply terms the sentence leaves implicit.
    ranked = rank(texts, "tidal lagoons: cost and environmental impact", head="tidal lagoons",
                  contexts=["Cost of tidal lagoons", "", ""])
    assert {r.index for r in ranked} == {0, 1}


def test_near_duplicates_are_merged_not_repeated() -> None:
    docs = {
        "S1": ("La Rance", "The La Rance barrage opened in 1966 in Brittany."),
        "S2": ("Tidal power in France", "The La Rance barrage opened in 1966 in Brittany, France."),
        "S3": ("Turbines", "La Rance has 24 bulb turbines in its dam."),
    }
    chosen = [text for text, _ in cited_sentences(docs, "La Rance barrage")]
    assert len(chosen) == 2 and chosen[-1] == "La Rance has 24 bulb turbines in its dam."


def test_cited_sentences_keep_only_input_ids() -> None:
    transcript = (
        'Result of search:\n[S2]\n<document id="S2">\nTitle: Barrages\nLocation: https://x/2\n\n'
        "Tidal barrages block estuaries. The La Rance barrage opened in 1966.\n</document>\n\n"
        '[S5]\n<document id="S5">\nTitle: Copy\nLocation: https://x/5\n\n'
        "The La Rance barrage opened in 1966.\n</document>"
    )
    docs = documents(transcript)
    assert docs["S2"][0] == "Barrages"
    notes = cited_sentences(docs, "La Rance barrage")
    assert notes[0] == ("The La Rance barrage opened in 1966.", ["S2", "S5"])
    assert {i for _, ids in notes for i in ids} <= {"S2", "S5"}


# --- the seam -------------------------------------------------------------------------------------------------


def test_stage_classification() -> None:
    system = [Message.system(prompts.COMPRESS_SYSTEM.format(date="today"))]
    assert classify([], None, OutputSchema(prompts.CLARIFY_SCHEMA, {})) == "clarify"
    assert classify([], None, OutputSchema(prompts.BRIEF_SCHEMA, {})) == "brief"
    assert classify([], None, OutputSchema("Other", {})) == "other"
    assert classify([], [CONDUCT, THINK, COMPLETE], None) == "supervisor"
    assert classify([], [SEARCH, THINK, COMPLETE], None) == "researcher"
    assert classify(system, None, None) == "compress"
    assert classify([Message.user("hi")], None, None) == "other"


def test_search_tools_skip_fetchers_unless_nothing_else() -> None:
    assert [t.name for t, _ in search_tools([FETCH, SEARCH, THINK, COMPLETE])] == ["search_documents"]
    assert [(t.name, p) for t, p in search_tools([FETCH, THINK])] == [("fetch_page", "url")]
    custom = ToolSpec("lookup", "", {"type": "object", "properties": {"terms": {"type": "string"},
                                                                      "n": {"type": "integer", "minimum": 1}},
                                     "required": ["n", "terms"]})
    assert search_tools([custom])[0][1] == "terms"


async def test_scope_stages_answer_structured() -> None:
    model = OfflineModel()
    question = "  How do   tidal plants work? "
    clarify = await model.complete([Message.user(question)], output=OutputSchema(prompts.CLARIFY_SCHEMA, {}))
    assert clarify.raw_json == {"need_clarification": False, "question": "",
                                "verification": "I will research: How do tidal plants work?"}
    assert json.loads(clarify.text) == clarify.raw_json
    brief = await model.complete([Message.user(question)], output=OutputSchema(prompts.BRIEF_SCHEMA, {}))
    assert brief.raw_json == {"research_brief": "How do tidal plants work?"}
    assert brief.usage.total == 0 and model.provider == "offline" and brief.model == "extractive"
    other = await model.complete([Message.user("hello")])
    assert other.text == "OK."


async def test_supervisor_delegates_then_completes() -> None:
    model = OfflineModel()
    messages = [Message.system(prompts.STAGE_MARKERS["supervisor"]),
                Message.user(prompts.SUPERVISOR_USER.format(brief="Redis vs Memcached"))]
    first = await model.complete(messages, tools=[CONDUCT, COMPLETE, THINK])
    assert [(c.name, c.arguments) for c in first.tool_calls] == [
        (prompts.CONDUCT_RESEARCH, {"topic": "Redis"}), (prompts.CONDUCT_RESEARCH, {"topic": "Memcached"})]
    assert len({c.id for c in first.tool_calls}) == 2
    messages.append(Message("assistant", "", tuple(first.tool_calls)))
    messages += [Message.tool_result(c, "notes") for c in first.tool_calls]
    second = await model.complete(messages, tools=[CONDUCT, COMPLETE, THINK])
    assert [c.name for c in second.tool_calls] == [prompts.RESEARCH_COMPLETE]


async def test_researcher_walks_its_queries_then_completes() -> None:
    model = OfflineModel()
    system = prompts.RESEARCHER_SYSTEM.format(date="d", max_tool_calls=10, complete="ResearchComplete", think="think")
    messages = [Message.system(system), Message.user(prompts.RESEARCHER_USER.format(topic="Redis: session caching"))]
    queries = research_queries("Redis: session caching")
    seen: list[str] = []
    for _ in range(len(queries) + 1):
        response = await model.complete(messages, tools=[SEARCH, FETCH, THINK, COMPLETE])
        if response.tool_calls[0].name == prompts.RESEARCH_COMPLETE:
            break
        assert [c.name for c in response.tool_calls] == ["search_documents"]
        seen.append(response.tool_calls[0].arguments["query"])
        messages.append(Message("assistant", "", tuple(response.tool_calls)))
        messages += [Message.tool_result(c, "No results.") for c in response.tool_calls]
    assert seen == queries


async def test_researcher_respects_the_call_budget() -> None:
    model = OfflineModel()
    tools = [SEARCH, ToolSpec("web_search", "", SEARCH.parameters), THINK, COMPLETE]
    system = prompts.RESEARCHER_SYSTEM.format(date="d", max_tool_calls=3, complete="ResearchComplete", think="think")
    messages = [Message.system(system), Message.user(prompts.RESEARCHER_USER.format(topic="tidal barrage cost"))]
    first = await model.complete(messages, tools=tools)
    assert len(first.tool_calls) == 2  # one call per search tool, run concurrently by the engine
    messages.append(Message("assistant", "", tuple(first.tool_calls)))
    messages += [Message.tool_result(c, "No results.") for c in first.tool_calls]
    second = await model.complete(messages, tools=tools)
    assert len(second.tool_calls) == 1  # only one call of the budget of 3 is left
    messages.append(Message("assistant", "", tuple(second.tool_calls)))
    third = await model.complete(messages, tools=tools)
    assert [c.name for c in third.tool_calls] == [prompts.RESEARCH_COMPLETE]


def _compress_request(topic: str, transcript: str) -> list[Message]:
    return [Message.system(prompts.COMPRESS_SYSTEM.format(date="d")),
            Message.user(prompts.COMPRESS_USER.format(topic=topic, transcript=transcript))]


async def test_compress_writes_cited_sentences_and_says_when_nothing_was_found() -> None:
    model = OfflineModel()
    call = ToolCall("1", "search_documents", {"query": "La Rance capacity"})
    transcript = (
        f"Tool call search_documents(query={call.arguments['query']!r})\n\nResult of search_documents:\n"
        '[S3]\n<document id="S3">\nTitle: La Rance\nLocation: https://x/3\n\n# La Rance\n\n'
        "La Rance has a capacity of 240 MW. It opened in 1966. Brittany has many beaches.\n</document>"
    )
    notes = (await model.complete(_compress_request("La Rance capacity", transcript))).text
    lines = notes.splitlines()
    # "It opened in 1966." is too short to quote alone and finishes what the first says: one claim. "Brittany has
    # many beaches." is short too, but about something else.
    assert lines[0] == "La Rance has a capacity of 240 MW. It opened in 1966. [S3]"
    assert all(re.search(r"\[S3\]$", line) for line in lines)
    empty = (await model.complete(_compress_request("coffee health effects", transcript))).text
    assert empty == 'No relevant passages were found for this topic. Searched: "La Rance capacity".'


async def test_a_long_document_is_digested_the_same_for_every_focus() -> None:
    # The engine shares one digest per document between researchers: a digest picked for whichever focus came
    # first would make the report depend on researcher timing.
    model = OfflineModel()
    filler = " ".join(f"Filler sentence number {i} talks about nothing in particular." for i in range(600))
    content = f"# Intro\n\n{filler}\n\n## Capacity\n\nThe turbine capacity of La Rance is 240 MW. {filler}"

    async def digest(focus: str) -> str:
        messages = [Message.system(prompts.SUMMARIZE_SYSTEM.format(max_words=400)),
                    Message.user(prompts.SUMMARIZE_USER.format(focus=focus, title="Doc", content=content))]
        return (await model.complete(messages)).text

    first, second = await digest("La Rance capacity"), await digest("filler sentences")
    assert first == second
    assert "## Capacity\n\nThe turbine capacity of La Rance is 240 MW." in first  # every section keeps its opening
    assert len(first) <= 19_000 and "[S" not in first
    assert first.endswith(".")  # cut at a sentence end, never inside one


FINDINGS = """## tidal barrages: cost

Barrages are expensive: the Severn barrage was estimated at £34 billion. [S1]
A barrage lasts 120 years. [S1, S2]
Barrages use `sluice[0]` gates. [S2]

## tidal lagoons: cost

Tidal lagoons cost £1.3 billion at Swansea Bay. [S3]
Lagoons last 120 years as well. [S4]

## tidal fences

No relevant passages were found for this topic. Searched: "tidal fences"."""


def test_report_structure_and_citations() -> None:
    report = write_report(prompts.REPORT_USER.format(brief="Compare the cost of tidal barrages and tidal lagoons",
                                                     findings=FINDINGS, instructions=""))
    blocks = report.strip().split("\n\n")
    assert blocks[0] == "# Compare the cost of tidal barrages and tidal lagoons"
    short = blocks[1]
    assert short.count("[S") >= 2 and "Severn" in short and "Swansea" in short  # each item gets a voice
    headings = [b for b in blocks if b.startswith("## ")]
    assert headings == ["## tidal barrages: cost", "## tidal lagoons: cost", "## tidal fences"]
    # A section that found nothing says so in one plain sentence; the searches are the engine's business.
    fences = report.split("## tidal fences\n\n", 1)[1].strip()
    assert fences == ('Nothing in the searched documents matched "tidal fences"; try asking it in other words, or '
                      "searching documents that cover it.")
    assert "Sources" not in report
    assert set(re.findall(r"S\d+", report)) <= {"S1", "S2", "S3", "S4"}
    assert "Barrages use `sluice[0]` gates. [S2]" in report
    for block in blocks[1:]:
        if block.startswith("## ") or block.startswith("Nothing in the searched documents matched"):
            continue
        for sentence in re.split(r"(?<=\])\s+", block):
            assert re.search(r"\[S\d+(, S\d+)*\]$", sentence), sentence
    # Sentences of the short answer are not repeated in their sections.
    assert report.count("Severn barrage") == 1


def test_report_when_nothing_was_found() -> None:
    findings = ('## coffee\n\nNo relevant passages were found for this topic. Searched: "coffee"; "coffee health".')
    long_brief = "What are the health effects of drinking coffee every day " * 3
    report = write_report(prompts.REPORT_USER.format(brief=long_brief, findings=findings, instructions=""))
    title = report.splitlines()[0]
    # A long question without a clause boundary: cut between words, on a word that carries meaning, never "…".
    assert title.startswith("# What are the health effects") and len(title) <= 102 and "…" not in title
    assert long_brief.startswith(title[2:]) and not title.endswith((" of", " the"))
    assert "Nothing relevant to this question was found in the searched documents" in report
    assert '- coffee: "coffee"; "coffee health".' in report
    assert report.rstrip().endswith("`deep-research index FOLDER` lists what it indexed and what it skipped, and why.")
    assert "[S" not in report
    gathered = write_report(prompts.REPORT_USER.format(brief="x y", findings="No findings were gathered.",
                                                       instructions=""))
    assert "No findings were gathered" in gathered


def test_findings_accept_markers_before_or_after_the_full_stop_and_ignore_code() -> None:
    from deep_research_mcp.llm.offline.report import parse_findings

    (section,) = parse_findings("## Topic\n\nTides turn turbines [S1]. Lagoons hold water. [S2, S3] Use `[S4]` here.\n")
    assert [(text, ids) for text, ids in section.notes] == [
        ("Tides turn turbines.", ["S1"]),
        ("Lagoons hold water.", ["S2", "S3"]),
    ]


def test_a_note_keeps_the_dashes_of_the_option_it_opens_with() -> None:
    from deep_research_mcp.llm.offline.report import parse_findings

    # The bullet's "- " goes; an option's "--" (or a bullet's "* ") is not one to strip as well.
    (section,) = parse_findings("## Topic\n\n- --grep=<pattern> limits the commits shown. [S1]\n"
                                "* -n limits how many are shown. [S2]\n")
    assert [text for text, _ in section.notes] == ["--grep=<pattern> limits the commits shown.",
                                                   "-n limits how many are shown."]
