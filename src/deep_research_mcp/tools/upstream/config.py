"""Upstream MCP servers, read from the JSON shape MCP hosts already use (Claude Desktop, Claude Code, Cursor).

    {"mcpServers": {
        "search": {"command": "uvx", "args": ["some-search-mcp"], "env": {"API_KEY": "${SEARCH_API_KEY}"}},
        "docs":   {"type": "http", "url": "https://docs.example/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}}
    }}

A server with `command` speaks stdio; one with `url` (and `type` "http", "streamable-http" or "streamableHttp", or no
`type`) speaks streamable HTTP. `${VAR}` and `${VAR:-default}` in `command`, `args`, `cwd`, `env` values, `url` and
`headers` values are replaced from the environment when the file is read; an unset variable without a default is a
ConfigError, so a missing key is reported at startup rather than as an upstream 401 mid-run.

Our own optional keys, per server:
    allowTools / denyTools   lists of upstream tool names, shell-style globs allowed ("read_*"); deny wins
    allowWrite               true also offers tools the server does not mark read-only (`readOnlyHint`), or marks
                             destructive (`destructiveHint`): by default researchers get only tools that change
                             nothing (default false; research is read-only, a model should not write files)
    maxConcurrency           the most calls in flight to this server at once (default 4); the limit adapts below
                             it (lower on timeouts and lost connections, back up while calls go well)
    minConcurrency           the floor of that adaptive limit (default 1; at most maxConcurrency)
    adaptiveConcurrency      false keeps the limit fixed at maxConcurrency (default true)
    timeoutSeconds           one request (a tool call, a tool listing) once connected (default 30)
    startupTimeoutSeconds    starting the server and the handshake, e.g. an `npx` download (default 60)
    maxResultChars           characters of one result kept for the model; the rest is cut with a note (default 100000)
    maxResponseBytes         one message from the server larger than this fails that call instead of being read
                             whole: a stdio line, or an HTTP JSON answer (default 16000000; an SSE event has the
                             SDK's own 1 MB bound). The session stays usable.
    group                    a name shared by servers offering the same tools (mirrors, or one server under two API
                             keys): their tools are listed once, as `<group>__<tool>`, and each call goes to the best
                             server of the group (fewest calls outstanding, lowest recent latency); a server that
                             keeps failing is left out for a cool-down and then tried again with one call, and a
                             call that could not reach its server is sent to another. Results are cached and cited
                             under the group. Each server keeps its own limits and timeouts; a group name may not
                             also name a server
    maxRetries               how often a call whose connection was lost is sent again on a fresh session (default 1;
                             0 never repeats one). In a group, a call that could not reach its server at all goes to
                             another server of the group instead, once per server
    retryUnsafe              true repeats a call cut off by a lost connection even when the server does not mark the
                             tool read-only or idempotent, so it may run twice (default false: the model is told the
                             call may or may not have happened)
    disabled                 true skips the server (the Cline / Roo Code spelling)

Any other key is an error: a misspelt `allowTools` silently allowing every tool is worse than refusing to start.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal

import mcp_types as types
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveFloat, PositiveInt, ValidationError

from ...errors import ConfigError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
HTTP_TYPES = ("http", "streamable-http", "streamableHttp")


class _ServerBase(BaseModel):
    # strict: JSON already has real numbers and lists, so "4" for maxConcurrency is a typo worth reporting.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    allow_tools: list[str] | None = Field(default=None, alias="allowTools")
    deny_tools: list[str] = Field(default_factory=list, alias="denyTools")
    max_concurrency: PositiveInt = Field(default=4, alias="maxConcurrency")
    min_concurrency: PositiveInt = Field(default=1, alias="minConcurrency")
    adaptive_concurrency: bool = Field(default=True, alias="adaptiveConcurrency")
    timeout_seconds: PositiveFloat = Field(default=30.0, alias="timeoutSeconds")
    startup_timeout_seconds: PositiveFloat = Field(default=60.0, alias="startupTimeoutSeconds")
    max_result_chars: PositiveInt = Field(default=100_000, alias="maxResultChars")
    max_response_bytes: PositiveInt = Field(default=16_000_000, alias="maxResponseBytes")
    max_retries: NonNegativeInt = Field(default=1, le=10, alias="maxRetries")
    retry_unsafe: bool = Field(default=False, alias="retryUnsafe")
    allow_write: bool = Field(default=False, alias="allowWrite")
    group: str | None = Field(default=None, min_length=1, max_length=64)
    disabled: bool = False

    def allows(self, tool: str) -> bool:
        """Whether the upstream tool `tool` is exposed to researchers (deny wins over allow)."""
        if any(fnmatchcase(tool, pattern) for pattern in self.deny_tools):
            return False
        return self.allow_tools is None or any(fnmatchcase(tool, pattern) for pattern in self.allow_tools)

    def offers(self, tool: types.Tool) -> bool:
        """Whether researchers get `tool`: allowed by name, and read-only unless this server opts in to writes."""
        return self.allows(tool.name) and (self.allow_write or is_read_only(tool))


def is_read_only(tool: types.Tool) -> bool:
    """Marked read-only and not destructive. Unmarked tools count as writing: the spec's defaults for a tool without
    annotations are readOnlyHint false, destructiveHint true."""
    hints = tool.annotations
    return hints is not None and hints.read_only_hint is True and hints.destructive_hint is not True


class StdioServerConfig(_ServerBase):
    type: Literal["stdio"] = "stdio"
    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None


class HttpServerConfig(_ServerBase):
    type: Literal["http", "streamable-http", "streamableHttp"] = "http"
    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)


ServerConfig = StdioServerConfig | HttpServerConfig


def load_mcp_config(path: str | Path, environ: Mapping[str, str] | None = None) -> dict[str, ServerConfig]:
    """Read a host-style MCP config file; the enabled servers by name, in file order."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"MCP config {path}: cannot be read ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"MCP config {path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") \
            from None
    return parse_mcp_config(data, source=str(path), environ=environ)


