"""Builds the per-stage models from settings, on one pooled HTTP client per provider, and closes them."""

from __future__ import annotations

import asyncio
import importlib
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..services import LimitConfig, Service, ServiceGroup, ServiceRegistry
from ..settings import OFFLINE_MODEL, ServiceSettings, Settings, parse_model_string
from .base import ChatModel, ChatResponse, Message, OutputSchema, ToolSpec
from .client import ModelCaller, RetryPolicy
from .offline import OfflineModel

if TYPE_CHECKING:
    import httpx2
    from pydantic import SecretStr

    from ..cache.core import Cache

# The provider SDKs (anthropic ~2 s, openai ~0.8 s to import) and their adapters are imported only for a provider a
# stage uses, and only when that stage is first called, on a worker thread (see _DeferredModel): a server on one
# provider never pays for the others, and none answers its handshake later for an SDK.
_SDK_MODULES = {"anthropic": ("anthropic", "deep_research_mcp.llm.anthropic_messages"),
                "openai": ("openai", "deep_research_mcp.llm.openai_chat"),
                "compatible": ("openai", "deep_research_mcp.llm.openai_chat")}


def _import_sdk(provider: str) -> None:
    for module in _SDK_MODULES[provider]:
        importlib.import_module(module)

STAGES = ("research", "summarization", "compression", "final_report")


@dataclass(frozen=True, slots=True)
class StageModels:
    research: ModelCaller
    summarization: ModelCaller
    compression: ModelCaller
    final_report: ModelCaller

    def with_meter(self, meter: Any) -> StageModels:
        return StageModels(*(getattr(self, s).with_meter(meter) for s in STAGES))


def check_models_configured(settings: Settings) -> dict[str, str]:
    """The model string of every stage (the offline engine where none is set); ConfigError naming what to set when
    a model's key or server is missing."""
    chosen: dict[str, str] = {}
    for stage in STAGES:
        value = settings.stage_model(stage) or OFFLINE_MODEL
        try:
            provider, _ = parse_model_string(value)
        except ValueError as exc:
            raise ConfigError(f"DEEP_RESEARCH_{stage.upper()}_MODEL: {exc}") from None
        group = settings.services.get(provider)  # type: ignore[call-overload]
        if group is not None and group.endpoints and all(
            e.base_url or (e.api_key and provider != "compatible") for e in group.endpoints
        ):
            pass  # each member of the group says where it is (and with which key)
        elif provider == "openai" and settings.openai_api_key is None and not settings.openai_base_url:
            raise ConfigError(f"{value} needs an API key: set OPENAI_API_KEY")
        elif provider == "anthropic" and settings.anthropic_api_key is None and not settings.anthropic_base_url:
            raise ConfigError(f"{value} needs an API key: set ANTHROPIC_API_KEY")
        elif provider == "compatible" and not settings.compatible_base_url:
            raise ConfigError(
                f"{value} needs a server: set DEEP_RESEARCH_COMPATIBLE_BASE_URL "
                "(e.g. http://localhost:11434/v1 for Ollama)"
            )
        chosen[stage] = value
    return chosen


