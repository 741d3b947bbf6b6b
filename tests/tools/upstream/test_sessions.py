"""Our search server as an upstream over stdio and streamable HTTP: sharing, limits, failures, reconnects."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time

import pytest

from deep_research_mcp.errors import ToolCallError
from deep_research_mcp.tools.base import ResearchTool, ToolResult
from deep_research_mcp.tools.upstream import HttpServerConfig, StdioServerConfig, UpstreamSession, UpstreamTool

from .conftest import HttpSearchServer, ManagerFactory, by_name, stdio_config

RESEARCHERS = 5
CALLS_PER_RESEARCHER = 20


async def researchers_calling(tool: ResearchTool, query: str) -> list[ToolResult]:
    """5 researchers x 20 calls, interleaved: each researcher is a task making its calls one after another."""
    results: list[ToolResult] = []

    async def researcher(i: int) -> None:
        for j in range(CALLS_PER_RESEARCHER):
            results.append(await tool.call({"query": f"{query} {i} {j}"}))

    async with asyncio.TaskGroup() as tg:
        for i in range(RESEARCHERS):
            tg.create_task(researcher(i))
    return results


async def test_stdio_tools_are_namespaced_with_upstream_schemas(make_manager: ManagerFactory) -> None:
    manager = make_manager({"corpus": stdio_config()})
    assert manager.sessions_opened == 0  # lazy: nothing runs until first use
    tools = by_name(await manager.tools())
    assert {"corpus__search", "corpus__read", "corpus__fail"} <= set(tools)
    search = tools["corpus__search"]
    assert isinstance(search, UpstreamTool) and search.upstream_name == "search"
    assert search.description.startswith("[corpus] Search the corpus")
    assert search.parameters["properties"]["query"]["type"] == "string" and search.parameters["required"] == ["query"]
    assert manager.sessions_opened == 1


async def test_allow_and_deny_lists(make_manager: ManagerFactory) -> None:
    manager = make_manager({"corpus": stdio_config(allowTools=["search*", "read"], denyTools=["search_links"])})
    assert sorted(by_name(await manager.tools())) == ["corpus__read", "corpus__search"]


async def test_result_shapes_over_stdio(make_manager: ManagerFactory) -> None:
    manager = make_manager({"corpus": stdio_config(maxResultChars=500)})
    tools = by_name(await manager.tools())

    structured = await tools["corpus__search"].call({"query": "tidal energy", "k": 2})
    assert [d.locator for d in structured.documents] == ["https://corpus.test/tidal-lagoons",
                                                         "https://corpus.test/pumped-hydro"]
    assert structured.documents[0].title == "Tidal lagoons" and "sea wall" in structured.documents[0].content

    links = await tools["corpus__search_links"].call({"query": "flywheels"})
    assert [(d.locator, d.title) for d in links.documents] == [("https://corpus.test/flywheels", "Flywheels")]

    embedded = await tools["corpus__read"].call({"url": "https://corpus.test/batteries"})
    assert [(d.locator, d.title) for d in embedded.documents] == [("https://corpus.test/batteries", "Grid batteries")]

    plain = await tools["corpus__plain"].call({"query": "flywheels"})
    assert [d.locator for d in plain.documents] == ["https://corpus.test/flywheels"]
    nothing = await tools["corpus__plain"].call({"query": "zeppelins"})
    assert [(d.locator, d.title) for d in nothing.documents] == [('mcp://corpus/plain?{"query":"zeppelins"}',
                                                                  "corpus plain")]

    binary = await tools["corpus__chart"].call({})
    assert [d.content for d in binary.documents] == ["Storage capacity by type."]
    assert "Skipped an image (image/png)" in binary.text and "binary resource" in binary.text

    capped = await tools["corpus__big"].call({"chars": 5_000})
    assert len(capped.documents[0].content) < 600 and "kept the first 500" in capped.text


async def test_upstream_errors_and_timeouts_are_tool_call_errors_and_the_session_survives(
    make_manager: ManagerFactory,
) -> None:
    manager = make_manager({"corpus": stdio_config(timeoutSeconds=0.5)})
    tools = by_name(await manager.tools())
    with pytest.raises(ToolCallError, match=r"corpus/fail returned an error: .*disk on fire"):
        await tools["corpus__fail"].call({"message": "disk on fire"})
    started = time.perf_counter()
    with pytest.raises(ToolCallError, match=r"corpus/slow did not answer within 0.5 s"):
        await tools["corpus__slow"].call({"seconds": 5})
    assert time.perf_counter() - started < 2.0
    assert (await manager.sessions["corpus"].call_tool("no_such_tool", {})).is_error
    assert (await tools["corpus__search"].call({"query": "flywheels"})).documents
    assert manager.sessions_opened == 1


async def test_100_calls_from_5_researchers_share_one_stdio_session(make_manager: ManagerFactory) -> None:
    manager = make_manager({"corpus": stdio_config()})
    tools = by_name(await manager.tools())
    results = await researchers_calling(tools["corpus__search"], "tidal")
    assert len(results) == RESEARCHERS * CALLS_PER_RESEARCHER and all(r.documents for r in results)
    assert manager.sessions_opened == 1


async def test_concurrent_first_users_share_one_open() -> None:
    session = UpstreamSession("corpus", stdio_config())
    try:
        async with asyncio.TaskGroup() as tg:
            calls = [tg.create_task(session.call_tool("search", {"query": "tidal"})) for _ in range(10)]
        assert all(not call.result().is_error for call in calls)
        assert session.opened == 1
    finally:
        await session.close()


async def test_max_concurrency_bounds_calls_in_flight() -> None:
    session = UpstreamSession("corpus", stdio_config(maxConcurrency=1))
    try:
        await session.list_tools()  # open first, so the timing below is the calls alone
        started = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for _ in range(3):
                tg.create_task(session.call_tool("slow", {"seconds": 0.2}))
        assert time.perf_counter() - started >= 0.6  # one at a time
    finally:
        await session.close()


async def test_killed_upstream_is_reopened_exactly_once(make_manager: ManagerFactory) -> None:
    manager = make_manager({"corpus": stdio_config()})
    tools = by_name(await manager.tools())
    pid = int((await tools["corpus__pid"].call({})).documents[0].content)

    async def in_flight() -> ToolResult | ToolCallError:
        try:
            return await tools["corpus__slow"].call({"seconds": 0.3})
        except ToolCallError as exc:
            return exc

    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(in_flight())
        await asyncio.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    # The in-flight call may fail or be retried on the new session; either is fine, hanging is not.
    assert isinstance(task.result(), ToolResult | ToolCallError)
    after = await tools["corpus__search"].call({"query": "flywheels"})
    assert after.documents[0].locator == "https://corpus.test/flywheels"
    new_pid = int((await tools["corpus__pid"].call({})).documents[0].content)
    assert new_pid != pid and manager.sessions_opened == 2


async def test_reconnect_is_tried_once_per_call() -> None:
    # retryUnsafe: `crash` is not marked safe to repeat, and repeating it is what this test is about.
    session = UpstreamSession("corpus", stdio_config(retryUnsafe=True))
    try:
        # `crash` kills the server every time: the first session dies, the one reopen dies, then the call gives up.
        with pytest.raises(ToolCallError, match="corpus/crash failed"):
            await session.call_tool("crash", {})
        assert session.opened == 2
        assert not (await session.call_tool("search", {"query": "tidal"})).is_error
        assert session.opened == 3
    finally:
        await session.close()


async def test_tool_list_is_refetched_only_after_list_changed(make_manager: ManagerFactory) -> None:
    # allowWrite: add_tool and the tool it adds carry no annotations, so only an opted-in server offers them.
    manager = make_manager({"corpus": stdio_config(allowWrite=True)})
    session = manager.sessions["corpus"]
    first = by_name(await manager.tools())
    await manager.tools()
    assert session.tool_list_fetches == 1 and "corpus__extra" not in first
    await first["corpus__add_tool"].call({})
    for _ in range(100):  # the notice travels on its own stream; give it a moment
        if session.tools_stale:
            break
        await asyncio.sleep(0.02)
    tools = by_name(await manager.tools())
    assert session.tool_list_fetches == 2
    assert (await tools["corpus__extra"].call({"query": "q"})).documents[0].content == "extra answer for q"


async def test_unreachable_servers_are_reported_not_fatal(make_manager: ManagerFactory) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    manager = make_manager({
        "corpus": stdio_config(),
        "missing": stdio_config(command="/nonexistent/mcp-server"),
        "down": HttpServerConfig(url=f"http://127.0.0.1:{port}/mcp", timeoutSeconds=5),
    })
    tools = by_name(await manager.tools())
    assert tools and all(name.startswith("corpus__") for name in tools)
    assert set(manager.errors) == {"missing", "down"} and "nonexistent" in manager.errors["missing"]
    with pytest.raises(ToolCallError, match="could not connect to upstream MCP server 'missing'"):
        await manager.sessions["missing"].call_tool("search", {"query": "x"})


async def test_a_server_that_never_answers_the_handshake_fails_within_the_startup_timeout(
    make_manager: ManagerFactory,
) -> None:
    # `cat` reads our handshake and never answers; it exits when we close its stdin, so teardown is quick.
    silent = StdioServerConfig(command="sh", args=["-c", "cat > /dev/null"], startupTimeoutSeconds=0.5)
    manager = make_manager({"silent": silent})
    started = time.perf_counter()
    assert await manager.tools() == []
    assert "did not start and answer the handshake within 0.5 s" in manager.errors["silent"]
    assert time.perf_counter() - started < 5.0
    with pytest.raises(ToolCallError, match="could not connect to upstream MCP server 'silent'"):
        await manager.sessions["silent"].call_tool("search", {})
    assert manager.sessions_opened == 0


async def test_calls_after_close_fail_cleanly(make_manager: ManagerFactory) -> None:
    manager = make_manager({"corpus": stdio_config()})
    tools = by_name(await manager.tools())
    await manager.close()
    with pytest.raises(ToolCallError, match="shut down"):
        await tools["corpus__search"].call({"query": "tidal"})


async def test_streamable_http_upstream(make_manager: ManagerFactory, http_url: str) -> None:
    manager = make_manager({"web": HttpServerConfig(url=http_url, headers={"X-Research": "${ROLE}"})})
    # ${VAR} expansion happens at load time, so a config built in code carries the literal text.
    tools = by_name(await manager.tools())
    assert {"web__search", "web__read"} <= set(tools)
    header = await tools["web__header"].call({"name": "X-Research"})
    assert header.documents[0].content == "${ROLE}"
    results = await researchers_calling(tools["web__search"], "flywheels")
    assert all(r.documents[0].locator == "https://corpus.test/flywheels" for r in results)
    assert manager.sessions_opened == 1
    with pytest.raises(ToolCallError, match="web/fail returned an error"):
        await tools["web__fail"].call({"message": "nope"})


async def test_an_answer_over_the_cap_fails_the_call_and_the_session_goes_on(
    make_manager: ManagerFactory, http_url: str
) -> None:
    manager = make_manager({"web": HttpServerConfig(url=http_url, maxResponseBytes=50_000)})
    tools = by_name(await manager.tools())
    small = await tools["web__big"].call({"chars": 10_000})
    assert len(small.documents[0].content) == 10_000
    # The answer announces its length, so it is refused before a byte of its body is read.
    with pytest.raises(ToolCallError, match=r"the answer is [\d,]+ bytes, over maxResponseBytes \(50000 bytes\)"):
        await tools["web__big"].call({"chars": 60_000})
    again = await tools["web__big"].call({"chars": 20_000})
    assert len(again.documents[0].content) == 20_000 and manager.sessions_opened == 1


async def test_a_chunked_answer_is_read_only_up_to_the_cap(make_manager: ManagerFactory) -> None:
    # Without a Content-Length the size is learnt only by reading: the read stops at the cap, not at the end.
    server = HttpSearchServer("--chunked")
    server.start()
    try:
        manager = make_manager({"web": HttpServerConfig(url=server.url, maxResponseBytes=50_000)})
        tools = by_name(await manager.tools())
        with pytest.raises(ToolCallError, match=r"the answer is over maxResponseBytes \(50000 bytes\)"):
            await tools["web__big"].call({"chars": 60_000})
        again = await tools["web__big"].call({"chars": 20_000})
        assert len(again.documents[0].content) == 20_000 and manager.sessions_opened == 1
    finally:
        server.stop()


async def test_streamable_http_list_changed(make_manager: ManagerFactory, http_url: str) -> None:
    manager = make_manager({"web": HttpServerConfig(url=http_url, allowWrite=True)})  # add_tool is unannotated
    session = manager.sessions["web"]
    tools = by_name(await manager.tools())
    await tools["web__add_tool"].call({})
    for _ in range(100):
        if session.tools_stale:
            break
        await asyncio.sleep(0.02)
    assert "web__extra" in by_name(await manager.tools())


async def test_restarted_http_upstream_is_used_again(
    make_manager: ManagerFactory, http_server: HttpSearchServer
) -> None:
    manager = make_manager({"web": HttpServerConfig(url=http_server.url)})
    tools = by_name(await manager.tools())
    assert (await tools["web__search"].call({"query": "tidal"})).documents
    http_server.restart()
    # A 2025-era server forgets our session id (we reopen once); a 2026-era one is sessionless (nothing to reopen).
    assert (await tools["web__search"].call({"query": "flywheels"})).documents[0].title == "Flywheels"
    assert manager.sessions_opened in (1, 2)
