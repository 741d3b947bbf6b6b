"""The research tools over a `DocumentIndex`: `search_documents` and `read_document`.

SQLite calls run on worker threads (`asyncio.to_thread`) so a search never stalls the event loop. Every document a
tool returns has the file's absolute path as its locator and the file's own title as its title: the file is the
source, whichever passage or section of it was shown (the run's registry knows a path by the first title it sees,
so a heading in the title would name the whole file after one section). Sections are named in the text instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...errors import InputError
from ..base import Document, ResearchTool, ToolResult
from ..html_text import close_open_fence
from .index import DocumentIndex, IndexStats, Passage, Progress

DEFAULT_K = 5
MAX_K = 10
PASSAGES_PER_DOCUMENT = 3
MAX_READ_CHARS = 50_000


def _int_in(value: Any, low: int, high: int, default: int) -> int:
    # Models send "5", 5.0 or nonsense; a bad k is not worth failing the call over.
    try:
        return min(high, max(low, int(value)))
    except (TypeError, ValueError):
        return default


def _passage(hit: Passage) -> str:
    # A section's first passage opens with its heading; later ones say which section they continue.
    if hit.heading and not hit.text.lstrip().startswith("#"):
        return f"[section: {hit.heading}]\n{hit.text}"
    return hit.text


class SearchDocumentsTool:
    """BM25 search over the indexed passages. Passages of one file are merged into one document (best first),
    because the run's registry knows a file once; `k` counts files."""

    name = "search_documents"
    description = (
        "Search the local document collection (full-text, BM25-ranked). Returns the best-matching passages, grouped "
        "by file. Use read_document with a returned path (and optionally a section heading) to read more."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "Words to look for"},
            "k": {"type": "integer", "minimum": 1, "maximum": MAX_K, "description": "How many files (default 5)"},
        },
        "required": ["query"],
    }

    def __init__(self, index: DocumentIndex) -> None:
        self.index = index

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        query = str(arguments.get("query") or "").strip()
        if not query:
            return ToolResult(text="Give a query: the words to look for.")
        k = _int_in(arguments.get("k", DEFAULT_K), 1, MAX_K, DEFAULT_K)
        passages = await asyncio.to_thread(self.index.search, query, k * PASSAGES_PER_DOCUMENT)
        if not passages:
            return ToolResult(text=f"No local documents match {query!r}.")
        by_path: dict[str, list[Passage]] = {}
        for passage in passages:
            if passage.path in by_path or len(by_path) < k:
                by_path.setdefault(passage.path, []).append(passage)
        documents: list[Document] = []
        lines = [f"{len(by_path)} matching files for {query!r}; read_document(path, section) returns more text."]
        for path, hits in by_path.items():
            content = "\n\n[…]\n\n".join(_passage(hit) for hit in hits)
            documents.append(Document(locator=path, title=hits[0].title, content=content))
            sections = ", ".join(dict.fromkeys(repr(hit.heading) for hit in hits if hit.heading))
            lines.append(f"- {path}" + (f" (sections {sections})" if sections else ""))
        return ToolResult(documents=documents, text="\n".join(lines))


class ReadDocumentTool:
    """The text of one indexed file, whole or one section, capped so one call cannot flood the context."""

    name = "read_document"
    description = (
        "Read a local document found by search_documents: its whole text, or one section when `section` names a "
        "heading (case-insensitive)."
    )
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "The file's path, as returned by search_documents"},
            "section": {"type": ["string", "null"], "description": "A section heading; omit for the whole file"},
        },
        "required": ["path"],
    }

    def __init__(self, index: DocumentIndex, max_chars: int = MAX_READ_CHARS) -> None:
        self.index = index
        self.max_chars = max_chars

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        path = str(arguments.get("path") or "").strip()
        raw_section = arguments.get("section")
        section = str(raw_section).strip() if raw_section is not None else ""
        try:
            locator, title, text = await asyncio.to_thread(self._read, path, section or None)
        except InputError as exc:  # a wrong path or heading is the model's to fix, not a failed tool
            return ToolResult(text=str(exc))
        if len(text) > self.max_chars:
            omitted = len(text) - self.max_chars
            shown = close_open_fence(text[: self.max_chars])
            text = f"{shown}\n\n[… {omitted:,} more characters not shown; read one section instead]"
        return ToolResult(documents=[Document(locator=locator, title=title, content=text)])

    def _read(self, path: str, section: str | None) -> tuple[str, str, str]:
        # The locator is the indexed absolute path even when the model gave a relative tail of it.
        locator = self.index.locate(path)
        title, text = self.index.read(locator)
        if section is not None:
            # The index labels a section "title — heading"; the document keeps the file's title (see above), and
            # the section's text opens with its heading. One more query of one file's rows, on a worker thread.
            text = self.index.read(locator, section)[1]
        return locator, title, text


async def open_local_documents(
    root: Path, db_path: Path, progress: Progress | None = None, *,
    include: Sequence[str] = (), exclude: Sequence[str] = (),
) -> list[ResearchTool]:
    """Index `root` into `db_path` (incrementally, on a worker thread) and return the two tools sharing it.
    `include`/`exclude` are globs over paths under `root` (see `filters`). `progress` is called from that worker
    thread, last with the final stats. Close with `close_local_documents(tools)` when done."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputError(f"document folder {root} is not a folder" if root.exists() else
                         f"document folder {root} does not exist")
    index = await asyncio.to_thread(DocumentIndex, db_path)
    try:
        stats: IndexStats = await asyncio.to_thread(
            index.index_directory, root, progress=progress, include=include, exclude=exclude
        )
        if stats.indexed + stats.unchanged == 0:
            raise InputError(stats.nothing_indexed(root))
    except BaseException:
        index.close()
        raise
    return [SearchDocumentsTool(index), ReadDocumentTool(index)]


def close_local_documents(tools: list[ResearchTool]) -> None:
    """Close the index behind tools from `open_local_documents` (idempotent)."""
    for tool in tools:
        index = getattr(tool, "index", None)
        if isinstance(index, DocumentIndex):
            index.close()
