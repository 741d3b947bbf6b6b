"""`python -m deep_research_mcp.llm.scripted [--scenario FILE] [--port N]`: serve until Ctrl-C.

The first stdout line is the base URL alone, so a script can read it; details go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from .scenario import Scenario
from .server import ScriptedLLMServer


async def _serve(scenario: Scenario, port: int) -> None:
    async with ScriptedLLMServer(scenario, port=port) as srv:
        print(srv.url, flush=True)
        print(
            f"OpenAI base_url={srv.openai_base_url}  Anthropic base_url={srv.anthropic_base_url}  "
            f"stats: {srv.url}/stats  (Ctrl-C to stop)",
            file=sys.stderr,
            flush=True,
        )
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deep_research_mcp.llm.scripted", description=__doc__)
    parser.add_argument("--scenario", help="JSON file with Scenario fields (defaults for the rest)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    args = parser.parse_args(argv)
    scenario = Scenario.from_json_file(args.scenario) if args.scenario else Scenario()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(scenario, args.port))


if __name__ == "__main__":
    main()
