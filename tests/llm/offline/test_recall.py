"""What the offline engine keeps of what it retrieved: every sentence once, placeholders in names intact, and the
sentences that answer a topic in other words than the topic's."""

from __future__ import annotations

from pathlib import Path

from deep_research_mcp.llm.offline.extract import documents, flags, rank
from deep_research_mcp.llm.offline.select import candidates_of, cited_passages, cited_sentences
from deep_research_mcp.llm.offline.units import split_units


def test_a_sentence_shown_twice_on_one_page_is_one_candidate(tmp_path: Path) -> None:
    # Two search passages of one page overlap: the engine shows both, joined under the page's id.
    sentence = "The checkpoint_timeout setting bounds the time between automatic checkpoints."
    first = f"## Checkpoints\n\n{sentence} Checkpoints flush dirty pages."
    second = f"[section: Checkpoints]\n{sentence} A checkpoint also starts when max_wal_size is reached."
    page = tmp_path / "wal.md"
    page.write_text(f"<document id=\"S1\">\nTitle: WAL\nLocation: {page}\n\n{first}\n</document>\n\n"
                    f"<document id=\"S1\">\nTitle: WAL (already shown above)\nLocation: {page}\n\n{second}\n"
                    "</document>\n", encoding="utf-8")
    docs = documents(page.read_text(encoding="utf-8"))
    units = [(sid, position, unit) for sid, (_, text) in docs.items()
             for position, unit in enumerate(split_units(text))]
    assert sum(u.text == sentence for _, _, u in units) == 2
    candidates, where = candidates_of(units)
    assert [c.text for c in candidates].count(sentence) == 1
    assert all(units[w][2] is c.unit for c, w in zip(candidates, where, strict=True))
    notes = cited_sentences(docs, "How often do checkpoints happen?", limit=8)
    assert [text for text, _ in notes].count(sentence) == 1


def test_a_sentence_the_answer_borrows_is_not_quoted_again_in_its_section() -> None:
    from deep_research_mcp import prompts
    from deep_research_mcp.llm.offline.report import write_report

    findings = (
        "## Checkpoint spacing\n\n"
        "Checkpoints are spaced by checkpoint_timeout and by max_wal_size. [S1] It is five minutes by default. [S1] "
        "A checkpoint flushes every dirty page to disk. [S1] The checkpointer process writes those pages. [S1]\n"
        "Checkpoints can also be requested with the CHECKPOINT command at any time. [S2]\n"
        "Frequent checkpoints write more full-page images to the log. [S2]\n\n"
        "## Crash recovery\n\n"
        "Crash recovery replays the log from the last checkpoint onwards. [S3] "
        "Recovery time grows with the spacing. [S3]\n"
        "Recovery uses the log records written since that checkpoint only. [S3]\n")
    report = write_report(prompts.REPORT_USER.format(
        brief="How are checkpoints spaced, and how does crash recovery use them?", findings=findings, instructions=""))
    summary = report.split("\n\n")[1]
    borrowed = "Checkpoints are spaced by checkpoint_timeout and by max_wal_size. [S1]"
    assert borrowed in summary
    assert report.count(borrowed) == 1
    assert "It is five minutes by default." not in report  # what it refers to is quoted elsewhere: left out


def test_a_page_that_says_how_it_works_outranks_release_notes_naming_it() -> None:
    # Release notes name each feature once, in the words of the topic; the reference page explains it.
    notes = ("## New features\n\nPaginator.get_page() now handles invalid page numbers. "
             "Several translations were updated.")
    reference = ("## Paginator\n\nPaginator.get_page() handles invalid page numbers by returning the last page when "
                 "the number is out of range. It returns the first page when the number is not an integer.")
    for title in ("Django 2.0 release notes", "Change history for Celery 3.0", "Release History Of SQLite", "Changes"):
        passages = cited_passages({"S1": (title, notes), "S2": ("Paginator", reference)},
                                  "How does get_page handle invalid page numbers?")
        assert passages[0][0][1] == ["S2"], title
    # Asked what changed, the release notes are the answer.
    changed = cited_passages({"S1": ("Django 2.0 release notes", notes), "S2": ("Paginator", reference)},
                             "What changed in how get_page handles invalid page numbers?")
    assert changed[0][0][1] == ["S1"]


