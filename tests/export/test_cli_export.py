"""`deep-research run --format` and `deep-research export`: one real offline run over a small folder, written as
DOCX, then exported again from the run store as JSON and HTML without research; a mismatched -o is refused before
anything runs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from docx import Document

from deep_research_mcp.cli import EXPORT_FORMATS, main
from deep_research_mcp.export import FORMATS
from deep_research_mcp.export.to_json import ExportedReport

from ..server.conftest import FACT, QUESTION, write_corpus


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # reports/ is written under the working folder


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_writes_docx_and_export_rewrites_the_stored_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    docs = write_corpus(tmp_path / "docs")
    code, out, err = run_cli(capsys, "run", QUESTION, "--docs", str(docs), "--format", "docx", "-q", "--json")
    assert code == 0, err
    summary = json.loads(out)
    path = Path(summary["report"])
    assert summary["format"] == "docx" and path == Path("reports") / f"{summary['run_id']}.docx"
    texts = [p.text for p in Document(io.BytesIO(path.read_bytes())).paragraphs]
    assert any(FACT in t for t in texts) and "Sources" in texts

    code, out, err = run_cli(capsys, "export", summary["run_id"], "-o", "out/report.json")
    assert code == 0, err
    assert out.strip() == "out/report.json" and "model calls" not in err  # read from the store, nothing researched
    exported = ExportedReport.model_validate_json(Path("out/report.json").read_bytes())
    assert exported.run_id == summary["run_id"] and FACT in exported.report_markdown
    assert exported.citations.cited == summary["citations"]["cited"] == len(exported.sources) >= 1
    assert exported.usage == summary["usage"]

    code, out, err = run_cli(capsys, "export", summary["run_id"], "--format", "html")
    assert code == 0, err
    assert Path(out.strip()) == Path("reports") / f"{summary['run_id']}.html"
    assert 'href="#src-1"' in Path(out.strip()).read_text()


@pytest.mark.parametrize(("argv", "says"), [
    (["run", "q?", "--docs", ".", "--format", "pdf", "-o", "x.html"], "--format is pdf"),
    (["export", "no-such-run", "--format", "pdf"], "no run 'no-such-run'"),
])
def test_refusals_before_anything_runs(capsys: pytest.CaptureFixture[str], argv: list[str], says: str) -> None:
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and says in err and "Traceback" not in err
    assert not Path("reports").exists()


def test_the_cli_offers_every_export_format() -> None:
    assert EXPORT_FORMATS == FORMATS  # spelled in the CLI so that `--help` imports nothing
