"""Other MCP servers as research tools.

    manager = UpstreamManager.from_config_file("mcp.json")   # {"mcpServers": {...}}, the MCP hosts' shape
    tools = await manager.tools()                            # ResearchTools named <server>__<tool>
    ...
    await manager.close()                                    # on shutdown: stops every upstream session

One session per upstream server for the life of the process, shared by all researchers; see `sessions` for how it
is kept alive and reconnected, `results` for how results become citable documents, `config` for the file format,
`group` for servers that offer the same tools and share the calls.
"""

from __future__ import annotations

from .config import HttpServerConfig, ServerConfig, StdioServerConfig, load_mcp_config, parse_mcp_config
from .group import UpstreamGroup
from .manager import UpstreamManager
from .results import call_locator, to_tool_result
from .sessions import UpstreamSession
from .tool import UpstreamTool, tool_name, unique_tool_names

__all__ = [
    "HttpServerConfig",
    "ServerConfig",
    "StdioServerConfig",
    "UpstreamGroup",
    "UpstreamManager",
    "UpstreamSession",
    "UpstreamTool",
    "call_locator",
    "load_mcp_config",
    "parse_mcp_config",
    "to_tool_result",
    "tool_name",
    "unique_tool_names",
]