def test_list_items_that_carry_on_their_lead_in_are_not_quoted_as_sentences() -> None:
    page = ("## Caching\n\nThe cache framework keeps rendered pages, so use the cache framework:\n\n"
            "- in views whose pages are costly to build every time.\n"
            "- in templates for fragments that rarely change at all.\n\n"
            "Cached pages expire after the timeout the cache framework is given.\n")
    notes = [text for text, _ in cited_sentences({"S1": ("Caching", page)}, "What does the cache framework keep?")]
    assert notes and notes[0].startswith("The cache framework keeps rendered pages")
    assert not any(text.startswith(("in views", "in templates")) for text in notes)


def test_the_answer_quotes_a_short_passage_whole() -> None:
    from deep_research_mcp import prompts
    from deep_research_mcp.llm.offline.report import write_report

    whole = ("select_related follows foreign keys in the same query. [S1] "
             "For this reason, it needs no extra query. [S1] "
             "However, select_related is limited to single-valued relationships. [S1]")
    findings = (f"## select_related\n\n{whole}\n"
                "select_related can be chained with other queryset methods freely. [S1]\n"
                "select_related with no arguments follows every non-null foreign key. [S1]\n")
    report = write_report(prompts.REPORT_USER.format(brief="What does select_related do?", findings=findings,
                                                     instructions=""))
    summary = report.split("\n\n")[1]
    assert whole in summary  # the third sentence, with the fact, is not cut from what the first two lead to
    assert report.count("For this reason, it needs no extra query.") == 1


def test_compared_items_share_their_head_noun_and_not_the_counterpart() -> None:
    from deep_research_mcp.llm.offline.planner import plan_topics

    topics = plan_topics("When should I use a GIN or a BRIN index instead of a B-tree?")
    # Each item is researched as what it is ("GIN index", not a bare "GIN" every page names in passing), and the
    # counterpart is no focus: "GIN: instead of a B-tree" ranks pages that name both above the GIN page.
    assert topics == ["GIN index", "BRIN index"]
    assert plan_topics("Compare tidal barrages and lagoons: cost and output.") == [
        "tidal barrages: cost and output", "lagoons: cost and output"]


def test_a_list_after_use_keeps_its_first_item() -> None:
    from deep_research_mcp.llm.offline.planner import plan_topics

    # "use" introduces the list: its first item is an item, not the focus of the other two.
    assert plan_topics("Should I use abstract base classes, multi-table inheritance or proxy models?") == [
        "abstract base classes", "multi-table inheritance", "proxy models"]


def test_each_side_of_a_comparison_is_researched_even_when_it_holds_every_word() -> None:
    from deep_research_mcp.llm.offline.planner import plan_topics

    topics = plan_topics("How does VACUUM differ from VACUUM FULL, and when is autovacuum triggered?")
    assert topics == ["How does VACUUM differ from VACUUM FULL?", "When is autovacuum triggered?", "VACUUM",
                      "VACUUM FULL"]



def test_a_one_letter_option_is_a_term_of_its_own() -> None:
    # "-U" lower-cased to a one-letter word counted as nothing, so a question about the flag ranked on "flag".
    texts = ["The sluice flag marks a gate that is open.", "A red flag is raised at high water.",
             "Alias expansion while reading is suppressed when the loader is given the option -U.",
             "Each flag is listed in the gate log.", "With -u the loader reads every gate twice."]
    assert [r.index for r in rank(texts, "What does the -U flag do?")][:1] == [2]
    assert flags("git am -3, then -n (not -N) but not x-y, a - b or --force") == ["-3", "-n", "-N"]
