"""The host configs we publish (mcp.json, README) are valid JSON and start the server with arguments it accepts."""

from __future__ import annotations

import json
import re
from pathlib import Path

from deep_research_mcp.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def test_repository_mcp_json_starts_the_server() -> None:
    config = json.loads((ROOT / "mcp.json").read_text())
    entry = config["mcpServers"]["deep-research"]
    args = build_parser().parse_args(entry["args"])
    assert args.command == "serve" and args.docs == Path("docs")
    assert entry["command"].endswith("deep-research")


def test_readme_host_configs_parse() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Host configs", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```json\n(.*?)```", section, re.DOTALL)
    assert len(blocks) >= 3
    shapes = set()
    for block in blocks:
        config = json.loads(block)
        shapes |= set(config) & {"mcpServers", "servers"}
        for server in (config.get("mcpServers") or config.get("servers") or {}).values():
            if "args" in server:
                assert build_parser().parse_args(server["args"]).command == "serve"
    assert shapes == {"mcpServers", "servers"}
