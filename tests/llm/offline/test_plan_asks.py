"""Questions asked the way people ask them: a sentence or two of situation, then several asks whose pronouns point
back at it. The situation is context, not a topic; each ask is a topic that says what its "it" is; enumerations
split only into things, under their shared head; and every topic reads as a short section heading."""

from __future__ import annotations

import pytest

from deep_research_mcp.llm.offline.asks import split_clauses
from deep_research_mcp.llm.offline.planner import dropped_parts, plan_parts, plan_topics, split_items
from deep_research_mcp.llm.offline.report import heading

LOCKFILE = ("After the upgrade I noticed a file called cache.lockfile beside our Redis dump. What is it, why does it "
            "stay after a crash, and can I remove it safely?")
NGINX = ("I need to rotate the Nginx error log on a busy proxy without losing lines. Which signal makes the master "
         "reopen its log files, and what happens to requests in flight?")


def test_a_situation_is_no_topic_and_says_what_it_points_at() -> None:
    parts = plan_parts(LOCKFILE)
    assert [p.partition(" (")[0] for p in parts] == [
        "What is it", "Why does it stay after a crash", "Can I remove it safely"]
    assert all("(cache.lockfile" in p for p in parts)  # "it" is the file the situation names, not "beside" it
    assert not any("beside" in p or "upgrade" in p for p in parts)


def test_what_the_asker_needs_is_a_situation_too() -> None:
    parts = plan_parts(NGINX)
    assert not any(p.startswith("I need") for p in parts)
    assert parts[0].startswith("Which signal makes the master reopen its log files")
    assert parts[1].startswith("What happens to requests in flight")
    assert all("Nginx" in p for p in parts)  # the product the situation names is the asks' scope
    # The situation's words are for searching: the section heading is the ask.
    assert [heading(p) for p in parts] == ["Which signal makes the master reopen its log files",
                                           "What happens to requests in flight (Nginx)"]


def test_an_ask_of_hardly_a_word_searches_the_situation_and_its_heading_says_what() -> None:
    [part] = plan_parts("I want a status page for our Postgres replicas that turns red when replication lag passes "
                        "ten seconds and pages the on-call person. What do I build it with?")
    assert part.startswith("What do I build it with (") and "status page" in part and "replication lag" in part
    assert heading(part) == "What do I build it with (Postgres, on-call person)"


@pytest.mark.parametrize(("question", "items"), [
    ("Compare a pipeline, batches, and map/reduce for this.", ["pipeline", "batches", "map/reduce"]),
    ("Should I send one task per item, a few huge tasks, or something in between?", []),
])
def test_a_list_after_an_article_and_pro_forms(question: str, items: list[str]) -> None:
    assert [item.split(":")[0] for item in split_items(question)] == items


def test_asks_after_a_comma_are_topics_of_their_own() -> None:
    parts = plan_parts("What is connection draining, what is its default timeout, and how do I turn it off for one "
                       "backend?")
    assert parts == ["What is connection draining?", "What is its default timeout (connection draining)?",
                     "How do I turn it off for one backend (connection draining)?"]
    # A relative clause is no ask: "which" right after a noun, with no verb of a question behind it.
    assert split_clauses("How does the proxy pick a backend, which runs the health checks?") == [
        "How does the proxy pick a backend, which runs the health checks?"]


def test_an_opening_phrase_and_a_question_word_after_a_preposition() -> None:
    parts = plan_parts("For a nightly export, which format does pg_dump write by default, and since which version "
                       "can it run in parallel?")
    assert parts[0] == "For a nightly export, which format does pg_dump write by default?"
    assert parts[1].startswith("Since which version can it run in parallel (pg_dump")
    assert len(parts) == 2


def test_a_question_mark_inside_a_sentence_is_no_end() -> None:
    assert split_clauses("How many ? placeholders can one prepared statement hold in MySQL?") == [
        "How many ? placeholders can one prepared statement hold in MySQL?"]


def test_what_about_asks_the_question_before_again() -> None:
    parts = plan_parts("Which port does Memcached listen on by default, and how do I change it? What about the UDP "
                       "port?")
    assert parts == ["Which port does Memcached listen on by default?", "How do I change it (Memcached)?",
                     "What about the UDP port (Memcached)?"]


def test_an_it_that_points_at_nothing_carries_nothing() -> None:
    parts = plan_parts("Our batch jobs write to PostgreSQL all night. Is it safe to run VACUUM during business hours, "
                       "and what does it lock?")
    assert parts[0] == "Is it safe to run VACUUM during business hours?"
    assert parts[1].startswith("What does it lock (VACUUM")


