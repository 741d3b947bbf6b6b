"""Several upstream servers offering the same tools, as one: each call goes to the best server of the group.

    group = UpstreamGroup("search", [session_a, session_b])   # servers whose config entries say "group": "search"
    result = await group.call_tool("search", {"query": ...})  # on the best member; another if it cannot be reached

The choice, the ejection of a server that keeps failing and its probing back are the services layer's
(`ServiceGroup`: peak-EWMA over outstanding calls and latency, a circuit breaker per member); each member keeps its
own adaptive limit, timeouts and reconnect rule (`UpstreamSession`). What this adds is what a tool call needs: a call
that never reached its server (it would not start, the connection was refused) is sent to another member, and with
no member left the caller gets one ToolGroupUnavailable naming each server and its last error.
"""

from __future__ import annotations

import logging
from typing import Any

import mcp_types as types

from ...errors import GroupUnavailable, ToolGroupUnavailable, UpstreamUnreachable
from ...services import ServiceGroup
from .config import ServerConfig
from .sessions import UpstreamSession

log = logging.getLogger(__name__)


class UpstreamGroup:
    """Callers see what they see of one `UpstreamSession` (`name`, `config`, `call_tool`), so an `UpstreamTool`
    works over either. `service` is the group as the process's registry shows it (`mcp:<group>`)."""

    def __init__(self, name: str, sessions: list[UpstreamSession]) -> None:
        if not sessions:
            raise ValueError(f"upstream group {name!r} has no servers")
        self.name = name
        self.sessions = {session.service.name: session for session in sessions}
        self.service = ServiceGroup.of(f"mcp:{name}", [session.service for session in sessions])

    @property
    def config(self) -> ServerConfig:
        """The first server's settings, for what callers read off one (e.g. how much of a result to keep)."""
        return next(iter(self.sessions.values())).config

    def lacking(self, tool: str) -> list[str]:
        """Members (by service name) that do not offer `tool`: their config leaves it out, or their known list."""
        return [name for name, session in self.sessions.items() if session.offers(tool) is False]

    def unreachable(self, session: UpstreamSession, exc: BaseException) -> None:
        """`session` could not be reached outside a call (listing its tools): counted as a failed call would be,
        so the first calls go to the other members until it has cooled down and been probed."""
        self.service.report(session.service.name, exc)

    async def call_tool(self, tool: str, arguments: dict[str, Any]) -> types.CallToolResult:
        tried = self.lacking(tool)
        while True:
            chosen: str | None = None
            try:
                async with self.service.slot(exclude=tried) as member:
                    chosen = member
                    return await self.sessions[member].call_tool(tool, arguments, own_slot=False)
            except GroupUnavailable as exc:
                members = {self.sessions[m].name: error for m, error in exc.members.items() if m in self.sessions}
                raise ToolGroupUnavailable(self.name, members) from None
            except UpstreamUnreachable as exc:
                # Never sent, so nothing ran: another member takes the call (this one is ejected by its breaker).
                assert chosen is not None
                tried.append(chosen)
                log.info("upstream group %s: %s; trying another server", self.name, exc)
