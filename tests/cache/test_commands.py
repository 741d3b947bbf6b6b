"""`deep-research run --no-cache`, `deep-research cache stats` and `deep-research cache clear`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deep_research_mcp.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs"


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def stats(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, dict[str, object]]]:
    code, out, _ = cli(capsys, "cache", "stats", "--json")
    assert code == 0
    return json.loads(out)["levels"]  # type: ignore[no-any-return]


def research(capsys: pytest.CaptureFixture[str], tmp_path: Path, *extra: str) -> str:
    code, _, err = cli(capsys, "run", "How are citations checked?", "--scripted", "--no-clarify", "--docs",
                       str(DOCS), "-q", "-o", str(tmp_path / "r.md"), *extra)
    assert code == 0, err
    return err


def test_runs_fill_the_cache_unless_told_not_to_and_the_commands_show_and_clear_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert stats(capsys) == {"disk": {}}
    research(capsys, tmp_path, "--no-cache")
    assert stats(capsys) == {"disk": {}}
    research(capsys, tmp_path)
    levels = stats(capsys)
    assert levels["disk"]["llm"]["entries"] == levels["disk"]["llm"]["counters"]["writes"] > 0  # type: ignore[index]
    assert levels["memory"]["llm"]["counters"]["misses"] > 0  # type: ignore[index]
    code, out, _ = cli(capsys, "cache", "stats")
    assert code == 0 and "llm" in out and "entries" in out
    code, _, err = cli(capsys, "cache", "clear", "--namespace", "llm")
    assert code == 0 and "cleared namespace llm" in err
    assert stats(capsys)["disk"]["llm"]["entries"] == 0
    assert cli(capsys, "cache", "clear")[0] == 0
    assert stats(capsys) == {"disk": {}}