def test_a_colon_list_keeps_its_head() -> None:
    parts = plan_parts("What are PostgreSQL's naming limits: the longest identifier, the most columns in a table, "
                       "and the largest field value?")
    assert parts == ["PostgreSQL's naming limits: longest identifier",
                     "PostgreSQL's naming limits: most columns in a table",
                     "PostgreSQL's naming limits: largest field value"]


def test_an_ask_after_a_colon_list_keeps_the_scope() -> None:
    parts = plan_parts("What are PostgreSQL's naming limits: the longest identifier, the most columns in a table, and "
                       "how many ? placeholders can one statement hold?")
    assert parts[1] == "How many ? placeholders can one statement hold (PostgreSQL's)?"


def test_a_plan_cut_at_the_cap_still_names_what_it_left() -> None:
    question = ("Our nightly batch runs on one Spark cluster. What is a shuffle, what is the default number of "
                "partitions, how do I change it, what does skew do to a stage, and how do I spot it in the UI?")
    topics = plan_topics(question, max_topics=3)
    assert len(topics) == 3 and not any("nightly" in t for t in topics)
    assert [p.rstrip("?").partition(" (")[0] for p in dropped_parts(question, topics)] == [
        "What does skew do to a stage", "How do I spot it in the UI"]


def test_revision_names_stay_whole_items_and_each_points_at_them() -> None:
    # "HEAD~2" and "HEAD^2" differ by their marks alone: read as words, both were "HEAD 2" and one topic was lost.
    assert split_items("What is the difference between HEAD~2 and HEAD^2?") == ["HEAD~2", "HEAD^2"]
    topics = plan_parts("I keep mixing up A..B and A...B. What does each mean when listing commits versus when "
                        "diffing, and what is the difference between HEAD~2 and HEAD^2?")
    assert "HEAD~2" in topics and "HEAD^2" in topics
    # "A..B" has no word a search could use, but its marks it has: "each" still points at the two ranges.
    assert topics[0] == "What does each mean when listing commits versus when diffing (A..B, A...B)?"


def test_a_series_of_actions_is_one_ask_each_about_the_same_thing() -> None:
    topics = plan_parts("My Celery task calls a flaky HTTP API. How do I make it try again automatically when the call "
                        "fails, wait longer between each attempt, and give up after a while?")
    # The third action has no word of its own to search: it is kept, about what the first is about.
    assert topics == ["How do I make it try again automatically when the call fails (Celery, HTTP API)?",
                      "How do I wait longer between each attempt (Celery, HTTP API)?",
                      "How do I give up after a while (Celery, HTTP API)?"]
    # What follows the last action stays with it.
    last = split_clauses("How do I find the commit that removed a function, trace how it evolved, and search commit "
                         "messages, even across renames?")[-1]
    assert last == "How do I search commit messages, even across renames?"
    # One action on several things, and a list of things, are not series of actions.
    assert split_clauses("How do I create, list and clean those up?") == ["How do I create, list and clean those up?"]
    assert split_clauses("How do I set the timeout, the retry count and the backoff?") == [
        "How do I set the timeout, the retry count and the backoff?"]


def test_a_statement_before_a_semicolon_sets_the_scene_and_a_product_prefix_names_where() -> None:
    topics = plan_parts("My users get logged out because requests go to different servers; how do I make a user "
                        "stick to the same server?")
    assert topics == ["How do I make a user stick to the same server?"]  # the statement is no ask of its own
    # "HAProxy: how do I …" was read as a list after a colon: its ask became an item ("another backend").
    assert plan_parts("HAProxy: how do I send requests for /api to another backend, and how do I check that backend "
                      "is healthy?") == ["How do I send requests for /api to another backend (HAProxy)?",
                                         "How do I check that backend is healthy (HAProxy)?"]
    # Its title is the first ask; the "and" of the second is not lost in one long clause.
    assert split_clauses("HAProxy: how do I send /api elsewhere, and how do I check it?")[0] == (
        "HAProxy: how do I send /api elsewhere?")


def test_one_action_on_two_described_things_is_two_asks() -> None:
    question = ("How do I make an option that can be given several times, and a -v flag that counts how often it "
                "was given?")
    assert split_clauses(question) == ["How do I make an option that can be given several times?",
                                       "How do I make a -v flag that counts how often it was given?"]
    # Two things named without a clause each, or an "and" inside one description, stay one ask.
    assert len(split_clauses("How do I make a backup, and a restore?")) == 1
    assert len(split_clauses("How do I create a branch that tracks a remote and pushes to it?")) == 1
