"""The host-style MCP config: both transports, ${VAR} expansion, and every bad input named by server and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest

from deep_research_mcp.errors import ConfigError
from deep_research_mcp.tools.upstream import HttpServerConfig, StdioServerConfig, load_mcp_config, parse_mcp_config


def one(server: dict[str, Any], environ: dict[str, str] | None = None) -> StdioServerConfig | HttpServerConfig:
    return parse_mcp_config({"mcpServers": {"srv": server}}, environ=environ or {})["srv"]


def test_claude_desktop_stdio_shape_with_defaults() -> None:
    config = one({"command": "uvx", "args": ["mcp-server-fetch"], "env": {"A": "1"}, "cwd": "/tmp"})
    assert isinstance(config, StdioServerConfig)
    assert (config.command, config.args, config.env, config.cwd) == ("uvx", ["mcp-server-fetch"], {"A": "1"}, "/tmp")
    assert (config.max_concurrency, config.timeout_seconds, config.max_result_chars) == (4, 30.0, 100_000)
    assert config.startup_timeout_seconds == 60.0
    assert config.allow_tools is None and config.deny_tools == [] and config.retry_unsafe is False


@pytest.mark.parametrize("kind", ["http", "streamable-http", "streamableHttp", None])
def test_http_shapes(kind: str | None) -> None:
    server: dict[str, Any] = {"url": "https://mcp.example/mcp", "headers": {"X-Key": "k"}}
    if kind is not None:
        server["type"] = kind
    config = one(server)
    assert isinstance(config, HttpServerConfig)
    assert (config.url, config.headers) == ("https://mcp.example/mcp", {"X-Key": "k"})


def test_claude_code_explicit_stdio_type_and_our_extras() -> None:
    config = one({
        "type": "stdio", "command": "npx", "allowTools": ["read_*"], "denyTools": ["read_media_file"],
        "maxConcurrency": 2, "timeoutSeconds": 5, "maxResultChars": 1000, "startupTimeoutSeconds": 120,
        "retryUnsafe": True,
    })
    assert isinstance(config, StdioServerConfig) and config.retry_unsafe is True
    assert (config.max_concurrency, config.timeout_seconds, config.max_result_chars) == (2, 5.0, 1000)
    assert config.startup_timeout_seconds == 120.0
    assert config.allows("read_text_file")
    assert not config.allows("read_media_file")  # deny wins over allow
    assert not config.allows("write_file")  # not in the allow list


def test_env_expansion_in_every_string_field() -> None:
    environ = {"TOKEN": "t0k", "ROOT": "/data", "BASE": "http://127.0.0.1:9"}
    stdio = one({"command": "${ROOT}/bin/srv", "args": ["--root", "${ROOT}", "${MISSING:-dflt}"],
                 "env": {"KEY": "${TOKEN}"}, "cwd": "${ROOT}"}, environ)
    assert isinstance(stdio, StdioServerConfig)
    assert (stdio.command, stdio.args, stdio.env, stdio.cwd) == (
        "/data/bin/srv", ["--root", "/data", "dflt"], {"KEY": "t0k"}, "/data")
    http = one({"type": "http", "url": "${BASE}/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}}, environ)
    assert isinstance(http, HttpServerConfig)
    assert (http.url, http.headers) == ("http://127.0.0.1:9/mcp", {"Authorization": "Bearer t0k"})


def test_env_expansion_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTREAM_TEST_KEY", "from-env")
    config = parse_mcp_config({"mcpServers": {"s": {"command": "x", "env": {"K": "${UPSTREAM_TEST_KEY}"}}}})["s"]
    assert isinstance(config, StdioServerConfig) and config.env == {"K": "from-env"}


@pytest.mark.parametrize(
    ("server", "field", "words"),
    [
        ({"command": "x", "env": {"KEY": "${NOT_SET}"}}, "env.KEY", "NOT_SET"),
        ({"command": "x", "args": ["a", "${NOT_SET}"]}, "args.1", "NOT_SET"),
        ({"type": "http", "url": "${NOT_SET}/mcp"}, "url", "NOT_SET"),
        ({"type": "http", "url": "http://h/mcp", "headers": {"Auth": "${NOT_SET}"}}, "headers.Auth", "NOT_SET"),
        ({}, "command", "missing"),
        ({"type": "stdio"}, "command", "missing"),
        ({"type": "http"}, "url", "missing"),
        ({"command": ""}, "command", "at least 1"),
        ({"command": "x", "allowtools": ["*"]}, "allowtools", "unknown key"),
        ({"type": "http", "url": "http://h/mcp", "command": "x"}, "command", "unknown key"),
        ({"command": 3}, "command", "string"),
        ({"command": "x", "args": "--flag"}, "args", "list"),
        ({"command": "x", "env": {"K": 1}}, "env.K", "string"),
        ({"command": "x", "maxConcurrency": "4"}, "maxConcurrency", "integer"),
        ({"command": "x", "maxConcurrency": 0}, "maxConcurrency", "greater than 0"),
        ({"command": "x", "timeoutSeconds": -1}, "timeoutSeconds", "greater than 0"),
        ({"command": "x", "denyTools": "write_*"}, "denyTools", "list"),
        ({"command": "x", "retryUnsafe": "yes"}, "retryUnsafe", "boolean"),
        ({"url": "ftp://h/mcp"}, "url", "http"),
        ({"type": "sse", "url": "http://h/sse"}, "type", "SSE"),
        ({"type": "websocket", "url": "ws://h"}, "type", "unknown transport"),
    ],
)
def test_bad_server_names_server_and_field(server: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_mcp_config({"mcpServers": {"my-search": server}}, source="cfg.json", environ={})
    message = str(info.value)
    assert "'my-search'" in message and f"field {field!r}" in message and words in message and "cfg.json" in message


@pytest.mark.parametrize("data", [[], {"servers": {}}, {"mcpServers": []}, {"mcpServers": {"s": "npx x"}}])
def test_bad_top_level_shapes(data: Any) -> None:
    with pytest.raises(ConfigError, match="MCP config"):
        parse_mcp_config(data)


def test_file_loading_ignores_other_host_keys_and_disabled_servers(tmp_path: Path) -> None:
    path = tmp_path / "claude_desktop_config.json"
    path.write_text(json.dumps({
        "globalShortcut": "Ctrl+Space",
        "mcpServers": {"a": {"command": "x"}, "b": {"command": "y", "disabled": True}, "c": {"url": "http://h/mcp"}},
    }))
    assert list(load_mcp_config(path, environ={})) == ["a", "c"]


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"mcpServers": {"a": {"command": "x",}}}')
    with pytest.raises(ConfigError, match=r"bad\.json: not valid JSON .*line 1"):
        load_mcp_config(bad)
    with pytest.raises(ConfigError, match=r"missing\.json: cannot be read"):
        load_mcp_config(tmp_path / "missing.json")



def test_only_read_only_tools_are_offered_unless_allow_write() -> None:
    def tool(name: str, **hints: bool) -> types.Tool:
        annotations = types.ToolAnnotations(**hints) if hints else None
        return types.Tool(name=name, input_schema={"type": "object"}, annotations=annotations)

    reader = tool("search", read_only_hint=True)
    unmarked = tool("lookup")  # no annotations: the spec's defaults say it may write
    writer = tool("write_file", read_only_hint=False, destructive_hint=True)
    contradictory = tool("purge", read_only_hint=True, destructive_hint=True)
    plain, opted_in = one({"command": "x"}), one({"command": "x", "allowWrite": True})
    assert [t.name for t in (reader, unmarked, writer, contradictory) if plain.offers(t)] == ["search"]
    assert all(opted_in.offers(t) for t in (reader, unmarked, writer, contradictory))
    assert not one({"command": "x", "allowWrite": True, "denyTools": ["write_*"]}).offers(writer)
