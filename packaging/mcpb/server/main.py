"""The bundle's entry point: `deep-research-mcp` with no arguments, i.e. the MCP server over stdio."""

import os
import sys

from deep_research_mcp.entry import server_main

# The host passes an optional setting the user left blank as an empty string; unset is what the server means by
# "not configured" (an empty DEEP_RESEARCH_DOCS_DIR would be the current folder, an empty key a wrong key).
for name in [n for n, v in os.environ.items() if not v and (n.startswith("DEEP_RESEARCH_") or n.endswith("_API_KEY"))]:
    del os.environ[name]
sys.exit(server_main([]))
