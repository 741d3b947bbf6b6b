"""`deep-research index DIR`: builds and updates the index, says what it did, refuses a missing or empty folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deep_research_mcp.cli import main
from deep_research_mcp.tools.localdocs import DocumentIndex, default_index_path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_index_builds_then_updates(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(5):
        (docs / f"note{n}.md").write_text(f"# Note {n}\n\nAbout geothermal wells, part {n}.")
    (docs / "blob.txt").write_bytes(b"\x00binary")
    db = tmp_path / "idx" / "docs.sqlite"

    code, out, err = run_cli(capsys, "index", str(docs), "--db", str(db))
    assert code == 0, err
    assert out.strip() == str(db)
    assert "indexed 5 files, 0 unchanged, 0 removed, 1 skipped (1 binary" in err and "files/s" in err

    (docs / "note0.md").unlink()
    code, out, err = run_cli(capsys, "index", str(docs), "--db", str(db), "-q")
    assert code == 0 and "indexed 0 files, 4 unchanged, 1 removed" in err
    with DocumentIndex(db) as index:
        assert index.search("geothermal", k=10)[0].title.startswith("Note")


def test_index_defaults_to_the_data_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.rst").write_text("Title\n=====\n\nbody")
    code, out, err = run_cli(capsys, "index", str(docs))
    assert code == 0, err
    expected = default_index_path(Path(os.environ["DEEP_RESEARCH_DATA_DIR"]), docs)
    assert out.strip() == str(expected) and expected.is_file()


def test_index_refuses_missing_and_empty_folders(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run_cli(capsys, "index", str(tmp_path / "nope"), "--db", str(tmp_path / "x.sqlite"))
    assert code == 2 and "does not exist" in err and not out and "Traceback" not in err
    (tmp_path / "empty").mkdir()
    code, out, err = run_cli(capsys, "index", str(tmp_path / "empty"), "--db", str(tmp_path / "x.sqlite"))
    assert code == 2 and "no documents" in err and not out
