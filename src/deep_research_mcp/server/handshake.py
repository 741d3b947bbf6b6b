"""Answering a stdio host's handshake while the MCP SDK is still being imported.

A host spawns `deep-research serve` and waits for `initialize` and `tools/list` before it shows the server as ready.
Importing the SDK (two protocol versions of pydantic models) takes most of a second of CPU, far over the half second
a host should wait. Those first answers depend only on the code and the start's configuration, so the server keeps
them from its last start and, when this start is configured the same way, gives them back at once while a thread
imports the SDK. Every request answered early is still handed to the SDK afterwards, in order: its session state is
exactly what it would have been, and its own answer, which is swallowed, is compared with the stored one, which is
replaced when the two differ. A start whose stored answers are missing simply records the SDK's.

Only the first messages of a session are eligible, and only until one arrives that is not stored: from then on
everything waits for the SDK and goes to it in order. Both eras are covered: `initialize` then the lists keyed by
that session's negotiation, and modern (2026-07-28) `server/discover` and lists keyed by the protocol version and
capabilities each request carries.

"Configured the same way" is a fingerprint over the package's and the SDK's files (paths, sizes and modification
times), the interpreter, the command line, the working folder and every environment variable the settings read
(values are hashed, never stored). This module imports only the standard library (and files.py, which does the same):
it runs before anything else.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import select
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..files import default_data_dir, write_atomically

log = logging.getLogger(__name__)

STORED_METHODS = frozenset({"initialize", "server/discover", "tools/list", "prompts/list", "resources/list",
                            "resources/templates/list"})
# A modern-era (2026-07-28) request carries its protocol version and the client's capabilities in `_meta`: the answer
# depends on those, not on a session. These parts of `_meta` do not change the answer.
META_IGNORED = frozenset({"progressToken", "io.modelcontextprotocol/clientInfo"})
MODERN_VERSION = "io.modelcontextprotocol/protocolVersion"
SESSION_OPENERS = 8  # messages of a session, counted from its first, whose answers may be stored
MAX_LINE = 1024 * 1024  # a longer first message is nobody's handshake
FORMAT = 1
KEEP_FILES = 8  # answer files of other fingerprints (other configurations, earlier code) kept beside the current
# Modules the stdio server needs before it can take over: imported on the thread while the handshake is answered.
SERVER_MODULES = ("deep_research_mcp.cli", "deep_research_mcp.settings", "deep_research_mcp.llm.factory",
                  "deep_research_mcp.server.app", "deep_research_mcp.server.serve", "mcp.server.stdio")
# Besides DEEP_RESEARCH_*: what else decides what the server offers or where it keeps things.
FINGERPRINT_ENV = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "XDG_DATA_HOME", "HOME")


def data_dir() -> Path:
    """Settings' data_dir, read as Settings reads it, without pydantic (the default is the same function)."""
    configured = os.environ.get("DEEP_RESEARCH_DATA_DIR")
    return Path(configured) if configured else default_data_dir()


