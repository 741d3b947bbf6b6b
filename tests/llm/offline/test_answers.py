"""Offline answers that read like answers: passages that carry what they need, clean text, every part of the question
planned and reported, an answer first, rewrites that do what an extractive writer can, and upstream tools called
with real arguments."""

from __future__ import annotations

import re

from deep_research_mcp import prompts
from deep_research_mcp.llm.base import Message, ToolSpec
from deep_research_mcp.llm.offline import OfflineModel
from deep_research_mcp.llm.offline.planner import dropped_parts, plan_parts, plan_topics
from deep_research_mcp.llm.offline.report import heading, parse_instructions, report_title, write_report
from deep_research_mcp.llm.offline.research import feedback_query, tool_arguments
from deep_research_mcp.llm.offline.select import (
    MAX_CODE_LINES,
    cited_passages,
    heading_label,
    needs_previous,
    statement,
)
from deep_research_mcp.llm.offline.units import split_units

# --- reading ----------------------------------------------------------------------------------------------------


def test_here_documents_in_a_title_are_code() -> None:
    # A shell's here-document and here-string operators are code: as text the report's escaping showed "<&lt;EOF".
    assert report_title("How do I feed text with <<EOF blocks and <<< strings?") == (
        "How do I feed text with `<<EOF` blocks and `<<<` strings?")


def test_an_options_header_row_names_the_paragraphs_under_it() -> None:
    # Exim's reference: the row naming the option and its default was a table, dropped, so "This option specifies …"
    # was quoted without ever naming the option.
    page = ("Intro text here.\n\nsmtp_accept_max | Use: main | Type: integer | Default: 20\n\n"
            "This option specifies the maximum number of simultaneous calls. It applies only to the daemon.\n")
    notes = [note for passage in cited_passages({"S1": ("Main", page)}, "maximum simultaneous calls", 3)
             for note in passage]
    assert notes[0] == ("smtp_accept_max (Use: main, Type: integer, Default: 20): This option specifies the maximum "
                        "number of simultaneous calls.", ["S1"])


def test_a_version_note_is_quoted_only_when_it_names_what_changed() -> None:
    # Werkzeug's changelog notes under an API entry: without the entry, "This function" and "added" say nothing of what.
    assert statement("Changed in version 0.8: This function now ensures that the limit was reached.") == ""
    assert statement("New in version 0.9: added support for iterators as input stream.") == ""
    assert statement("New in version 2.2: The max_form_parts parameter limits the parts.") == (
        "The max_form_parts parameter limits the parts.")
    assert statement("This function now ensures that the limit was reached.") != ""  # no note: the usual rules


def test_a_pointer_that_opens_a_short_heading_or_follows_a_term_line_is_quoted_with_it() -> None:
    # Flask: "This is what a very basic blueprint looks like." opens "My First Blueprint"; Exim's spec sets an
    # option's term on a line of its own above "This option requests Exim to thaw …".
    page = ("## My First Blueprint\n\nThis is what a very basic blueprint looks like in the flaskr tutorial app.\n")
    assert _texts(cited_passages({"S1": ("Blueprints", page)}, "very basic blueprint")) == [
        ["My First Blueprint: This is what a very basic blueprint looks like in the flaskr tutorial app."]]
    page = ("## Command line options\n\n-Mt <message id> <message id> ...\n\nThis option requests Exim to thaw any "
            "of the listed messages that are frozen, so that delivery attempts can resume.\n")
    assert _texts(cited_passages({"S1": ("Exim", page)}, "thaw frozen messages")) == [
        ["-Mt `<message id>` `<message id>`: This option requests Exim to thaw any of the listed messages that are "
         "frozen, so that delivery attempts can resume."]]
    # Under a generic heading, with nothing before it, it still points at nothing.
    page = "## Notes\n\nThis option requests Exim to thaw any of the listed messages that are frozen.\n"
    assert cited_passages({"S1": ("Exim", page)}, "thaw frozen messages") == []


def test_short_sentences_that_finish_a_quoted_one_are_quoted_with_it() -> None:
    # Node's option lists: "Default: 16384." is too short to stand alone, and the default is often the fact asked.
    page = ("## Options\n\nThe cost option sets the CPU and memory cost parameter of scrypt. Default: 16384. "
            "Must be a power of two greater than one.\n\nFor example, if.\n")
    notes = [text for passage in _texts(cited_passages({"S1": ("Crypto", page)}, "scrypt cost parameter"))
             for text in passage]
    assert notes[0] == "The cost option sets the CPU and memory cost parameter of scrypt. Default: 16384."
    assert not any("For example, if" in text for text in notes)  # a sentence cut short is no tail


