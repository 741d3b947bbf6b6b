"""All configured upstream servers: their shared sessions, and the research tools they currently offer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self, TextIO

import mcp_types as types

from ...services import ServiceRegistry
from .config import ServerConfig, groups_of, load_mcp_config
from .group import UpstreamGroup
from .sessions import UpstreamSession, describe, server_service
from .tool import UpstreamTool, unique_tool_names

log = logging.getLogger(__name__)


class UpstreamManager:
    """Owns one `UpstreamSession` per server. Create once per process; `close()` (or `async with`) on shutdown.

    Nothing connects until `tools()` or a tool call needs it. A server that cannot be reached is left out of
    `tools()` (the reason is in `errors` and the log) rather than failing the others.
    """

    def __init__(
        self, servers: Mapping[str, ServerConfig], *, errlog: TextIO | None = None,
        services: ServiceRegistry | None = None,
    ) -> None:
        # Each server is a service (adaptive limit up to its maxConcurrency), in the registry given or a new one;
        # servers of a group are registered as the group, which shows each member.
        self.services = services if services is not None else ServiceRegistry()
        self.sessions: dict[str, UpstreamSession] = {
            name: UpstreamSession(name, config, errlog=errlog, service=server_service(name, config))
            for name, config in servers.items()
        }
        self.groups: dict[str, UpstreamGroup] = {
            group: UpstreamGroup(group, [self.sessions[name] for name in members])
            for group, members in groups_of(servers).items()
        }
        for group in self.groups.values():
            self.services.add(group.service)
        for session in self.sessions.values():
            if session.config.group is None:
                session.service = self.services.add(session.service)
        self.errors: dict[str, str] = {}  # server -> why its tools are missing from the last tools()
        self._withheld: dict[str, list[str]] = {}  # server -> tools left out as not read-only (logged once)

    @classmethod
    def from_config_file(
        cls, path: str | Path, *, errlog: TextIO | None = None, services: ServiceRegistry | None = None
    ) -> UpstreamManager:
        return cls(load_mcp_config(path), errlog=errlog, services=services)

    @property
    def sessions_opened(self) -> int:
        """Sessions opened so far, all servers together (reconnects count)."""
        return sum(session.opened for session in self.sessions.values())

    async def tools(self) -> list[UpstreamTool]:
        """The allowed tools of every reachable server, named `<server>__<tool>`; refetched only after a change."""
        listings: dict[str, list[types.Tool]] = {}
        async with asyncio.TaskGroup() as tg:
            for name, session in self.sessions.items():
                tg.create_task(self._list_one(name, session, listings))
        # A group's tools are listed once, under the group, as its first member that lists each one has it.
        chosen: dict[tuple[str, str], types.Tool] = {}
        for name, session in self.sessions.items():
            owner = session.config.group or name
            for tool in listings.get(name, []):
                if session.config.offers(tool):
                    chosen.setdefault((owner, tool.name), tool)
        for name, session in self.sessions.items():
            withheld = [t.name for t in listings.get(name, []) if session.config.allows(t.name)
                        and not session.config.offers(t)]
            if withheld and self._withheld.get(name) != withheld:
                self._withheld[name] = withheld
                log.warning("upstream MCP server %r: %s not offered to researchers since not marked read-only; set "
                            '"allowWrite": true on the server to offer them', name, ", ".join(withheld))
        names = unique_tool_names(chosen)
        return [UpstreamTool(self.groups.get(owner) or self.sessions[owner], tool, names[(owner, tool_name)])
                for (owner, tool_name), tool in chosen.items()]

    async def _list_one(self, name: str, session: UpstreamSession, out: dict[str, list[types.Tool]]) -> None:
        # Catches everything but cancellation: one broken server must not cancel its siblings' listings.
        try:
            out[name] = await session.list_tools()
        except Exception as exc:
            reason = describe(exc)
            self.errors[name] = reason
            group = self.groups.get(session.config.group or "")
            if group is not None:
                group.unreachable(session, exc)
                log.warning("upstream MCP server %r (group %r) offers no tools; the group's other servers take its "
                            "calls: %s", name, group.name, reason)
                return
            log.warning("upstream MCP server %r offers no tools: %s", name, reason)
        else:
            self.errors.pop(name, None)

    async def close(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for session in self.sessions.values():
                tg.create_task(session.close())

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
