"""Planning faults seen on the tune questions: verbs joined by "or" taken for items to compare, facets that are a
verb, an adjective or the documentation's own name, a clause carrying a bare name as its subject, and headings
made of a question with its function words pulled out."""

from __future__ import annotations

import pytest

from deep_research_mcp.llm.offline.extract import content_terms, terms
from deep_research_mcp.llm.offline.planner import plan_parts, salient_words, split_items
from deep_research_mcp.llm.offline.report import heading


@pytest.mark.parametrize("question", [
    "How can warnings be filtered or turned into errors for a whole test run?",
    "How can a test read that output or turn capturing off?",
    "How can I change those naming rules or exclude paths?",
    "Which signal or nginx-ctl command should I send to reopen the logs?",  # no "signal command" to research
    "How should I size the connection pool for short web requests compared with many slow reports?",
    "How can I see whether Redis keeps a key in memory or writes the whole dataset to disk?",
    "How do the two schedulers differ in latency and throughput?",
])
def test_actions_situations_and_aspects_are_not_items_to_compare(question: str) -> None:
    assert split_items(question) == []


@pytest.mark.parametrize(("question", "items"), [
    ("Should I back up a database with pg_dump or pg_basebackup?", ["pg_dump", "pg_basebackup"]),
    ("Should I use threads or processes for CPU-bound work?", ["threads", "processes"]),
    ("When should I use a GIN or a BRIN index instead of a B-tree?", ["GIN index", "BRIN index"]),
    ("How do json.dumps and pickle.dumps differ in speed?", ["json.dumps", "pickle.dumps"]),
    ("Should I cache sessions in Memcached or Redis?", ["Memcached", "Redis"]),
    ("How does a hash join differ from a merge join?", ["hash join", "merge join"]),
])
def test_named_things_still_are_items(question: str, items: list[str]) -> None:
    assert [item.split(":")[0] for item in split_items(question)] == items


@pytest.mark.parametrize(("question", "junk"), [
    ("How can one test function be run with many different argument sets, including generating the argument values "
     "at collection time?", "including generating"),
    ("How do I use several databases in one Django project and decide which database a query goes to?",
     "Django project"),
    ("How can I stop a test session early after failures and inspect the state of a failing test in a debugger?",
     "failing test"),
    ("How do I write logs from one program into their own file instead of syslog?", "file instead"),
])
def test_facets_are_things_not_verbs_adjectives_or_a_bare_name(question: str, junk: str) -> None:
    parts = plan_parts(question)
    assert parts[0] == question and junk not in parts


def test_a_facet_naming_a_thing_is_kept() -> None:
    assert "continuous WAL archiving" in plan_parts(
        "How do I set up continuous WAL archiving and recover the database to a point in time?")


def test_a_facet_naming_an_option_keeps_its_dashes() -> None:
    parts = plan_parts("What does the -x flag do when running test suites?")
    assert "-x flag" in parts and "x flag" not in parts


def test_a_clause_sharing_a_word_with_the_first_carries_no_bare_name() -> None:
    parts = plan_parts("How does Django store passwords, which hashers can I use, and how do I enforce password "
                       "strength rules?")
    assert parts[1:] == ["Which hashers can I use (Django)?", "How do I enforce password strength rules?"]


@pytest.mark.parametrize(("topic", "expected"), [
    # The subject carried into a pointing clause is for searching: without it the question fits, as it stands.
    ("When should I use each to avoid extra database queries (select_related, prefetch_related)?",
     "When should I use each to avoid extra database queries"),
    ("When should I use each one of them to avoid extra database queries (select_related, prefetch_related)?",
     "Use each one of them to avoid extra database queries"),
    ("What are the steps of a well-structured test according to the pytest documentation?",
     "The steps of a well-structured test"),
    ("How do I run the examples in docstrings and text files as tests with pytest?",
     "Run the examples in docstrings and text files as tests"),
    # An inverted question without its opening word is a garble ("Email backends can I use …", "Statistics does the
    # query planner use …", "PostgreSQL decide how …"): it stays a question, cut where a phrase ends, or where the
    # words run out when the first phrase boundary comes too early.
    ("Which email backends can I use during development and testing?",
     "Which email backends can I use during development"),
    ("What statistics does the query planner use to estimate row counts?",
     "What statistics does the query planner use"),
    ("How does PostgreSQL decide how to authenticate a client connection?",
     "How does PostgreSQL decide how to authenticate a client"),
])
def test_a_long_heading_is_the_question_cut_at_a_phrase_boundary(topic: str, expected: str) -> None:
    assert heading(topic) == expected


