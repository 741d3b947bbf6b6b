"""A call cut off by a dying upstream is repeated on a fresh server only when running it twice is harmless."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from deep_research_mcp.errors import ToolCallError
from deep_research_mcp.tools.upstream import UpstreamSession

from .conftest import SEARCH_SERVER, stdio_config

CONNECTION_CHECKS = 500  # bounded: how often to look for a condition before failing instead of hanging


def stateful_config(state: Path, **extras: object) -> dict[str, object]:
    return {"args": [str(SEARCH_SERVER), "--state-dir", str(state)], **extras}


def records(state: Path) -> list[str]:
    path = state / "records.txt"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


async def listed_session(state: Path, **extras: object) -> UpstreamSession:
    session = UpstreamSession("corpus", stdio_config(**stateful_config(state, **extras)))
    await session.list_tools()  # the annotations that decide about repeating come with the tool list
    return session


async def test_a_read_only_call_cut_off_by_a_crash_is_repeated_on_a_new_server(tmp_path: Path) -> None:
    session = await listed_session(tmp_path)
    try:
        assert session.repeatable("search")
        result = await session.call_tool("search", {"query": "tidal crash-once"})
        assert not result.is_error and result.structured_content is not None
        assert result.structured_content["results"][0]["url"] == "https://corpus.test/tidal-lagoons"
        assert (tmp_path / "crashed").exists() and session.opened == 2
    finally:
        await session.close()


async def test_an_unsafe_call_cut_off_by_a_crash_is_reported_not_repeated(tmp_path: Path) -> None:
    session = await listed_session(tmp_path)
    try:
        assert not session.repeatable("record")
        with pytest.raises(ToolCallError, match=r"corpus/record: .*may or may not have taken effect.*not repeated"):
            await session.call_tool("record", {"note": "crash-once"})
        assert records(tmp_path) == ["crash-once"] and session.opened == 1  # ran once; nothing reopened for it
        after = await session.call_tool("record", {"note": "after"})  # the next call reconnects
        assert not after.is_error and session.opened == 2
        assert records(tmp_path) == ["crash-once", "after"]
    finally:
        await session.close()


async def test_retry_unsafe_repeats_the_call_as_configured(tmp_path: Path) -> None:
    session = await listed_session(tmp_path, retryUnsafe=True)
    try:
        result = await session.call_tool("record", {"note": "crash-once"})
        assert not result.is_error and session.opened == 2
        assert records(tmp_path) == ["crash-once", "crash-once"]  # what the user opted into: it ran twice
    finally:
        await session.close()


async def test_an_unlisted_tool_is_not_assumed_safe(tmp_path: Path) -> None:
    session = UpstreamSession("corpus", stdio_config(**stateful_config(tmp_path)))
    try:
        with pytest.raises(ToolCallError, match="may or may not"):
            await session.call_tool("search", {"query": "crash-once"})
    finally:
        await session.close()


async def test_a_server_that_died_between_calls_is_replaced_before_an_unsafe_call(tmp_path: Path) -> None:
    session = await listed_session(tmp_path)
    try:
        pid_result = await session.call_tool("pid", {})
        assert pid_result.structured_content is not None
        os.kill(pid_result.structured_content["result"], signal.SIGKILL)
        # The end of the server's output is the event; nothing here can await it directly, so look until it shows.
        for _ in range(CONNECTION_CHECKS):
            if not session.connected:
                break
            await asyncio.sleep(0.01)
        assert not session.connected
        # Known dead before anything was sent: the call goes to a fresh server and runs exactly once, no warning.
        result = await session.call_tool("record", {"note": "once"})
        assert not result.is_error and records(tmp_path) == ["once"] and session.opened == 2
    finally:
        await session.close()
