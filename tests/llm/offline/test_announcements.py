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




# Requests keeps its release history on a page titled "Community Updates", one section per version.
_SHARED = ("A proxy may be slow. Credentials expire after a day. The proxy logs each request it forwards. Passwords "
           "and other credentials are never logged.")
HISTORY = "## 2.5.2 (2015-02-23)\n\nProxy credentials given in the proxy URL are now passed to the proxy. " + _SHARED
PROXIES = "## Proxies\n\nTo pass proxy credentials, put them in the proxy URL of the proxies argument. " + _SHARED


def _rank_of_release_note(title: str, history: str) -> int:
    passages = cited_passages({"S1": (title, history), "S2": ("Advanced Usage", PROXIES)},
                              "How do I pass proxy credentials?")
    texts = [text for passage in passages for text, _ in passage]
    return texts.index("Proxy credentials given in the proxy URL are now passed to the proxy.")


def test_a_section_headed_by_a_version_ranks_like_release_notes_whatever_the_page_title() -> None:
    plain = _rank_of_release_note("Community Updates", HISTORY.replace("2.5.2 (2015-02-23)", "Proxy credentials"))
    assert plain == 1  # under a plain heading: second, after the guide's answer
    assert _rank_of_release_note("Release History", HISTORY) > plain
    assert _rank_of_release_note("Community Updates", HISTORY) > plain
