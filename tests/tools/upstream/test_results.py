"""Upstream results as citable documents, and upstream tools as namespaced research-tool names (no servers needed)."""

from __future__ import annotations

from typing import Any

import mcp_types as types
import pytest

from deep_research_mcp.tools.base import Document
from deep_research_mcp.tools.upstream import call_locator, to_tool_result, tool_name, unique_tool_names
from deep_research_mcp.tools.upstream.results import MAX_ERROR_CHARS, error_message
from deep_research_mcp.tools.upstream.tool import MAX_NAME_CHARS


def convert(*content: types.ContentBlock, structured: Any = None, args: dict[str, Any] | None = None,
            max_chars: int = 100_000) -> tuple[list[Document], str]:
    result = types.CallToolResult(content=list(content), structured_content=structured)
    out = to_tool_result("web", "search", args or {"q": "x"}, result, max_chars=max_chars)
    return out.documents, out.text


def text(value: str) -> types.TextContent:
    return types.TextContent(text=value)


def test_structured_items_with_urls_become_one_document_each_and_the_json_echo_is_not_repeated() -> None:
    structured = {"results": [{"url": "https://a.test/1", "title": "One", "snippet": "first"},
                              {"link": "https://a.test/2", "name": "Two", "description": "second"}]}
    docs, note = convert(text('{"results": "...the same data as JSON..."}'), structured=structured)
    assert docs == [Document("https://a.test/1", "One", "first"), Document("https://a.test/2", "Two", "second")]
    assert note == ""


def test_json_text_without_structured_content_is_read_like_structured_content() -> None:
    docs, _ = convert(text('[{"url": "https://a.test/1", "title": "One", "content": "body"}]'))
    assert docs == [Document("https://a.test/1", "One", "body")]


def test_structured_content_without_urls_falls_back_to_the_call_locator() -> None:
    docs, _ = convert(text("42 results"), structured={"count": 42})
    assert docs == [Document('mcp://web/search?{"q":"x"}', "web search", "42 results")]


def test_structured_only_result_is_kept_as_json() -> None:
    docs, _ = convert(structured={"answer": 42})
    assert len(docs) == 1 and docs[0].locator.startswith("mcp://web/search?") and '"answer": 42' in docs[0].content


def test_call_locator_is_canonical_json_of_the_arguments() -> None:
    assert call_locator("s", "t", {"b": 1, "a": [1, "é"]}) == 'mcp://s/t?{"a":[1,"é"],"b":1}'
    docs, _ = convert(text("no links here"), args={"z": 1, "a": 2})
    assert docs[0].locator == 'mcp://web/search?{"a":2,"z":1}' and docs[0].title == "web search"


def test_a_single_link_in_text_is_the_locator() -> None:
    docs, _ = convert(text("See [Tidal lagoons](https://a.test/tidal). They store energy."))
    assert docs == [Document("https://a.test/tidal", "Tidal lagoons",
                             "See [Tidal lagoons](https://a.test/tidal). They store energy.")]


def test_fetch_style_header_link_names_the_page_even_with_more_links_inside() -> None:
    page = "Contents of https://a.test/page:\n# Page title\n\nBody with [x](https://b.test/) and https://c.test/."
    docs, _ = convert(text(page))
    assert docs == [Document("https://a.test/page", "Page title", page)]


def test_search_result_text_splits_into_one_document_per_source() -> None:
    listing = ("Found 2 results.\n\nTitle: One\nDescription: first\nURL: https://a.test/1\n\n"
               "Title: Two\nURL: https://a.test/2\n\nmore about two")
    docs, note = convert(text(listing))
    assert [(d.locator, d.title) for d in docs] == [("https://a.test/1", "One"), ("https://a.test/2", "Two")]
    assert docs[1].content.endswith("more about two")
    assert note == "Found 2 results."


def test_text_with_several_links_that_is_not_a_result_list_stays_whole() -> None:
    for prose in ("Compare https://a.test/1 with https://a.test/2 in one breath.",
                  "1. https://a.test/1 One\n2. https://a.test/2 Two"):
        docs, _ = convert(text(prose))
        assert [d.locator for d in docs] == ['mcp://web/search?{"q":"x"}'], prose


