"""Fuzzed tool arguments through a real client over HTTP: every call is answered with a tool result or a JSON-RPC
invalid-params error naming the problem — never an internal error — and the server keeps serving afterwards.

The arguments are generated from a fixed seed (reproducible), mixing valid values with wrong types, out-of-range
numbers, control characters, huge strings, nested junk and unknown keys, for every published tool.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR

from ..server.conftest import Process, http_server, scripted_env, scripted_llm, server_env, write_corpus

CALLS_PER_TOOL = 15
JUNK: list[Any] = [
    None, True, False, 0, -1, 2**63, -(2**63), 1.5, float("1e308"), "", " ", "\x00", "\x07\x1b[2J", "3", "true",
    "a" * 30_000, "question?\u202e\ufeff", [], [1, "x"], {}, {"nested": {"deep": [None]}}, "research://runs/../../etc",
    "../../../../etc/passwd", "<script>alert(1)</script>", "0" * 64, "r" * 65,
]


def junk_or_valid(rng: random.Random, valid: list[Any]) -> Any:
    return rng.choice(valid) if rng.random() < 0.4 else rng.choice(JUNK)


def fuzzed_arguments(rng: random.Random, schema: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = schema.get("properties", {})
    arguments: dict[str, Any] = {}
    for name in properties:
        if rng.random() < 0.8:
            valid: list[Any] = {
                "question": ["How do tidal lagoons store energy?"],
                "run_id": ["no-such-run"],
                "options": [{"max_researchers": 1}, {"max_tool_calls": 0}, {"max_researchers": "2"}],
                "wait_s": [0, 0.0],
            }.get(name, [None])
            arguments[name] = junk_or_valid(rng, valid)
    if rng.random() < 0.3:
        arguments[rng.choice(["extra", "__proto__", "Question", "options.max"])] = rng.choice(JUNK)
    return arguments


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    docs = write_corpus(tmp_path_factory.mktemp("docs"))
    with scripted_llm({"latency_s": 0.05, "topics": 1, "tool_calls_per_researcher": 1},
                      tmp_path_factory.mktemp("llm-logs")) as llm:
        env = server_env(tmp_path_factory.mktemp("data"), docs,
                         {**scripted_env(llm), "DEEP_RESEARCH_RESEARCH_WAIT_S": "0",
                          "DEEP_RESEARCH_MAX_CONCURRENT_RUNS": "4"})
        with http_server(env, tmp_path_factory.mktemp("logs")) as process:
            yield process


async def test_fuzzed_arguments_get_clear_answers_and_never_an_internal_error(server: Process) -> None:
    rng = random.Random(20261201)
    answered = refused = 0
    async with Client(server.url, read_timeout_seconds=30) as client:
        tools = (await client.list_tools()).tools
        assert tools
        for tool in tools:
            for _ in range(CALLS_PER_TOOL):
                arguments = fuzzed_arguments(rng, tool.input_schema)
                try:
                    result = await client.call_tool(tool.name, arguments)
                except MCPError as exc:
                    assert exc.error.code != INTERNAL_ERROR, (tool.name, arguments, exc.error.message)
                    assert "Traceback" not in exc.error.message
                    refused += 1
                    continue
                answered += 1
                if result.is_error:
                    text = " ".join(getattr(block, "text", "") for block in result.content)
                    assert text.strip(), (tool.name, arguments)
                    assert "Traceback" not in text and "errors.pydantic.dev" not in text, text
                    assert "internal error" not in text.lower(), (tool.name, arguments, text)
        # Still serving: a plain call after the barrage works.
        listed = await client.list_tools()
    assert [t.name for t in listed.tools] == [t.name for t in tools]
    assert answered + refused == CALLS_PER_TOOL * len(tools)
    assert server.popen.poll() is None
    assert "Traceback" not in server.stderr()  # nothing unexpected happened behind the answers either