def parse_mcp_config(
    data: Any, *, source: str = "<mcp config>", environ: Mapping[str, str] | None = None
) -> dict[str, ServerConfig]:
    """Validate already-parsed config JSON. Other top-level keys are ignored, so a host's whole file can be used."""
    env = os.environ if environ is None else environ
    if not isinstance(data, dict) or "mcpServers" not in data:
        raise ConfigError(f"MCP config {source}: expected an object with an \"mcpServers\" object")
    servers = data["mcpServers"]
    if not isinstance(servers, dict):
        raise ConfigError(f"MCP config {source}: \"mcpServers\" must be an object of server name -> settings")
    out: dict[str, ServerConfig] = {}
    for name, raw in servers.items():
        if not name.strip():
            raise ConfigError(f"MCP config {source}: a server has an empty name")
        config = _parse_server(name, raw, source, env)
        if not config.disabled:
            out[name] = config
    for name, config in out.items():
        if config.group is not None and config.group in servers:
            raise _fail(source, name, "group", f"{config.group!r} is also a server's name; give the group its own")
    return out


def groups_of(servers: Mapping[str, ServerConfig]) -> dict[str, list[str]]:
    """Group name -> its servers, in file order (a group of one is a group too: it names the tools)."""
    groups: dict[str, list[str]] = {}
    for name, config in servers.items():
        if config.group is not None:
            groups.setdefault(config.group, []).append(name)
    return groups


def _fail(source: str, server: str, field: str, problem: str) -> ConfigError:
    return ConfigError(f"MCP config {source}: server {server!r}, field {field!r}: {problem}")


def _parse_server(name: str, raw: Any, source: str, env: Mapping[str, str]) -> ServerConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"MCP config {source}: server {name!r}: settings must be an object, got {type(raw).__name__}")
    kind = raw.get("type")
    model: type[StdioServerConfig] | type[HttpServerConfig]
    if kind == "stdio" or (kind is None and "command" in raw):
        model = StdioServerConfig
    elif kind in HTTP_TYPES or (kind is None and "url" in raw):
        model = HttpServerConfig
    elif kind == "sse":
        raise _fail(source, name, "type", "the legacy SSE transport is not supported; use streamable HTTP (\"http\")")
    elif kind is None:
        raise _fail(source, name, "command", "missing: a stdio server needs \"command\", an HTTP server \"url\"")
    else:
        raise _fail(source, name, "type", f"unknown transport {kind!r}; use \"stdio\" or \"http\"")
    try:
        config = model.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "?"
        problem = "missing" if error["type"] == "missing" else error["msg"]
        if error["type"] == "extra_forbidden":
            problem = "unknown key (allowed: " + ", ".join(_known_keys(model)) + ")"
        raise _fail(source, name, field, problem) from None
    if config.min_concurrency > config.max_concurrency:
        raise _fail(source, name, "minConcurrency",
                    f"{config.min_concurrency} is above maxConcurrency ({config.max_concurrency})")
    return _expand(config, name, source, env)


def _known_keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or key for key, info in model.model_fields.items()]


def _expand(config: ServerConfig, server: str, source: str, env: Mapping[str, str]) -> ServerConfig:
    def sub(value: str, field: str) -> str:
        def one(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise _fail(source, server, field, f"${{{name}}} is not set in the environment")

        return _ENV_REF.sub(one, value)

    if isinstance(config, StdioServerConfig):
        return config.model_copy(update={
            "command": sub(config.command, "command"),
            "args": [sub(arg, f"args.{i}") for i, arg in enumerate(config.args)],
            "env": {key: sub(value, f"env.{key}") for key, value in config.env.items()},
            "cwd": None if config.cwd is None else sub(config.cwd, "cwd"),
        })
    url = sub(config.url, "url")
    if not url.startswith(("http://", "https://")):
        raise _fail(source, server, "url", f"must start with http:// or https://, got {url[:80]!r}")
    return config.model_copy(update={
        "url": url,
        "headers": {key: sub(value, f"headers.{key}") for key, value in config.headers.items()},
    })
