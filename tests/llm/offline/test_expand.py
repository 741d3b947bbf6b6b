"""Query expansion from the first results: a question asked in other words than the documents' still finds them."""

from __future__ import annotations

from pathlib import Path

import pytest

from deep_research_mcp.engine.config import EngineConfig
from deep_research_mcp.engine.run import ResearchEngine
from deep_research_mcp.llm.client import ModelCaller, RetryPolicy
from deep_research_mcp.llm.factory import StageModels
from deep_research_mcp.llm.offline import OfflineModel, expand
from deep_research_mcp.llm.offline import model as offline_model
from deep_research_mcp.tools.localdocs import close_local_documents, open_local_documents

FLAKY = ("Flaky tests", "# Flaky tests\n\nA flaky test is one that exhibits intermittent or sporadic failure. "
         "Flaky tests often rely on system state that is not controlled. Flaky tests hide real failures, so a "
         "suite with flaky tests is trusted less.")
OUTCOMES = ("Test outcomes", "# Test outcomes\n\nA test can pass or fail. The summary counts the tests that pass "
            "and the tests that fail.")


def test_the_words_of_the_best_ranked_documents_come_first() -> None:
    plugins = ("Plugins", "# Plugins\n\nThe pytest-rerunfailures plugin re-runs a failed test. The "
               "pytest-rerunfailures plugin takes a number of reruns.")
    results = [[FLAKY, OUTCOMES, plugins], [FLAKY, plugins], [OUTCOMES]]
    learnt = expand.learn("Why do some tests pass and fail intermittently?", results)
    # The title and heading word of the document every search ranked first.
    assert learnt[0].lower() == "flaky"
    # Nothing the topic already says, nothing every document shown says.
    assert not {"tests", "test", "pass", "fail"} & {w.lower() for w in learnt}
    assert learnt == expand.learn("Why do some tests pass and fail intermittently?", results)  # deterministic
    # An identifier named twice by a lower-ranked document still counts, after the first document's words.
    assert "pytest-rerunfailures" in expand.learn("Why do some tests pass and fail intermittently?",
                                                  [[plugins, FLAKY, OUTCOMES]])
    assert expand.learn("Why?", results) == [] and expand.learn("flaky tests", []) == []


def test_the_feedback_query_adds_the_learnt_words_to_the_topic_subject() -> None:
    assert expand.expanded_query(["flaky", "sporadic", "state"], ["intermittently", "tests"], []) == (
        "intermittently tests flaky sporadic")
    assert expand.expanded_query([], ["tests"], []) is None
    assert expand.expanded_query(["flaky"], ["tests"], ["flaky tests"]) is None  # searched already


def test_results_are_read_per_search_with_repeats_resolved() -> None:
    first = ('[S1]\n<document id="S1">\nTitle: Flaky tests\nLocation: /d/flaky.md\n\nA flaky test.\n</document>\n\n'
             '[S2]\n<document id="S2">\nTitle: Outcomes\nLocation: /d/o.md\n\nTests pass.\n</document>')
    second = "[S2] (already shown above)\n\n[S1] (already shown above)"
    assert expand.results_of([first, second]) == [
        [("Flaky tests", "A flaky test."), ("Outcomes", "Tests pass.")],
        [("Outcomes", "Tests pass."), ("Flaky tests", "A flaky test.")],
    ]


def _corpus(root: Path) -> None:
    """A page that says what the question asks in the question's words ("intermittent"), a page that answers in
    the documents' own word only ("flaky"), and pages that use the question's other words more than either."""
    root.mkdir()
    (root / "flaky.md").write_text(FLAKY[1] + "\n", encoding="utf-8")
    (root / "plugins.md").write_text(
        "# Plugins for flaky tests\n\nThe pytest-rerunfailures plugin re-runs flaky tests a set number of times. "
        "The pytest-randomly plugin shuffles flaky tests so that order dependence shows.\n", encoding="utf-8")
    for n, topic in enumerate(["outcomes", "summaries", "exit codes", "reports", "xfail", "skips", "durations"]):
        (root / f"other{n}.md").write_text(
            f"# Test {topic}\n\nSome tests pass and some tests fail. A test that should fail but does pass is "
            f"reported in the {topic}. Tests that pass or fail are counted.\n", encoding="utf-8")


async def _retrieved(root: Path, data: Path, question: str) -> tuple[list[str], str]:
    """The file names the research retrieved, and its report."""
    tools = await open_local_documents(root, data / "index.sqlite")
    try:
        caller = ModelCaller(model=OfflineModel(), name="offline:extractive", context_window=10**6, timeout_s=30,
                             retry=RetryPolicy())
        engine = ResearchEngine(StageModels(caller, caller, caller, caller), tools, EngineConfig())
        result = await engine.run(question)
    finally:
        close_local_documents(tools)
    return [Path(source.locator).name for source in result.registry], result.report


async def test_a_question_without_the_documents_words_finds_their_page_through_feedback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "docs"
    _corpus(root)
    question = "Why do some tests pass and fail intermittently?"
    found, _ = await _retrieved(root, tmp_path / "with", question)
    assert "flaky.md" in found and "plugins.md" in found
    # Without the feedback search, the topic's own searches never reach the page that says "flaky" only.
    monkeypatch.setattr(offline_model, "feedback_query", lambda *args: None)
    found, _ = await _retrieved(root, tmp_path / "without", question)
    assert "flaky.md" in found and "plugins.md" not in found
