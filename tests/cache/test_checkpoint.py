"""The cache is the checkpoint: a run killed with SIGKILL, run again, pays only for what it had not finished.

The scripted LLM server runs in its own process so its call counter outlives the research processes; the
research runs through the real `deep-research` console script, as a user would run it.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

QUESTION = "How do tidal power plants store energy?"
# 3 researchers × 2 searches: 16 model calls (brief, 2 supervisor turns, 3 × 3 researcher turns, 3 compressions, the
# report), 8 of them one after another at 0.15 s each: time enough to kill the run in the middle.
SCENARIO = {"topics": 3, "tool_calls_per_researcher": 2, "latency_s": 0.15}
TOTAL_CALLS = 16
KILL_AFTER_CALLS = 6


@pytest.fixture
def scripted_url(tmp_path: Path) -> Iterator[str]:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(SCENARIO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "deep_research_mcp.llm.scripted", "--scenario", str(scenario), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().decode().strip()
        assert url.startswith("http://127.0.0.1:"), "the scripted server did not start"
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i, (title, body) in enumerate([
        ("Tidal lagoons", "Tidal power plants store energy in lagoons behind sea walls, released through turbines."),
        ("Barrages", "A tidal barrage stores energy as a head of water across an estuary, like La Rance."),
        ("Pumped storage", "Some tidal plants pump extra water at high tide to store energy for peak demand."),
        ("Turbines", "Bulb turbines generate power on both the ebb and the flood of the tide."),
        ("Costs", "Tidal energy storage costs are dominated by the civil works of walls and sluices."),
    ]):
        (folder / f"doc{i}.md").write_text(f"# {title}\n\n{body}\n")
    return folder


def server_calls(url: str) -> int:
    with urllib.request.urlopen(url + "/stats", timeout=10) as response:
        return int(json.load(response)["calls"])


def command(out: Path, docs: Path) -> list[str]:
    script = Path(sys.executable).with_name("deep-research")
    return [str(script), "run", QUESTION, "--model", "openai:scripted", "--docs", str(docs), "--no-clarify", "-q",
            "-o", str(out)]


def environment(url: str, data_dir: Path) -> dict[str, str]:
    return {**os.environ, "DEEP_RESEARCH_OPENAI_BASE_URL": url + "/v1", "DEEP_RESEARCH_DATA_DIR": str(data_dir)}


def run(url: str, env: dict[str, str], args: list[str]) -> int:
    """Run to completion; the model calls it made, by the server's count."""
    before = server_calls(url)
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return server_calls(url) - before


def cached_model_answers(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "cache" / "cache.db") as con:
        return int(con.execute("SELECT COUNT(*) FROM Cache WHERE tag = 'llm'").fetchone()[0])


def test_a_killed_run_rerun_pays_only_for_unfinished_calls_and_a_finished_one_for_none(
    scripted_url: str, docs: Path, tmp_path: Path
) -> None:
    env = environment(scripted_url, tmp_path / "data")
    total = TOTAL_CALLS
    start = server_calls(scripted_url)
    victim = subprocess.Popen(command(tmp_path / "killed.md", docs), env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 45
        while server_calls(scripted_url) - start < KILL_AFTER_CALLS and victim.poll() is None:
            assert time.monotonic() < deadline, "the run never got going"
            time.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
    finally:
        victim.wait(timeout=10)
    assert victim.returncode == -signal.SIGKILL and not (tmp_path / "killed.md").exists()
    completed = cached_model_answers(tmp_path / "data")
    assert 0 < completed < total, f"killed with {completed} of {total} calls done: not mid-run"

    resumed = run(scripted_url, env, command(tmp_path / "resumed.md", docs))
    assert resumed == total - completed
    assert cached_model_answers(tmp_path / "data") == total

    warm = run(scripted_url, env, command(tmp_path / "warm.md", docs))
    assert warm == 0
    assert (tmp_path / "warm.md").read_text() == (tmp_path / "resumed.md").read_text()
    assert "## Sources" in (tmp_path / "warm.md").read_text()
