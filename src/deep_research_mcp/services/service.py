"""A service (a model endpoint, an upstream MCP server): its limits, timeouts and retry policy, and its slots.

    async with service.slot():          # waits for a slot (queued, or paused by a Retry-After)
        answer = await call()           # how it ends tells the limiter: success, overload, error or nothing

The exception leaving the block is classified by the service's `classify` (by default the provider errors of
`errors.py`): a 429 (or a 503 with Retry-After) is an overload that also pauses the whole service for its Retry-After;
5xx, timeouts and lost connections are errors; anything else (a 400, a context-length error, cancellation) says
nothing about the service's load.
"""

from __future__ import annotations

import collections
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import ProviderConnectionError, ProviderHTTPError, ProviderTimeout
from .limit import AdaptiveLimit, FailureKind, LimitConfig
from .limiter import CallLater, Limiter
from .retry import RetryPolicy

RECENT_ERRORS = 10


@dataclass(frozen=True, slots=True)
class Failure:
    kind: FailureKind | Literal["singled-out"]
    retry_after_s: float | None = None
    # The service could not be reached at all (no connection, a server that would not start): the call never got
    # to it, so a group ejects the member at once and sends the call to another.
    unreachable: bool = False


Classifier = Callable[[BaseException], Failure | None]


def classify_provider_error(exc: BaseException) -> Failure | None:
    if isinstance(exc, ProviderHTTPError):
        if exc.status == 429 or (exc.status == 503 and exc.retry_after is not None):
            return Failure("overload", exc.retry_after)
        if exc.status >= 500 or exc.status == 408:
            return Failure("error", exc.retry_after)
        return None
    if isinstance(exc, ProviderConnectionError):
        return Failure("error", unreachable=True)
    if isinstance(exc, ProviderTimeout | TimeoutError):
        return Failure("error")
    return None


@dataclass(slots=True)
class Counters:
    succeeded: int = 0
    overloaded: int = 0
    failed: int = 0


