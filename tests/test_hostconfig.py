"""`deep-research config <host>`: printed entries with absolute paths that start the server from any folder, and
`--write` merging into a host's file (other servers kept, backup written, a broken file refused untouched)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from deep_research_mcp.cli import EXIT_OK, EXIT_USAGE, build_parser, main
from deep_research_mcp.errors import ConfigError
from deep_research_mcp.hostconfig import HOSTS, ServerEntry, default_config_path, merge_into_file

from .server.conftest import TOOLS, write_corpus

DEADLINE_S = 60.0


def printed(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(["config", *argv]) == EXIT_OK
    return json.loads(capsys.readouterr().out)


def test_every_host_gets_absolute_paths_in_its_own_shape(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_corpus(tmp_path / "docs")
    monkeypatch.chdir(tmp_path)
    for host in HOSTS:
        config = printed(capsys, host, "--docs", "docs", "--env", "OPENAI_API_KEY=sk-x=y",
                         "--env", "DEEP_RESEARCH_MCP_CONFIG=search.json")
        top = "servers" if host == "vscode" else "mcpServers"
        assert list(config) == [top]
        entry = config[top]["deep-research"]
        assert entry.get("type") == ("stdio" if host in ("vscode", "claude-code") else None)
        assert Path(entry["command"]).is_absolute() and Path(entry["command"]).is_file()
        assert entry["env"] == {"OPENAI_API_KEY": "sk-x=y",
                                "DEEP_RESEARCH_MCP_CONFIG": str((tmp_path / "search.json").resolve())}
        args = build_parser().parse_args(entry["args"])
        assert args.command == "serve" and args.docs == (tmp_path / "docs").resolve()
    module_form = printed(capsys, "plain", "--python")["mcpServers"]["deep-research"]
    assert module_form["args"][:3] == ["-m", "deep_research_mcp", "serve"]


def test_bad_arguments_are_one_line_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["config", "plain", "--env", "NOVALUE"]) == EXIT_USAGE
    assert main(["config", "plain", "--docs", str(tmp_path / "missing")]) == EXIT_USAGE
    assert main(["config", "plain", "--write"]) == EXIT_USAGE  # plain has no default file
    err = capsys.readouterr().err
    assert "KEY=VALUE" in err and "not a folder" in err and "--file" in err


async def test_the_printed_entry_starts_the_server_from_another_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    docs = write_corpus(tmp_path / "docs")
    elsewhere = tmp_path / "host-cwd"
    elsewhere.mkdir()
    for module in (False, True):
        argv = ["cursor", "--docs", str(docs), "--env", f"DEEP_RESEARCH_DATA_DIR={tmp_path / 'data'}"]
        entry = printed(capsys, *argv, *(["--python"] if module else []))["mcpServers"]["deep-research"]
        params = StdioServerParameters(command=entry["command"], args=entry["args"], env=entry["env"], cwd=elsewhere)
        async with asyncio.timeout(DEADLINE_S), Client(params) as client:
            assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS


def test_write_merges_keeping_other_servers_and_a_backup(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir()
    original = {"globalShortcut": "Ctrl+Space",
                "mcpServers": {"fetch": {"command": "uvx", "args": ["mcp-server-fetch"]},
                               "deep-research": {"command": "old", "args": []}}}
    path.write_text(json.dumps(original))
    assert main(["config", "claude-desktop", "--file", str(path)]) == EXIT_OK
    merged = json.loads(path.read_text())
    assert merged["globalShortcut"] == "Ctrl+Space"
    assert merged["mcpServers"]["fetch"] == original["mcpServers"]["fetch"]
    assert merged["mcpServers"]["deep-research"]["args"] == ["serve"]
    (backup,) = path.parent.glob("claude_desktop_config.json.*.bak")
    assert json.loads(backup.read_text()) == original
    assert capsys.readouterr().out.strip() == str(path)


def test_write_creates_a_missing_file_and_backups_never_overwrite_each_other(tmp_path: Path) -> None:
    path = tmp_path / ".vscode" / "mcp.json"
    entry = ServerEntry(command="/abs/deep-research", args=["serve"], type="stdio")
    now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert merge_into_file(path, "vscode", entry, now=now) is None
    assert json.loads(path.read_text()) == {"servers": {"deep-research": entry.as_json()}}
    first = merge_into_file(path, "vscode", entry, name="second", now=now)
    second = merge_into_file(path, "vscode", entry, name="third", now=now)
    assert first is not None and second is not None and first != second
    assert set(json.loads(path.read_text())["servers"]) == {"deep-research", "second", "third"}


@pytest.mark.parametrize("content", ['{"mcpServers": {"a": 1},}', "// comment\n{}", "[1, 2]",
                                     '{"mcpServers": ["x"]}'])
def test_a_file_that_cannot_be_merged_is_refused_untouched(tmp_path: Path, content: str) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match="nothing was written"):
        merge_into_file(path, "cursor", ServerEntry(command="/x", args=["serve"]))
    assert path.read_text() == content
    assert list(tmp_path.iterdir()) == [path]  # no backup either


def test_default_paths_per_host_and_os(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert default_config_path("claude-desktop", platform="darwin", home=home) == (
        home / "Library/Application Support/Claude/claude_desktop_config.json")
    assert default_config_path("claude-desktop", platform="win32", home=home, environ={"APPDATA": "C:/Roaming"}) == (
        Path("C:/Roaming/Claude/claude_desktop_config.json"))
    assert default_config_path("vscode", platform="linux", home=home, environ={}) == home / ".config/Code/User/mcp.json"
    assert default_config_path("cursor", platform="linux", home=home) == home / ".cursor/mcp.json"
    assert default_config_path("claude-code", cwd=tmp_path) == tmp_path / ".mcp.json"
    assert default_config_path("plain") is None
