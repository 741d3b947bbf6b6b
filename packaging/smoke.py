"""Drive an installed server the way an MCP host does: spawn COMMAND over stdio with the python SDK's client, list the
tools, run one `research` with the offline engine over a tiny documents folder, and check the cited answer.

    python packaging/smoke.py [--docs-dir DIR] -- COMMAND [ARG...]

Used by .ci/package.sh against the console script of a freshly installed wheel and against the container image.
The documents are written into a temporary folder, or into --docs-dir (a folder the caller mounts into a container,
whose command then sets DEEP_RESEARCH_DOCS_DIR itself: the environment given here does not cross into a container).
Exits 0 on success, 1 with one line saying what was wrong.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import anyio
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

QUESTION = "How do tidal lagoons store energy?"
FACT = "holding water behind a wall"
DOCS = {
    "tidal.md": "# Tidal lagoons\n\nA tidal lagoon stores energy by holding water behind a wall at high tide and "
                "releasing it through turbines as the tide falls.\n",
    "pumped.md": "# Pumped hydro\n\nPumped hydro stores energy by pumping water uphill into a reservoir when power "
                 "is cheap and letting it run down through turbines when power is needed.\n",
}
EXPECTED_TOOLS = {"research", "research_result", "research_start", "research_status", "research_cancel", "write"}


async def smoke(command: list[str], env: dict[str, str]) -> str:
    target = StdioServerParameters(command=command[0], args=command[1:], env=env)
    async with Client(target, read_timeout_seconds=120) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        if missing := EXPECTED_TOOLS - tools:
            raise AssertionError(f"tools/list lacks {sorted(missing)}; it has {sorted(tools)}")
        result = await client.call_tool("research", {"question": QUESTION, "wait_s": 100})
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    summary = result.structured_content or {}
    if result.is_error or summary.get("status") != "completed":
        raise AssertionError(f"research did not complete: {text[:300]!r}")
    if summary.get("sources_count", 0) < 1 or "[1]" not in text or FACT not in text:
        raise AssertionError(f"the answer does not cite the documents: {text[:300]!r}")
    return f"{len(tools)} tools; research completed with {summary['sources_count']} cited sources"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs-dir", type=Path, help="write the documents here instead of a temporary folder")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="drm-smoke-") as tmp:
        docs = args.docs_dir or Path(tmp) / "docs"
        docs.mkdir(parents=True, exist_ok=True)
        for name, body in DOCS.items():
            (docs / name).write_text(body, encoding="utf-8")
        # A host's environment: nothing of the developer's settings or keys, a fresh data folder, no network.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("DEEP_RESEARCH_") and not k.endswith("_API_KEY") and not k.endswith("_BASE_URL")}
        env |= {"DEEP_RESEARCH_DATA_DIR": str(Path(tmp) / "data"), "DEEP_RESEARCH_FETCH_ENABLED": "false",
                "DEEP_RESEARCH_DOCS_DIR": str(docs)}
        try:
            print(anyio.run(smoke, args.command, env))
        except Exception as exc:  # noqa: BLE001 - any failure is reported in one line for CI
            print(f"smoke: {' '.join(args.command)}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
