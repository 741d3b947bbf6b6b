"""What the published artefacts promise, checked without building them (.ci/package.sh builds, installs and runs
them): server.json against the registry's rules and the package's version, the .mcpb manifest, the package data,
and `deep-research-mcp`, the command named after the package that hosts start bare."""

from __future__ import annotations

import copy
import json
import re
import runpy
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from deep_research_mcp.cli import main
from deep_research_mcp.entry import as_server_args

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
SERVER_JSON = json.loads((ROOT / "server.json").read_text(encoding="utf-8"))
SCHEMA = json.loads((ROOT / "packaging" / "server-json-2025-12-11.schema.json").read_text(encoding="utf-8"))
MANIFEST = json.loads((ROOT / "packaging" / "mcpb" / "manifest.json").read_text(encoding="utf-8"))


def server_main(argv: list[str]) -> int:
    """`deep-research-mcp` as entry.server_main runs it, minus the early stdio handshake (which would read this
    process's stdin: pytest-xdist's channel)."""
    return main(as_server_args(argv))


def schema_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_server_json_is_valid_for_the_registry() -> None:
    assert schema_errors(SERVER_JSON) == []


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d["packages"][0].update(version="latest"), "packages/0/version"),
    (lambda d: d["packages"][0].update(version=">=0.1"), "packages/0/version"),
    (lambda d: d["packages"][0].pop("version"), "packages/0"),
    (lambda d: d.update(description="x" * 101), "description"),
    (lambda d: d.update(name="deep-research-mcp"), "name"),
    (lambda d: d["packages"][0].update(transport={"type": "carrier-pigeon"}), "packages/0/transport/type"),
])
def test_the_schema_refuses_what_the_registry_refuses(change: Any, field: str) -> None:
    broken = copy.deepcopy(SERVER_JSON)
    change(broken)
    assert any(error.startswith(f"{field}:") for error in schema_errors(broken)), schema_errors(broken)


def test_server_json_describes_this_package() -> None:
    (package,) = SERVER_JSON["packages"]
    assert SERVER_JSON["version"] == package["version"] == PROJECT["version"]
    assert package["registryType"] == "pypi" and package["identifier"] == PROJECT["name"]
    assert package["transport"] == {"type": "stdio"}
    names = {variable["name"] for variable in package["environmentVariables"]}
    assert {"DEEP_RESEARCH_DOCS_DIR", "DEEP_RESEARCH_RESEARCH_MODEL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"} <= names
    secret = {v["name"] for v in package["environmentVariables"] if v.get("isSecret")}
    assert secret == {name for name in names if name.endswith("_API_KEY")}


def test_readme_proves_ownership_for_the_registry() -> None:
    """The registry accepts a PyPI package only when its description (the README) names the server.json entry."""
    readme = (ROOT / PROJECT["readme"]).read_text(encoding="utf-8")
    assert re.findall(r"mcp-name: (\S+)", readme) == [SERVER_JSON["name"]]


def test_the_image_label_names_the_registry_entry() -> None:
    """The registry ties an OCI image to its server.json entry by this label."""
    containerfile = (ROOT / "Containerfile").read_text(encoding="utf-8")
    assert re.findall(r'io\.modelcontextprotocol\.server\.name="([^"]+)"', containerfile) == [SERVER_JSON["name"]]


def test_the_bundle_manifest_matches_the_package() -> None:
    server = MANIFEST["server"]
    assert MANIFEST["manifest_version"] == "0.4" and server["type"] == "uv"
    assert MANIFEST["version"] == PROJECT["version"] and MANIFEST["name"] == PROJECT["name"]
    assert (ROOT / "packaging" / "mcpb" / server["entry_point"]).is_file()
    # Every ${user_config.X} the server's environment uses is one the user is asked for, and the reverse.
    used = set(re.findall(r"\$\{user_config\.(\w+)\}", json.dumps(server["mcp_config"])))
    assert used == set(MANIFEST["user_config"])
    assert {option["type"] for option in MANIFEST["user_config"].values()} <= {"string", "directory"}
    assert {t["name"] for t in MANIFEST["tools"]} >= {"research", "research_result", "write"}


def test_bundle_entry_point_treats_blank_settings_as_unset(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A host passes an optional setting left blank as "": kept, DEEP_RESEARCH_DOCS_DIR="" would research the
    current folder. Dropped, the server says there is nothing to research with."""
    for name in ("DEEP_RESEARCH_DOCS_DIR", "DEEP_RESEARCH_RESEARCH_MODEL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.setenv(name, "")
    with pytest.raises(SystemExit) as stopped:
        runpy.run_path(str(ROOT / "packaging" / "mcpb" / "server" / "main.py"), run_name="__main__")
    assert stopped.value.code == 2
    assert "DEEP_RESEARCH_DOCS_DIR" in capsys.readouterr().err


def test_package_data_covers_every_file_the_package_reads() -> None:
    """A non-Python file under src/ that no package-data pattern names would be missing from the wheel."""
    package = ROOT / "src" / "deep_research_mcp"
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["deep_research_mcp"]
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    data = {p for p in package.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")
            and "__pycache__" not in p.parts}
    assert data - shipped == set()


def test_console_scripts() -> None:
    assert PROJECT["scripts"] == {"deep-research": "deep_research_mcp.entry:main",
                                  "deep-research-mcp": "deep_research_mcp.entry:server_main"}


def test_bare_command_serves(capsys: pytest.CaptureFixture[str]) -> None:
    """Bare, it is `serve` (stdio): with nothing to research with, serve's own refusal, before any protocol."""
    assert server_main([]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "DEEP_RESEARCH_DOCS_DIR (or --docs)" in err


def test_flags_alone_are_serves(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert server_main(["--docs", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_command_passes_through(capsys: pytest.CaptureFixture[str]) -> None:
    assert server_main(["config", "plain", "--name", "x"]) == 0
    assert "x" in json.loads(capsys.readouterr().out)["mcpServers"]


def test_transport_from_the_environment_selects_http(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """DEEP_RESEARCH_TRANSPORT=http is --http (the container's switch): HTTP's own check refuses a public host
    without auth, which stdio never would."""
    monkeypatch.setenv("DEEP_RESEARCH_TRANSPORT", "http")
    monkeypatch.setenv("DEEP_RESEARCH_HTTP_HOST", "0.0.0.0")
    assert server_main(["--docs", str(tmp_path)]) == 2
    assert "refusing to listen on 0.0.0.0 without authentication" in capsys.readouterr().err


def test_help_is_the_whole_cli(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        server_main(["--help"])
    out = capsys.readouterr().out
    assert stopped.value.code == 0 and all(command in out for command in ("run", "serve", "index"))
