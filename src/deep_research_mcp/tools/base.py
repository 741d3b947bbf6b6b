"""The tool seam: everything a researcher can call looks the same to the engine.

A tool has a name, a description and a JSON schema of its arguments, and an async `call` that returns the documents
it read plus optional free text. The engine registers each document in the run's source registry and shows the
model the registry ids, so citations can only ever point at something that was really retrieved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Document:
    """One retrieved thing: `locator` is a URL or path (the dedupe key), `content` the text the model reads."""

    locator: str
    title: str
    content: str


@dataclass(slots=True)
class ToolResult:
    documents: list[Document] = field(default_factory=list)
    text: str = ""


class ResearchTool(Protocol):
    name: str
    description: str
    parameters: dict[str, Any]

    async def call(self, arguments: dict[str, Any]) -> ToolResult: ...
