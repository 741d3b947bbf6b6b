"""A small in-memory document search tool: the simplest real tool behind the seam (tests, demos, benchmarks)."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .base import Document, ToolResult

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how", "in", "is", "it"}
    | {"of", "on", "or", "that", "the", "this", "to", "was", "what", "when", "where", "which", "who", "why", "with"}
)
TEXT_SUFFIXES = (".md", ".txt", ".rst", ".markdown")


def _terms(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1]


class InMemoryDocuments:
    """Ranks documents by query-term frequency. `latency_s` simulates a slow search backend in benchmarks."""

    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What to look for"},
            "k": {"type": "integer", "minimum": 1, "maximum": 10, "description": "How many documents"},
        },
        "required": ["query"],
    }

    def __init__(
        self,
        documents: Iterable[Document],
        *,
        name: str = "search_documents",
        description: str = "Search the document collection; returns the best-matching documents.",
        latency_s: float = 0.0,
        default_k: int = 3,
    ) -> None:
        self.name = name
        self.description = description
        self.latency_s = latency_s
        self.default_k = default_k
        self.documents = list(documents)
        self._index = [Counter(_terms(d.title + " " + d.content)) for d in self.documents]
        self.calls = 0

    @classmethod
    def from_directory(cls, root: Path, **kwargs: Any) -> InMemoryDocuments:
        docs = []
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix.lower() in TEXT_SUFFIXES:
                text = path.read_text(encoding="utf-8", errors="replace")
                title = next((ln.lstrip("# ").strip() for ln in text.splitlines() if ln.strip()), path.name)
                docs.append(Document(locator=str(path), title=title[:200], content=text))
        return cls(docs, **kwargs)

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        self.calls += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        query = str(arguments.get("query", ""))
        k = int(arguments.get("k") or self.default_k)
        terms = set(_terms(query))
        scored = sorted(
            ((sum(counts[t] for t in terms), i) for i, counts in enumerate(self._index)),
            key=lambda pair: (-pair[0], pair[1]),
        )
        hits = [self.documents[i] for score, i in scored[:k] if score > 0]
        if not hits:
            return ToolResult(text=f"No documents match {query!r}.")
        return ToolResult(documents=hits)
