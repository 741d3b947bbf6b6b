"""HTTP routes of the performance monitor: `/metrics` (Prometheus text) and the read-only monitor page.

    GET /metrics                      the monitor in the Prometheus text format (a private registry per server)
    GET /monitor/                     the page (index.html, app.js, app.css from the package: no CDN, no build)
    GET /monitor/api/metrics          the monitor's snapshot, as `research://metrics`
    GET /monitor/api/runs             the newest runs
    GET /monitor/api/runs/{run_id}    one run: question, status, report, sources and timeline

The same rules as the MCP endpoint: with bearer auth configured, every data route wants a valid token (the SDK's
authentication middleware has already read it); without auth, only loopback clients naming a loopback host are
served (the server only listens on loopback then; the Host check keeps DNS-rebinding pages out). The page's three
static files carry no data and are served to anyone who may reach the server: a browser cannot attach a bearer
token to a page load, so the page asks for the token and sends it with its API calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import RunStoreUnavailable
from ..settings import Settings
from .access import auth_configured, is_loopback
from .runs import UnknownRun
from .state import AppState, principal_of
from .store import valid_run_id

if TYPE_CHECKING:
    from mcp.server import MCPServer

RUN_FIELDS = {"run_id", "kind", "question", "status", "phase", "message", "created_at", "updated_at", "title",
              "report", "sources", "registry", "usage", "warnings", "error", "elapsed_s", "timeline", "notes"}
STATIC = {"": ("index.html", "text/html; charset=utf-8"), "index.html": ("index.html", "text/html; charset=utf-8"),
          "app.js": ("app.js", "text/javascript; charset=utf-8"), "app.css": ("app.css", "text/css; charset=utf-8")}
# The page runs only its own script and style, never inline code or anything from elsewhere.
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}

Handler = Callable[[Request], Awaitable[Response]]


def refusal(request: Request, settings: Settings) -> Response | None:
    """Why this request may not read the monitor's data, as the response to send; None when it may."""
    if auth_configured(settings):
        if isinstance(request.scope.get("user"), AuthenticatedUser):
            return None
        return JSONResponse({"error": "a valid bearer token is required"}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})
    client = request.client.host if request.client else ""
    host = request.headers.get("host", "").rpartition(":")[0] or request.headers.get("host", "")
    if is_loopback(client) and is_loopback(host):
        return None
    return JSONResponse({"error": "without auth the monitor is served to loopback only"}, status_code=403)


def register_routes(server: MCPServer[AppState], current_state: Callable[[], AppState]) -> None:
    registries: dict[int, Any] = {}  # the live monitor's private Prometheus registry, made on the first scrape

    def guarded(handler: Callable[[Request, AppState], Awaitable[Response]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            state = current_state()
            if (refused := refusal(request, state.settings)) is not None:
                return refused
            return await handler(request, state)

        return endpoint

    async def metrics(request: Request, state: AppState) -> Response:
        from ..monitor.prometheus import CONTENT_TYPE, registry_for, render

        monitor = state.engine.monitor
        registry = registries.get(id(monitor))
        if registry is None:
            registries.clear()
            registry = registries[id(monitor)] = registry_for(monitor)
        return Response(render(registry), media_type=CONTENT_TYPE)

    async def snapshot(request: Request, state: AppState) -> Response:
        return JSONResponse(state.engine.monitor.snapshot())

    async def runs(request: Request, state: AppState) -> Response:
        try:
            listed = await state.runs.list(limit=50, principal=principal_of(None))
        except RunStoreUnavailable as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        return JSONResponse([r.model_dump() for r in listed])

    async def run(request: Request, state: AppState) -> Response:
        run_id = request.path_params["run_id"]
        try:
            # Through the run manager, as every tool reads a run: the live record of a run going on here, a stale
            # one ended as interrupted, and another principal's run answered exactly as an unknown id is.
            if not valid_run_id(run_id):
                raise UnknownRun(run_id[:64])
            record = await state.runs.get(run_id, principal=principal_of(None))
        except UnknownRun as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        except RunStoreUnavailable as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        return JSONResponse(record.model_dump(include=RUN_FIELDS))

    async def page(request: Request) -> Response:
        name, media_type = STATIC.get(request.path_params.get("name", ""), ("", ""))
        if not name:
            return Response("not found", status_code=404, media_type="text/plain")
        body = resources.files("deep_research_mcp.monitor").joinpath("web", name).read_bytes()
        return Response(body, media_type=media_type, headers=PAGE_HEADERS)

    async def to_page(request: Request) -> Response:
        return Response(status_code=307, headers={"Location": "/monitor/"})

    server.custom_route("/metrics", methods=["GET"], include_in_schema=False)(guarded(metrics))
    server.custom_route("/monitor/api/metrics", methods=["GET"], include_in_schema=False)(guarded(snapshot))
    server.custom_route("/monitor/api/runs", methods=["GET"], include_in_schema=False)(guarded(runs))
    server.custom_route("/monitor/api/runs/{run_id}", methods=["GET"], include_in_schema=False)(guarded(run))
    server.custom_route("/monitor", methods=["GET"], include_in_schema=False)(to_page)
    server.custom_route("/monitor/{name}", methods=["GET"], include_in_schema=False)(page)
    server.custom_route("/monitor/", methods=["GET"], include_in_schema=False)(page)
