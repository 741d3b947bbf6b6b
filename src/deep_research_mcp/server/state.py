"""What every handler of the server reads: the running app's state (the lifespan's `AppState`) and who is calling.

Below the modules that register handlers (tools, resources, tasks, the monitor's routes) and below the app that
builds them, so that layers run one way: app imports the handlers, the handlers import this, never the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..cache import Cache
    from ..engine.run import ResearchEngine
    from ..services import ServiceRegistry
    from ..settings import Settings
    from .runs import RunManager
    from .store import RunStore


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    engine: ResearchEngine
    runs: RunManager
    store: RunStore
    cache: Cache
    offline: bool  # no model configured: the offline engine does every stage
    services: ServiceRegistry | None = None  # model endpoints and upstream servers: limits, load (snapshot())


def principal_of(request: Any) -> str:
    """Who is calling (a request context): the SDK's principal binding of the access token over authenticated
    HTTP, "" without one (stdio). Runs remember it, and every look-up of a run on a client's behalf passes it: a
    run is only its own principal's (`RunManager.get`). The SDK reads the token from the request's context, so
    handlers without a request context (static resources, HTTP routes) pass None."""
    from mcp.server.request_state import authenticated_principal

    return authenticated_principal(request) or ""
