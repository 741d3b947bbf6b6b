"""`python -m deep_research_mcp.llm.scripted [--scenario FILE] [--port N] [limits]`: serve until Ctrl-C.

Limits make one instance play a provider that pushes back: `--capacity N` (concurrent requests; beyond, 429 with
`--retry-after S`), `--rpm N` (requests per minute), `--latency S` (per call, over the scenario's) and
`--error-rate P` (a share of requests answered 500).

The first stdout line is the base URL alone, so a script can read it; details go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from .scenario import Scenario
from .server import Limits, ScriptedLLMServer


async def _serve(scenario: Scenario, port: int, limits: Limits) -> None:
    async with ScriptedLLMServer(scenario, port=port, limits=limits) as srv:
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
    parser.add_argument("--capacity", type=int, help="concurrent requests served; beyond, 429 with Retry-After")
    parser.add_argument("--rpm", type=int, help="requests accepted per minute; beyond, 429 with Retry-After")
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds of a capacity 429")
    parser.add_argument("--latency", type=float, help="seconds per call (replaces the scenario's latency_s)")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered 500 (0..1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the error draws")
    args = parser.parse_args(argv)
    scenario = Scenario.from_json_file(args.scenario) if args.scenario else Scenario()
    limits = Limits(capacity=args.capacity, requests_per_minute=args.rpm, retry_after_s=args.retry_after,
                    error_rate=args.error_rate, latency_s=args.latency, seed=args.seed)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(scenario, args.port, limits))


if __name__ == "__main__":
    main()
