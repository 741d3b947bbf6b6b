"""The run store: every run's question, brief, notes, sources, report and status, kept where a restart finds them.

On disk by default (one JSON file per run, written atomically); in Redis when `DEEP_RESEARCH_CACHE_REDIS_URL` is set, so
several server replicas see the same runs: a run started on one can be polled, cancelled or rewritten on another.
Records are pydantic models dumped as JSON: nothing is pickled, and a file a human opens is readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, RootModel, ValidationError

from ..errors import RunStoreUnavailable
from ..files import write_atomically

log = logging.getLogger(__name__)

RunStatus = Literal["running", "completed", "needs_clarification", "failed", "cancelled", "interrupted"]
TERMINAL: frozenset[str] = frozenset({"completed", "needs_clarification", "failed", "cancelled", "interrupted"})


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_utc(stamp: str) -> dt.datetime:
    """The inverse of `utc_now` (Python 3.11 does not read the trailing "Z" itself)."""
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def age_s(stamp: str) -> float:
    return (dt.datetime.now(dt.UTC) - parse_utc(stamp)).total_seconds()


class StoredSource(BaseModel):
    id: str
    locator: str
    title: str


class StoredClaim(BaseModel):
    """One cited sentence's verdict: is it supported by the text the run read from the sources it cites?"""

    text: str
    citations: list[int] = Field(default_factory=list)  # as numbered in the report
    source_ids: list[str] = Field(default_factory=list)  # the run's [S<n>] ids
    verdict: Literal["supported", "weak", "unsupported", "unchecked"]
    evidence: str = ""  # the source's passage that best matches it
    evidence_source: str = ""
    coverage: float = 0.0
    similarity: float = 0.0
    reason: str = ""


class StoredNote(BaseModel):
    topic: str
    ok: bool
    note: str = ""
    error: str = ""


class RunRecord(BaseModel):
    """One run as clients and replicas see it. `progress` is the engine's counter snapshot while it runs."""

    run_id: str
    kind: Literal["research", "rewrite"] = "research"
    question: str
    options: dict[str, Any] = Field(default_factory=dict)
    status: RunStatus = "running"
    phase: str = "starting"
    message: str = ""
    progress: dict[str, Any] = Field(default_factory=dict)
    created_at: str = Field(default_factory=utc_now)
    updated_at: str = Field(default_factory=utc_now)
    owner: str = ""  # the replica running it; another replica forwards a cancel through the store
    cancel_requested: bool = False
    parent_run_id: str | None = None  # for a rewrite or a follow-up: the run whose findings it used
    principal: str = ""  # who started it: the SDK's principal of the access token over authenticated HTTP, else ""
    brief: str = ""
    clarification: str = ""
    notes: list[StoredNote] = Field(default_factory=list)
    registry: list[StoredSource] = Field(default_factory=list)  # every source read, by the notes' [S<n>] ids
    sources: list[StoredSource] = Field(default_factory=list)  # the sources the report cites, in report order
    report: str = ""
    title: str = ""
    citations: dict[str, int] = Field(default_factory=dict)
    claims: list[StoredClaim] = Field(default_factory=list)  # per cited sentence of the report, in report order
    claim_summary: dict[str, Any] = Field(default_factory=dict)  # counts per verdict and the report's summary line
    # Passages of the sources the notes cite (bounded, DEEP_RESEARCH_CLAIM_TEXT_CHARS_STORED): a `write` rewrite's
    # sentences are checked against them. Up to ~1 MB, so the stores keep them beside the record (`RunStore.texts`)
    # and `get` leaves them empty: a status poll does not read them. Records of earlier versions hold them inline.
    source_texts: dict[str, str] = Field(default_factory=dict)
    usage: dict[str, Any] = Field(default_factory=dict)
    timeline: dict[str, Any] = Field(default_factory=dict)  # the finished run's calls and floor (monitor.timeline)
    warnings: list[str] = Field(default_factory=list)
    error: str = ""
    elapsed_s: float = 0.0
    # With a task queue (server/queue.py): how many workers have started this run (more than one after a failover).
    attempts: int = 0
    # Where a run waiting for a worker stands, filled in when it is read; never stored (it changes all the time).
    queue_position: int | None = Field(default=None, exclude=True)
    queue_depth: int | None = Field(default=None, exclude=True)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


class RunSummary(BaseModel):
    run_id: str
    kind: str
    question: str
    status: str
    title: str
    created_at: str
    updated_at: str
    principal: str = Field(default="", exclude=True)  # for filtering lists by owner; never shown


def summarize(record: RunRecord) -> RunSummary:
    return RunSummary(run_id=record.run_id, kind=record.kind, question=record.question[:200], status=record.status,
                      title=record.title, created_at=record.created_at, updated_at=record.updated_at,
                      principal=record.principal)


# At most this many of the newest records are read to fill one principal's list: a list stays bounded in cost
# however many runs other principals keep.
LIST_SCAN = 1000


