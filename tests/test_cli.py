"""The `deep-research` command: exit codes, messages that name what to set, and a real run through the script."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from deep_research_mcp.cli import main

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI writes reports/ under the working folder by default: make that a temporary one."""
    monkeypatch.chdir(tmp_path)


def runs_dir() -> Path:
    return Path(os.environ["DEEP_RESEARCH_DATA_DIR"]) / "runs"


def stored_records() -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in runs_dir().glob("*.json")] if runs_dir().is_dir() else []


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_no_model_and_no_documents_says_what_to_pass(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "run", "What is FTS5?")
    assert code == 2 and "--docs" in err and "DEEP_RESEARCH_RESEARCH_MODEL" in err and "Traceback" not in err


def test_no_model_runs_the_offline_engine_over_docs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_path = tmp_path / "offline.md"
    code, out, err = run_cli(capsys, "run", "How does the engine keep citations honest?", "--docs", str(DOCS),
                             "-o", str(out_path), "--json")
    assert code == 0, err
    assert "using the offline engine" in err and "DEEP_RESEARCH_RESEARCH_MODEL" in err
    report = out_path.read_text()
    assert report.startswith("# ") and "## Sources" in report and "citations.md" in report
    assert json.loads(out)["usage"]["by_stage"]["report"]["calls"] == 1


def test_length_is_kept_for_resume_and_a_wrong_one_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # How much each length quotes is tested on the offline writer (tests/llm/offline: "shorter", "longer"); these
    # docs are too small for a standard report to run out of room.
    code, _, err = run_cli(capsys, "run", "How does the engine keep citations honest?", "--docs", str(DOCS),
                           "-o", str(tmp_path / "long.md"), "--length", "long")
    assert code == 0, err
    assert [r["options"]["length"] for r in stored_records()] == ["long"]
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "Tides?", "--docs", str(DOCS), "--length", "medium"])
    assert exit_info.value.code == 2 and "invalid choice: 'medium'" in capsys.readouterr().err


def test_missing_key_names_the_variable(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "run", "What is FTS5?", "--model", "anthropic:claude-sonnet-4-5")
    assert code == 2 and "ANTHROPIC_API_KEY" in err


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        (["--model", "gpt-4.1"], "research_model"),
        (["--model", "google:gemini"], "unknown provider"),
        (["--model", "openai:x", "--concurrency", "0"], "max_concurrent_research_units"),
        (["--model", "openai:x", "--max-tool-calls", "-2"], "max_tool_calls"),
    ],
)
def test_bad_settings_exit_2_naming_the_field(capsys: pytest.CaptureFixture[str], flags: list[str], field: str) -> None:
    code, _, err = run_cli(capsys, "run", "q?", *flags)
    assert code == 2 and field in err and "Traceback" not in err


def test_empty_question_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "run", "   ", "--scripted", "-q")
    assert code == 2 and "question" in err


def test_missing_docs_folder_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "run", "q?", "--scripted", "--docs", str(tmp_path / "nope"))
    assert code == 2 and "does not exist" in err


def test_scripted_run_over_docs_writes_a_cited_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_path = tmp_path / "out" / "report.md"
    code, out, err = run_cli(
        capsys, "run", "How are citations checked?", "--scripted", "--no-clarify", "--docs", str(DOCS),
        "-o", str(out_path), "--json",
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["report"] == str(out_path) and summary["citations"]["cited"] > 0
    assert summary["claims"] and all(c["verdict"] in ("supported", "weak", "unsupported") for c in summary["claims"])
    assert summary["claim_summary"]["checked"] == len(summary["claims"])
    assert summary["timeline"]["totals"]["model_calls"] > 0 and summary["timeline"]["floor_s"] > 0  # monitor/
    report = out_path.read_text()
    assert summary["claim_summary"]["line"] in report and "claim check:" in err
    assert "## Sources" in report and "docs/" in report
    assert "researching" in err and "report:" in err
    assert not [p for p in out_path.parent.iterdir() if p.name.startswith(".")]  # no temp file left behind


def test_question_needing_clarification_exits_3_without_a_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({"needs_clarification": True}))
    out_path = tmp_path / "r.md"
    code, _, err = run_cli(capsys, "run", "Tell me about it", "--scripted", str(scenario), "-o", str(out_path), "-q")
    assert code == 3 and "clarifying" in err and not out_path.exists()


def test_refused_connection_exits_1_with_the_cause(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async def free_port() -> int:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        return port

    port = asyncio.run(free_port())
    monkeypatch.setenv("DEEP_RESEARCH_MAX_RETRIES", "0")
    out_path = tmp_path / "r.md"
    code, _, err = run_cli(capsys, "run", "q?", "--model", "compatible:llama", "--base-url",
                           f"http://127.0.0.1:{port}/v1", "-o", str(out_path), "-q")
    assert code == 1 and "cannot reach" in err and "Traceback" not in err and not out_path.exists()


def test_console_script_runs_end_to_end(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("deep-research")
    out_path = tmp_path / "report.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEP_RESEARCH_")}
    done = subprocess.run(
        [str(script), "run", "What does the write phase do?", "--docs", str(DOCS), "--scripted", "--no-clarify",
         "-o", str(out_path)],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out_path)
    assert out_path.read_text().startswith("# ")
    # Without DEEP_RESEARCH_DATA_DIR it uses XDG_DATA_HOME, which the test environment points into tmp.
    assert list((Path(os.environ["XDG_DATA_HOME"]) / "deep-research-mcp" / "runs").glob("*.json"))


