"""An upstream `CallToolResult` as the documents a researcher can cite.

The locator is what the engine dedupes and cites, so it should name the real source whenever the result says what
that is: a resource's URI, a `url`/`link` field of a structured result item, a link in the text. Only when nothing
names a source does the call itself become the locator, `mcp://<server>/<tool>?<canonical JSON arguments>`, which
is still stable: the same call made by two researchers is one source.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import mcp_types as types

from ..base import Document, ToolResult

_URL_KEYS = ("url", "link", "uri", "href", "source_url", "sourceUrl", "source")
_TITLE_KEYS = ("title", "name", "headline")
_CONTENT_KEYS = ("content", "text", "snippet", "description", "summary", "body", "abstract", "excerpt")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_LINK = re.compile(r"https?://[^\s<>()\[\]{}\"'`]+")
_MD_LINK = re.compile(r"\[([^\]\n]{1,200})\]\((https?://[^\s)]+)\)")
_HEADING = re.compile(r"^\s{0,3}#{1,3}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_TITLE_LINE = re.compile(r"^\s*(?:\*\*)?title(?:\*\*)?\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_PARAGRAPHS = re.compile(r"\n\s*\n")
_MAX_DEPTH = 4
MAX_ERROR_CHARS = 2_000
_SDK_ERROR_PREFIX = re.compile(r"^Error executing tool [^:\s]+:\s*")


def canonical_arguments(arguments: Mapping[str, Any]) -> str:
    return json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def call_locator(server: str, tool: str, arguments: Mapping[str, Any]) -> str:
    return f"mcp://{server}/{tool}?{canonical_arguments(arguments)}"


def error_message(result: types.CallToolResult) -> str:
    """The upstream's own words for an isError result, cut to a size a model prompt can carry."""
    text = "\n".join(block.text for block in result.content if isinstance(block, types.TextContent)).strip()
    if not text and result.structured_content is not None:
        text = json.dumps(result.structured_content, ensure_ascii=False, default=str)
    # Servers built on the SDK wrap their exceptions as "Error executing tool <name>: ..."; the caller already names
    # the server and tool, so only the reason is kept.
    text = _SDK_ERROR_PREFIX.sub("", text, count=1).strip() or "(no message)"
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + " [...]"


def to_tool_result(
    server: str, tool: str, arguments: Mapping[str, Any], result: types.CallToolResult, *, max_chars: int
) -> ToolResult:
    fallback = (call_locator(server, tool, arguments), f"{server} {tool}")
    notes: list[str] = []
    documents = _structured_documents(result.structured_content)
    # Servers that return structured content also serialize it into text blocks (the spec asks them to); when the
    # structured form already gave us the sources, the JSON text is the same data a second time.
    skip_json_text = bool(documents)
    text_seen = False
    for block in result.content:
        if isinstance(block, types.TextContent):
            text_seen = True
            parsed = _json_container(block.text)
            if parsed is not None and skip_json_text:
                continue
            from_json = _structured_documents(parsed) if parsed is not None else []
            documents += from_json or _text_documents(block.text, fallback, notes)
        elif isinstance(block, types.EmbeddedResource):
            resource = block.resource
            if isinstance(resource, types.TextResourceContents):
                title = _resource_title(resource) or _title_in(resource.text) or str(resource.uri)
                documents.append(Document(str(resource.uri), title, resource.text))
            else:
                notes.append(f"Skipped a binary resource ({resource.mime_type or 'unknown type'}) at {resource.uri}.")
        elif isinstance(block, types.ResourceLink):
            title = block.title or block.name or str(block.uri)
            body = block.description or f"A linked resource, {title}; its content was not included."
            documents.append(Document(str(block.uri), title, body))
        elif isinstance(block, types.ImageContent | types.AudioContent):
            kind = "an image" if isinstance(block, types.ImageContent) else "an audio clip"
            notes.append(f"Skipped {kind} ({block.mime_type}); only text reaches the researcher.")
    if not documents and not text_seen and result.structured_content is not None:
        content = json.dumps(result.structured_content, ensure_ascii=False, indent=1, default=str)
        documents.append(Document(fallback[0], fallback[1], content))
    documents = _merge_same_locator(documents)
    documents = _cap(documents, max_chars, notes)
    if not documents and not notes:
        notes.append(f"{server} {tool} returned no content.")
    return ToolResult(documents=documents, text="\n".join(notes))