def test_a_manual_page_option_entry_is_a_statement_and_dummy_it_points_at_nothing() -> None:
    # postqueue(1): "-p Produce a traditional sendmail-style queue listing." states what -p does; a bullet's dash
    # followed by a space is no option.
    assert statement("-p Produce a traditional sendmail-style queue listing.") != ""
    assert statement("--grep=<pattern> Limit the commits output to ones with a matching message.") != ""
    assert statement("- a list item's dash.") == ""
    assert not needs_previous("It’s tempting to try to use the assume-unchanged bit for this purpose.")
    assert not needs_previous("It's almost always better to re-fetch the object from the database.")
    assert not needs_previous("It is critical that pooled connections are not shared to a forked process.")
    assert needs_previous("It is commonly used by packagers to install software in a staging directory.")
    assert needs_previous("It's easy to install as it does not require compilation.")


def test_a_two_column_table_row_is_a_statement_of_its_own() -> None:
    # The HTML reader writes a table row as its cells joined by " | " (Apache httpd's directive synopsis); read into
    # the lines around it, the synopsis was quoted as one sentence "Description: | … Syntax: | … Context: | …".
    page = ("## AllowOverride Directive\n\nDescription: | Types of directives that are allowed in .htaccess files\n"
            "Syntax: | AllowOverride All|None|directive-type\nDefault: | AllowOverride None\nContext: | directory\n"
            "When this directive is set to None, .htaccess files are completely ignored.\n\n"
            "Flag | Meaning | Since\nEND | Stop the rewriting process at once. | 2.3.9\n")
    texts = [u.text for u in split_units(page)]
    assert texts == ["Description: Types of directives that are allowed in .htaccess files.",
                     "Syntax: AllowOverride All|None|directive-type.", "Default: AllowOverride None.",
                     "Context: directory.",
                     "When this directive is set to None, .htaccess files are completely ignored."]
    passages = cited_passages({"S1": ("core", page)}, "Which directive decides whether .htaccess files are read?")
    quoted = [text for passage in passages for text, _ in passage]
    assert "Description: Types of directives that are allowed in .htaccess files." in quoted
    # A row that is mostly code says a word of its own: a fragment to a reader, never quoted.
    section = "## Directory\n\nSyntax: | <Directory directory-path> ... </Directory>\nContext: | server config\n"
    assert not cited_passages({"S1": ("core", section)}, "What is the syntax of the Directory section?")


def test_an_api_entry_quotes_its_signature_as_the_term_of_its_description() -> None:
    # A Sphinx API reference puts each signature on its own line right above its description; read as one line
    # they ran together ("update(results) Extend from iterable of results.").
    page = ("## API\n\nupdate(results)\nExtend from iterable of results.\n\n"
            "class celery.result.ResultSet(results, app=None, ready_barrier=None, **kwargs)\n"
            "A collection of results.\n")
    assert [(u.text, u.label) for u in split_units(page)] == [
        ("Extend from iterable of results.", "update(results)"),
        ("A collection of results.", "class celery.result.ResultSet(results, app=None, ready_barrier=None, **kwargs)")]
    quoted = [text for passage in cited_passages({"S1": ("celery.result", page)}, "How do I extend a result set?")
              for text, _ in passage]
    assert "update(results): Extend from iterable of results." in quoted  # the term even where words are shared


def test_code_a_sentence_introduces_comes_with_it_as_a_fenced_block() -> None:
    page = ("## Task groups\n\nA task group runs several tasks and waits for them; use it like this:\n\n```\n"
            "async with asyncio.TaskGroup() as tg:\n    tg.create_task(work())\n```\n\n"
            "Task groups cancel the remaining tasks when one fails.\n")
    passages = cited_passages({"S1": ("Tasks", page)}, "How do I run several tasks with a task group?")
    lead = next(p for p in passages if p[0][0].startswith("A task group runs"))
    assert lead[1] == ("```\nasync with asyncio.TaskGroup() as tg:\n    tg.create_task(work())\n```", [])
    findings = "## Task groups\n\n" + "\n".join(
        " ".join(f"{t} [{', '.join(ids)}]" for t, ids in p if ids) + "".join(f"\n{t}" for t, ids in p if not ids)
        for p in passages)
    report = _report("How do I run several tasks with a task group?", findings)
    assert "use it like this: [S1]\n\n```\nasync with asyncio.TaskGroup() as tg:\n    tg.create_task(work())\n```" in (
        report)


