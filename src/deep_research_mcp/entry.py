"""The console scripts' entry point. A stdio `serve` starts answering its host's handshake before anything heavy is
imported (server/handshake.py); every other command goes straight to the CLI."""

from __future__ import annotations

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


def serves_stdio(argv: list[str]) -> bool:
    # Windows' select() takes sockets only, so a pipe's handshake waits for the SDK there.
    return (bool(argv) and argv[0] == "serve" and not {"--http", "-h", "--help"} & set(argv[1:])
            and sys.platform != "win32")
