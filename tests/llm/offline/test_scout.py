"""The question-level scout search: every researcher of a run also searches the whole question's words once, so a
researcher of one clause sees the pages the question's other clauses name."""

from __future__ import annotations

from pathlib import Path

from deep_research_mcp import prompts
from deep_research_mcp.engine.config import EngineConfig
from deep_research_mcp.engine.run import ResearchEngine
from deep_research_mcp.llm.base import Message, ToolSpec
from deep_research_mcp.llm.client import ModelCaller, RetryPolicy
from deep_research_mcp.llm.factory import StageModels
from deep_research_mcp.llm.offline import OfflineModel
from deep_research_mcp.llm.offline.model import research_brief
from deep_research_mcp.llm.offline.planner import plan_topics
from deep_research_mcp.llm.offline.research import feedback_query, research_queries, scout_query
from deep_research_mcp.tools.localdocs import close_local_documents, open_local_documents

SEARCH = ToolSpec("search_documents", "Search", {
    "type": "object", "properties": {"query": {"type": "string"}, "k": {"type": "integer"}}, "required": ["query"]})
COMPLETE = ToolSpec(prompts.RESEARCH_COMPLETE, "", {"type": "object", "properties": {}})
QUESTION = ("Can I keep two branches checked out in separate folders of one repository? How do I prune the stale "
            "ones?")


def test_the_scout_search_is_the_whole_question_for_a_part_of_it() -> None:
    first, second = plan_topics(QUESTION)
    scout = scout_query(QUESTION, first, research_queries(first))
    assert scout is not None and {"prune", "stale", "branches", "folders"} <= set(scout.split())
    assert scout_query(QUESTION, second, research_queries(second)) == scout  # every researcher: the same search
    # A question researched as one topic has nothing to add; without a brief there is nothing to scout.
    assert scout_query("How does flushing work?", "How does flushing work?") is None
    assert scout_query("", first) is None


def test_the_feedback_search_learns_no_word_the_brief_already_has() -> None:
    # The scout search has already searched "flaky"; the feedback search looks for the documents' other words.
    flaky = ("Flaky tests", "# Flaky tests\n\nFlaky tests fail now and then. The rerunfailures plugin reruns flaky "
                            "tests. The plugin takes a number of reruns.")
    shown = [[flaky, ("Outcomes", "# Outcomes\n\nTests fail.")]]
    topic = "How do I rerun failing tests?"
    assert feedback_query(topic, shown, []) == "failing rerun Flaky plugin"
    assert feedback_query(topic, shown, [], "Why are some tests flaky? How do I rerun failing tests?") == (
        "failing rerun plugin")


def _researcher_messages(topic: str, brief: str) -> list[Message]:
    system = prompts.RESEARCHER_SYSTEM.format(date="d", max_tool_calls=10, complete="ResearchComplete", think="think")
    if brief:
        system += prompts.RESEARCHER_BRIEF.format(brief=brief)
    return [Message.system(system), Message.user(prompts.RESEARCHER_USER.format(topic=topic))]


async def test_the_researcher_searches_the_brief_second() -> None:
    model = OfflineModel()
    topic = plan_topics(QUESTION)[0]
    assert research_brief(_researcher_messages(topic, QUESTION)[0].content) == QUESTION
    queries = []
    messages = _researcher_messages(topic, QUESTION)
    for _ in range(2):
        reply = await model.complete(messages, tools=[SEARCH, COMPLETE])
        queries += [c.arguments["query"] for c in reply.tool_calls]
        messages.append(Message("assistant", "", tuple(reply.tool_calls)))
        messages += [Message.tool_result(c, "No results.") for c in reply.tool_calls]
    assert queries == [research_queries(topic)[0], scout_query(QUESTION, topic)]
    # Without the brief, the second search is the topic's own again.
    reply = await model.complete(_researcher_messages(topic, "")[:2], tools=[SEARCH, COMPLETE])
    assert [c.arguments["query"] for c in reply.tool_calls] == [research_queries(topic)[0]]


class _Recording(OfflineModel):
    def __init__(self) -> None:
        super().__init__()
        self.systems: list[str] = []

    async def complete(self, messages, **kwargs):  # type: ignore[no-untyped-def]
        self.systems.append(messages[0].content)
        return await super().complete(messages, **kwargs)


async def test_every_researcher_is_told_the_brief(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "worktrees.md").write_text("# Working trees\n\nA repository can have several working trees, each with "
                                       "its own branch checked out. Prune removes stale working trees.\n")
    tools = await open_local_documents(root, tmp_path / "index.sqlite")
    model = _Recording()
    try:
        caller = ModelCaller(model=model, name="offline:extractive", context_window=10**6, timeout_s=30,
                             retry=RetryPolicy())
        result = await ResearchEngine(StageModels(caller, caller, caller, caller), tools, EngineConfig()).run(QUESTION)
    finally:
        close_local_documents(tools)
    researchers = [s for s in model.systems if s.startswith(prompts.RESEARCHER_SYSTEM.split("{", 1)[0])]
    assert len({research_brief(s) for s in researchers}) == 1 and research_brief(researchers[0]) == QUESTION
    assert len(researchers) >= 2 and "worktrees.md" in result.report
