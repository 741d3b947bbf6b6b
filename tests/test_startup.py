"""Start-up: what `--help` and a starting server import (module sets, not timings: those are in bench/), and a
server whose upstream MCP server never answers still answers its own handshake at once."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from deep_research_mcp.llm.scripted import Scenario, ScriptedLLMServer

from .server.conftest import QUESTION, TOOLS, serve_command, server_env, write_corpus

SILENT_SERVER = Path(__file__).resolve().parent / "tools" / "upstream" / "silent_server.py"
# Packages that cost a fifth of a second to seconds to import; each must come in only when it is used.
HEAVY = {"openai", "anthropic", "mcp", "mcp_types", "aiohttp", "redis", "diskcache", "numpy", "uvicorn", "rich",
         "pydantic", "pydantic_settings"}
GUARD_S = 50.0  # only so a broken server fails the test instead of hanging it; below the upstream's 60 s default


def imported_heavy(script: str, *args: str, env: dict[str, str] | None = None) -> list[list[str]]:
    """Run `script` in a fresh interpreter; each `report()` it calls prints the heavy packages imported so far."""
    prelude = textwrap.dedent(f"""
        import json, sys
        def report():
            print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(HEAVY)!r}))), flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(script), *args], capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("[")]


def test_help_imports_none_of_the_heavy_packages() -> None:
    (seen,) = imported_heavy("""
        from deep_research_mcp.cli import main
        try:
            main(["--help"])
        except SystemExit:
            pass
        report()
    """)
    assert seen == []


def test_the_early_handshake_imports_only_the_standard_library() -> None:
    (seen,) = imported_heavy("""
        import deep_research_mcp.entry, deep_research_mcp.server.handshake
        report()
    """)
    assert seen == []


SERVE = textwrap.dedent("""
    import asyncio
    from deep_research_mcp.server.app import app_lifespan, build_server
    from deep_research_mcp.settings import Settings

    async def serve(settings):
        build_server(settings)
        async with app_lifespan(settings) as state:
            report()  # what the handshake waited for
            await state.engine.opening.wait()
            report()  # and once the research tools are open
""")


def test_an_offline_server_imports_no_provider_sdk_and_no_redis_even_through_a_research(tmp_path: Path) -> None:
    docs = write_corpus(tmp_path / "docs")
    at_handshake, opened, researched = imported_heavy(SERVE + textwrap.dedent("""
        async def serve_and_research(settings):
            await serve(settings)
            build_server(settings)
            async with app_lifespan(settings) as state:
                result = await state.engine.run(sys.argv[2], clarify_first=False)
                assert result.status == "completed", result.status
                report()

        asyncio.run(serve_and_research(Settings(docs_dir=sys.argv[1])))
    """), str(docs), QUESTION, env=server_env(tmp_path / "data", docs))
    assert {"mcp", "pydantic"} <= set(at_handshake)
    assert not {"openai", "anthropic", "redis", "numpy"} & set(opened), opened
    assert not {"openai", "anthropic", "redis"} & set(researched), researched


ONE_PROVIDER = {  # provider: (its SDK, the other's, the settings that point every stage at the scripted server)
    "compatible": ("openai", "anthropic", "research_model='compatible:scripted', compatible_base_url=URL + '/v1'"),
    "anthropic": ("anthropic", "openai",
                  "research_model='anthropic:scripted', anthropic_api_key='sk-test', anthropic_base_url=URL"),
}


@pytest.mark.parametrize("provider", sorted(ONE_PROVIDER))
async def test_a_server_on_one_provider_imports_that_sdk_alone_and_only_when_a_stage_calls_it(
    provider: str, tmp_path: Path
) -> None:
    sdk, other, configured = ONE_PROVIDER[provider]
    script = SERVE + textwrap.dedent(f"""
        from deep_research_mcp.llm.base import Message

        async def serve_and_call(settings):
            build_server(settings)
            async with app_lifespan(settings) as state:
                report()
                await state.engine.opening.wait()
                report()
                answer = await state.engine.models.research.model.complete([Message("user", "hi")])
                assert answer.usage.output_tokens > 0, answer
                report()  # once the stage has been answered through the provider's SDK

        URL = sys.argv[1]
        asyncio.run(serve_and_call(Settings({configured}, fetch_enabled=True)))
    """)
    async with ScriptedLLMServer(Scenario()) as llm:
        at_handshake, opened, called = await asyncio.to_thread(
            imported_heavy, script, llm.url, env=server_env(tmp_path / "data"))
    assert not {"openai", "anthropic"} & set(at_handshake), at_handshake
    # fetch_url is offered, but its HTTP client (aiohttp) is only loaded by the first fetch
    assert not {"openai", "anthropic", "redis", "aiohttp"} & set(opened), opened
    assert sdk in called and other not in called, called


async def test_an_upstream_that_never_answers_does_not_delay_the_handshake(tmp_path: Path) -> None:
    """The upstream gets the server's `initialize` and never replies. The server must answer ours while that
    upstream is still being waited for: its marker says "started" (asked, not yet given up on), not "closed"."""
    marker = tmp_path / "silent.state"
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"silent": {
        "command": sys.executable, "args": [str(SILENT_SERVER), str(marker)], "startupTimeoutSeconds": 60}}}))
    docs = write_corpus(tmp_path / "docs")
    command, *args = serve_command()
    env = server_env(tmp_path / "data", docs, {"DEEP_RESEARCH_MCP_CONFIG": str(config)})
    params = StdioServerParameters(command=command, args=args, env=env)
    async with asyncio.timeout(GUARD_S), Client(params) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        for _ in range(200):  # the upstream is started in the background; give it a moment to be asked
            if marker.exists():
                break
            await asyncio.sleep(0.05)
        state = marker.read_text() if marker.exists() else "not spawned"
    assert tools == TOOLS
    assert state == "started", f"upstream state when the server answered tools/list: {state}"


def test_the_console_script_answers_help_with_every_command() -> None:
    script = Path(sys.executable).with_name("deep-research")
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "serve" in done.stdout and "config" in done.stdout
