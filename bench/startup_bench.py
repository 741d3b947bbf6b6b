"""Start-up as a host sees it: spawn `deep-research serve`, time the first `tools/list` answer, and optionally run
one research through it.

    python bench/startup_bench.py [--repeat 5] [--research QUESTION] [--provider openai|anthropic]
                                  [--] [serve arguments, e.g. --docs docs]

Speaks newline-delimited JSON-RPC on the server's stdio itself (no SDK import), so the figure is the server's:
from spawning the process to the `tools/list` response. Without `--research` the server is killed as soon as it
has answered, so timing this whole script from outside (`/usr/bin/time -v`) measures the same span plus Python's
own start; with `--research` the peak RSS `/usr/bin/time -v` reports is the server's (the largest process).
The server runs with the environment given (set DEEP_RESEARCH_DATA_DIR to keep its index and cache warm); with no
model configured the offline engine researches the local documents only, so nothing leaves the machine. With
`--provider` every stage is that provider's `scripted` model, served by the scripted LLM server (its own process on
127.0.0.1, started here), so the research goes through the provider's real SDK and nothing else; the server's own peak
RSS (its VmHWM, read just before it is shut down) is printed too, on Linux.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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


def peak_rss_mib(pid: int) -> float | None:
    """A live process's peak resident set (VmHWM), in MiB; None where /proc does not say."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


@contextlib.contextmanager
def scripted_provider(provider: str | None) -> Iterator[dict[str, str]]:
    """The environment that points every stage at `provider`'s scripted model on a scripted LLM server of its own."""
    if provider is None:
        yield dict(os.environ)
        return
    server = subprocess.Popen([sys.executable, "-m", "deep_research_mcp.llm.scripted"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        if not url:
            raise RuntimeError("the scripted LLM server did not start")
        env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL", "_MODEL"))}
        prefix = provider.upper()
        env.update({"DEEP_RESEARCH_RESEARCH_MODEL": f"{provider}:scripted", f"{prefix}_API_KEY": "sk-bench",
                    f"DEEP_RESEARCH_{prefix}_BASE_URL": url + ("/v1" if provider == "openai" else "")})
        yield env
    finally:
        server.terminate()
        server.wait(timeout=10)


def one_start(serve_args: list[str], question: str | None, env: dict[str, str] | None = None,
              cold_cache: bool = False) -> tuple[float, dict[str, Any] | None, float | None]:
    """Seconds from spawn to the tools/list answer, the research result when asked for one, and the server's peak
    RSS in MiB (when a research was asked for). `cold_cache`: an empty cache folder, so the research is worked out
    (and its model called) rather than answered from an earlier start's cache."""
    with contextlib.ExitStack() as stack:
        if cold_cache:
            cache = stack.enter_context(tempfile.TemporaryDirectory(prefix="startup-bench-cache-"))
            env = {**(os.environ if env is None else env), "DEEP_RESEARCH_CACHE_DIR": cache}
        return _one_start(serve_args, question, env)


def _one_start(serve_args: list[str], question: str | None,
               env: dict[str, str] | None) -> tuple[float, dict[str, Any] | None, float | None]:
    started = time.perf_counter()
    process = subprocess.Popen(server_command(serve_args), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
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
        result = peak = None
        if question is not None:
            send(process.stdin, {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                                 "params": {"name": "research", "arguments": {"question": question}}})
            result = response(process.stdout, 3).get("result")
            peak = peak_rss_mib(process.pid)
            process.stdin.close()
            process.wait(timeout=60)
        return elapsed, result, peak
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, help="starts to time (the first is also counted)")
    parser.add_argument("--research", metavar="QUESTION", help="after tools/list, research QUESTION and print it")
    parser.add_argument("--provider", choices=("openai", "anthropic"),
                        help="research with this provider's SDK against the scripted LLM server")
    parser.add_argument("--cold-cache", action="store_true",
                        help="each start with an empty cache folder (DEEP_RESEARCH_CACHE_DIR), so a research is "
                             "not answered from the last one's cache")
    parser.add_argument("serve_args", nargs=argparse.REMAINDER, help="arguments for `deep-research serve`")
    args = parser.parse_args(argv)
    serve_args = [a for a in args.serve_args if a != "--"]
    times, peaks = [], []
    with scripted_provider(args.provider) as env:
        for _ in range(args.repeat):
            elapsed, result, peak = one_start(serve_args, args.research, env, args.cold_cache)
            times.append(elapsed)
            if peak is not None:
                peaks.append(peak)
            if result is not None:
                summary = result.get("structuredContent") or {}
                print(f"research: {summary.get('status')}, {len(summary.get('sources') or [])} sources, "
                      f"warnings {summary.get('warnings') or []}", file=sys.stderr)
    if peaks:
        print(f"server peak RSS: min {min(peaks):.1f} MiB, median {statistics.median(peaks):.1f} MiB, "
              f"max {max(peaks):.1f} MiB over {len(peaks)} research(es)")
    print(f"spawn -> tools/list: min {min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms over {len(times)} start(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
