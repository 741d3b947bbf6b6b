"""Auth settings that look configured but are not, JWT lifetimes, and the prompt's required argument."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError

from deep_research_mcp.errors import ConfigError
from deep_research_mcp.server.app import build_server
from deep_research_mcp.server.serve import BearerVerifier, auth_configured, serve_http
from deep_research_mcp.settings import Settings

SECRET = "auth-limits-test-secret-at-least-32-bytes"
URL = "http://127.0.0.1:8000/mcp"


@pytest.mark.parametrize("blank", ["", "   "])
async def test_a_blank_auth_token_is_no_auth(blank: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEP_RESEARCH_AUTH_TOKEN", blank)
    monkeypatch.setenv("DEEP_RESEARCH_AUTH_JWT_SECRET", blank)
    settings = Settings()
    assert not auth_configured(settings)
    with pytest.raises(ConfigError, match="DEEP_RESEARCH_AUTH_TOKEN"):  # so beyond loopback it refuses to start
        await serve_http(settings, host="0.0.0.0", port=0)
    assert await BearerVerifier(settings, URL).verify_token("") is None


def token(exp: int) -> str:
    return jwt.encode({"sub": "t", "aud": URL, "exp": exp}, SECRET, algorithm="HS256")


async def test_jwt_lifetime_is_capped() -> None:
    verifier = BearerVerifier(Settings(auth_jwt_secret=SECRET, auth_jwt_max_lifetime_s=3600), URL)
    now = int(time.time())
    assert await verifier.verify_token(token(now + 600)) is not None
    assert await verifier.verify_token(token(now + 7200)) is None
    assert await verifier.verify_token(token(2**62)) is None


async def test_the_prompt_without_its_question_is_a_clear_invalid_params_error(tmp_path: Path) -> None:
    async with Client(build_server(Settings(data_dir=tmp_path, fetch_enabled=False))) as client:
        listed = (await client.list_prompts()).prompts
        errors = []
        for arguments in ({}, {"question": "  "}):
            with pytest.raises(MCPError) as caught:
                await client.get_prompt("deep_research", arguments)
            errors.append(caught.value)
        prompt = await client.get_prompt("deep_research", {"question": "tides"})
    assert listed[0].arguments is not None and listed[0].arguments[0].required
    for error in errors:
        assert error.code == -32602 and "question" in error.message and "Internal" not in error.message
    assert "tides" in prompt.messages[0].content.text