# --- selection --------------------------------------------------------------------------------------------------

ASYNCIO = """# Coroutines and tasks

## Cancellation

Tasks can be cancelled easily and safely. It raises CancelledError inside the wrapped coroutine at the next
opportunity.

New in version 3.11.

Thus, well-behaved code should re-raise CancelledError after cleaning up.

## Waiting

The asyncio.wait() function takes one of the following constants:

- FIRST_COMPLETED: return when any future finishes or is cancelled.
- FIRST_EXCEPTION: return when any future finishes by raising an exception.
- ALL_COMPLETED: return when all futures finish or are cancelled.

This is the end.
"""


def _texts(passages: list[list[tuple[str, list[str]]]]) -> list[list[str]]:
    return [[text for text, _ in passage] for passage in passages]


def test_a_sentence_that_points_back_brings_what_it_points_at() -> None:
    passages = _texts(cited_passages({"S1": ("Coroutines", ASYNCIO)}, "CancelledError inside the wrapped coroutine"))
    best = passages[0]
    assert best[:2] == ["Tasks can be cancelled easily and safely.",
                        "It raises CancelledError inside the wrapped coroutine at the next opportunity."]
    # "Thus, …" reads on right after what it refers to (a version note between them is skipped), not alone.
    assert best[2:] == ["Thus, well-behaved code should re-raise CancelledError after cleaning up."]
    every = [text for passage in passages for text in passage]
    assert "New in version 3.11." not in every  # a bare version note is no fact
    assert all(len(text.split()) >= 5 for passage in passages for text in passage[-1:])


def test_an_aside_opener_with_nothing_quotable_before_it_is_quoted_alone() -> None:
    # SQLite: "Of course, all database connections sharing the in-memory database need to be in the same process."
    # stands after a sentence that points at code; "Of course" marks tone, it points at nothing. The code here is
    # too long to quote as an example, so what points at it cannot be quoted either.
    code = "\n".join(f'rc = sqlite3_open("file::memory:?cache=shared", &db{n});' for n in range(MAX_CODE_LINES + 1))
    page = (f"## Shared cache\n\n```\n{code}\n```\n\n"
            "This allows separate database connections to share the same in-memory database. Of course, all "
            "database connections sharing the in-memory database need to be in the same process.\n")
    passages = _texts(cited_passages({"S1": ("In-memory databases", page)}, "connections sharing in-memory database"))
    assert passages == [["Of course, all database connections sharing the in-memory database need to be in the same "
                         "process."]]


def test_a_sentence_pointing_at_a_short_example_is_quoted_after_it_with_its_lead_in() -> None:
    # Django's ListView: "This limits …" points at the class above it, which a lead-in introduces.
    page = ("## Paginating a ListView\n\nThe ListView supports pagination of its objects like this:\n\n"
            "```\nclass ContactListView(ListView):\n    paginate_by = 2\n    model = Contact\n```\n\n"
            "This limits the number of objects per page and adds a paginator and page_obj to the context.\n")
    passages = cited_passages({"S1": ("Pagination", page)}, "paginator page_obj objects per page")
    assert passages == [[
        ("The ListView supports pagination of its objects like this:", ["S1"]),
        ("```\nclass ContactListView(ListView):\n    paginate_by = 2\n    model = Contact\n```", []),
        ("This limits the number of objects per page and adds a paginator and page_obj to the context.", ["S1"]),
    ]]


def test_a_sentence_with_nothing_before_it_to_refer_to_is_left_out() -> None:
    page = "## Re-raising\n\nThus, well-behaved code should re-raise CancelledError after cleaning up.\n"
    assert cited_passages({"S1": ("Cancellation", page)}, "re-raise CancelledError") == []


def test_a_pointer_whose_antecedent_is_only_a_version_note_and_three_words_is_left_out() -> None:
    # CMake: "Deprecated since version 3.4: Do not use." then "This module was once needed …": quoted together the
    # first became "Do not use.", a fragment.
    page = ("## CMakeExpandImportedTargets\n\nDeprecated since version 3.4: Do not use.\n\nThis module was once "
            "needed to expand imported targets to the underlying libraries they reference on disk.\n")
    passages = _texts(cited_passages({"S1": ("CMakeExpandImportedTargets", page)}, "expand imported targets libraries"))
    assert all(len(text.split()) >= 5 for passage in passages for text in passage)


