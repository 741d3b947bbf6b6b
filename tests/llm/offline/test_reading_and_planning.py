"""What the offline engine does beyond word matching: subjects carried across clauses, section reads, definition-list
labels, lists kept with their introduction, answer cues, and a report with a length budget."""

from __future__ import annotations

from deep_research_mcp import prompts
from deep_research_mcp.llm.base import Message, ToolSpec
from deep_research_mcp.llm.offline import OfflineModel
from deep_research_mcp.llm.offline.extract import answer_cues, documents, is_prose, rank, states, stem, without_scope
from deep_research_mcp.llm.offline.model import retrieved_sections, write_report
from deep_research_mcp.llm.offline.planner import plan_topics, split_items
from deep_research_mcp.llm.offline.research import section_reader, sections_to_read
from deep_research_mcp.llm.offline.select import cited_sentences
from deep_research_mcp.llm.offline.units import split_units

SEARCH = ToolSpec("search_documents", "Search", {
    "type": "object", "properties": {"query": {"type": "string"}, "k": {"type": "integer"}}, "required": ["query"],
})
READ = ToolSpec("read_document", "Read", {
    "type": "object",
    "properties": {"path": {"type": "string"}, "section": {"type": ["string", "null"]}},
    "required": ["path"],
})
COMPLETE = ToolSpec(prompts.RESEARCH_COMPLETE, "", {"type": "object", "properties": {}})


# --- planning -------------------------------------------------------------------------------------------------


def test_a_later_clause_that_points_back_carries_the_subject() -> None:
    assert plan_topics("How should I size shared_buffers and work_mem, and what are their default values?")[:2] == [
        "How should I size shared_buffers and work_mem?", "What are their default values (shared_buffers, work_mem)?"]
    # Nothing specific of its own, after a named subject: carried.
    assert plan_topics("How do I enable row-level security, and who bypasses the policies?")[1] == (
        "Who bypasses the policies (row-level security)?")
    # A clause with a name of its own, or one whose words already hold the subject's, stands alone.
    assert plan_topics("How does VACUUM differ from VACUUM FULL, and when is autovacuum triggered?")[1] == (
        "When is autovacuum triggered?")
    # "in PostgreSQL" says where the question applies, not what it is about.
    assert plan_topics("What are advisory locks in PostgreSQL, and how are deadlocks detected?")[1] == (
        "How are deadlocks detected?")


def test_differ_from_sets_two_items_against_each_other() -> None:
    assert split_items("How does streaming replication differ from logical replication?") == [
        "streaming replication", "logical replication"]
    assert split_items("Is a tidal lagoon different from a barrage?") == ["tidal lagoon", "barrage"]


def test_scope_is_left_out_of_ranking_terms() -> None:
    assert without_scope("What are advisory locks in PostgreSQL?") == "What are advisory locks?"
    assert without_scope("logical replication: PostgreSQL") == "logical replication"
    assert without_scope("Redis: session caching") == "Redis: session caching"
    assert without_scope("Postgres") == "Postgres"  # nothing else would be left


# --- reading sections -----------------------------------------------------------------------------------------


def shown(source_id: str, title: str, locator: str, body: str) -> str:
    return prompts.SHOWN_DOCUMENT.format(id=source_id, title=title, location=locator, content=body)


SEARCH_RESULT = "\n\n".join([
    "2 matching files for 'GIN index'.",
    shown("S1", "11.2. Index Types", "/docs/indexes-types.html",
          "## 11.2. Index Types\n\nPostgreSQL provides several index types.\n\n[…]\n\n[section: 11.2.5. GIN]\n"
          "GIN indexes are inverted indexes."),
    shown("S2", "F.25. pageinspect", "/docs/pageinspect.html", "[section: F.25.1. General Functions]\nget_raw_page."),
])


def test_sections_whose_headings_name_the_topic_are_read() -> None:
    found = retrieved_sections([Message("tool", SEARCH_RESULT, name="search_documents")])
    assert [(loc, heading) for loc, _, heading, _ in found] == [
        ("/docs/indexes-types.html", "11.2. Index Types"), ("/docs/indexes-types.html", "11.2.5. GIN"),
        ("/docs/pageinspect.html", "F.25.1. General Functions")]
    # The GIN section names the topic; the document's top section is its title, so the whole document is read.
    assert sections_to_read("GIN index types", found) == [
        ("/docs/indexes-types.html", "11.2.5. GIN"), ("/docs/indexes-types.html", "")]
    assert sections_to_read("tidal power", found) == []
    assert section_reader([SEARCH, READ, COMPLETE]) == (READ, "path", "section")
    assert section_reader([SEARCH, COMPLETE]) is None


