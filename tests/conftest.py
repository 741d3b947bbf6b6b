"""Shared fixtures: a clean environment so a developer's keys and settings never leak into tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("DEEP_RESEARCH_") or name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL",
                                                        "ANTHROPIC_BASE_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DEEP_RESEARCH_DATA_DIR", str(tmp_path_factory.mktemp("data")))
    yield
