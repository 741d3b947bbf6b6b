"""Selection that answers every part of a topic: the parts a topic names all get sentences, a statement brings the
short example right after it, and a lead-in under a definition term keeps the term it points back at."""

from __future__ import annotations

from deep_research_mcp.llm.offline.extract import asked
from deep_research_mcp.llm.offline.select import cited_passages, cited_sentences

SECURITY = (
    "## Clickjacking protection\n\n"
    "Clickjacking is a type of attack where a malicious site wraps another site in a frame. "
    "Django contains clickjacking protection in the form of the X-Frame-Options middleware. "
    "The clickjacking middleware and decorators provide easy-to-use protection against clickjacking. "
    "Older browsers ignore the header and need other clickjacking protection techniques.\n\n"
    "## SSL/HTTPS\n\n"
    "Deploying your site behind HTTPS is always better for security: set SECURE_SSL_REDIRECT to True.\n"
)


def test_every_part_of_a_topic_gets_a_sentence_before_one_part_gets_more() -> None:
    # "clickjacking" is said four times, "HTTPS" once: by score alone the fourth clickjacking sentence comes first.
    notes = [text for text, _ in cited_sentences({"S1": ("Security in Django", SECURITY)},
                                                  "protection against clickjacking and HTTPS", limit=3)]
    assert any("SECURE_SSL_REDIRECT" in text for text in notes)
    assert sum("lickjacking" in text for text in notes) == 2


DOCTEST = (
    "## How to run doctests\n\n"
    "You can invoke the doctests in all Python modules with the --doctest-modules option.\n\n"
    "```\npytest --doctest-modules\n```\n\n"
    "Doctests in text files are collected by their file name pattern.\n"
)


def test_a_statement_brings_the_short_example_right_after_it() -> None:
    passages = cited_passages({"S1": ("How to run doctests", DOCTEST)}, "run doctests in modules", limit=2)
    first = next(p for p in passages if p[0][0].startswith("You can invoke the doctests"))
    assert first[1] == ("```\npytest --doctest-modules\n```", [])  # uncited: the sentence before cites the page


LISTVIEW = (
    "## ListView\n\n"
    "A page representing a list of objects.\n\n"
    "Ancestors (MRO)\n\n"
    "This view inherits methods and attributes from the following views:\n\n"
    "- MultipleObjectTemplateResponseMixin\n"
    "- BaseListView\n"
)


def test_a_merged_lead_in_keeps_the_definition_term_it_points_back_at() -> None:
    notes = [text for text, _ in cited_sentences({"S1": ("Generic display views", LISTVIEW)},
                                                  "which views does ListView inherit from", limit=4)]
    merged = next(text for text in notes if "inherits methods" in text)
    assert merged.startswith("Ancestors (MRO): This view inherits")
    assert "BaseListView" in merged


FLAKY = ("## Flaky tests\n\n"
         "A flaky test is a test that fails intermittently, so flaky tests erode trust in the test suite.\n\n"
         "Flaky tests make the flaky test suite hard to trust, and a flaky test can hide real failures.\n\n"
         "Rerunning flaky tests is a common way to cope with flaky tests in a test suite.\n\n"
         "Plugins that run each test in random order can help to expose hidden dependencies between them, which is a "
         "common reason for a failure that comes and goes with every other run of the whole suite of tests.\n")


def test_a_topic_whose_best_sentences_stand_far_above_the_rest_still_fills_its_notes() -> None:
    passages = cited_passages({"S1": ("Flaky tests", FLAKY)}, "flaky tests", limit=8)
    texts = [text for passage in passages for text, _ in passage]
    # The sentence that names the topic once in many words scores far below the three that repeat it: it still
    # comes, after them.
    assert texts[-1].startswith("Plugins that run each test in random order")
    assert len(texts) == 4


BUILD_CACHE = (
    "## Incremental builds\n\n"
    "A long build of a feature branch reuses the objects of the branch it was forked from. "
    "Switching branches in the middle of a long build invalidates the objects of the feature branch. "
    "A build of the feature branch after a merge from the main branch rebuilds what the merge touched.\n\n"
    "## Cache expiry\n\n"
    "Cached objects are kept for 14 days after their last use and then deleted by the nightly sweep.\n"
)


def test_words_the_planner_carried_into_an_ask_do_not_outrank_the_asks_own() -> None:
    # "(long build, feature branch)" is the scene the ask came with, named by every sentence of the first section;
    # the ask itself, "how long are cached objects kept", is answered once, in words the carried ones do not share.
    topic = "How long are cached objects kept (long build, feature branch)?"
    assert asked(topic) == "How long are cached objects kept?"
    assert asked("What is it (mydb.db-journal)?") == "What is it (mydb.db-journal)?"  # no words of its own
    assert asked("Why use fetch() for it?") == "Why use fetch() for it?"  # a call's brackets are not carried words
    assert asked("How do I call fetch(url)?") == "How do I call fetch(url)?"
    [(first, _), *_] = cited_sentences({"S1": ("Builds", BUILD_CACHE)}, topic, limit=2)
    assert "Cached objects are kept for 14 days" in first


SSL_DOCS = {
    "S1": ("Community Updates", "## Bugfixes\n\nFix multiple Set-Cookie headers properly. Fix the behaviour of "
           "decoding an exhausted stream properly."),
    "S2": ("Advanced Usage", "## SSL Cert Verification\n\nYou can pass verify the path to a CA_BUNDLE file with "
           "certificates of trusted CAs. By default, SSL verification is enabled and Requests raises an SSLError "
           "with CERTIFICATE_VERIFY_FAILED when it cannot verify the certificate."),
}


def test_an_ask_whose_object_is_a_pronoun_is_ranked_by_what_it_carries() -> None:
    # "fix it properly": without what "it" is, the ask's words are a verb and its manner, and a changelog's "Fix …
    # properly" matches them best.
    topic = "How do I fix it properly instead of turning verification off (SSL, CERTIFICATE_VERIFY_FAILED)?"
    assert asked(topic) == topic
    assert asked("How do I keep those tests from running (CTest)?") == "How do I keep those tests from running?"
    [(first, ids), *_] = cited_sentences(SSL_DOCS, topic, limit=2)
    assert ids == ["S2"], first
