"""Real third-party MCP servers as upstreams: `mcp-server-fetch` (PyPI) and `@modelcontextprotocol/server-filesystem`
(npm, installed into .ci/npm by .ci/npm-tools.sh). Both only ever touch 127.0.0.1 and a tmp dir."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deep_research_mcp.errors import ToolCallError
from deep_research_mcp.tools.upstream import StdioServerConfig

from ..conftest import PageServer
from .conftest import ManagerFactory, by_name

ROOT = Path(__file__).resolve().parents[3]
NPM_TOOLS = ROOT / ".ci" / "npm-tools.sh"
FILESYSTEM_SERVER = ROOT / ".ci" / "npm" / "node_modules" / "@modelcontextprotocol" / "server-filesystem" / "dist" \
    / "index.js"
FETCH_SERVER = Path(sys.executable).with_name("mcp-server-fetch")
PAGE = """<html><head><title>Tidal notes</title></head><body><article>
<h1>Tidal notes</h1><p>Tidal lagoons store energy behind a sea wall and release it through turbines.</p>
<p>See also <a href="https://elsewhere.test/flywheels">flywheels</a>.</p></article></body></html>"""


@pytest.fixture
async def page_url(serve_pages: PageServer) -> str:
    return await serve_pages({"/tidal": PAGE}) + "/tidal"


async def test_mcp_server_fetch_reads_a_local_page(make_manager: ManagerFactory, page_url: str) -> None:
    if not FETCH_SERVER.exists():
        pytest.skip("mcp-server-fetch is not installed in this environment (it is a dev dependency)")
    # PATH holds only the venv: with node on PATH, readabilipy runs `npm install` on first use and hangs offline.
    config = StdioServerConfig(command=str(FETCH_SERVER), args=["--allow-private-ips"],
                               env={"PATH": str(FETCH_SERVER.parent)}, timeoutSeconds=20)
    manager = make_manager({"fetch": config})
    tools = by_name(await manager.tools())
    assert "fetch__fetch" in tools and "url" in tools["fetch__fetch"].parameters["properties"]
    result = await tools["fetch__fetch"].call({"url": page_url})
    [doc] = result.documents
    assert doc.locator == page_url and doc.title == "Tidal notes"
    assert "store energy behind a sea wall" in doc.content
    # fetch answers an unknown tool with a JSON-RPC error rather than an isError result; both are tool failures.
    with pytest.raises(ToolCallError, match="fetch/no_such_tool failed"):
        await manager.sessions["fetch"].call_tool("no_such_tool", {})


@pytest.fixture(scope="session")
def filesystem_server() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm are not installed, so @modelcontextprotocol/server-filesystem cannot run")
    if not FILESYSTEM_SERVER.exists():
        done = subprocess.run([str(NPM_TOOLS)], capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0 or not FILESYSTEM_SERVER.exists():
            pytest.fail(f"{NPM_TOOLS} could not install the filesystem server:\n{done.stdout}{done.stderr}")
    return FILESYSTEM_SERVER


async def test_npm_filesystem_server_lists_and_reads(
    make_manager: ManagerFactory, filesystem_server: Path, tmp_path: Path
) -> None:
    root = tmp_path.resolve()
    (root / "tidal.md").write_text("# Tidal\nLagoons store energy.\n")
    (root / "flywheels.md").write_text("# Flywheels\nRotors store energy.\n")
    config = StdioServerConfig(command="node", args=[str(filesystem_server), str(root)],
                               allowTools=["read_*", "list_*"], denyTools=["read_media_file"])
    manager = make_manager({"files": config})
    tools = by_name(await manager.tools())
    assert "files__read_text_file" in tools and "files__list_directory" in tools
    assert not any(name.startswith(("files__write", "files__edit", "files__move")) for name in tools)
    assert "files__read_media_file" not in tools

    listing = await tools["files__list_directory"].call({"path": str(root)})
    assert "tidal.md" in listing.documents[0].content and "flywheels.md" in listing.documents[0].content

    read = await tools["files__read_text_file"].call({"path": str(root / "tidal.md")})
    [doc] = read.documents
    assert doc.content == "# Tidal\nLagoons store energy.\n" and doc.title == "Tidal"
    assert doc.locator == 'mcp://files/read_text_file?{"path":"%s"}' % (root / "tidal.md")

    with pytest.raises(ToolCallError, match="files/read_text_file returned an error"):
        await tools["files__read_text_file"].call({"path": "/etc/passwd"})  # outside the allowed directory


async def test_npm_filesystem_server_offers_only_read_only_tools_unless_the_entry_allows_writes(
    make_manager: ManagerFactory, filesystem_server: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # No allowTools: what keeps write_file, edit_file and move_file (annotated destructive / not read-only) away from
    # researchers is their annotations alone.
    root = tmp_path.resolve()
    plain = StdioServerConfig(command="node", args=[str(filesystem_server), str(root)])
    writing = StdioServerConfig(command="node", args=[str(filesystem_server), str(root)], allowWrite=True)
    offered = by_name(await make_manager({"files": plain}).tools())
    opted_in = by_name(await make_manager({"files": writing}).tools())
    writers = {"files__write_file", "files__edit_file", "files__move_file", "files__create_directory"}
    assert "files__read_text_file" in offered and "files__list_directory" in offered
    assert not writers & set(offered)
    assert writers <= set(opted_in)
    assert "write_file" in caplog.text and '"allowWrite": true' in caplog.text
