"""`python -m tests.cache.disk_writer DIR NAME N`: one of several processes writing to one disk cache at once.

Writes `N` entries `t:<NAME>-<i>` after `DIR/go` appears (so every writer starts together), then exits 0.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from deep_research_mcp.cache.disk import DiskLevel


async def write(directory: Path, name: str, count: int) -> None:
    level = await DiskLevel.open(directory / "cache", max_bytes=10**9)
    try:
        (directory / f"ready-{name}").touch()
        deadline = time.monotonic() + 30
        while not (directory / "go").exists():
            if time.monotonic() > deadline:
                raise SystemExit("never told to go")
            await asyncio.sleep(0.01)
        for i in range(count):
            await level.set(f"t:{name}-{i}", f"{name}/{i}".encode(), None)
    finally:
        await level.close()


if __name__ == "__main__":
    asyncio.run(write(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
