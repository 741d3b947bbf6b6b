"""Settings, read once at the entry point (CLI or server) and passed down; nothing here runs at import time.

Environment variables use the prefix `DEEP_RESEARCH_` (e.g. `DEEP_RESEARCH_RESEARCH_MODEL=openai:gpt-4.1`); the
provider keys also honour their standard names, `OPENAI_API_KEY` and `ANTHROPIC_API_KEY`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from .files import default_data_dir

PROVIDERS = ("openai", "anthropic", "compatible", "offline")
OFFLINE_MODEL = "offline:extractive"

# USD per million tokens (input, output). A small table for the budget; override with DEEP_RESEARCH_PRICES.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "openai:gpt-4.1": (2.0, 8.0),
    "openai:gpt-4.1-mini": (0.4, 1.6),
    "openai:gpt-4.1-nano": (0.1, 0.4),
    "openai:gpt-4o": (2.5, 10.0),
    "openai:gpt-4o-mini": (0.15, 0.6),
    "anthropic:claude-sonnet-4-5": (3.0, 15.0),
    "anthropic:claude-opus-4-1": (15.0, 75.0),
    "anthropic:claude-haiku-4-5": (1.0, 5.0),
}

# Context windows in tokens, used to cut the findings before the report call when the provider does not say.
DEFAULT_CONTEXT_WINDOWS: dict[str, int] = {
    "openai:gpt-4.1": 1_047_576,
    "openai:gpt-4.1-mini": 1_047_576,
    "openai:gpt-4.1-nano": 1_047_576,
    "openai:gpt-4o": 128_000,
    "openai:gpt-4o-mini": 128_000,
    "anthropic:claude-sonnet-4-5": 200_000,
    "anthropic:claude-opus-4-1": 200_000,
    "anthropic:claude-haiku-4-5": 200_000,
}
FALLBACK_CONTEXT_WINDOW = 32_000


DAY_S = 86_400.0
CACHE_TTL_S = {"llm": 30 * DAY_S, "tool": DAY_S, "page": DAY_S, "summary": 30 * DAY_S}


class CacheNamespace(BaseModel):
    """One cache namespace's switch and lifetime (e.g. DEEP_RESEARCH_CACHE_PAGE__TTL_S=3600)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    ttl_s: PositiveFloat | None = None  # None: kept until evicted or cleared