def test_definition_terms_of_man_pages_label_their_definitions() -> None:
    # git's HTML writes an option's term on its own line; its AsciiDoc text writes "term;;" or "term::". Read into
    # the definition, "subtree[=<path>] This option is …" opened with "This option" and named nothing.
    for page in ("subtree[=<path>]\nThis option is a more advanced form of the subtree strategy.\n",
                 "subtree[=<path>];;\n\tThis option is a more advanced form of the subtree strategy.\n"):
        unit = split_units(page)[0]
        assert (unit.label, unit.text) == ("`subtree[=<path>]`",
                                           "This option is a more advanced form of the subtree strategy.")
    two = split_units("--until=<date>::\n--before=<date>::\n\tShow commits older than a specific date.\n")[0]
    assert two.label == "`--until=<date>` `--before=<date>`"


def test_a_list_of_short_names_is_merged_into_its_lead_in() -> None:
    # "7Z - 7zip - (.7z)" is three words, not five: a name, merged into its lead-in, never a sentence of its own.
    page = ("## Archive Generator\n\nThe archive generator packs files into one of the following formats:\n\n"
            "- 7Z - 7zip - (.7z)\n- TBZ2 (.tar.bz2)\n- TGZ (.tar.gz)\n")
    passages = _texts(cited_passages({"S1": ("Archive Generator", page)}, "archive generator formats"))
    assert passages[0] == [
        "The archive generator packs files into one of the following formats: 7Z - 7zip - (.7z), TBZ2 (.tar.bz2), "
        "TGZ (.tar.gz)."]


def test_a_sentence_that_runs_on_into_a_list_is_quoted_with_its_items() -> None:
    # SQLite's definition was quoted as "… any table in an SQLite schema that." with its two items lost.
    page = ('## Rowid tables\n\nDefinition: A "rowid table" is any table in an SQLite schema that\n\n'
            "- is not a virtual table, and\n- is not a WITHOUT ROWID table.\n\n"
            "Most tables in a typical SQLite database schema are rowid tables.\n")
    passages = _texts(cited_passages({"S1": ("Rowid tables", page)}, "what is a rowid table"))
    assert passages[0] == ['Definition: A "rowid table" is any table in an SQLite schema that is not a virtual table, '
                           "and is not a WITHOUT ROWID table."]


def test_a_list_keeps_its_lead_in_and_its_item_names() -> None:
    passages = _texts(cited_passages({"S1": ("Waiting", ASYNCIO)}, "Which constants does asyncio.wait() take?"))
    assert passages[0] == [
        "The asyncio.wait() function takes one of the following constants:",
        "FIRST_COMPLETED: return when any future finishes or is cancelled.",
        "FIRST_EXCEPTION: return when any future finishes by raising an exception.",
        "ALL_COMPLETED: return when all futures finish or are cancelled.",
    ]


def test_the_same_page_held_twice_is_cited_once_and_near_duplicates_are_dropped() -> None:
    docs = {
        "S1": ("Cancellation", "Tasks can be cancelled easily and safely at any await point of the coroutine."),
        "S2": ("Cancellation", "Tasks can be cancelled easily and safely at any await point of the coroutine."),
        "S3": ("Task reference", "Tasks can be cancelled easily and safely at any await point of the coroutine."),
        "S4": ("Other", "Tasks can be cancelled easily and safely at any await point of a coroutine, too."),
    }
    passages = cited_passages(docs, "task cancellation")
    assert passages == [[("Tasks can be cancelled easily and safely at any await point of the coroutine.",
                          ["S1", "S3"])]]


def test_selection_is_deterministic() -> None:
    docs = {f"S{i}": (f"Page {i}", ASYNCIO.replace("Tasks", f"Tasks{i}")) for i in range(1, 6)}
    runs = {repr(cited_passages(docs, "task cancellation")) for _ in range(3)}
    assert len(runs) == 1
    passages = cited_passages(docs, "task cancellation")
    # Five copies of one page: each sentence is quoted once, and never opens a passage it depends on.
    texts = [re.sub(r"Tasks\d", "Tasks", text) for passage in passages for text, _ in passage]
    assert len(texts) == len(set(texts))
    assert not any(passage[0][0].startswith(("It ", "Thus")) for passage in passages)


# --- planning ---------------------------------------------------------------------------------------------------


def test_every_named_item_gets_a_topic_and_the_cap_is_said() -> None:
    question = "What do the modules os, sys, shutil and pathlib provide for file handling?"
    parts = plan_parts(question)
    assert [p.split(":")[0] for p in parts] == ["os", "sys", "shutil", "pathlib"]
    assert plan_topics(question, 4) == parts
    assert plan_topics(question, 3) == parts[:3]
    assert dropped_parts(question, parts[:3]) == parts[3:]
    assert plan_parts("How do asyncio.gather, asyncio.wait and asyncio.TaskGroup differ?") == [
        "asyncio.gather", "asyncio.wait", "asyncio.TaskGroup"]