def test_empty_docs_folder_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    code, _, err = run_cli(capsys, "run", "q?", "--scripted", "--docs", str(tmp_path), "-q")
    assert code == 2 and "no documents to index" in err


def test_resume_reruns_a_stored_run_with_its_question_and_options(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tides.md").write_text("# Tides\n\nTidal lagoons store energy behind a wall at high tide.\n")
    code, out, err = run_cli(capsys, "run", "How do tidal lagoons store energy?", "--docs", str(docs), "-q",
                             "--max-tool-calls", "3", "--json", "-o", str(tmp_path / "first.md"))
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    record = json.loads((Path(os.environ["DEEP_RESEARCH_DATA_DIR"]) / "runs" / f"{run_id}.json").read_text())
    assert record["status"] == "completed" and record["options"]["max_tool_calls"] == 3

    code, out, err = run_cli(capsys, "run", "--resume", run_id, "--json", "-o", str(tmp_path / "again.md"))
    assert code == 0, err
    assert json.loads(out)["run_id"] == run_id and "resuming run" in err
    assert (tmp_path / "again.md").read_text() == (tmp_path / "first.md").read_text()

    (tmp_path / "first.md").unlink()
    code, out, err = run_cli(capsys, "run", "--resume", run_id, "-q")  # no -o: where the first run wrote it
    assert code == 0 and out.strip() == str(tmp_path / "first.md"), err
    assert (tmp_path / "first.md").is_file()

    code, _, err = run_cli(capsys, "run", "--resume", run_id, "Another question?")
    assert code == 2 and "--resume" in err and "own question" in err


def test_skipped_files_are_counted(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tides.md").write_text("# Tides\n\nTidal lagoons store energy behind a wall at high tide.\n")
    (docs / "blob.md").write_bytes(b"\x00\x01binary\x00" * 100)
    code, _, err = run_cli(capsys, "run", "How do tidal lagoons store energy?", "--docs", str(docs))
    assert code == 0, err
    assert f"skipped in {docs}: 1 binary" in err


def test_resume_of_an_unknown_run_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "run", "--resume", "no-such-run")
    assert code == 2 and "no run 'no-such-run'" in err


@pytest.mark.parametrize("where", ["folder", "under a file"])
def test_an_unwritable_report_path_is_refused_before_research(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, where: str
) -> None:
    (tmp_path / "a-file").write_text("x")
    target = tmp_path if where == "folder" else tmp_path / "a-file" / "report.md"
    code, _, err = run_cli(capsys, "run", "How are citations checked?", "--docs", str(DOCS), "-o", str(target))
    assert code == 2 and "-o" in err and "Traceback" not in err, err
    assert ("is a folder" if where == "folder" else "is a file, not a folder") in err
    assert stored_records() == []


def test_a_report_that_cannot_be_written_leaves_the_run_failed_not_completed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def read_only(path: Path, data: object, **_: object) -> None:  # what a read-only file system answers
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr("deep_research_mcp.files.write_atomically", read_only)
    code, _, err = run_cli(capsys, "run", "How are citations checked?", "--docs", str(DOCS), "-q",
                           "-o", str(tmp_path / "r.md"))
    assert code == 2 and "Read-only file system" in err and "--resume" in err and "Traceback" not in err
    [record] = stored_records()
    assert record["status"] == "failed" and "could not be written" in str(record["error"])


@pytest.mark.parametrize("argv", [["run", "   ", "--scripted", "-q"], ["run", "q?", "--docs", "/no/such/folder"],
                                  ["run", "q?"]])
def test_input_errors_leave_no_run_record(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _, _ = run_cli(capsys, *argv)
    assert code == 2 and stored_records() == []


def test_reports_get_the_usual_file_mode(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        code, _, err = run_cli(capsys, "run", "How are citations checked?", "--docs", str(DOCS), "-q",
                               "-o", str(tmp_path / "r.md"))
    finally:
        os.umask(previous)
    assert code == 0, err
    assert stat.S_IMODE((tmp_path / "r.md").stat().st_mode) == 0o644
    assert stat.S_IMODE(next(runs_dir().glob("*.json")).stat().st_mode) == 0o600  # records stay private


def test_serve_with_no_model_and_no_documents_refuses_to_start(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "serve")
    assert code == 2 and out == "" and "DEEP_RESEARCH_DOCS_DIR" in err and "--docs" in err