@dataclass
class Service:
    """One service. `limits` bound its concurrency; `timeout_s`, `retry` and `pool_size` are what its callers use
    (the model client's timeout and retries, the HTTP pool), kept here so one place says how a service is called."""

    name: str
    limits: LimitConfig
    timeout_s: float
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    pool_size: int | None = None
    classify: Classifier = classify_provider_error
    clock: Callable[[], float] = time.monotonic
    call_later: CallLater | None = None
    describe: dict[str, Any] = field(default_factory=dict)  # shown in the snapshot: endpoint, kind (never a key)
    counters: Counters = field(default_factory=Counters)
    recent_errors: collections.deque[dict[str, Any]] = field(
        default_factory=lambda: collections.deque(maxlen=RECENT_ERRORS))

    def __post_init__(self) -> None:
        self.limit = AdaptiveLimit(self.limits, self.clock)
        self.limiter = Limiter(self.limit, self.clock, self.call_later)
        self.starts = 0  # calls started so far: their sequence numbers
        # In-flight level at a call's start -> the latest such call that went well; at most `limits.max` keys.
        self._accepted: dict[int, int] = {}

    @contextlib.asynccontextmanager
    async def slot(self, request: Refusals | None = None) -> AsyncIterator[None]:
        """`request`, when given, is told of a refusal and may find it is about that request, not the load (see
        `Refusals`): such a refusal is counted but neither shrinks the limit nor pauses the service."""
        await self.limiter.acquire()
        started = self.clock()
        self.starts += 1
        seq, level = self.starts, self.limiter.in_flight
        try:
            yield
        except BaseException as exc:
            failure = self.classify(exc) if isinstance(exc, Exception) else None
            if failure is not None and failure.kind == "overload" and request is not None \
                    and request.refused(self, level):
                failure = Failure("singled-out")
            self._ended(started, failure, exc)
            raise
        else:
            self._accepted[level] = max(self._accepted.get(level, 0), seq)
            self._ended(started, None, None)

    def accepted_since(self, seq: int, level: int) -> bool:
        """Whether a call started after start number `seq` at `level` or more calls in flight went well."""
        return any(s > seq for at, s in self._accepted.items() if at >= level)

    def _ended(self, started: float, failure: Failure | None, exc: BaseException | None) -> None:
        in_flight = self.limiter.in_flight
        try:
            if exc is None:
                self.counters.succeeded += 1
                self.limit.on_success(self.clock() - started, in_flight)
            elif failure is not None:
                self.record_failure(failure, exc)
                if failure.kind == "singled-out":
                    return
                self.limit.on_failure(failure.kind, started, in_flight)
                if failure.retry_after_s is not None:
                    self.limiter.pause(failure.retry_after_s)
        finally:
            self.limiter.release()

    def record_failure(self, failure: Failure, exc: BaseException) -> None:
        if failure.kind in ("overload", "singled-out"):
            self.counters.overloaded += 1
        else:
            self.counters.failed += 1
        self.recent_errors.append({"at": time.time(), "kind": failure.kind, "error": _short(exc)})

    def refused(self, exc: BaseException) -> bool:
        """Whether `exc` is the service refusing work it did not start (an overload)."""
        failure = self.classify(exc)
        return failure is not None and failure.kind == "overload"

    @property
    def last_error(self) -> str | None:
        return self.recent_errors[-1]["error"] if self.recent_errors else None

    def snapshot(self) -> dict[str, Any]:
        """Plain data for status pages and metrics. `paused_until` is wall-clock (epoch seconds), or None."""
        remaining = self.limiter.paused_until - self.clock()
        return {
            "name": self.name,
            **self.describe,
            "limit": self.limit.current,
            "max": self.limits.max,
            "floor": self.limits.floor,
            "adaptive": self.limits.adaptive,
            "in_flight": self.limiter.in_flight,
            "queued": self.limiter.queued,
            "paused_until": time.time() + remaining if remaining > 0 else None,
            "baseline_latency_s": self.limit.baseline_s,
            "succeeded": self.counters.succeeded,
            "overloaded": self.counters.overloaded,
            "failed": self.counters.failed,
            "recent_errors": list(self.recent_errors),
        }


class Refusals:
    """The refusals (429s) of one request, telling an overload from a request the provider refuses for itself (e.g.
    one larger than its per-request token budget).

    An overload is paced: the refused call queues for a slot and does not use up `max_retries`. But a request
    refused at a concurrency the same service has since taken for other requests (a call started after this
    request's first refusal, at as many calls in flight or more, went well) is not meeting an overload. Such a
    refusal is "singled out": it neither shrinks the limit nor pauses the service for everyone, and a request
    refused `max_retries` times whose last refusal was singled out fails like any other error instead of waiting
    out `max_refusals`. In a 429 storm the refused calls are the ones beyond what the service takes, so they are not
    singled out and keep being paced."""

    def __init__(self) -> None:
        self.count = 0
        self.singled_out = False  # the last refusal was
        self._marks: dict[int, int] = {}  # id(service) -> its start number at this request's first refusal there

    def refused(self, service: Service, level: int) -> bool:
        """`service` refused this request at `level` calls in flight; whether the refusal is singled out."""
        mark = self._marks.setdefault(id(service), service.starts)
        self.singled_out = service.accepted_since(mark, level)
        return self.singled_out

    def give_up(self, max_retries: int) -> bool:
        return self.count >= max_retries and self.singled_out


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + " [...]"


class ServiceRegistry:
    """Every service of a process by name: built at the entry point and passed down, never at import time."""

    def __init__(self) -> None:
        self._services: dict[str, Any] = {}

    def add(self, service: Any) -> Any:
        """Register `service` (a Service or a ServiceGroup); a name registered twice keeps the first."""
        return self._services.setdefault(service.name, service)

    def get(self, name: str) -> Any | None:
        return self._services.get(name)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._services.values()))

    def __len__(self) -> int:
        return len(self._services)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {name: service.snapshot() for name, service in self._services.items()}
