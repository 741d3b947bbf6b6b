"""Where the project keeps its files, and writing files so that a crash never leaves half of one: reports, run
records. Standard library only: the stdio server's early handshake (server/handshake.py) reads it before pydantic."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def default_data_dir() -> Path:
    """The data dir when DEEP_RESEARCH_DATA_DIR is not set: $XDG_DATA_HOME/deep-research-mcp."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "deep-research-mcp"


def write_atomically(path: Path, data: str | bytes, *, shared: bool = False) -> None:
    """Write to a temporary file beside `path`, then rename over it (text is written as UTF-8).

    The file is private (0600, as mkstemp makes it) unless `shared`: then it gets the mode any new file would,
    0666 less the umask (a report is a document the user passes around, not a secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
            if shared:
                os.fchmod(handle.fileno(), 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def current_umask() -> int:
    """The process's umask, read without changing it where Linux tells (os.umask can only set it)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