@pytest.mark.parametrize(("question", "items"), [
    ("How should I size shared_buffers and work_mem?", ["shared_buffers", "work_mem"]),
    ("How do Repeatable Read and Serializable deal with concurrent updates?", ["Repeatable Read", "Serializable"]),
])
def test_two_names_joined_by_and_are_researched_each(question: str, items: list[str]) -> None:
    assert [item.split(":")[0] for item in split_items(question)] == items


@pytest.mark.parametrize("question", [
    "How are pytest plugins found and loaded?",
    "How does pytest capture what tests print to stdout and stderr?",
    "How do I run the examples in docstrings and text files as tests?",
])
def test_plain_words_joined_by_and_stay_one_topic(question: str) -> None:
    assert split_items(question) == []


def test_a_pointing_clause_carries_what_the_first_is_about_not_a_word_inside_a_name() -> None:
    # "test" inside "pytest" is not the clause naming the subject; "them" are the tests that pass and fail.
    parts = plan_parts("Why do some tests pass and fail intermittently, and what does pytest and its ecosystem offer "
                       "to handle them?")
    assert parts[1].startswith("What does pytest and its ecosystem offer to handle them (")
    assert "intermittently" in parts[1]
    assert heading(parts[1]) == "What does pytest and its ecosystem offer to handle them"


def test_a_statement_setting_the_scene_is_no_topic_of_its_own() -> None:
    # "## Our reservoir silts up every winter" read as a section heading over sentences about nothing asked.
    parts = plan_parts("Our reservoir silts up every winter. How does flushing through the sluice gates work? "
                       "What does dredging cost?")
    assert parts == ["How does flushing through the sluice gates work?", "What does dredging cost?"]
    # A question that is a statement only keeps it: there is nothing else to research.
    assert plan_parts("Reservoir flushing through sluice gates.") != []


def test_a_statement_of_what_the_asker_needs_sets_the_scene_for_the_asks() -> None:
    # "I need to reload my Apache config on a busy server without cutting off downloads …" was a topic of its own:
    # its "downloads" found download pages that opened the report. What the asker needs is what the asks ask; its
    # names go along with them (and the scout search still searches the whole question).
    parts = plan_parts("I need to move the Reservoir's silt to a field with no road access, using a barge. How does "
                       "the receiving farm check the silt is clean?")
    [part] = parts
    assert part.startswith("How does the receiving farm check the silt is clean (") and "barge" in part
    assert heading(part) == "How does the receiving farm check the silt is clean"
    # Without an ask, the statement is what there is to research.
    assert plan_parts("For our report I want a list of sluice gates.")[0].startswith("For our")


def test_a_clause_naming_only_a_judgement_is_about_the_clause_before() -> None:
    parts = plan_parts("Our reservoir silts up. What are my options to flush the sediment through sluice gates? "
                       "What are the drawbacks?")
    assert parts[-1].startswith("What are the drawbacks (") and "sluice" in parts[-1]


def test_a_capitalised_keyword_run_keeps_its_stopwords_as_one_name() -> None:
    # SQLite's "WITHOUT ROWID" had been carried as "ROWID": every page on rowids matched the later asks.
    parts = plan_parts("When should I declare a Tidebase vault WITHOUT LEDGER? What does it change about how the "
                       "vault is stored, and when is it slower than a normal vault?")
    assert parts[0].endswith("WITHOUT LEDGER?")
    assert all("WITHOUT LEDGER" in part for part in parts[1:]), parts
    assert content_terms("a vault WITHOUT LEDGER") == ["vault", "ledger", "without_ledger"]
    assert "without_ledger" in terms("Every WITHOUT LEDGER vault must have a KEY.")
    assert "without_ledger" not in terms("A vault without ledger pages.")  # plain words are not the keyword
    assert "without_ledger" in content_terms("IF NOT EXISTS and WITHOUT LEDGER") and "if_not_exist" in terms(
        "CREATE VAULT IF NOT EXISTS")


def test_contractions_and_aside_words_are_not_search_words() -> None:
    words = salient_words("How does the keeper apply them, including when a patch doesn't apply cleanly? I'm sure "
                          "we’re close, e.g. on Sundays.")
    assert words == ["keeper", "apply", "patch", "cleanly", "sure", "close", "Sundays"]


def test_a_keyword_run_is_one_item_and_its_or_joins_nothing() -> None:
    assert plan_parts("What is the difference between MERGE and MERGE ALL?") == ["MERGE", "MERGE ALL"]
    assert [p.partition(":")[0] for p in plan_parts(
        "How do I use STORE OR SKIP and ON CLASH DO NOTHING in Tidebase?")] == ["STORE OR SKIP", "ON CLASH DO NOTHING"]


def test_a_question_in_capitals_is_not_a_keyword_run() -> None:
    assert plan_parts("WHAT IS THE DIFFERENCE BETWEEN A SLUICE AND A WEIR?") == ["SLUICE", "WEIR"]