def _files_of(package: str) -> list[str]:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return [package]
    out = []
    for root in spec.submodule_search_locations:
        for folder, _, names in os.walk(root):
            for name in names:
                if name.endswith(".py"):
                    stat = os.stat(os.path.join(folder, name))
                    out.append(f"{folder}/{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return sorted(out)


def fingerprint(argv: list[str]) -> str:
    digest = hashlib.sha256()
    env = {k: v for k, v in os.environ.items() if k.startswith("DEEP_RESEARCH_") or k in FINGERPRINT_ENV}
    parts: list[Any] = [FORMAT, sys.executable, sys.version, os.getcwd(), argv, sorted(env.items())]
    # The SDK's own package files change with its version; its dependencies' behaviour reaches the answers only
    # through it and mcp_types.
    for package in ("deep_research_mcp", "mcp", "mcp_types"):
        parts.append(_files_of(package))
    digest.update(json.dumps(parts).encode())
    return digest.hexdigest()[:32]


def request_key(message: dict[str, Any], session: str) -> str | None:
    """The stored-answer key of a request, or None when its answer is not kept. `session` is the key of the
    session's `initialize` ("" for that request itself): the answers depend on the negotiated version and the
    client's capabilities."""
    method = message.get("method")
    if method not in STORED_METHODS or "id" not in message:
        return None
    params = dict(message.get("params") or {})
    meta = params.pop("_meta", None)
    if isinstance(meta, dict) and MODERN_VERSION in meta:
        params["_meta"] = {k: v for k, v in meta.items() if k not in META_IGNORED}
        session = ""
    elif method == "initialize":
        params.pop("clientInfo", None)  # the answer does not depend on who the client says it is
        session = ""
    elif not session:
        return None
    if params.get("cursor"):
        return None
    return hashlib.sha256(json.dumps([method, params, session], sort_keys=True).encode()).hexdigest()


class AnswerFile:
    """The stored answers of one fingerprint: `<data dir>/handshake/<fingerprint>.json`, written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.answers: dict[str, Any] = {}
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(loaded, dict) and loaded.get("format") == FORMAT and isinstance(loaded.get("answers"), dict):
            self.answers = loaded["answers"]

    def store(self, key: str, result: Any) -> None:
        with self._lock:
            if self.answers.get(key) == result:
                return
            self.answers[key] = result
            try:
                write_atomically(self.path, json.dumps({"format": FORMAT, "answers": self.answers}))
                self._prune()
            except OSError as exc:  # a read-only data dir costs the next start its head start, nothing else
                log.debug("could not store the handshake answers: %s", exc)


    def _prune(self) -> None:
        others = [p for p in self.path.parent.glob("*.json") if p != self.path]
        if len(others) <= KEEP_FILES:
            return
        others.sort(key=lambda p: p.stat().st_mtime)
        for stale in others[: len(others) - KEEP_FILES]:
            with contextlib.suppress(OSError):
                stale.unlink()


@dataclass
class Handoff:
    """What the early answering leaves for the SDK: bytes it must read first (the messages already seen, then any
    partial line), whether stdin already ended, and the requests whose answers the SDK must not send again."""

    answers: AnswerFile
    pending: bytes = b""
    replayed: int = 0  # complete lines at the head of `pending`: observed already
    eof: bool = False
    answered: dict[Any, str] = field(default_factory=dict)  # request id -> key, answered early
    watched: dict[Any, str] = field(default_factory=dict)  # request id -> key, whose SDK answer is to be stored
    _session: str | None = None  # key of the session's initialize; None before it
    _seen: int = 0

    def observe(self, line: bytes | str) -> tuple[Any, str] | None:
        """Look at one incoming message of the session's opening; (id, key) when its answer may be stored."""
        return self.observe_message(_parsed(line))

    def observe_message(self, message: dict[str, Any] | None) -> tuple[Any, str] | None:
        """`observe`, for a message already parsed (`_parsed`: None when it is not a JSON object)."""
        if self._seen >= SESSION_OPENERS:
            return None
        self._seen += 1
        if message is None:
            return None
        session = self._session or ""
        key = request_key(message, session)
        if key is None:
            return None
        if message.get("method") == "initialize":
            self._session = key
        request_id = message["id"]
        self.watched[request_id] = key
        return request_id, key

    def outgoing(self, request_id: Any, result: Any) -> bool:
        """The SDK answers `request_id` with `result` (None for an error): store it, and say whether to send it."""
        if request_id in self.answered:
            key = self.answered.pop(request_id)
            self.watched.pop(request_id, None)
            if result != self.answers.answers.get(key):
                log.warning("a handshake answer stored by an earlier start was out of date; the next start sends "
                            "the new one")
                if result is not None:
                    self.answers.store(key, result)
            return False
        key = self.watched.pop(request_id, None)
        if key is not None and result is not None:
            self.answers.store(key, result)
        return True


def answer_while_importing(argv: list[str], *, stdin_fd: int = 0, stdout_fd: int = 1) -> Handoff:
    """Import the server on a thread; meanwhile answer the session's first requests from the stored answers.
    Returns once the import is done (whether or not it succeeded: the caller's own import then raises)."""
    handoff = Handoff(AnswerFile(data_dir() / "handshake" / f"{fingerprint(argv)}.json"))
    imported = threading.Event()

    def import_server() -> None:
        try:
            for module in SERVER_MODULES:
                __import__(module)
        except BaseException:  # noqa: BLE001 - the main thread imports again and reports it
            pass
        finally:
            imported.set()

    threading.Thread(target=import_server, name="import", daemon=True).start()
    seen: list[bytes] = []
    buffer = b""
    answering = bool(handoff.answers.answers)
    while not imported.is_set() and not handoff.eof:
        try:
            ready, _, _ = select.select([stdin_fd], [], [], 0.01)
            chunk = os.read(stdin_fd, 64 * 1024) if ready else None
        except OSError:  # no usable stdin: the SDK's reader meets the same and reports it
            break
        if chunk is None:
            continue
        if not chunk:
            handoff.eof = True
            break
        buffer += chunk
        while b"\n" in buffer:
            line, _, buffer = buffer.partition(b"\n")
            seen.append(line + b"\n")
            message = _parsed(line)
            observed = handoff.observe_message(message)
            stored = handoff.answers.answers.get(observed[1]) if observed else None
            if not answering or observed is None or stored is None:
                answering = answering and _is_notification(message)
                continue
            request_id, key = observed
            _write_all(stdout_fd, json.dumps({"jsonrpc": "2.0", "id": request_id, "result": stored},
                                             separators=(",", ":")).encode() + b"\n")
            handoff.answered[request_id] = key
            log.debug("answered %s from the stored handshake", message["method"] if message else "?")
        if len(buffer) > MAX_LINE:
            answering = False
    imported.wait()
    handoff.pending = b"".join(seen) + buffer
    handoff.replayed = len(seen)
    return handoff


def _parsed(line: bytes | str) -> dict[str, Any] | None:
    """One JSON-RPC message, or None when the line is too long for a handshake or not a JSON object."""
    if len(line) > MAX_LINE:
        return None
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def _is_notification(message: dict[str, Any] | None) -> bool:
    """`notifications/initialized` between two stored requests keeps the early answering going."""
    return message is not None and "id" not in message and str(message.get("method", "")).startswith(
        "notifications/")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class FilteredWrites:
    """The SDK's write stream, minus its answers to requests already answered early; records answers worth
    keeping. Satisfies the SDK's WriteStream protocol (send, aclose, async context manager)."""

    def __init__(self, inner: Any, handoff: Handoff, result_of: Callable[[Any], tuple[Any, Any] | None]) -> None:
        self._inner = inner
        self._handoff = handoff
        self._result_of = result_of  # message -> (id, result or None for an error), None when not a response

    async def send(self, item: Any, /) -> None:
        if self._handoff.answered or self._handoff.watched:
            response = self._result_of(item)
            if response is not None and not self._handoff.outgoing(*response):
                return
        await self._inner.send(item)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> FilteredWrites:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        return await self._inner.__aexit__(*exc_info)


def sdk_response(item: Any) -> tuple[Any, Any] | None:
    """(id, result) of an SDK SessionMessage carrying a response, (id, None) for an error, None otherwise."""
    message = getattr(item, "message", None)
    if message is None or hasattr(message, "method") or not hasattr(message, "id"):
        return None  # a request or notification of the server's own
    if hasattr(message, "result"):
        return message.id, message.model_dump(by_alias=True, exclude_unset=True, mode="json").get("result")
    return message.id, None
