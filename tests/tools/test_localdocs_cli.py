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


def test_index_takes_include_and_exclude_globs_and_says_what_it_skipped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "html"
    (docs / "ref").mkdir(parents=True)
    (docs / "_static").mkdir()
    (docs / "ref" / "a.html").write_text("<title>A</title><p>weir</p>")
    (docs / "ref" / "b.html").write_text("<title>B</title><p>weir</p>")
    (docs / "notes.md").write_text("# Notes\n\nweir")
    (docs / "genindex.html").write_text("<p>weir</p>")
    (docs / "_static" / "x.css").write_text("p {}")
    monkeypatch.setenv("DEEP_RESEARCH_DOCS_EXCLUDE", '["notes.md"]')
    db = tmp_path / "idx.sqlite"
    code, _, err = run_cli(capsys, "index", str(docs), "--db", str(db), "--exclude", "ref/b.html", "-q")
    assert code == 0, err
    assert ("indexed 1 files, 0 unchanged, 0 removed, 4 skipped (2 generated (Sphinx _sources/, _static/, _images/, "
            "_modules/, genindex, search and module-index pages; Debian's changelog and copyright files; --include to "
            "keep), 2 excluded by --include/--exclude)") in err
    code, _, err = run_cli(capsys, "index", str(docs), "--db", str(db), "--include", "ref/**", "-q")
    assert code == 0 and "indexed 1 files, 1 unchanged, 0 removed, 3 skipped (3 excluded" in err  # b.html is back
    code, out, err = run_cli(capsys, "index", str(docs), "--db", str(db), "--include", "nothing/**")
    assert code == 2 and not out
    assert "none of them a document: 5 excluded by --include/--exclude" in " ".join(err.split())


def test_run_takes_the_same_globs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "releases").mkdir(parents=True)
    (docs / "tides.md").write_text("# Tides\n\nTidal lagoons store energy behind a wall at high tide.\n")
    (docs / "releases" / "old.md").write_text("# Old\n\nTidal lagoons were first proposed long ago.\n")
    code, _, err = run_cli(capsys, "run", "How do tidal lagoons store energy?", "--docs", str(docs),
                           "--exclude", "releases/", "-o", str(tmp_path / "report.md"))
    assert code == 0, err
    assert f"skipped in {docs}: 1 excluded by --include/--exclude" in " ".join(err.split())
    assert "releases" not in (tmp_path / "report.md").read_text()