class EndpointSettings(BaseModel):
    """One member of a model group: another server or key for the same model (see ServiceSettings.endpoints)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = None  # None: the provider's own (several keys for one provider)
    api_key: SecretStr | None = None  # None: the provider's key from its usual setting


class ServiceSettings(BaseModel):
    """How one provider's endpoint is called, keyed by provider in DEEP_RESEARCH_SERVICES (JSON), e.g.
    '{"openai": {"max_concurrency": 16, "min_concurrency": 2}}', or one field at a time:
    DEEP_RESEARCH_SERVICES__OPENAI__MAX_CONCURRENCY=16. Unset fields keep today's defaults."""

    model_config = ConfigDict(extra="forbid")

    max_concurrency: PositiveInt | None = None  # the most calls in flight; default http_max_connections
    min_concurrency: PositiveInt = 1  # the floor the adaptive limit never goes below
    initial_concurrency: PositiveInt | None = None  # where the adaptive limit starts; default the maximum
    adaptive: bool = True  # false: a fixed limit of max_concurrency
    timeout_s: PositiveFloat | None = None  # one call; default call_timeout_s
    max_retries: int | None = Field(default=None, ge=0, le=10)  # default max_retries
    pool_size: PositiveInt | None = None  # HTTP connections; default http_max_connections
    # Two or more: a group balanced by latency and load, each member with its own limit and circuit breaker.
    endpoints: list[EndpointSettings] = Field(default_factory=list)

    @model_validator(mode="after")
    def _floor_within_max(self) -> ServiceSettings:
        top = self.max_concurrency
        if top is not None and self.min_concurrency > top:
            raise ValueError(f"min_concurrency ({self.min_concurrency}) is above max_concurrency ({top})")
        if self.initial_concurrency is not None and not (
            self.min_concurrency <= self.initial_concurrency <= (top or self.initial_concurrency)
        ):
            raise ValueError(f"initial_concurrency ({self.initial_concurrency}) is outside min_concurrency.."
                             "max_concurrency")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DEEP_RESEARCH_", env_nested_delimiter="__", extra="ignore", populate_by_name=True
    )

    # Per-stage models as "provider:model". Unset stages use research_model; with none set, the offline engine
    # ("offline:extractive") does every stage with no key and no network.
    research_model: str | None = None
    summarization_model: str | None = None
    compression_model: str | None = None
    final_report_model: str | None = None

    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DEEP_RESEARCH_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    anthropic_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DEEP_RESEARCH_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY")
    )
    openai_base_url: str | None = None
    anthropic_base_url: str | None = None
    # The "compatible" provider: any OpenAI-compatible server (Ollama, vLLM, LM Studio, OpenRouter).
    compatible_base_url: str | None = None
    compatible_api_key: SecretStr | None = None

    max_concurrent_research_units: PositiveInt = 5
    max_supervisor_iterations: PositiveInt = 6
    max_tool_calls: PositiveInt = 10  # per researcher
    allow_clarification: bool = True
    offline_fallback: bool = True  # a step whose model fails for good mid-run is done by the offline engine
    call_timeout_s: PositiveFloat = 120.0  # one model call
    researcher_timeout_s: PositiveFloat = 900.0  # one researcher, tools and compression included
    tool_timeout_s: PositiveFloat = 60.0
    max_retries: int = Field(default=3, ge=0, le=10)  # per model call, on 429/5xx/timeouts/connection errors
    retry_base_delay_s: float = Field(default=0.5, ge=0, le=60)  # exponential backoff base when no Retry-After
    structured_retries: int = Field(default=2, ge=0, le=5)  # extra tries when a model's JSON does not parse
    report_truncation_retries: int = Field(default=3, ge=0, le=10)
    max_report_tokens: PositiveInt = 8_000
    summarize_over_chars: PositiveInt = 8_000  # longer retrieved documents are summarized before researchers read them
    summarization_timeout_s: PositiveFloat = 60.0  # then an extractive summary stands in
    max_concurrent_summaries: PositiveInt = 8
    max_question_chars: PositiveInt = 20_000
    # A cited sentence its source does not support: marked "⚠ unsupported" after its citation, removed, or kept.
    unsupported_claims: Literal["mark", "remove", "keep"] = "mark"
    # With unsupported sentences, the report model gets one turn to correct or delete them (a model call; off by
    # default).
    revise_unsupported_claims: bool = False
    # Source text kept per run for the claim check: per source and per run (a page over its room keeps the passages
    # the researcher was shown, not its head), and how much of it the run record keeps for a `write` rewrite.
    claim_text_chars_per_source: PositiveInt = 250_000
    claim_text_chars_per_run: PositiveInt = 4_000_000
    claim_text_chars_stored: int = Field(default=1_000_000, ge=0)
    # "model": the report model (when it is not the offline engine) judges the sentences the lexical check left weak
    # or unsupported, seeing the cited passages; its verdict and reason replace the lexical one (a model call).
    claim_judge: Literal["off", "model"] = "off"

    max_run_tokens: PositiveInt | None = None
    max_run_cost_usd: PositiveFloat | None = None
    prices: dict[str, tuple[float, float]] = Field(default_factory=lambda: dict(DEFAULT_PRICES))
    context_windows: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_CONTEXT_WINDOWS))

    # Upstream MCP servers used as research tools: a host-style {"mcpServers": {...}} file (see README).
    mcp_config: Path | None = None

    http_max_connections: PositiveInt = 50
    # Per provider endpoint: concurrency limits (adaptive), timeouts, retries, pool size, endpoint groups.
    services: dict[Literal["openai", "anthropic", "compatible"], ServiceSettings] = Field(default_factory=dict)
    http_max_connections_per_host: PositiveInt = 8
    http_dns_cache_ttl_s: PositiveInt = 60

    # fetch_url: on unless switched off; refuses private, loopback and link-local addresses unless allowed here
    # (networks such as "10.1.0.0/16" or host names such as "wiki.corp", "*.corp"; JSON list in the environment).
    fetch_enabled: bool = True
    fetch_allow: list[str] = Field(default_factory=list)
    fetch_timeout_s: PositiveFloat = 20.0
    fetch_max_redirects: int = Field(default=5, ge=0, le=20)
    fetch_max_bytes: PositiveInt = 5_000_000
    fetch_max_decompressed_bytes: PositiveInt = 10_000_000
    fetch_max_chars: PositiveInt = 50_000
    data_dir: Path = Field(default_factory=default_data_dir)

    # The cache: L1 in memory, L2 on disk (cache_dir, default <data_dir>/cache), L3 Redis when cache_redis_url is
    # set. It is also the checkpoint: rerunning a question with the same settings replays what was already paid for.
    cache_enabled: bool = True
    cache_dir: Path | None = None
    cache_memory_max_bytes: PositiveInt = 64 * 1024 * 1024
    cache_disk_max_bytes: PositiveInt = 2 * 1024**3
    # SQLite's page cache and memory map of the disk level, each at most this (diskcache's own: 32 MiB and 64 MiB),
    # which a long-lived server's RSS otherwise grows into as the database grows.
    cache_disk_memory_max_bytes: PositiveInt = 16 * 1024 * 1024
    cache_redis_url: SecretStr | None = None  # redis://[:password@]host:port/db; SecretStr since it may hold a password
    cache_redis_timeout_s: PositiveFloat = 0.25  # a slow Redis is a miss, not a stall
    # Model answers and summaries are keyed by their full inputs, so they stay true; searches and pages go stale.
    cache_llm: CacheNamespace = Field(default_factory=lambda: CacheNamespace(ttl_s=CACHE_TTL_S["llm"]))
    cache_tool: CacheNamespace = Field(default_factory=lambda: CacheNamespace(ttl_s=CACHE_TTL_S["tool"]))
    cache_page: CacheNamespace = Field(default_factory=lambda: CacheNamespace(ttl_s=CACHE_TTL_S["page"]))
    cache_summary: CacheNamespace = Field(default_factory=lambda: CacheNamespace(ttl_s=CACHE_TTL_S["summary"]))

    # The MCP server (`deep-research serve`). Local documents it researches, like `run --docs`.
    docs_dir: Path | None = None
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    # What `serve` speaks without --http: a container image sets "http" by environment, its command unchanged.
    transport: Literal["stdio", "http"] = "stdio"
    # Bearer auth for streamable HTTP: a static token, and/or HS256 JWTs signed with `auth_jwt_secret` whose `aud`
    # must equal `auth_audience` (default: the server's own URL). Required to listen beyond loopback.
    auth_token: SecretStr | None = None
    auth_jwt_secret: SecretStr | None = None
    auth_audience: str | None = None
    public_url: str | None = None  # how clients reach the server, e.g. https://research.example.com/mcp
    allowed_origins: list[str] = Field(default_factory=list)  # browser Origins allowed besides loopback ones
    runs_dir: Path | None = None  # run store on disk (default <data dir>/runs); Redis instead when redis_url is set
    max_concurrent_runs: PositiveInt = 2
    # Performance monitor (monitor/): per-service metrics and each run's timeline, at most this many calls kept.
    monitor_enabled: bool = True
    timeline_max_spans: PositiveInt = 1_000
    # OpenTelemetry traces go here (OTLP over HTTP, e.g. http://127.0.0.1:4318/v1/traces) when set and the SDK
    # (opentelemetry-sdk, opentelemetry-exporter-otlp-proto-http) is installed; nothing is imported otherwise.
    otlp_endpoint: str | None = None
    progress_interval_s: float = Field(default=2.0, gt=0, le=5)  # progress notifications during `research`
    task_poll_interval_ms: int = Field(default=2_000, ge=100, le=60_000)
    task_ttl_ms: int = Field(default=7 * 24 * 3600 * 1000, ge=60_000)
    # Streamable HTTP sessions. At a limit the longest-idle session is closed for a newcomer (see
    # server/http_sessions.py); an idle session (no request in flight, no open stream) ends after the timeout.
    # About 40 KB each while idle, so the defaults bound sessions to ~10 MB.
    http_max_sessions: PositiveInt = 256
    http_max_sessions_per_client: PositiveInt = 32  # per credential (bearer token subject); unauthenticated: global
    http_session_idle_timeout_s: PositiveFloat = 900.0
    http_max_request_bytes: PositiveInt = 1024 * 1024  # one JSON-RPC message; a question is at most 20,000 chars
    http_max_open_connections: PositiveInt = 512  # beyond it uvicorn answers 503 at once
    # Bearer JWTs must expire within this many seconds of now (a token minted with a far exp is refused).
    auth_jwt_max_lifetime_s: PositiveInt = 24 * 3600
    # Which files under the documents folder are indexed: globs over paths relative to it, as JSON lists
    # (DEEP_RESEARCH_DOCS_EXCLUDE='["releases/", "*.txt"]'); `--include`/`--exclude` add to them. Builder noise
    # (Sphinx _sources/, _static/, genindex, search pages) is skipped unless an include names it.
    docs_include: list[str] = Field(default_factory=list)
    docs_exclude: list[str] = Field(default_factory=list)
    # How long `research`, `research_result` and `write` wait for a run before returning it still running (with its
    # id, phase and findings so far): under the ~60 s after which hosts (Claude Desktop, MCP Inspector, mcpc) give up.
    research_wait_s: float = Field(default=45.0, ge=0, le=600)
    # How OpenAI-wire models are asked for JSON: "auto" negotiates per endpoint (json_schema, then json_object with
    # the schema, then a forced tool call, then the schema in the prompt); any other value pins that mode.
    structured_output: Literal["auto", "json_schema", "json_object", "tool", "prompt"] = "auto"
    # A cap on every model answer that sets none of its own (supervisor, researcher, compression): a small local
    # model can loop until its context is full, minutes per call on a CPU. None: the provider's default.
    max_output_tokens: PositiveInt | None = None

    # Distributed runs (docs/workers.md): with a queue, `serve --http` enqueues each run and `deep-research worker`
    # processes (on any machine) run them. redis://[:password@]host:port/db; the run store and the cache's Redis
    # level use the same Redis unless DEEP_RESEARCH_CACHE_REDIS_URL says otherwise.
    queue_url: SecretStr | None = None
    queue_name: str = Field(default="deep-research", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    worker_concurrency: PositiveInt = 2  # runs at once per worker process
    # A run whose worker has been silent this long (killed, frozen, cut off) goes back to the queue; workers look
    # for such runs every sweep interval. Redelivery takes at most about heartbeat + sweep + 1 s.
    queue_heartbeat_s: int = Field(default=15, ge=2, le=3600)
    queue_sweep_interval_s: int = Field(default=5, ge=1, le=600)
    queue_max_attempts: PositiveInt = 3  # deliveries of one run before it is given up as failed
    # Runs waiting for a worker beyond which research_start answers "busy, retry after N s". None: no limit.
    queue_max_length: PositiveInt | None = None
    queue_retry_after_s: PositiveInt = 30

    @field_validator("research_model", "summarization_model", "compression_model", "final_report_model")
    @classmethod
    def _model_string(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parse_model_string(value)
        return value.strip()

    @field_validator("auth_token", "auth_jwt_secret", "queue_url")
    @classmethod
    def _blank_secret_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        # DEEP_RESEARCH_AUTH_TOKEN="" means no token, not a token that is the empty string.
        return value if value is not None and value.get_secret_value().strip() else None

    @field_validator("cache_llm", "cache_tool", "cache_page", "cache_summary", mode="before")
    @classmethod
    def _namespace_defaults(cls, value: object, info: ValidationInfo) -> object:
        # Setting one part (DEEP_RESEARCH_CACHE_LLM__ENABLED=false) keeps the namespace's default lifetime.
        if isinstance(value, dict) and "ttl_s" not in value:
            return {"ttl_s": CACHE_TTL_S[str(info.field_name).removeprefix("cache_")], **value}
        return value

    def stage_model(self, stage: str) -> str | None:
        """The model string for a stage ('research', 'summarization', 'compression', 'final_report')."""
        return getattr(self, f"{stage}_model") or self.research_model

    def cache_path(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else self.data_dir / "cache"

    @property
    def runs_path(self) -> Path:
        """The disk run store's folder: runs_dir, default <data_dir>/runs."""
        return self.runs_dir if self.runs_dir is not None else self.data_dir / "runs"

    def context_window(self, model: str) -> int:
        if model.startswith("offline:"):
            return 10**9  # extractive: it reads whatever it is given
        return self.context_windows.get(model, FALLBACK_CONTEXT_WINDOW)


def parse_model_string(value: str) -> tuple[str, str]:
    """Split "provider:model"; raise ValueError (pydantic turns it into a field error) when malformed."""
    provider, sep, model = value.strip().partition(":")
    if not sep or not provider or not model.strip():
        raise ValueError(f"model must look like 'provider:model' (e.g. 'openai:gpt-4.1'), got {value!r}")
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r} in {value!r}; known providers: {', '.join(PROVIDERS)}")
    return provider, model.strip()
