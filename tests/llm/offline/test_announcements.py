"""Release announcements titled "<project>-<version>: …" (pytest keeps 150 of them beside 100 pages of docs) name
every feature in passing, like release notes: a page that explains the feature comes first."""

from __future__ import annotations

from deep_research_mcp.llm.offline.select import cited_passages

ANNOUNCEMENT = ("## Changes\n\nfixtures can now be overridden and finalized in conftest files for flaky tests. "
                "Several small bugs were fixed.")
GUIDE = ("## Flaky tests\n\nA flaky test is one that passes and fails intermittently when the code is unchanged. "
         "Flaky tests often rely on shared state that other tests leave behind.")


def test_a_versioned_announcement_ranks_like_release_notes() -> None:
    docs = {"S1": ("pytest-2.3.3: integration fixes, py24 support", ANNOUNCEMENT), "S2": ("Flaky tests", GUIDE)}
    passages = cited_passages(docs, "Why are some tests flaky and how are fixtures involved?")
    assert passages[0][0][1] == ["S2"]
