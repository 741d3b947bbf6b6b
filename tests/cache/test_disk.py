from __future__ import annotations

import os
import pickle
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deep_research_mcp.cache import Cache, open_cache
from deep_research_mcp.cache.disk import DiskLevel
from deep_research_mcp.cache.factory import clear_cache
from deep_research_mcp.cache.memory import MemoryLevel
from deep_research_mcp.cache.values import TextCodec
from deep_research_mcp.settings import Settings

from .conftest import ALL

# 1,000 writes each still overlap for ~1 s under one lock: with the busy wait cut to 0 and a timed-out write dropped
# (a fault put in by hand) 1,516 and 1,643 of 4,000 were lost. 3,000 each took 9 s instead of 4.
WRITERS, WRITES = 4, 1_000
ROOT = Path(__file__).resolve().parents[2]


def rows(directory: Path) -> list[tuple[str, int, bytes | None]]:
    with sqlite3.connect(directory / "cache.db") as con:
        return list(con.execute("SELECT key, mode, value FROM Cache"))


async def test_values_are_stored_as_json_or_bytes_never_pickled(cache: Cache, tmp_path: Path) -> None:
    for namespace, value in (("llm", {"text": "answer", "calls": [1, 2]}), ("page", b"\x80\x04raw bytes")):
        await cache.set(namespace, cache.key(namespace, value.__class__.__name__), value)
    await cache.set("tool", cache.key("tool", "big"), {"text": "x" * 300_000})  # beside the db, as a file
    stored = rows(tmp_path / "cache")
    assert len(stored) == 3
    assert {mode for _, mode, _ in stored} <= {1, 2}  # diskcache's MODE_RAW / MODE_BINARY; MODE_PICKLE is 4
    for _, _, value in stored:
        assert value is None or bytes(value).startswith(b"DRC1")  # our envelope, not pickle's b"\x80"
    files = list((tmp_path / "cache").rglob("*.val"))
    assert len(files) == 1 and files[0].read_bytes().startswith(b"DRC1")


async def test_a_pickled_row_planted_in_the_database_is_refused_not_run(disk: DiskLevel, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str, str]]:
            return (open, (str(marker), "w"))

    await disk.set("t:ok", b"fine", None)
    with sqlite3.connect(tmp_path / "cache" / "cache.db") as con:
        con.execute(
            "INSERT INTO Cache (key, raw, store_time, expire_time, access_time, access_count, tag, size, mode,"
            " filename, value) VALUES ('t:evil', 1, 0, NULL, 0, 0, 't', 0, 4, NULL, ?)",
            (pickle.dumps(Exploit()),),
        )
    cache = Cache([disk], ALL)
    assert await cache.get("t", "t:evil") is None  # a miss, counted as an error
    assert not marker.exists()
    assert cache.stats()["disk"]["t"]["errors"] == 1
    assert await disk.get("t:ok") == b"fine"


async def test_a_locked_database_costs_one_timeout_then_the_level_sits_out(tmp_path: Path) -> None:
    level = await DiskLevel.open(tmp_path / "cache", max_bytes=10**6, busy_timeout_s=0.05, write_deadline_s=0.1)
    cache = Cache([MemoryLevel(10**6), level], ALL)
    holder = sqlite3.connect(tmp_path / "cache" / "cache.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program holding the write lock for good
    try:
        for n in range(5):
            lookup = await cache.get_or_compute("tool", n, _answer, TextCodec())
            assert (lookup.value, lookup.hit) == ("answer", False)
        assert level.breaker.open
        counted = cache.stats()["disk"]["tool"]
        # Only the first lookup reached the file (a read, then a write that timed out); the rest were skipped.
        assert (counted["misses"], counted["writes"], counted["errors"]) == (1, 0, 9)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        await cache.aclose()


async def test_the_cache_directory_is_private(tmp_path: Path) -> None:
    level = await DiskLevel.open(tmp_path / "a" / "cache", max_bytes=10**6)
    await level.close()
    assert stat.S_IMODE(os.stat(tmp_path / "a" / "cache").st_mode) == 0o700


def test_four_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-m", "tests.cache.disk_writer", str(tmp_path), f"w{n}", str(WRITES)],
                         env=env, cwd=ROOT, stderr=subprocess.PIPE)
        for n in range(WRITERS)
    ]
    try:
        deadline = time.monotonic() + 30
        while len(list(tmp_path.glob("ready-*"))) < WRITERS and time.monotonic() < deadline:
            time.sleep(0.01)
        (tmp_path / "go").touch()
        errors = [p.communicate(timeout=45)[1].decode() for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0] * WRITERS, errors
    stored = {key: bytes(value) for key, _, value in rows(tmp_path / "cache")}
    expected = {f"t:w{n}-{i}": f"w{n}/{i}".encode() for n in range(WRITERS) for i in range(WRITES)}
    missing = [k for k in expected if k not in stored]
    assert not missing, f"{len(missing)} of {len(expected)} writes lost"
    assert all(stored[k].endswith(v) for k, v in expected.items())


async def test_a_corrupt_database_file_degrades_to_no_disk_level_and_clear_repairs_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(cache_dir=tmp_path / "cache")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "cache.db").write_bytes(b"this is not a database\x00" * 500)
    async with open_cache(settings) as cache:
        assert [level.name for level in cache.levels] == ["memory"]
        assert (await cache.get_or_compute("llm", "q", _answer, TextCodec())).value == "answer"
    assert "cannot open the disk cache" in caplog.text and "cache clear" in caplog.text
    assert (await clear_cache(settings))["disk"] >= 1
    async with open_cache(settings) as cache:
        assert [level.name for level in cache.levels] == ["memory", "disk"]


async def _answer() -> str:
    return "answer"



async def test_sqlite_memory_of_the_disk_level_is_bounded_by_a_setting(tmp_path: Path) -> None:
    # diskcache's defaults (a 32 MiB page cache, a 64 MiB memory map) let a server's RSS grow with the database.
    settings = Settings(data_dir=tmp_path, cache_disk_memory_max_bytes=2**20)
    async with open_cache(settings) as cache:
        level = next(lv for lv in cache.levels if isinstance(lv, DiskLevel))
        pragmas = await level._run(lambda: [level._cache._sql(f"PRAGMA {name}").fetchone()[0]
                                            for name in ("cache_size", "mmap_size")])
    assert pragmas == [256, 2**20]  # pages of 4 KiB, bytes
