"""An upstream MCP tool behind the research-tool seam: namespaced, schema passed through, results as documents."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

import mcp_types as types

from ...errors import ToolCallError
from ..base import ToolResult
from .group import UpstreamGroup
from .results import error_message, to_tool_result
from .sessions import UpstreamSession

MAX_NAME_CHARS = 64  # the common limit of the model APIs' function names
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_HASH_CHARS = 8
MAX_DESCRIPTION_CHARS = 2_000


def _digest(server: str, tool: str, salt: int = 0) -> str:
    return hashlib.sha256(f"{server}\0{tool}\0{salt}".encode()).hexdigest()[:_HASH_CHARS]


def tool_name(server: str, tool: str) -> str:
    """`<server>__<tool>` with anything outside `[A-Za-z0-9_-]` replaced, cut to 64 characters.

    A cut name ends in a hash of the full pair, so two long names that share a prefix stay apart.
    """
    name = f"{_UNSAFE.sub('_', server)}__{_UNSAFE.sub('_', tool)}"
    if len(name) <= MAX_NAME_CHARS:
        return name
    return f"{name[: MAX_NAME_CHARS - _HASH_CHARS - 1]}_{_digest(server, tool)}"


def unique_tool_names(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Names for (server, tool) pairs, unique even when sanitizing maps two pairs to one name; first come keeps it."""
    names: dict[tuple[str, str], str] = {}
    taken: set[str] = set()
    for server, tool in pairs:
        name = tool_name(server, tool)
        salt = 0
        while name in taken:
            base = tool_name(server, tool)[: MAX_NAME_CHARS - _HASH_CHARS - 1]
            name = f"{base}_{_digest(server, tool, salt)}"
            salt += 1
        taken.add(name)
        names[(server, tool)] = name
    return names


def _parameters(schema: dict[str, Any]) -> dict[str, Any]:
    # Model APIs reject a function schema without an object root; MCP requires one, but not every server complies.
    parameters = dict(schema)
    if parameters.get("type") != "object":
        parameters = {"type": "object", "properties": {}}
    parameters.setdefault("properties", {})
    return parameters


class UpstreamTool:
    """One allowed tool of one upstream server, or of a group of servers, as a ResearchTool. A group's tool is named,
    cited and cached under the group (`server` is the group's name), whichever member answers."""

    def __init__(self, session: UpstreamSession | UpstreamGroup, tool: types.Tool, name: str) -> None:
        self.session = session
        self.server = session.name
        self.upstream_name = tool.name
        self.name = name
        text = (tool.description or tool.title or tool.name).strip()
        if len(text) > MAX_DESCRIPTION_CHARS:
            text = text[:MAX_DESCRIPTION_CHARS] + " [...]"
        self.description = f"[{session.name}] {text}"
        self.parameters = _parameters(tool.input_schema)

    def __repr__(self) -> str:
        return f"UpstreamTool({self.name!r} -> {self.server}/{self.upstream_name})"

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        result = await self.session.call_tool(self.upstream_name, arguments)
        if result.is_error:
            raise ToolCallError(f"{self.server}/{self.upstream_name} returned an error: {error_message(result)}")
        return to_tool_result(
            self.server, self.upstream_name, arguments, result, max_chars=self.session.config.max_result_chars
        )
