"""Redis killed under a running server: tools and resources answer where the run store is and why it failed; once
Redis is back, the same server works again without a restart."""

from __future__ import annotations

from pathlib import Path

from mcp.client import Client
from mcp.shared.exceptions import MCPError

from deep_research_mcp.server.app import build_server
from deep_research_mcp.settings import Settings

from ..redis_server import start_redis


async def test_research_start_and_runs_say_the_store_is_unreachable(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tides.md").write_text("# Tides\n\nTidal lagoons store energy behind a wall at high tide.\n")
    redis = start_redis(tmp_path)
    try:
        settings = Settings(docs_dir=docs, data_dir=tmp_path / "data", fetch_enabled=False,
                            cache_redis_url=redis.url, cache_enabled=False)
        async with Client(build_server(settings)) as client:
            first = await client.call_tool("research", {"question": "How do tidal lagoons store energy?"})
            assert not first.is_error, first.content
            redis.stop()
            started = await client.call_tool("research_start", {"question": "How do tidal lagoons store energy?"})
            try:
                await client.read_resource("research://runs")
                listed = ""
            except MCPError as exc:
                listed = str(exc)
            status = await client.call_tool("research_status", {"run_id": "no-such-run"})

            redis = start_redis(tmp_path, redis.port)  # back, empty (no persistence), where the server looks
            again = await client.call_tool("research", {"question": "How do tidal lagoons store energy?"})
            runs = await client.read_resource("research://runs")
    finally:
        redis.stop()
    assert not again.is_error, again.content
    assert "behind a wall" in str(again.structured_content)
    assert again.structured_content["run_id"] in str(runs.contents[0])
    text = " ".join(getattr(b, "text", "") for b in started.content)
    assert started.is_error
    for said in (text, listed, " ".join(getattr(b, "text", "") for b in status.content)):
        assert f"the run store at {redis.url} is unreachable" in said, said
        assert said.rstrip(". ").split("is unreachable: ")[1], said  # and why
