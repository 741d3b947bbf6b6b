"""The console scripts' entry point. A stdio `serve` starts answering its host's handshake before anything heavy is
imported (server/handshake.py); every other command goes straight to the CLI."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    handoff = None
    if serves_stdio(args):
        from .server.handshake import answer_while_importing

        handoff = answer_while_importing(args)
    from .cli import main as cli_main

    return cli_main(args, handoff=handoff)


def server_main(argv: Sequence[str] | None = None) -> int:
    """`deep-research-mcp`, the command named after the package (`uvx deep-research-mcp`, the registry's pypi entry,
    the container's entrypoint, the .mcpb bundle). Hosts start a server by its package's bare command, so bare it
    serves MCP over stdio, and flags alone are `serve`'s (`deep-research-mcp --docs DIR`, `deep-research-mcp
    --http`); given a command (or --help) it is `deep-research`."""
    return main(as_server_args(list(sys.argv[1:] if argv is None else argv)))


def as_server_args(args: list[str]) -> list[str]:
    if not args or (args[0].startswith("-") and args[0] not in ("-h", "--help")):
        return ["serve", *args]
    return args


def serves_stdio(argv: list[str]) -> bool:
    # Windows' select() takes sockets only, so a pipe's handshake waits for the SDK there.
    return (bool(argv) and argv[0] == "serve" and not {"--http", "-h", "--help"} & set(argv[1:])
            and os.environ.get("DEEP_RESEARCH_TRANSPORT", "stdio").strip().lower() != "http"
            and sys.platform != "win32")
