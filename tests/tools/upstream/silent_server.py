"""An MCP server that never answers: it reads its stdin and replies nothing, like a hung or still-downloading one.

With a file path as its argument it writes "started" there when the first request arrives, and "closed" when its
stdin ends (the client gave up on it), so a test can tell which happened without timing anything.
"""

from __future__ import annotations

import sys
from pathlib import Path

marker = Path(sys.argv[1]) if len(sys.argv) > 1 else None
if sys.stdin.readline() and marker is not None:
    marker.write_text("started")
for _line in sys.stdin:
    pass
if marker is not None:
    marker.write_text("closed")