def test_resources_links_and_embedded_text_become_documents() -> None:
    link = types.ResourceLink(uri="https://a.test/doc", name="doc", title="The doc", description="what it says")
    page = types.EmbeddedResource(resource=types.TextResourceContents(uri="file:///srv/notes.md", text="# Notes\nhi"))
    docs, _ = convert(link, page)
    assert docs == [Document("https://a.test/doc", "The doc", "what it says"),
                    Document("file:///srv/notes.md", "Notes", "# Notes\nhi")]


def test_binary_content_is_skipped_with_a_note() -> None:
    blob = types.EmbeddedResource(resource=types.BlobResourceContents(uri="https://a.test/x.bin", blob="AAAA",
                                                                      mime_type="application/pdf"))
    docs, note = convert(types.ImageContent(data="iVBO", mime_type="image/png"),
                         types.AudioContent(data="UklG", mime_type="audio/wav"), blob, text("caption"))
    assert [d.content for d in docs] == ["caption"]
    assert "image (image/png)" in note and "audio clip (audio/wav)" in note and "application/pdf" in note


def test_blocks_about_one_source_are_merged() -> None:
    docs, _ = convert(text("part one"), text("part two"))
    assert len(docs) == 1 and docs[0].content == "part one\n\npart two"


def test_empty_result_says_so() -> None:
    docs, note = convert()
    assert docs == [] and note == "web search returned no content."


def test_size_cap_truncates_and_drops_with_a_note() -> None:
    structured = {"results": [{"url": f"https://a.test/{i}", "title": str(i), "content": "x" * 60} for i in range(4)]}
    docs, note = convert(structured=structured, max_chars=100)
    assert [d.locator for d in docs] == ["https://a.test/0", "https://a.test/1"]
    assert docs[0].content == "x" * 60 and docs[1].content.startswith("x" * 40) and "truncated" in docs[1].content
    assert "240 characters" in note and "first 100" in note and "dropped 2" in note


def test_error_message_is_the_upstream_text_truncated() -> None:
    result = types.CallToolResult(content=[text("boom " * 1000)], is_error=True)
    message = error_message(result)
    assert message.startswith("boom boom") and len(message) <= MAX_ERROR_CHARS + 10
    assert error_message(types.CallToolResult(content=[], is_error=True)) == "(no message)"


def test_error_message_drops_the_sdks_wrapper_but_keeps_the_reason() -> None:
    wrapped = "Error executing tool fetch: Refused to fetch http://127.0.0.1/: not a public address."
    result = types.CallToolResult(content=[text(wrapped)], is_error=True)
    assert error_message(result) == "Refused to fetch http://127.0.0.1/: not a public address."
    bare = types.CallToolResult(content=[text("Error executing tool fetch:")], is_error=True)
    assert error_message(bare) == "(no message)"


@pytest.mark.parametrize(
    ("server", "tool", "expected"),
    [
        ("search", "web_search", "search__web_search"),
        ("my.server", "get page/v2", "my_server__get_page_v2"),
        ("brave-search", "brave_web_search", "brave-search__brave_web_search"),
    ],
)
def test_tool_names_are_namespaced_and_sanitized(server: str, tool: str, expected: str) -> None:
    assert tool_name(server, tool) == expected


def test_long_names_are_cut_to_64_and_stay_distinct() -> None:
    a, b = tool_name("server", "x" * 80 + "a"), tool_name("server", "x" * 80 + "b")
    assert len(a) == len(b) == MAX_NAME_CHARS and a != b


def test_names_that_sanitize_alike_are_made_unique() -> None:
    names = unique_tool_names([("a", "get.page"), ("a", "get_page"), ("a.b", "t"), ("a_b", "t")])
    assert names[("a", "get.page")] == "a__get_page" and names[("a.b", "t")] == "a_b__t"
    assert len(set(names.values())) == 4
    assert all(len(n) <= MAX_NAME_CHARS and n.replace("_", "").replace("-", "").isalnum() for n in names.values())
