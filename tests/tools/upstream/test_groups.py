"""Upstream servers in a group: calls go to the healthy member, a broken one is reported, and a group with no healthy
member fails with one error naming each server. Real servers: our search server over stdio, and members that cannot
be reached (an HTTP port nobody listens on, a command that exits at once)."""

from __future__ import annotations

import socket
import sys
from typing import Any

import pytest

from deep_research_mcp.errors import ConfigError, ToolCallError, ToolGroupUnavailable
from deep_research_mcp.services import ServiceRegistry
from deep_research_mcp.tools.upstream import UpstreamManager, parse_mcp_config

from .conftest import SEARCH_SERVER


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def config(servers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return parse_mcp_config({"mcpServers": servers})


HEALTHY = {"command": sys.executable, "args": [str(SEARCH_SERVER)], "group": "corpus"}


async def test_calls_go_to_the_healthy_member_the_broken_one_is_reported_and_a_50_mb_line_fails_its_call() -> None:
    servers = config({
        "down": {"url": f"http://127.0.0.1:{closed_port()}/mcp", "group": "corpus", "startupTimeoutSeconds": 5},
        "up": HEALTHY,
    })
    registry = ServiceRegistry()
    async with UpstreamManager(servers, services=registry) as manager:
        # First in file order and never measured, `down` gets the first call: it cannot be reached, so the call
        # goes to `up` and `down` is ejected.
        group = manager.groups["corpus"]
        first = await group.call_tool("search", {"query": "tidal energy"})
        assert first.structured_content is not None and first.structured_content["results"]

        tools = {tool.name: tool for tool in await manager.tools()}
        assert "corpus__search" in tools and not any(name.startswith(("up__", "down__")) for name in tools)
        search = tools["corpus__search"]
        assert search.server == "corpus"  # what the cache scope and the locator use: the group, not the member
        for _ in range(3):
            result = await search.call({"query": "pumped hydro"})
            assert result.documents[0].locator == "https://corpus.test/pumped-hydro"

        assert "down" in manager.errors and "up" not in manager.errors
        shown = registry.snapshot()
        assert set(shown) == {"mcp:corpus"}
        members = {m["name"]: m for m in shown["mcp:corpus"]["members"]}
        assert members["mcp:up"]["succeeded"] == 4 and members["mcp:up"]["state"] == "closed"
        assert members["mcp:down"]["state"] == "open" and members["mcp:down"]["succeeded"] == 0
        assert "could not connect to upstream MCP server 'down'" in members["mcp:down"]["recent_errors"][-1]["error"]
        assert members["mcp:up"]["limit"] == 4  # each member keeps its own limit (maxConcurrency)
        assert shown["mcp:corpus"]["members_ejected"] == 1 and shown["mcp:corpus"]["in_flight"] == 0

        # One 50 MB line on stdio: that call fails at once with the server and the limit named; the session goes on.
        with pytest.raises(ToolCallError, match=r"^up/big_text failed: upstream MCP server 'up' sent a message of "
                                                r"[\d,]+ bytes, over its maxResponseBytes \(16,000,000\)"):
            await tools["corpus__big_text"].call({"chars": 50_000_000})
        assert (await tools["corpus__big_text"].call({"chars": 12})).documents[0].content == "energy stora"
        assert manager.sessions["up"].opened == 1


async def test_a_group_with_no_healthy_member_names_each_server_and_its_error() -> None:
    servers = config({
        "gone": {"url": f"http://127.0.0.1:{closed_port()}/mcp", "group": "corpus"},
        "dead": {"command": sys.executable, "args": ["-c", "import sys; sys.exit(3)"], "group": "corpus"},
    })
    async with UpstreamManager(servers) as manager:
        with pytest.raises(ToolGroupUnavailable) as caught:
            await manager.groups["corpus"].call_tool("search", {"query": "x"})
    error = caught.value
    assert set(error.members) == {"gone", "dead"}
    assert str(error).startswith("no server of the upstream group 'corpus' can take the call (gone: could not "
                                 "connect to upstream MCP server 'gone'")
    assert "\n" not in str(error)


def test_a_group_may_not_take_a_servers_name() -> None:
    with pytest.raises(ConfigError, match=r"server 'b', field 'group': 'a' is also a server's name"):
        config({"a": {"command": "x"}, "b": {"command": "y", "group": "a"}})


def test_retries_are_set_per_server_and_bounded() -> None:
    servers = config({"a": {"command": "x", "maxRetries": 0}, "b": {"command": "y"}})
    assert servers["a"].max_retries == 0 and servers["b"].max_retries == 1
    with pytest.raises(ConfigError, match=r"server 'a', field 'maxRetries'"):
        config({"a": {"command": "x", "maxRetries": -1}})


def test_a_call_goes_only_to_members_whose_config_allows_the_tool() -> None:
    servers = config({"a": {**HEALTHY, "denyTools": ["search"]}, "b": HEALTHY})
    manager = UpstreamManager(servers)  # nothing is started: no tool listed or called
    assert manager.groups["corpus"].lacking("search") == ["mcp:a"] and manager.groups["corpus"].lacking("read") == []