def test_a_comment_inside_a_code_block_is_not_a_section_to_read() -> None:
    # git-bisect's example script: its "# tweak the working tree …" comment had been read as a section heading.
    result = shown("S1", "git-bisect(1)", "/docs/git-bisect.html",
                   "[section: EXAMPLES]\n```\n$ cat ~/test.sh\n#!/bin/sh\n\n# tweak the working tree by merging the "
                   "hot-fix branch\nmake\n```\n\n## Bisect a build with a hot-fix branch\nMerge it first.")
    found = retrieved_sections([Message("tool", result, name="search_documents")])
    assert [heading for _, _, heading, _ in found] == ["EXAMPLES", "Bisect a build with a hot-fix branch"]
    assert ("/docs/git-bisect.html", "tweak the working tree by merging the hot-fix branch") not in sections_to_read(
        "merging the hot-fix branch into the working tree", found)


async def test_the_researcher_reads_sections_after_its_searches() -> None:
    model = OfflineModel()
    system = prompts.RESEARCHER_SYSTEM.format(date="d", max_tool_calls=10, complete="ResearchComplete", think="think")
    messages = [Message.system(system), Message.user(prompts.RESEARCHER_USER.format(topic="GIN"))]
    first = await model.complete(messages, tools=[SEARCH, READ, COMPLETE])
    assert [c.name for c in first.tool_calls] == ["search_documents"]
    messages.append(Message("assistant", "", tuple(first.tool_calls)))
    messages += [Message.tool_result(c, SEARCH_RESULT) for c in first.tool_calls]
    # One more search in the words the results use for the topic (pseudo-relevance feedback), then the reads.
    feedback = await model.complete(messages, tools=[SEARCH, READ, COMPLETE])
    assert [(c.name, c.arguments) for c in feedback.tool_calls] == [
        ("search_documents", {"query": "GIN indexes", "k": 5})]
    messages.append(Message("assistant", "", tuple(feedback.tool_calls)))
    messages += [Message.tool_result(c, "No results.") for c in feedback.tool_calls]
    second = await model.complete(messages, tools=[SEARCH, READ, COMPLETE])
    assert [(c.name, c.arguments) for c in second.tool_calls] == [
        ("read_document", {"path": "/docs/indexes-types.html", "section": "11.2.5. GIN"})]
    messages.append(Message("assistant", "", tuple(second.tool_calls)))
    messages += [Message.tool_result(c, "GIN indexes are inverted indexes.") for c in second.tool_calls]
    third = await model.complete(messages, tools=[SEARCH, READ, COMPLETE])
    assert [c.name for c in third.tool_calls] == [prompts.RESEARCH_COMPLETE]  # one read turn, then done


# --- sentences ------------------------------------------------------------------------------------------------

DEFINITIONS = """## 20.4.1. Memory

shared_buffers (integer)

Sets the amount of memory used for shared buffers. The default is typically 128 megabytes.

PostgreSQL offers built-in support for the following forms of partitioning:

Range Partitioning

The table is partitioned into ranges defined by a key column.

- List partitioning lists the key values of each partition.
- Hash partitioning uses a modulus and a remainder.

[section: 20.4.2. Disk]
temp_file_limit caps temporary files.
"""


def test_definition_terms_label_the_paragraphs_under_them() -> None:
    units = split_units(DEFINITIONS)
    texts = [u.text for u in units]
    assert "shared_buffers (integer)." not in texts and "Range Partitioning." not in texts
    default = next(u for u in units if u.text.startswith("The default"))
    assert default.heading == "20.4.1. Memory" and "shared_buffers" in default.lead
    assert next(u for u in units if u.text.startswith("PostgreSQL offers")).intro
    assert units[-1].heading == "20.4.2. Disk"  # a search tool's section marker is a heading


def test_a_term_ending_one_passage_does_not_label_the_next_passage_of_the_page() -> None:
    # Celery's API page, shown twice: a signature with no text under it ended the first passage, and the page's
    # banner opened the second one ("add_task_queue(…): This document describes the current stable version …").
    shown = ('<document id="S1">\nTitle: Consumer\nLocation: /d/consumer.html\n\nname = \'Consumer\'\n\n'
             "add_task_queue(queue, exchange=None)\n</document>\n\n"
             '<document id="S1">\nTitle: Consumer\nLocation: /d/consumer.html\n\n'
             "This document describes the current stable version of Celery (5.2).\n</document>")
    _, text = documents(shown)["S1"]
    banner = next(u for u in split_units(text) if "stable version" in u.text)
    assert banner.label == "" and not banner.text.startswith("add_task_queue")