def _json_container(text: str) -> Any | None:
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{":
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    return value if isinstance(value, dict | list) else None


def _structured_documents(value: Any) -> list[Document]:
    return [doc for item in _url_items(value, 0) if (doc := _item_document(item)) is not None]


def _url_items(value: Any, depth: int) -> Iterator[dict[str, Any]]:
    """Objects that name a source, searched a few levels down (`{"results": [...]}`, `{"data": {"items": [...]}}`)."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, dict):
        if _url_of(value) is not None:
            yield value
            return
        for child in value.values():
            yield from _url_items(child, depth + 1)
    elif isinstance(value, list):
        for child in value:
            yield from _url_items(child, depth + 1)


def _url_of(item: Mapping[str, Any]) -> str | None:
    for key in _URL_KEYS:
        value = item.get(key)
        if isinstance(value, str) and _URI.match(value.strip()):
            return value.strip()
    return None


def _item_document(item: dict[str, Any]) -> Document | None:
    url = _url_of(item)
    if url is None:
        return None
    title = next((item[k].strip() for k in _TITLE_KEYS if isinstance(item.get(k), str) and item[k].strip()), url)
    parts = [item[k].strip() for k in _CONTENT_KEYS if isinstance(item.get(k), str) and item[k].strip()]
    if not parts:
        rest = {k: v for k, v in item.items() if k not in _URL_KEYS and k not in _TITLE_KEYS}
        parts = [json.dumps(rest, ensure_ascii=False, default=str)] if rest else [title]
    return Document(url, title[:300], "\n\n".join(parts))


def _links(text: str) -> list[str]:
    return list(dict.fromkeys(link.rstrip(".,;:!?*_") for link in _LINK.findall(text)))


def _title_in(text: str, url: str | None = None) -> str | None:
    if url is not None:
        for link in _MD_LINK.finditer(text):
            if link.group(2).rstrip(".,;:!?") == url:
                return link.group(1).strip()
    match = _TITLE_LINE.search(text) or _HEADING.search(text)
    return match.group(1).strip()[:300] if match else None


def _text_documents(text: str, fallback: tuple[str, str], notes: list[str]) -> list[Document]:
    """Plain text: one document per source it names when it clearly names them, else one document for the call."""
    if not text.strip():
        return []
    links = _links(text)
    first_line, _, rest = text.lstrip().partition("\n")
    header_links = _links(first_line)
    next_line = rest.strip().partition("\n")[0]
    if len(header_links) == 1 and next_line and not _links(next_line):
        # "Contents of https://...:" over a page body: the whole text is that page (mcp-server-fetch does this).
        # A second line with its own link means a list of links instead, which must not all be credited to one.
        url = header_links[0]
        return [Document(url, _title_in(text, url) or url, text)]
    if len(links) == 1:
        return [Document(links[0], _title_in(text, links[0]) or links[0], text)]
    if len(links) > 1 and (split := _split_by_source(text)) is not None:
        prelude, documents = split
        if prelude:
            notes.append(prelude)
        return documents
    return [Document(fallback[0], _title_in(text) or fallback[1], text)]


def _split_by_source(text: str) -> tuple[str, list[Document]] | None:
    """Search-result text ("Title: ...\\nURL: ...\\n\\nTitle: ..."): each paragraph naming one link is one source.

    Paragraphs without a link belong to the source above them; a paragraph naming two links means the text is not a
    result list (a page with inline links, say), so it stays whole.
    """
    prelude: list[str] = []
    groups: list[tuple[str, list[str]]] = []
    for paragraph in _PARAGRAPHS.split(text):
        links = _links(paragraph)
        if len(links) > 1:
            return None
        if links:
            groups.append((links[0], [paragraph.strip()]))
        elif groups:
            groups[-1][1].append(paragraph.strip())
        elif paragraph.strip():
            prelude.append(paragraph.strip())
    if len(groups) < 2 or len({url for url, _ in groups}) != len(groups):
        return None
    documents = []
    for url, parts in groups:
        body = "\n\n".join(parts)
        documents.append(Document(url, _title_in(body, url) or url, body))
    return "\n\n".join(prelude), documents


def _resource_title(resource: types.TextResourceContents) -> str | None:
    # Resource contents carry no title field; servers that want one put it in _meta.
    meta = resource.meta or {}
    title = meta.get("title") or meta.get("name")
    return title if isinstance(title, str) and title.strip() else None


def _merge_same_locator(documents: list[Document]) -> list[Document]:
    # The registry keeps one document per locator, so two blocks about one source must travel as one document.
    merged: dict[str, Document] = {}
    for doc in documents:
        if (seen := merged.get(doc.locator)) is None:
            merged[doc.locator] = doc
        elif doc.content not in seen.content:
            merged[doc.locator] = Document(seen.locator, seen.title, seen.content + "\n\n" + doc.content)
    return list(merged.values())


def _cap(documents: list[Document], max_chars: int, notes: list[str]) -> list[Document]:
    total = sum(len(doc.content) for doc in documents)
    if total <= max_chars:
        return documents
    kept: list[Document] = []
    budget = max_chars
    for doc in documents:
        if budget <= 0:
            break
        if len(doc.content) > budget:
            doc = Document(doc.locator, doc.title, doc.content[:budget] + "\n[... truncated]")
        kept.append(doc)
        budget -= len(doc.content)
    dropped = len(documents) - len(kept)
    note = f"[Truncated: the result had {total:,} characters; kept the first {max_chars:,}"
    notes.append(note + (f" and dropped {dropped} more document(s).]" if dropped else ".]"))
    return kept
