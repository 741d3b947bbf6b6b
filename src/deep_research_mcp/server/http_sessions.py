"""Session limits for streamable HTTP that a flood cannot turn into a lockout.

The SDK's session manager refuses a new session (503) once `max_sessions` are open and frees them only on their
idle timeout, so a burst of unauthenticated `initialize` requests locked every client out until the timeout
(30 minutes by default). Here a full table makes room instead: the session idle the longest is closed for the
newcomer, and only when every session is busy serving a request is the newcomer refused. An authenticated client
(one credential) also has a cap of its own, so one credential cannot take the whole table from the others.

The SDK has no hook for admission, so this wraps its manager's admission method; a test floods a real server
with this in place (tests/hostile/test_sessions_flood.py), so an SDK change that breaks it is seen.
"""

from __future__ import annotations

import logging
import math
from typing import Any

log = logging.getLogger(__name__)


class IdleEviction:
    """Installs on a `StreamableHTTPSessionManager`: at a limit, close the longest-idle session first."""

    def __init__(self, manager: Any, *, per_client: int | None) -> None:
        self.manager = manager
        self.per_client = per_client
        self.evicted = 0

    @classmethod
    def install(cls, manager: Any, *, per_client: int | None) -> IdleEviction | None:
        admit = getattr(manager, "_admit_session", None)
        if admit is None or not hasattr(manager, "_server_instances") or not hasattr(manager, "_session_owners"):
            log.warning("this mcp SDK's session manager has no admission hook: sessions are not evicted when full")
            return None
        eviction = cls(manager, per_client=per_client)

        def admit_with_room(requestor: Any) -> Any:
            eviction.make_room(requestor)
            return admit(requestor)

        manager._admit_session = admit_with_room
        return eviction

    def make_room(self, requestor: Any) -> None:
        sessions: dict[str, Any] = self.manager._server_instances
        if self.per_client is not None and requestor is not None:
            owners: dict[str, Any] = self.manager._session_owners
            mine = [sid for sid, owner in owners.items() if owner == requestor]
            if len(mine) >= self.per_client:
                self._evict(mine, why="this client's session limit")
        limit = self.manager.max_sessions
        if limit is not None and len(sessions) >= limit:
            self._evict(list(sessions), why="the session limit")

    def _evict(self, candidates: list[str], *, why: str) -> None:
        sessions: dict[str, Any] = self.manager._server_instances
        idle = [(scope.deadline, sid) for sid in candidates
                if (scope := getattr(sessions.get(sid), "idle_scope", None)) is not None
                and math.isfinite(scope.deadline) and not scope.cancel_called]
        if not idle:
            return  # every session is serving a request: the SDK refuses the newcomer with 503
        _, victim = min(idle)
        transport = sessions.pop(victim)
        self.manager._session_owners.pop(victim, None)
        transport.idle_scope.cancel()  # ends the session's server task, which terminates its transport
        self.evicted += 1
        if self.evicted == 1 or self.evicted % 1000 == 0:
            log.warning("at %s: closed the longest-idle session (%d so far)", why, self.evicted)