def test_a_sentence_about_a_term_is_found_through_its_label() -> None:
    notes = cited_sentences({"S1": ("Resource Consumption", DEFINITIONS)}, "shared_buffers default")
    # The definition's first sentence carries its term; the terse one after it is found through the term too.
    assert ("shared_buffers (integer): Sets the amount of memory used for shared buffers.", ["S1"]) in notes
    assert ("The default is typically 128 megabytes.", ["S1"]) in notes


def test_an_introduction_brings_its_list_along() -> None:
    notes = [text for text, _ in cited_sentences({"S1": ("Partitioning", DEFINITIONS)}, "forms of partitioning")]
    start = notes.index("PostgreSQL offers built-in support for the following forms of partitioning:")
    assert notes[start + 1 : start + 4] == [  # a definition list keeps its item names
        "Range Partitioning: The table is partitioned into ranges defined by a key column.",
        "List partitioning lists the key values of each partition.",
        "Hash partitioning uses a modulus and a remainder.",
    ]


def test_near_duplicates_are_cited_only_when_they_say_the_same_words() -> None:
    docs = {
        "S1": ("A", "VACUUM FULL rewrites the whole table into a new file."),
        "S2": ("B", "VACUUM FULL rewrites the whole table into a new file."),
        "S3": ("C", "VACUUM FULL rewrites the entire table into a new file."),
    }
    [(text, ids)] = cited_sentences(docs, "VACUUM FULL rewrites")  # one of the near-duplicates, not all three
    # Whichever wording wins, it cites exactly the documents that state it word for word.
    assert ids == [sid for sid, (_, page) in docs.items() if page == text]
    assert states("Yes: VACUUM FULL rewrites the table.", "vacuum full rewrites the table")
    assert not states("VACUUM FULL rewrites the entire table.", "VACUUM FULL rewrites the table.")


def test_a_sentence_shown_twice_does_not_set_the_bar_alone() -> None:
    # A search and a read of the same page show its best sentence twice; the bar for the rest is set by the third
    # best *distinct* sentence, so ordinary good sentences stay.
    page = ("deep-research-mcp makes invented citations impossible by construction. "
            "Reports are only as trustworthy as their citations. Each run reports dropped citations.")
    docs = {"S1": ("Citations", page), "S2": ("Citations", page.split(". ")[0] + "."),
            "S3": ("Citations", page.split(". ")[0] + ".")}
    notes = [text for text, _ in cited_sentences(docs, "How does deep-research-mcp keep citations honest?")]
    assert len(notes) == 3


def test_lists_of_names_and_synopses_are_not_prose() -> None:
    assert not is_prose("GIN, GIN, Preferred Index Types for Text Search, GIN Indexes.")
    assert not is_prose("VACUUM [ FULL ] [ FREEZE ] [ VERBOSE ] [ table_and_columns [, ...] ].")
    assert is_prose("PostgreSQL provides several index types: B-tree, Hash, GiST, GIN, BRIN, and the bloom extension.")
    assert is_prose("GIN stands for Generalized Inverted Index.")


def test_answers_phrased_without_the_question_words_get_a_lift() -> None:
    assert "exceeds" in answer_cues("When is autovacuum triggered?")
    assert "because" in answer_cues("Why does PostgreSQL freeze rows?")
    assert answer_cues("Tidal barrages") == frozenset()
    texts = ["Autovacuum is a daemon that runs a launcher and several workers.",
             "Autovacuum processes a table if its dead tuples exceed the threshold."]
    assert [r.index for r in rank(texts, "autovacuum start")] == [0, 1]  # the shorter one, on words alone
    assert [r.index for r in rank(texts, "When does autovacuum start?")] == [1, 0]


def test_the_report_keeps_to_its_length_budget() -> None:
    sections = "\n\n".join(
        f"## Topic {t}\n\n" + "\n".join(f"Fact number {n} about topic {t} is true. [S{t}]" for n in range(12))
        for t in range(1, 6)
    )
    report = write_report(f"Research brief:\nTopics one to five\n\nFindings (cited notes from the researchers):\n"
                          f"{sections}")
    cited = report.count("[S")
    assert cited <= 6 + 5 * 6  # short answer (at most six), then six sentences for each of five sections
    assert all(f"## Topic {t}" in report for t in range(1, 6))


def test_a_doubled_consonant_before_ing_or_ed_meets_the_plain_word() -> None:
    # "from stopping" missed "the TERM or stop signal": "stopp" and "stop" were two terms.
    for inflected, plain in [("stopping", "stop"), ("stopped", "stop"), ("running", "run"), ("settings", "setting"),
                             ("committed", "commit"), ("mapping", "map")]:
        assert stem(inflected) == stem(plain), (inflected, plain)
    # A pair that belongs to the word stays: "falling" is "fall", "passed" is "pass", "added" is "add".
    assert [stem(w) for w in ("falling", "passed", "added", "buzzing")] == ["fall", "pass", "add", "buzz"]