class RunStore(Protocol):
    async def get(self, run_id: str) -> RunRecord | None:
        """The record without its `source_texts` (see `texts`)."""
        ...

    async def put(self, record: RunRecord) -> None:
        """Store the record; non-empty `source_texts` go beside it, and empty ones leave those stored alone."""
        ...

    async def texts(self, run_id: str) -> dict[str, str]:
        """The run's `source_texts` ({} when none are stored), for `write` and follow-ups only."""
        ...

    async def list(self, limit: int = 50, *, principal: str | None = None) -> list[RunSummary]:
        """The newest runs, newest first; with `principal`, only the runs that principal started."""
        ...

    async def request_cancel(self, run_id: str) -> None: ...

    async def cancel_requested(self, run_id: str) -> bool: ...

    async def close(self) -> None: ...


class SourceTexts(RootModel[dict[str, str]]):
    """A run's `source_texts`, stored beside its record."""


NOT_INLINE = {"source_texts"}


def valid_run_id(run_id: str) -> bool:
    """Run ids become file names and Redis keys: letters, digits, '-' and '_' only, bounded length."""
    return 0 < len(run_id) <= 64 and all(c.isalnum() or c in "-_" for c in run_id)


class DiskRunStore:
    """One `<run id>.json` per run under `root` (private), replaced atomically on every write."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = asyncio.Lock()  # serializes this process's writes; rename keeps readers whole anyway

    def _path(self, run_id: str) -> Path:
        return self.root / f"{run_id}.json"

    def _texts_path(self, run_id: str) -> Path:
        # A folder of their own: `list` globs the records' `*.json` in the root.
        return self.root / "texts" / f"{run_id}.json"

    async def get(self, run_id: str) -> RunRecord | None:
        if not valid_run_id(run_id):
            return None
        return await asyncio.to_thread(self._read, self._path(run_id))

    async def texts(self, run_id: str) -> dict[str, str]:
        if not valid_run_id(run_id):
            return {}

        def read() -> dict[str, str]:
            try:
                return SourceTexts.model_validate_json(self._texts_path(run_id).read_bytes()).root
            except FileNotFoundError:
                record = self._read(self._path(run_id))  # written by an earlier version: the texts are inline
                return record.source_texts if record is not None else {}
            except (OSError, ValidationError) as exc:
                log.warning("source texts of run %s are unreadable and ignored: %s", run_id, exc)
                return {}

        return await asyncio.to_thread(read)

    def _read(self, path: Path) -> RunRecord | None:
        try:
            return RunRecord.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError) as exc:
            log.warning("run record %s is unreadable and ignored: %s", path.name, exc)
            return None

    async def put(self, record: RunRecord) -> None:
        record.updated_at = utc_now()
        data = record.model_dump_json(exclude=NOT_INLINE).encode()
        texts = SourceTexts(record.source_texts).model_dump_json().encode() if record.source_texts else None
        async with self._lock:
            try:
                if texts is not None:  # first: a record that says "completed" finds its texts there
                    path = self._texts_path(record.run_id)
                    path.parent.mkdir(exist_ok=True, mode=0o700)
                    await asyncio.to_thread(write_atomically, path, texts)
                await asyncio.to_thread(write_atomically, self._path(record.run_id), data)
            except OSError as exc:
                raise RunStoreUnavailable(
                    f"the run store at {self.root} cannot be written: {exc.strerror or exc}; set "
                    "DEEP_RESEARCH_RUNS_DIR to a writable folder"
                ) from None

    async def list(self, limit: int = 50, *, principal: str | None = None) -> list[RunSummary]:
        def newest() -> list[RunRecord]:
            paths = sorted(self.root.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
            records = (self._read(p) for p in paths[: limit * 2 if principal is None else LIST_SCAN])
            mine = (r for r in records if r is not None and principal in (None, r.principal))
            return list(itertools.islice(mine, limit))  # reads no further than the list needs

        return [summarize(r) for r in await asyncio.to_thread(newest)]

    async def request_cancel(self, run_id: str) -> None:
        record = await self.get(run_id)
        if record is not None and not record.finished:
            record.cancel_requested = True
            await self.put(record)

    async def cancel_requested(self, run_id: str) -> bool:
        record = await self.get(run_id)
        return record is not None and record.cancel_requested

    async def close(self) -> None:
        return None


class RedisRunStore:
    """Runs as JSON strings under `<prefix>run:<id>`, newest first in the sorted set `<prefix>runs`.

    The cancel flag is its own key so that a replica asking for a cancel never races the owner's record writes."""

    def __init__(self, url: str, *, prefix: str = "deep-research:", timeout_s: float = 2.0) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self.prefix = prefix
        self.where = redacted_url(url)

    @contextlib.asynccontextmanager
    async def _reachable(self) -> AsyncIterator[None]:
        """Redis failures become one sentence that says where the store is and what went wrong."""
        from redis.exceptions import RedisError

        try:
            yield
        except (RedisError, OSError) as exc:
            raise RunStoreUnavailable(f"the run store at {self.where} is unreachable: {exc}") from None

    def _key(self, run_id: str) -> str:
        return f"{self.prefix}run:{run_id}"

    def _texts_key(self, run_id: str) -> str:
        return f"{self._key(run_id)}:texts"

    async def get(self, run_id: str) -> RunRecord | None:
        if not valid_run_id(run_id):
            return None
        async with self._reachable():
            raw = await self._redis.get(self._key(run_id))
        if raw is None:
            return None
        try:
            return RunRecord.model_validate_json(raw)
        except ValidationError as exc:
            log.warning("run record %s in Redis is unreadable and ignored: %s", run_id, exc)
            return None

    async def texts(self, run_id: str) -> dict[str, str]:
        if not valid_run_id(run_id):
            return {}
        async with self._reachable():
            raw = await self._redis.get(self._texts_key(run_id))
        if raw is None:
            record = await self.get(run_id)  # written by an earlier version: the texts are inline
            return record.source_texts if record is not None else {}
        try:
            return SourceTexts.model_validate_json(raw).root
        except ValidationError as exc:
            log.warning("source texts of run %s in Redis are unreadable and ignored: %s", run_id, exc)
            return {}

    async def put(self, record: RunRecord) -> None:
        record.updated_at = utc_now()
        created = parse_utc(record.created_at).timestamp()
        async with self._reachable(), self._redis.pipeline(transaction=True) as pipe:
            if record.source_texts:
                pipe.set(self._texts_key(record.run_id), SourceTexts(record.source_texts).model_dump_json())
            pipe.set(self._key(record.run_id), record.model_dump_json(exclude=NOT_INLINE))
            pipe.zadd(f"{self.prefix}runs", {record.run_id: created})
            await pipe.execute()

    async def list(self, limit: int = 50, *, principal: str | None = None) -> list[RunSummary]:
        out: list[RunSummary] = []
        page = max(1, limit if principal is None else min(LIST_SCAN, max(limit * 2, 100)))
        start = 0
        while len(out) < limit and start < (limit if principal is None else LIST_SCAN):
            async with self._reachable():
                ids: Sequence[bytes] = await self._redis.zrevrange(f"{self.prefix}runs", start, start + page - 1)
                if not ids:
                    break
                raws = await self._redis.mget([self._key(i.decode()) for i in ids])
            start += page
            for raw in raws:
                if raw is None:
                    continue
                with contextlib.suppress(ValidationError):
                    summary = summarize(RunRecord.model_validate_json(raw))
                    if principal in (None, summary.principal):
                        out.append(summary)
        return out[:limit]

    async def request_cancel(self, run_id: str) -> None:
        async with self._reachable():
            await self._redis.set(f"{self._key(run_id)}:cancel", json.dumps(utc_now()))

    async def cancel_requested(self, run_id: str) -> bool:
        async with self._reachable():
            return bool(await self._redis.exists(f"{self._key(run_id)}:cancel"))

    async def close(self) -> None:
        await self._redis.aclose()


