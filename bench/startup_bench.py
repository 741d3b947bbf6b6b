"""Start-up as a host sees it: spawn `deep-research serve`, time the first `tools/list` answer, and optionally run
one research through it.

    python bench/startup_bench.py [--repeat 5] [--research QUESTION] [--] [serve arguments, e.g. --docs docs]

Speaks newline-delimited JSON-RPC on the server's stdio itself (no SDK import), so the figure is the server's:
from spawning the process to the `tools/list` response. Without `--research` the server is killed as soon as it
has answered, so timing this whole script from outside (`/usr/bin/time -v`) measures the same span plus Python's
own start; with `--research` the peak RSS `/usr/bin/time -v` reports is the server's (the largest process).
The server runs with the environment given (set DEEP_RESEARCH_DATA_DIR to keep its index and cache warm); with no
model configured the offline engine researches the local documents only, so nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

PROTOCOL = "2025-11-25"


def server_command(serve_args: list[str]) -> list[str]:
    script = Path(sys.executable).with_name("deep-research")
    if script.is_file():
        return [str(script), "serve", *serve_args]
    found = shutil.which("deep-research")
    return [found, "serve", *serve_args] if found else [sys.executable, "-m", "deep_research_mcp", "serve",
                                                        *serve_args]


def send(stdin: IO[bytes], message: dict[str, Any]) -> None:
    stdin.write(json.dumps(message).encode() + b"\n")
    stdin.flush()


def response(stdout: IO[bytes], request_id: int) -> dict[str, Any]:
    while True:
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"the server closed stdout before answering request {request_id}")
        message = json.loads(line)
        if message.get("id") == request_id and "method" not in message:
            return message


def one_start(serve_args: list[str], question: str | None) -> tuple[float, dict[str, Any] | None]:
    """Seconds from spawn to the tools/list answer, and the research result when asked for one."""
    started = time.perf_counter()
    process = subprocess.Popen(server_command(serve_args), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    try:
        send(process.stdin, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "startup-bench", "version": "0"}}})
        response(process.stdout, 1)
        send(process.stdin, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        send(process.stdin, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        listed = response(process.stdout, 2)
        elapsed = time.perf_counter() - started
        if "result" not in listed:
            raise RuntimeError(f"tools/list failed: {listed}")
        result = None
        if question is not None:
            send(process.stdin, {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                                 "params": {"name": "research", "arguments": {"question": question}}})
            result = response(process.stdout, 3).get("result")
            process.stdin.close()
            process.wait(timeout=60)
        return elapsed, result
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, help="starts to time (the first is also counted)")
    parser.add_argument("--research", metavar="QUESTION", help="after tools/list, research QUESTION and print it")
    parser.add_argument("serve_args", nargs=argparse.REMAINDER, help="arguments for `deep-research serve`")
    args = parser.parse_args(argv)
    serve_args = [a for a in args.serve_args if a != "--"]
    times = []
    for _ in range(args.repeat):
        elapsed, result = one_start(serve_args, args.research)
        times.append(elapsed)
        if result is not None:
            summary = result.get("structuredContent") or {}
            print(f"research: {summary.get('status')}, {len(summary.get('sources') or [])} sources, "
                  f"warnings {summary.get('warnings') or []}", file=sys.stderr)
    print(f"spawn -> tools/list: min {min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms over {len(times)} start(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