def test_topics_are_clean_and_vague_words_make_no_facet() -> None:
    topics = plan_parts("How does the with statement work, and what are the documented trade-offs of context managers?")
    assert "documented trade-offs" not in topics
    assert all(not t.endswith(":") and not re.match(r"^\w+:\s*$", t) for t in topics)


async def test_the_supervisor_plans_as_many_topics_as_run_at_once() -> None:
    question = "Compare Alpha, Beta, Gamma, Delta, Epsilon, Zeta and Eta"
    conduct = ToolSpec(prompts.CONDUCT_RESEARCH, "", {"type": "object", "properties": {"topic": {"type": "string"}},
                                                      "required": ["topic"]})

    async def topics(units: int) -> list[str]:
        system = prompts.SUPERVISOR_SYSTEM.format(date="d", conduct=prompts.CONDUCT_RESEARCH, think=prompts.THINK,
                                                  complete=prompts.RESEARCH_COMPLETE, max_units=units,
                                                  max_iterations=3)
        messages = [Message.system(system), Message.user(prompts.SUPERVISOR_USER.format(brief=question))]
        response = await OfflineModel().complete(messages, tools=[conduct])
        return [c.arguments["topic"] for c in response.tool_calls]

    assert len(await topics(5)) == 5
    assert await topics(8) == ["Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta", "Eta"]


def test_feedback_query_uses_the_documents_words() -> None:
    shown = [("Routine Vacuuming", "VACUUM FULL rewrites the table into a new disk file. The new disk file is "
              "compact. VACUUM FULL returns the disk space to the operating system. Plain vacuuming marks space.")]
    query = feedback_query("How do I shrink a bloated table?", [shown], ["shrink bloated table"])
    assert query is not None and "shrink" in query.lower()
    assert {"disk", "file", "vacuum"} & set(query.lower().split()) - {"shrink", "bloated", "table"}


# --- upstream tool arguments ------------------------------------------------------------------------------------

GREP = ToolSpec("rg__search", "Search files with ripgrep", {
    "type": "object",
    "properties": {"pattern": {"type": "string"}, "path": {"type": "string", "description": "Folder to search"}},
    "required": ["pattern", "path"],
})
FETCH = ToolSpec("fetch", "Fetch a URL", {
    "type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"],
})


def test_required_arguments_get_real_values_or_the_tool_is_skipped() -> None:
    args, why = tool_arguments(GREP, "pattern", "partition pruning", [])
    assert args is None and "'path'" in why  # never path=''
    found = ["/docs/pg/ddl-partitioning.html", "/docs/pg/sql/create-table.html"]
    assert tool_arguments(GREP, "pattern", "partition pruning", found) == (
        {"pattern": "partition pruning", "path": "/docs/pg"}, "")
    hinted = ToolSpec("grep", "", {"type": "object", "required": ["query", "root"], "properties": {
        "query": {"type": "string"}, "root": {"type": "string", "description": "Where to look (default: /srv/docs)"}}})
    assert tool_arguments(hinted, "query", "x y", [])[0] == {"query": "x y", "root": "/srv/docs"}
    assert tool_arguments(FETCH, "url", "partition pruning", [])[0] is None
    assert tool_arguments(FETCH, "url", "q", ["/local/file", "https://example.org/a"])[0] == {
        "url": "https://example.org/a"}


# --- the report -------------------------------------------------------------------------------------------------

FINDINGS = """## How does task cancellation work?

Tasks can be cancelled easily and safely. [S1] It raises CancelledError inside the wrapped coroutine. [S1]
Cancellation is cooperative: the coroutine decides when to stop. [S2]
A cancelled task can suppress the cancellation, though this is discouraged. [S2]

## asyncio.TaskGroup

A TaskGroup holds a group of tasks and waits for all of them on exit. [S3]
If any task fails, the remaining tasks in the group are cancelled. [S3]
TaskGroup is an asynchronous context manager. [S3]
"""


def _report(brief: str, findings: str = FINDINGS, instructions: str = "") -> str:
    extra = f"\nAdditional instructions for this report:\n{instructions}\n" if instructions else ""
    return write_report(prompts.REPORT_USER.format(brief=brief, findings=findings, instructions=extra))


