"""Services: every model endpoint and upstream MCP server, with its own limits, timeouts and retry policy.

    registry = ServiceRegistry()                       # built at the entry point, passed down
    service = registry.add(Service("openai", LimitConfig(max=50), timeout_s=120))
    async with service.slot():                         # queue for a slot; the outcome adapts the limit
        ...
    registry.snapshot()                                # {name: {limit, in_flight, queued, paused_until, ...}}

`limit` is the adaptive (AIMD) limit, `limiter` the queue and pause around it, `service` a service and the
registry, `retry` the retry policy callers follow, `balance` a group of equivalent services (peak-EWMA choice,
circuit breakers). This package sits low: it depends on `errors` only, and the
`llm` and `tools` layers use it.
"""

from __future__ import annotations

from .balance import Breaker, Member, ServiceGroup
from .limit import AdaptiveLimit, LimitConfig
from .limiter import Limiter
from .retry import RetryPolicy
from .service import Failure, Refusals, Service, ServiceRegistry, classify_provider_error

__all__ = [
    "AdaptiveLimit",
    "Breaker",
    "Failure",
    "LimitConfig",
    "Limiter",
    "Member",
    "Refusals",
    "RetryPolicy",
    "Service",
    "ServiceGroup",
    "ServiceRegistry",
    "classify_provider_error",
]
