"""`deep-research cache stats` and `deep-research cache clear [--namespace NS]`."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import TYPE_CHECKING, Any

from .base import Counters
from .core import NAMESPACES
from .factory import cache_report, clear_cache

if TYPE_CHECKING:  # `deep-research --help` builds this parser: it must not import rich or the settings
    from rich.console import Console

    from ..settings import Settings


def add_cache_parser(sub: Any) -> None:
    cache = sub.add_parser("cache", help="show or clear the cache (model answers, tool results, pages, summaries)")
    actions = cache.add_subparsers(dest="cache_command", required=True)
    stats = actions.add_parser("stats", help="entries and bytes per level and namespace, and hits/misses so far")
    stats.add_argument("--json", action="store_true", help="print the numbers as JSON")
    clear = actions.add_parser("clear", help="remove cached entries from every level (and the stats on disk)")
    clear.add_argument("--namespace", choices=NAMESPACES, help="only this namespace")


def cache_command(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    if args.cache_command == "clear":
        removed = asyncio.run(clear_cache(settings, args.namespace))
        what = f"namespace {args.namespace}" if args.namespace else "everything"
        counts = ", ".join(f"{n:,} from {level}" for level, n in removed.items()) or "no level could be opened"
        console.print(f"cleared {what}: {counts}", highlight=False)
        return 0
    report = asyncio.run(cache_report(settings))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(render(report))
    return 0


def _size(n: int) -> str:
    if n < 1024:
        return f"{n:,} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:,.1f} {unit}"


def render(report: dict[str, Any]) -> str:
    lines = [f"cache {'on' if report['enabled'] else 'off'} · disk {report['directory']}"
             + (f" · redis {report['redis']}" if report.get("redis") else "")]
    header = f"{'level':<7} {'namespace':<9} {'entries':>9} {'size':>11} {'hits':>9} {'misses':>9} {'writes':>9} " \
             f"{'errors':>7}"
    lines += ["", header, "-" * len(header)]
    for level, namespaces in report["levels"].items():
        for namespace, row in namespaces.items():
            c = Counters(**row["counters"])
            lines.append(f"{level:<7} {namespace:<9} {row['entries']:>9,} {_size(row['bytes']):>11} {c.hits:>9,} "
                         f"{c.misses:>9,} {c.writes:>9,} {c.errors:>7,}")
    if len(lines) == 4:
        lines.append("(empty)")
    lines.append("")
    lines.append("hits/misses/writes: totals of the processes that have finished since the last `cache clear`. "
                 "entries/size: what disk and Redis hold now (memory lives and dies with each process).")
    return "\n".join(lines)