def test_the_report_answers_first_then_one_section_per_topic() -> None:
    report = _report("How does task cancellation work, and what does asyncio.TaskGroup do?")
    title, summary, *rest = report.split("\n\n")
    assert title == "# How does task cancellation work, and what does asyncio.TaskGroup do?"
    cited = re.findall(r"\[S\d+(?:, S\d+)*\]", summary)
    assert 3 <= len(cited) <= 6 and "S1" in summary and "S3" in summary  # each part gets its answer
    assert "Tasks can be cancelled easily and safely. [S1] It raises" in report  # a passage stays whole
    headings = re.findall(r"^## (.+)$", report, re.MULTILINE)
    assert headings == ["How does task cancellation work", "asyncio.TaskGroup"]


def test_titles_and_headings_are_short_and_never_cut_mid_word() -> None:
    long_question = ("Which transaction isolation levels does PostgreSQL support, which one is the default, and how do "
                     "Repeatable Read and Serializable deal with concurrent updates?")
    title = report_title(long_question)
    assert len(title) <= 100 and "…" not in title and long_question.startswith(title.rstrip("?"))
    for topic in [long_question, "How do I restrict which rows each user can see with row-level security?",
                  "select_related: the Django ORM's way of following foreign keys in one query"]:
        short = heading(topic)
        assert 0 < len(short) <= 60 and not short.endswith((":", "…"))
        assert all(word.lower() in topic.lower() for word in short.split()), short
    # One clause too long for a title is cut at a comma, not after the last word that fits ("… and reject the ones").
    assert report_title("How do I limit how many requests per second a single client IP can make, and reject the ones "
                        "over the limit?") == "How do I limit how many requests per second a single client IP can make"
    # A statement before the question sets the scene: the title is the question ("Users can edit some templates on
    # my site" named nothing asked), with the scene when the question points back at it ("them", "it") and both are
    # short enough.
    assert report_title("Users can run some templates on my site. How do I make sure the sandbox is on?"
                        ) == "How do I make sure the sandbox is on?"
    assert report_title("Users can edit some templates on my site. How do I keep them from running arbitrary code?"
                        ) == "Users can edit some templates on my site. How do I keep them from running arbitrary code?"
    assert report_title("My templates print user input; it is not escaped. how do I turn on autoescaping?") == (
        "How do I turn on autoescaping?")
    assert report_title("I found a file named mydb.db-journal. What is it?") == (
        "I found a file named mydb.db-journal. What is it?")
    # Only the ask's first clause comes along; a scene too long for a title is left out.
    assert report_title("My requests to a slow API sometimes hang forever. How do I make them give up after a few "
                        "seconds, and can I set that once for every request in a session?") == (
        "My requests to a slow API sometimes hang forever. How do I make them give up after a few seconds?")
    assert report_title("We run a large fleet of build machines that share one cache folder over NFS, and every "
                        "night the jobs that start at midnight collide with the backup jobs that copy the same folder. "
                        "How do I stop them?") == "How do I stop them?"
    # The backticks of a name made code count too: 62 characters once "<name>" became `<name>`.
    coded = heading("What does a plain <name> placeholder accept (Werkzeug, 0001)?")
    assert len(coded) <= 60 and coded.startswith("What does a plain `<name>` placeholder accept"), coded


def test_a_plan_cut_at_the_cap_says_what_was_left_out() -> None:
    question = "What do the modules os, sys, shutil and pathlib provide for file handling?"
    parts = plan_parts(question)
    findings = "\n\n".join(f"## {p}\n\nThe {p.split(':')[0]} module has functions for files. [S{i}]"
                           for i, p in enumerate(parts[:3], start=1))
    report = _report(question, findings)
    assert f"Not researched (over the limit of topics researched at once): {parts[3]}." in report


def test_rewrite_instructions_an_extractive_writer_can_follow() -> None:
    bullets = _report("How does task cancellation work?", instructions="make it a three-bullet summary")
    body = bullets.split("\n\n")
    assert len(body) == 2 and body[1].count("\n- ") == 2 and body[1].startswith("- ")  # three bullets, nothing more
    assert "Writer's note" not in bullets
    shorter = _report("How does task cancellation work?", instructions="shorter please, and omit the TaskGroup part")
    assert "## asyncio.TaskGroup" not in shorter and len(shorter) < len(_report("How does task cancellation work?"))
    first = _report("How does task cancellation work?", instructions="put the TaskGroup section first")
    assert first.index("## asyncio.TaskGroup") < first.index("## How does task cancellation work")


