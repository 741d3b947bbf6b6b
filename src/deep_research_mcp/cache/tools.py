"""Any research tool behind the cache: the same call (tool identity and arguments) is answered once per TTL.

Only results are cached; a call that fails is not, so the next run (or researcher) tries it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..tools.base import ResearchTool, ToolResult
from .core import Cache
from .values import ToolResultCodec

_CODEC = ToolResultCodec()


class CachedTool:
    """Wraps `tool`; `scope` identifies what answers (e.g. {"server": ..., "tool": ...} for an upstream tool), so
    two tools that share a name across configurations never share entries."""

    def __init__(
        self, tool: ResearchTool, cache: Cache, *, scope: Mapping[str, Any], namespace: str = "tool"
    ) -> None:
        self.tool = tool
        self.cache = cache
        self.scope = dict(scope)
        self.namespace = namespace
        self.name = tool.name
        self.description = tool.description
        self.parameters = tool.parameters

    def __repr__(self) -> str:
        return f"CachedTool({self.tool!r})"

    async def call(self, arguments: dict[str, Any]) -> ToolResult:
        inputs = {"tool": self.scope, "arguments": arguments}
        lookup = await self.cache.get_or_compute(self.namespace, inputs, lambda: self.tool.call(arguments), _CODEC)
        return lookup.value