class ModelHub:
    """Owns one SDK client (and its httpx2 pool) per provider for the life of the process.

    Use as `async with ModelHub(settings, cache=cache) as hub: models = hub.stage_models()`. With a cache (the
    process's, from `open_cache`), every stage's answers are cached; the hub does not own or close it. Each provider
    a stage uses is a service in `services` (the registry given, or a new one), with its own adaptive limit.
    """

    def __init__(
        self, settings: Settings, *, cache: Cache | None = None, services: ServiceRegistry | None = None
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.chosen = check_models_configured(settings)
        self.services = services if services is not None else ServiceRegistry()
        self._stack = AsyncExitStack()
        self._clients: dict[str, Any] = {}
        for value in self.chosen.values():  # built now, so a bad limit is a settings error at start
            provider, _ = parse_model_string(value)
            if provider != "offline":
                self.service(provider)

    async def __aenter__(self) -> ModelHub:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._stack.aclose()
        self._clients.clear()

    def service(self, provider: str) -> Service | ServiceGroup:
        """The service of `provider`'s endpoint from DEEP_RESEARCH_SERVICES (today's defaults where unset), or the
        group of its `endpoints` when it lists some, each member a service with those same limits."""
        existing = self.services.get(provider)
        if existing is not None:
            return existing  # type: ignore[no-any-return]
        endpoints = self._conf(provider).endpoints
        if not endpoints:
            return self.services.add(self._endpoint_service(provider))
        members = [self._endpoint_service(f"{provider}#{i}") for i in range(1, len(endpoints) + 1)]
        return self.services.add(ServiceGroup.of(provider, members))

    def _conf(self, provider: str) -> ServiceSettings:
        return self.settings.services.get(provider) or ServiceSettings()  # type: ignore[call-overload]

    def _endpoint(self, key: str) -> tuple[str, str | None, SecretStr | None]:
        """Provider, base URL and key of an endpoint: a provider's own (`openai`) or a group member's (`openai#2`)."""
        s = self.settings
        provider, _, member = key.partition("#")
        base_url, secret = {"openai": (s.openai_base_url, s.openai_api_key),
                            "anthropic": (s.anthropic_base_url, s.anthropic_api_key),
                            "compatible": (s.compatible_base_url, s.compatible_api_key)}[provider]
        if member:
            endpoint = self._conf(provider).endpoints[int(member) - 1]
            base_url, secret = endpoint.base_url or base_url, endpoint.api_key or secret
        return provider, base_url, secret

    def _endpoint_service(self, key: str) -> Service:
        s = self.settings
        provider, base_url, _ = self._endpoint(key)
        conf = self._conf(provider)
        try:
            limits = LimitConfig(max=conf.max_concurrency or s.http_max_connections, floor=conf.min_concurrency,
                                 initial=conf.initial_concurrency, adaptive=conf.adaptive)
        except ConfigError as exc:
            raise ConfigError(f"DEEP_RESEARCH_SERVICES, {provider}: {exc} (max_concurrency defaults to "
                              "http_max_connections)") from None
        retries = s.max_retries if conf.max_retries is None else conf.max_retries
        return Service(
            key, limits, timeout_s=conf.timeout_s or s.call_timeout_s,
            retry=RetryPolicy(retries, s.retry_base_delay_s, s.structured_retries),
            pool_size=conf.pool_size or s.http_max_connections,
            describe={"kind": "model", "endpoint": base_url or "default"},
        )

    def _http_client(self, service: Service) -> httpx2.AsyncClient:
        import httpx2

        limit = service.pool_size or self.settings.http_max_connections
        return httpx2.AsyncClient(
            limits=httpx2.Limits(max_connections=limit, max_keepalive_connections=limit),
            timeout=httpx2.Timeout(service.timeout_s, connect=10.0),
        )

    def _client(self, key: str) -> Any:
        """The SDK client of an endpoint (see `_endpoint`), one per endpoint for the life of the hub."""
        if key in self._clients:
            return self._clients[key]
        provider, base_url, secret = self._endpoint(key)
        group = self.service(provider)
        service = group if isinstance(group, Service) else next(m.service for m in group.members
                                                                   if m.name == key)
        http = self._http_client(service)
        api_key = secret.get_secret_value() if secret else "unused"
        client: Any
        if provider == "anthropic":
            import anthropic

            client = anthropic.AsyncAnthropic(api_key=api_key, base_url=base_url, http_client=http, max_retries=0)
        else:
            import openai

            kwargs: dict[str, Any] = {"api_key": api_key, "http_client": http, "max_retries": 0}
            if base_url:
                kwargs["base_url"] = base_url
            client = openai.AsyncOpenAI(**kwargs)
        self._stack.push_async_callback(client.close)
        self._clients[key] = client
        return client

    @property
    def offline_only(self) -> bool:
        """True when no stage has a real model: the run is the offline engine's."""
        return all(value.startswith("offline:") for value in self.chosen.values())

    def model(self, model_string: str, endpoint: str | None = None) -> ChatModel:
        """The model for `model_string` (on one member of its group when `endpoint` names it); a provider's is
        built (its SDK imported) when first called."""
        provider, name = parse_model_string(model_string)
        if provider == "offline":
            return OfflineModel()
        return _DeferredModel(self, provider, name, endpoint or provider)

    async def build_model(self, provider: str, name: str, endpoint: str | None = None) -> ChatModel:
        """The adapter for a provider model, its SDK imported on a worker thread so the event loop never stalls
        (Python's import lock makes concurrent first calls safe)."""
        if not any(key.partition("#")[0] == provider for key in self._clients):
            await asyncio.to_thread(_import_sdk, provider)
        return self._adapter(provider, name, endpoint or provider)

    def _adapter(self, provider: str, name: str, endpoint: str) -> ChatModel:
        client = self._client(endpoint)
        if provider == "anthropic":
            from .anthropic_messages import AnthropicModel

            return AnthropicModel(client, name)
        from .openai_chat import OpenAIChatModel

        return OpenAIChatModel(client, name, provider=provider, structured_mode=self.settings.structured_output)

    def endpoint(self, model_string: str) -> str | None:
        """The base URL serving `model_string` when it is not the provider's default, else None."""
        return self._base_url(parse_model_string(model_string)[0])

    def _base_url(self, provider: str) -> str | None:
        s = self.settings
        return {"openai": s.openai_base_url, "anthropic": s.anthropic_base_url,
                "compatible": s.compatible_base_url}.get(provider)

    def cache_identity(self, model_string: str) -> str:
        service = self._service_of(model_string)
        if isinstance(service, ServiceGroup):
            return f"{model_string}@group:{service.name}"  # any member's answer is the group's
        endpoint = self.endpoint(model_string)
        return f"{model_string}@{endpoint.rstrip('/')}" if endpoint else model_string

    def stage_models(self) -> StageModels:
        s = self.settings
        retry = RetryPolicy(s.max_retries, s.retry_base_delay_s, s.structured_retries)
        callers = {
            stage: ModelCaller(
                model=self.model(value),
                name=value,
                context_window=s.context_window(value),
                timeout_s=service.timeout_s if (service := self._service_of(value)) else s.call_timeout_s,
                retry=service.retry if service else retry,
                service=service,
                members={m.name: self.model(value, m.name) for m in service.members}
                if isinstance(service, ServiceGroup) else {},
                fallback=OfflineModel() if s.offline_fallback and not value.startswith("offline:") else None,
                fallback_name=OFFLINE_MODEL,
                cache=self.cache,
                cache_identity=self.cache_identity(value),
                default_max_tokens=s.max_output_tokens,
            )
            for stage, value in self.chosen.items()
        }
        return StageModels(**callers)


    def _service_of(self, model_string: str) -> Service | ServiceGroup | None:
        provider, _ = parse_model_string(model_string)
        return None if provider == "offline" else self.service(provider)


class _DeferredModel:
    """A provider model that is built on its first call (see `ModelHub.build_model`)."""

    def __init__(self, hub: ModelHub, provider: str, name: str, endpoint: str) -> None:
        self.provider = provider
        self.model = name
        self._hub = hub
        self._endpoint = endpoint
        self._built: ChatModel | None = None

    async def complete(
        self,
        messages: list[Message],
        *,
        tools: list[ToolSpec] | None = None,
        output: OutputSchema | None = None,
        max_tokens: int | None = None,
        timeout: float | None = None,
    ) -> ChatResponse:
        if self._built is None:
            self._built = await self._hub.build_model(self.provider, self.model, self._endpoint)
        return await self._built.complete(messages, tools=tools, output=output, max_tokens=max_tokens,
                                          timeout=timeout)