def test_rewrite_instructions_it_cannot_follow_are_said() -> None:
    report = _report("How does task cancellation work?", instructions="Translate it into French, in a friendly tone")
    notes = re.findall(r"^> Writer's note: (.+)$", report, re.MULTILINE)
    assert len(notes) == 2 and "French" in notes[0] and "friendly" in notes[1]
    assert parse_instructions("").declined == ()
    assert parse_instructions("add a conclusion").declined  # nothing of its own to write one from


def test_longer_quotes_more_of_the_notes_and_is_not_declined() -> None:
    # Three topics whose notes hold more than a report quotes: "longer" takes more of them, says nothing declined.
    findings = "\n\n".join(
        f"## Topic {t}\n\n" + "\n".join(f"Statement t{t}n{n} " + " ".join(f"w{t}{n}{k}" for k in range(6))
                                        + f". [S{t}]" for n in range(40))
        for t in (1, 2, 3))
    normal = _report("Topics one to three", findings)
    longer = _report("Topics one to three", findings, instructions="Make it longer, in more depth")
    assert "Writer's note" not in longer and parse_instructions("more detail please").longer
    assert len(re.findall(r"\[S\d\]", longer)) > len(re.findall(r"\[S\d\]", normal)) + 10


def test_short_list_items_join_their_lead_in_and_fragments_never_stand_alone() -> None:
    page = ("## Index types\n\nPostgreSQL provides several index types:\n\n- B-tree\n- Hash\n- GiST\n\n"
            "## Security\n\nDjango's security documentation covers the following topics:\n\n"
            "- Security overview\n- Clickjacking protection explained in depth for every browser family\n\n"
            "## Cut\n\neven though there will really be zero rows satisfying this query.\n")
    passages = _texts(cited_passages({"S1": ("Docs", page)}, "index types security topics rows query"))
    every = [text for passage in passages for text in passage]
    assert "PostgreSQL provides several index types: B-tree, Hash, GiST." in every
    assert all(len(text.split()) >= 5 for text in every)  # "Security overview." is a name, not a statement
    assert not any(text.startswith("even though") for text in every)  # the tail of a sentence cut by code


def test_a_definition_term_on_its_own_line_labels_its_definition() -> None:
    page = ("## Remote execution\n\nextensions (string)\nThis option is a comma-separated list of extension names.\n\n"
            "The first entry (that is, settings.PASSWORD_HASHERS[0]) is used to store passwords.\n")
    units = split_units(page)
    assert units[0].label == "extensions (string)" and units[0].text.startswith("This option")
    passages = _texts(cited_passages({"S1": ("FDW", page)}, "extensions option list"))
    assert passages[0] == ["extensions (string): This option is a comma-separated list of extension names."]
    assert "`settings.PASSWORD_HASHERS[0]`" in units[1].text  # an index on an identifier is code, not a citation


