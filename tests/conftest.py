"""Shared fixtures: a clean environment so a developer's keys and settings never leak into tests, and a home of
their own so nothing a test (or a subprocess that drops every DEEP_RESEARCH_* variable) writes lands outside tmp."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def nothing_written_into_the_checkout() -> Iterator[None]:
    """Fails the session if a test left files in the checkout's reports/ (the CLI's default report folder)."""
    reports = CHECKOUT / "reports"
    before = set(reports.iterdir()) if reports.is_dir() else set()
    yield
    after = set(reports.iterdir()) if reports.is_dir() else set()
    assert after <= before, f"tests wrote into the checkout: {sorted(map(str, after - before))}"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("DEEP_RESEARCH_") or name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL",
                                                        "ANTHROPIC_BASE_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DEEP_RESEARCH_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for name, folder in (("XDG_DATA_HOME", ".local/share"), ("XDG_CACHE_HOME", ".cache"),
                         ("XDG_CONFIG_HOME", ".config"), ("XDG_STATE_HOME", ".local/state")):
        monkeypatch.setenv(name, str(home / folder))
    yield
