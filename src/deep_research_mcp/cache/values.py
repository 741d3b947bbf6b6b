"""Codecs for the values the research caches: tool results, fetched pages (documents) and summaries, as JSON."""

from __future__ import annotations

from typing import Any

from ..tools.base import Document, ToolResult
from .envelope import Value


def document_json(document: Document) -> dict[str, str]:
    return {"locator": document.locator, "title": document.title, "content": document.content}


def document_from_json(value: Any) -> Document:
    return Document(locator=str(value["locator"]), title=str(value["title"]), content=str(value["content"]))


class DocumentCodec:
    def encode(self, value: Document) -> Value | None:
        return document_json(value)

    def decode(self, data: Value) -> Document:
        return document_from_json(data)


class ToolResultCodec:
    def encode(self, value: ToolResult) -> Value | None:
        return {"documents": [document_json(d) for d in value.documents], "text": value.text}

    def decode(self, data: Value) -> ToolResult:
        return ToolResult(documents=[document_from_json(d) for d in data["documents"]], text=str(data["text"]))


class TextCodec:
    """Non-empty text; an empty result is not worth keeping (the next run should try again)."""

    def encode(self, value: str) -> Value | None:
        return value or None

    def decode(self, data: Value) -> str:
        if not isinstance(data, str) or not data:
            raise ValueError("expected non-empty text")
        return data