def redacted_url(url: str) -> str:
    """The URL as it may be shown: any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


REPLICA_SLOTS = 16


@contextlib.contextmanager
def replica_identity(data_dir: Path) -> Iterator[str]:
    """This server's stable owner id for its runs, held for as long as the context is open.

    The id lives in `<data_dir>/replica/<slot>.id` and the slot is held by an exclusive `flock` on `<slot>.lock`,
    which the kernel releases when the process ends however it ends (kill -9 included). A server restarted on the
    same data dir takes the same free slot, so it recognises its predecessor's runs still marked "running" as its
    own, hence interrupted, at once instead of after the staleness delay. Two live servers on one data dir (two
    hosts each spawning one over stdio) hold different slots and never share an id.
    """
    folder = data_dir / "replica"
    try:
        import fcntl

        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except (ImportError, OSError) as exc:  # no flock (Windows) or no writable data dir: a fresh id per process
        log.warning("no stable replica id (%s): runs of a crashed server read interrupted after the stale delay", exc)
        yield uuid.uuid4().hex[:12]
        return
    for slot in range(REPLICA_SLOTS):
        fd = os.open(folder / f"{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        try:
            yield _slot_id(folder / f"{slot}.id")
        finally:
            os.close(fd)  # releases the lock
        return
    log.warning("all %d replica slots in %s are held by live servers; using a fresh id", REPLICA_SLOTS, folder)
    yield uuid.uuid4().hex[:12]


def _slot_id(path: Path) -> str:
    with contextlib.suppress(OSError):
        known = path.read_text(encoding="ascii").strip()
        if valid_run_id(known):
            return known
    new = uuid.uuid4().hex[:12]
    write_atomically(path, new)
    return new