async def test_the_researcher_skips_a_tool_it_cannot_fill_then_uses_what_results_show() -> None:
    search = ToolSpec("search_documents", "Search", {
        "type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]})
    complete = ToolSpec(prompts.RESEARCH_COMPLETE, "", {"type": "object", "properties": {}})
    system = prompts.RESEARCHER_SYSTEM.format(date="d", max_tool_calls=10, complete="ResearchComplete", think="think")
    messages = [Message.system(system), Message.user(prompts.RESEARCHER_USER.format(
        topic="How does partition pruning speed up queries?"))]
    model = OfflineModel()
    first = await model.complete(messages, tools=[search, GREP, complete])
    assert [c.name for c in first.tool_calls] == ["search_documents"]
    assert "rg__search" in first.text and "'path'" in first.text  # skipped, and said why
    shown = prompts.SHOWN_DOCUMENT.format(  # as the engine shows a result (engine/researcher.py)
        id="S1", title="Table Partitioning", location="/docs/pg/ddl-partitioning.html",
        content="Partition pruning skips partitions that cannot match the query.")
    messages.append(Message("assistant", first.text, tuple(first.tool_calls)))
    messages += [Message.tool_result(c, shown) for c in first.tool_calls]
    second = await model.complete(messages, tools=[search, GREP, complete])
    grep = next(c for c in second.tool_calls if c.name == "rg__search")
    assert grep.arguments["path"] == "/docs/pg" and grep.arguments["pattern"]
    assert all(value != "" for call in second.tool_calls for value in call.arguments.values())


def test_a_page_about_the_topic_outranks_one_lucky_sentence_elsewhere() -> None:
    about = ("## Pagination\n\nThe Paginator class splits a list of objects into pages of a fixed size. "
             "Each page of the paginator holds at most per_page objects from the list. "
             "The paginator counts the pages it needs from the number of objects in the list.")
    passing = ("## Release notes\n\nThe paginator now splits objects into pages of a fixed size faster. "
               "Several translations were updated for this release of the framework.")
    passages = cited_passages({"S1": ("Release notes", passing), "S2": ("Pagination", about)},
                              "How does the paginator split objects into pages?")
    assert passages[0][0][1] == ["S2"]


def test_the_first_sentence_under_a_heading_carries_what_the_heading_says() -> None:
    page = ("# Fixtures reference\n\n## Higher-scoped fixtures are executed first\n\n"
            "Within a function request for fixtures, those of higher scopes (such as session) run before lower ones.\n"
            "\n## F.2. Cleanup\n\nFixture cleanup runs after the test in reverse order of setup.\n")
    other = "Within a function request for fixtures, those of higher scopes (such as session) run before lower ones.\n"
    passages = cited_passages({"S1": ("Fixtures reference", page), "S2": ("Changelog", other)},
                              "In what order are fixtures of higher scopes executed?")
    notes = [note for passage in passages for note in passage]
    # The heading's words are this page's own: the sentence carrying them cites S1 only, not S2 that states the rest.
    assert ("Higher-scoped fixtures are executed first: Within a function request for fixtures, those of higher scopes "
            "(such as session) run before lower ones.", ["S1"]) in notes
    # A heading the sentence already names ("cleanup", without the numbering) adds nothing.
    assert any(text.startswith("Fixture cleanup runs") for text, _ in notes)
    # A search passage from the middle of a section ("[section: …]") does not open it: no label.
    shown = "[section: Higher-scoped fixtures are executed first]\nFixtures of higher scopes run before lower ones.\n"
    assert _texts(cited_passages({"S1": ("Fixtures reference", shown)}, "fixtures of higher scopes run")) == [
        ["Fixtures of higher scopes run before lower ones."]]


def test_a_heading_holding_a_number_or_a_lone_name_is_no_label() -> None:
    # The claim check wants a quote's numbers and names in the sentence's own passage: "Part 0: …" would fail it.
    assert heading_label("Part 0") == "" and heading_label("SQLITE_OMIT_DISKIO") == ""
    assert heading_label("F.38.5. Higher-scoped fixtures are executed first") == (
        "Higher-scoped fixtures are executed first")


def test_angle_bracket_names_in_the_title_and_headings_are_code() -> None:
    # Left as text, the report escapes them to "&lt;Directory>", which the reader sees as markup.
    question = "In what order does Apache apply <Directory>, </Files> and <Location> blocks?"
    assert report_title(question) == (
        "In what order does Apache apply `<Directory>`, `</Files>` and `<Location>` blocks?")
    assert heading("Protect a folder with <Location> or with <Directory>") == (
        "Protect a folder with `<Location>` or with `<Directory>`")


def test_special_method_names_in_the_title_and_headings_are_code() -> None:
    # Bare, Markdown reads "__call__" as bold "call" (a mangled identifier to the readability check).
    assert heading("What hooks besides __call__ can it define") == "What hooks besides `__call__` can it define"
    assert report_title("How do __enter__() and `__exit__` work?") == "How do `__enter__()` and `__exit__` work?"


def test_a_facet_of_a_single_ask_goes_on_under_the_asks_heading() -> None:
    question = "How do I set up tab completion for my click CLI in bash and zsh?"
    topics = plan_parts(question)
    assert topics[1:] == ["tab completion", "click CLI"]  # facets: narrower searches for the same answer
    notes = [
        ("Click provides tab completion support for Bash (version 4.4 and up), Zsh, and Fish. [S1] "
         "Completion is only available if a script is installed and invoked through an entry point. [S1]"),
        ("The completion script is sourced from the shell's startup file, such as ~/.bashrc for Bash. [S1] "
         "Generated scripts can be saved to a file and sourced from there to start shells faster. [S1]"),
        "The CliRunner invokes a Click command line script in isolation for tests. [S2]",
    ]
    findings = "\n\n".join(f"## {topic}\n\n{note}" for topic, note in zip(topics, notes, strict=True))
    report = _report(question, findings)
    headings = re.findall(r"^## (.+)$", report, re.MULTILINE)
    assert headings == ["Set up tab completion for my click CLI in bash and zsh"], headings
    assert "CliRunner" in report and "startup file" in report  # what the facets found is still quoted
