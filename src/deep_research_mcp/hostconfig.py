"""`deep-research config <host>`: the entry an MCP host needs to start this server, with absolute paths so it works
whatever folder the host starts servers in, printed or merged into the host's config file.

Hosts differ in two ways only: where their file is, and its shape. Claude Desktop, Claude Code (`.mcp.json`, the
project scope) and Cursor read `{"mcpServers": {name: entry}}`; VS Code reads `{"servers": {name: entry}}` with
`"type": "stdio"`. Merging keeps every other key and server of the file as it was, and keeps a timestamped copy of
the file as it was before; a file that is not valid JSON is never overwritten.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from .errors import ConfigError, InputError
from .files import write_atomically

SERVER_NAME = "deep-research"
# Settings that name files or folders: a relative value given to --env is made absolute here, since the host will
# not start the server in the folder this command ran in.
PATH_VARIABLES = frozenset(f"DEEP_RESEARCH_{name}" for name in ("MCP_CONFIG", "DATA_DIR", "CACHE_DIR", "DOCS_DIR",
                                                                "RUNS_DIR"))


@dataclass(frozen=True, slots=True)
class Host:
    name: str
    top_key: Literal["mcpServers", "servers"]
    typed: bool  # whether entries carry "type": "stdio"
    where: str  # said in --help and errors


HOSTS: dict[str, Host] = {
    "claude-desktop": Host("claude-desktop", "mcpServers", False, "claude_desktop_config.json"),
    "claude-code": Host("claude-code", "mcpServers", True, ".mcp.json in the current folder (project scope)"),
    "cursor": Host("cursor", "mcpServers", False, "~/.cursor/mcp.json"),
    "vscode": Host("vscode", "servers", True, "the user profile's mcp.json"),
    "plain": Host("plain", "mcpServers", False, "no default: give --file"),
}


@dataclass(frozen=True, slots=True)
class ServerEntry:
    """One stdio server entry, as every host above reads it. (A dataclass, not a pydantic model: it is only ever
    written, and `deep-research --help` lists the hosts without importing pydantic.)"""

    command: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    type: Literal["stdio"] | None = None

    def as_json(self) -> dict[str, Any]:
        typed: dict[str, Any] = {"type": self.type} if self.type else {}
        return {**typed, "command": self.command, "args": list(self.args), "env": dict(self.env)}


def default_config_path(host: str, *, platform: str = sys.platform, home: Path | None = None,
                        environ: dict[str, str] | None = None, cwd: Path | None = None) -> Path | None:
    """Where `host` keeps its config on this OS (None for `plain`)."""
    home = home or Path.home()
    environ = dict(os.environ) if environ is None else environ
    cwd = cwd or Path.cwd()
    if platform == "darwin":
        app_support = home / "Library" / "Application Support"
    elif platform.startswith("win"):
        app_support = Path(environ.get("APPDATA") or home / "AppData" / "Roaming")
    else:
        app_support = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    return {
        "claude-desktop": app_support / "Claude" / "claude_desktop_config.json",
        "claude-code": cwd / ".mcp.json",
        "cursor": home / ".cursor" / "mcp.json",
        "vscode": app_support / "Code" / "User" / "mcp.json",
    }.get(host)


def server_command(*, module: bool = False) -> list[str]:
    """This installation's own way to start: the console script beside the interpreter (a venv's bin/ or
    Scripts/), else the interpreter running the package. Absolute, so no PATH or working folder is needed."""
    interpreter = Path(sys.executable).absolute()
    if not module:
        for name in ("deep-research", "deep-research.exe"):
            script = interpreter.with_name(name)
            if script.is_file():
                return [str(script)]
    return [str(interpreter), "-m", "deep_research_mcp"]


def parse_env(pairs: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--env {pair!r}: give KEY=VALUE (e.g. --env DEEP_RESEARCH_RESEARCH_MODEL=openai:gpt-4.1)")
        key = key.strip()
        env[key] = str(Path(value).expanduser().resolve()) if key in PATH_VARIABLES and value else value
    return env


def server_entry(host: str, *, docs: Path | None = None, model: str | None = None, env: dict[str, str] | None = None,
                 module: bool = False) -> ServerEntry:
    if host not in HOSTS:
        raise InputError(f"unknown host {host!r}; one of {', '.join(HOSTS)}")
    command, *prefix = server_command(module=module)
    args = [*prefix, "serve"]
    if docs is not None:
        folder = docs.expanduser().resolve()
        if not folder.is_dir():
            raise InputError(f"--docs {docs}: not a folder")
        args += ["--docs", str(folder)]
    if model:
        args += ["--model", model]
    return ServerEntry(type="stdio" if HOSTS[host].typed else None, command=command, args=args, env=dict(env or {}))


def host_config(host: str, entry: ServerEntry, name: str = SERVER_NAME) -> dict[str, Any]:
    """The whole file's content for a host with only this server in it."""
    return {HOSTS[host].top_key: {name: entry.as_json()}}


def merge_into_file(path: Path, host: str, entry: ServerEntry, name: str = SERVER_NAME,
                    *, now: datetime | None = None) -> Path | None:
    """Add (or replace) server `name` in the host config at `path`, keeping everything else in it. Returns the
    backup written (None when the file did not exist). Raises ConfigError, writing nothing, when the file is not
    a JSON object or its servers key is not one."""
    top_key = HOSTS[host].top_key
    config: dict[str, Any] = {}
    backup: Path | None = None
    if path.exists():
        text = path.read_text(encoding="utf-8")
        try:
            loaded = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); nothing was written. "
                "Fix the file (comments are not JSON), or print the entry with `deep-research config` and add it "
                "by hand"
            ) from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path} holds a JSON {type(loaded).__name__}, not an object; nothing was written")
        config = loaded
        if not isinstance(config.get(top_key, {}), dict):
            raise ConfigError(f"{path}: {top_key!r} is not an object; nothing was written")
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        backup = path.with_name(f"{path.name}.{stamp}.bak")
        serial = 1
        while backup.exists():
            backup = path.with_name(f"{path.name}.{stamp}-{serial}.bak")
            serial += 1
        shutil.copy2(path, backup)
    servers = config.setdefault(top_key, {})
    servers[name] = entry.as_json()
    write_atomically(path, json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    return backup
