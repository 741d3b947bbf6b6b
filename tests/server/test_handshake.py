"""The stdio server answers a host's handshake from its last start's answers while the SDK imports
(server/handshake.py): the answers are the SDK's own, a stale one is replaced, and the session the SDK takes over
is the same as without the head start. Start-up figures are in bench/startup_bench.py, not here."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from deep_research_mcp.server.handshake import AnswerFile, Handoff, fingerprint, request_key

from .conftest import FACT, QUESTION, TOOLS, serve_command, server_env, write_corpus

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "handshake-test", "version": "1"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
TOOLS_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
PING = {"jsonrpc": "2.0", "id": 3, "method": "ping"}


def converse(env: dict[str, str], *messages: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """Send every message, read until each request is answered, close stdin (a closed stdin ends the session, and
    the SDK drops what is still in flight), and return what the server wrote on stdout, one message a line."""
    process = subprocess.Popen(serve_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
        process.stdin.flush()
        expected = sum(1 for m in messages if "id" in m)
        answers = [json.loads(process.stdout.readline()) for _ in range(expected)]
        out, errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, errors
    return answers + [json.loads(line) for line in out.splitlines()], errors


def by_id(answers: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    ids = [a["id"] for a in answers]
    assert len(ids) == len(set(ids)), f"a request was answered twice: {ids}"
    return {a["id"]: a for a in answers}


def test_a_second_start_answers_with_the_sdks_own_answers_and_repairs_a_stale_one(tmp_path: Path) -> None:
    env = server_env(tmp_path / "data", write_corpus(tmp_path / "docs"))
    first, _ = converse(env, INITIALIZE, INITIALIZED, TOOLS_LIST, PING)
    (stored,) = (tmp_path / "data" / "handshake").glob("*.json")
    assert set(by_id(first)) == {1, 2, 3}

    # Another protocol version is another key: answered by the SDK, which negotiates it, not from the store.
    older = {**INITIALIZE, "params": {**INITIALIZE["params"], "protocolVersion": "2025-06-18"}}
    second, _ = converse(env, older, INITIALIZED, TOOLS_LIST, PING)
    assert by_id(second)[1]["result"]["protocolVersion"] == "2025-06-18"

    # An answer stored by an earlier start that no longer matches what the SDK says: it goes out once (which is
    # how we know the answers came from the store and not from the SDK), the SDK's own is not sent again (each id
    # is answered once), and the store is repaired for the next start.
    content = json.loads(stored.read_text())
    tools_answers = [answer for answer in content["answers"].values() if "tools" in answer]
    assert len(tools_answers) == 2  # one per negotiated version
    for answer in tools_answers:
        answer["tools"][0]["description"] = "stale description"
    stored.write_text(json.dumps(content))
    third, errors = converse(env, INITIALIZE, INITIALIZED, TOOLS_LIST, PING)
    assert by_id(third)[1]["result"] == by_id(first)[1]["result"]
    assert by_id(third)[2]["result"]["tools"][0]["description"] == "stale description"
    assert "out of date" in errors
    repaired = json.loads(stored.read_text())["answers"]
    assert by_id(first)[2]["result"] in repaired.values()


def test_the_fingerprint_follows_the_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEEP_RESEARCH_RESEARCH_WAIT_S", raising=False)
    before = fingerprint(["serve"])
    assert fingerprint(["serve"]) == before
    assert fingerprint(["serve", "--docs", "elsewhere"]) != before
    monkeypatch.setenv("DEEP_RESEARCH_RESEARCH_WAIT_S", "30")
    assert fingerprint(["serve"]) != before
    monkeypatch.delenv("DEEP_RESEARCH_RESEARCH_WAIT_S")
    monkeypatch.chdir(tmp_path)
    assert fingerprint(["serve"]) != before


def test_a_real_client_researches_through_a_server_that_answered_its_handshake_early(tmp_path: Path) -> None:
    env = server_env(tmp_path / "data", write_corpus(tmp_path / "docs"))
    params = StdioServerParameters(command=serve_command()[0], args=serve_command()[1:], env=env)

    async def session() -> str:
        async with Client(params) as client:
            listed = await client.list_tools()
            assert {tool.name for tool in listed.tools} == TOOLS
            result = await client.call_tool("research", {"question": QUESTION})
            assert not result.is_error, result
            return json.dumps(result.structured_content)

    asyncio.run(session())  # the first start stores the SDK's answers
    assert list((tmp_path / "data" / "handshake").glob("*.json"))
    assert FACT in asyncio.run(session())


def test_keys_ignore_who_the_client_is_and_depend_on_what_it_negotiated(tmp_path: Path) -> None:
    key = request_key(INITIALIZE, "")
    renamed = {**INITIALIZE, "params": {**INITIALIZE["params"], "clientInfo": {"name": "other", "version": "9"},
                                        "_meta": {"progressToken": 4}}}
    assert request_key(renamed, "") == key
    extended = {**INITIALIZE, "params": {**INITIALIZE["params"], "capabilities": {"extensions": {"x": {}}}}}
    assert request_key(extended, "") != key
    assert request_key(TOOLS_LIST, "") is None  # no session: not a handshake
    assert request_key(TOOLS_LIST, key) != request_key(TOOLS_LIST, "other session")
    assert request_key({**TOOLS_LIST, "params": {"cursor": "2"}}, key) is None
    assert request_key(PING, key) is None and request_key(INITIALIZED, key) is None

    handoff = Handoff(AnswerFile(tmp_path / "answers.json"))
    assert handoff.observe(json.dumps(INITIALIZE)) == (1, key)
    assert handoff.observe(json.dumps(INITIALIZED)) is None
    assert handoff.observe(json.dumps(TOOLS_LIST)) == (2, request_key(TOOLS_LIST, key))
    assert handoff.outgoing(1, {"ok": True}) and handoff.outgoing(2, None)  # an error is sent, never stored
    assert AnswerFile(tmp_path / "answers.json").answers == {key: {"ok": True}}
