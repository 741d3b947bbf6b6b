"""A group of equivalent services (several endpoints or keys for one model): each call goes to the best member.

    async with group.slot() as member:      # the chosen member's name; its own limiter queues the call
        await models[member].complete(...)

The best member is the one with the lowest cost, peak-EWMA in the manner of Finagle and Linkerd, adapted to
endpoints that serve many calls at once:

    cost = latency × (1 + outstanding / limit) / health²

`latency` is a peak-sensitive moving average (a slow answer counts at once, fast ones pull it down over `decay_s`),
or the age of the member's oldest call in flight when that is longer (a member that hangs looks slow before any
answer says so). `outstanding / limit` is how full the member's adaptive limit is, so a member that would only queue
the call costs more. `health` is a moving share of calls that went well (5xx, timeouts and lost connections count
against it). A member never measured is tried once; while its first call is out it is not chosen again.
An idle member's latency and health drift back toward the group's best over `decay_s`, so a member that was sick
gets calls again later instead of never.

A member that keeps failing (3 errors in a row, 5 of its last 10 calls, or any connection it could not make) is
ejected for a cool-down (`cooldown_s`, doubling each time it is ejected again, up to `max_cooldown_s`), then probed
back with one call: success returns it to the group. With every member ejected, a call fails at once with
GroupUnavailable naming each member and its last error. Model endpoints and upstream MCP servers form groups alike:
what a failure means comes from the members' own `classify`.
"""

from __future__ import annotations

import collections
import contextlib
import math
import time
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from ..errors import GroupUnavailable
from .retry import RetryPolicy
from .service import Failure, Refusals, Service

WINDOW = 10


@dataclass
class Breaker:
    """Closed (calls go through), open until `open_until` (ejected), or half-open (one probe call at a time)."""

    cooldown_s: float = 5.0
    max_cooldown_s: float = 60.0
    consecutive_to_open: int = 3
    window_failures_to_open: int = 5
    open_until: float | None = None
    probing: bool = False
    ejections: int = 0
    consecutive: int = 0
    closed_at: float = 0.0
    recent: collections.deque[bool] = field(default_factory=lambda: collections.deque(maxlen=WINDOW))

    def state(self, now: float) -> str:
        if self.open_until is None:
            return "closed"
        return "open" if now < self.open_until or self.probing else "half-open"

    def available(self, now: float) -> bool:
        return self.state(now) in ("closed", "half-open")

    def on_success(self, now: float) -> None:
        if self.open_until is not None and not self.probing:
            return  # a call sent before the ejection: only the probe decides
        if self.probing:  # the probe came back well
            self.open_until, self.probing, self.closed_at = None, False, now
            self.recent.clear()
        if self.ejections and now - self.closed_at > self.max_cooldown_s:
            self.ejections = 0  # long healthy again: the next ejection starts short
        self.consecutive = 0
        self.recent.append(True)

    def on_failure(self, now: float, *, eject: bool = False) -> None:
        if self.open_until is not None and not self.probing:
            return  # already ejected; calls sent before say nothing new
        self.consecutive += 1
        self.recent.append(False)
        failures = sum(1 for ok in self.recent if not ok)
        if eject or self.probing or self.consecutive >= self.consecutive_to_open \
                or failures >= self.window_failures_to_open:
            self.open_until = now + min(self.max_cooldown_s, self.cooldown_s * 2**self.ejections)
            self.ejections += 1
            self.probing = False
            self.consecutive = 0
            self.recent.clear()


@dataclass
class Member:
    service: Service
    breaker: Breaker = field(default_factory=Breaker)
    latency_s: float | None = None  # peak EWMA
    health: float = 1.0
    stamp: float = 0.0  # when latency and health were last updated
    calls: int = 0
    starts: dict[int, float] = field(default_factory=dict)  # calls in flight: id -> start

    @property
    def name(self) -> str:
        return self.service.name

    def outstanding(self) -> int:
        return self.service.limiter.in_flight + self.service.limiter.queued


@dataclass
class ServiceGroup:
    name: str
    members: list[Member]
    decay_s: float = 60.0
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def of(cls, name: str, services: list[Service], **kw: Any) -> ServiceGroup:
        return cls(name, [Member(s) for s in services], **kw)

    # Members share the group's settings: what callers read off a single service, they read here.
    @property
    def timeout_s(self) -> float:
        return self.members[0].service.timeout_s

    @property
    def retry(self) -> RetryPolicy:
        return self.members[0].service.retry

    def _drift(self, member: Member, now: float) -> tuple[float | None, float]:
        """The member's latency and health, drifted back toward the group's best while it was idle."""
        if member.latency_s is None:
            return None, member.health
        w = math.exp(-max(0.0, now - member.stamp) / self.decay_s)
        best = min((m.latency_s for m in self.members if m.latency_s is not None), default=member.latency_s)
        return member.latency_s * w + best * (1 - w), member.health * w + (1 - w)

    def cost(self, member: Member, now: float) -> float:
        latency, health = self._drift(member, now)
        oldest = min(member.starts.values(), default=None)
        if latency is None:
            return math.inf if oldest is not None else 0.0
        if oldest is not None:
            latency = max(latency, now - oldest)
        limit = member.service.limit.current
        return latency * (1 + member.outstanding() / limit) / max(health, 0.05) ** 2

    def choose(self, exclude: Collection[str] = ()) -> Member:
        """The best available member not named in `exclude` (members a call has already failed on)."""
        now = self.clock()
        candidates = [m for m in self.members if m.name not in exclude and m.breaker.available(now)]
        if not candidates:
            raise GroupUnavailable(self.name, {
                m.name: m.service.last_error or ("ejected" if not m.breaker.available(now) else "left out")
                for m in self.members})
        return min(candidates, key=lambda m: (self.cost(m, now), m.outstanding(), m.calls))

    @contextlib.asynccontextmanager
    async def slot(self, request: Refusals | None = None, *, exclude: Collection[str] = ()) -> AsyncIterator[str]:
        member = self.choose(exclude)
        member.calls += 1
        if member.breaker.state(self.clock()) == "half-open":
            member.breaker.probing = True  # one probe at a time; others go elsewhere until it answers
        async with member.service.slot(request):
            token = object()
            started = member.starts[id(token)] = self.clock()
            try:
                yield member.name
            except BaseException as exc:
                failure = member.service.classify(exc) if isinstance(exc, Exception) else None
                self._ended(member, started, failure, exc)
                raise
            else:
                self._ended(member, started, None, None)
            finally:
                member.starts.pop(id(token), None)

    def _ended(self, member: Member, started: float, failure: Failure | None, exc: BaseException | None) -> None:
        now = self.clock()
        latency, health = self._drift(member, now)
        if exc is None:
            took = now - started
            if latency is None or took > latency:
                member.latency_s = took  # peak: a slow answer counts in full at once
            else:
                w = math.exp(-max(0.0, now - member.stamp) / self.decay_s)
                member.latency_s = latency * w + took * (1 - w)
            member.health = 0.8 * health + 0.2
            member.breaker.on_success(now)
        elif failure is not None and failure.kind == "error":
            member.latency_s = latency
            member.health = 0.8 * health
            member.breaker.on_failure(now, eject=failure.unreachable)
        elif member.breaker.probing:
            member.breaker.probing = False  # the probe said nothing either way: let another one try
        member.stamp = now

    def report(self, name: str, exc: BaseException) -> None:
        """Member `name` failed outside a call through `slot` (e.g. it could not be reached to list its tools): its
        health and breaker take it as they would a failed call."""
        for member in self.members:
            if member.name == name:
                failure = member.service.classify(exc)
                if failure is not None:
                    member.service.record_failure(failure, exc)
                    self._ended(member, self.clock(), failure, exc)

    def refused(self, exc: BaseException) -> bool:
        """An overload, or a member that could not be reached while another one can take the call."""
        failure = self.members[0].service.classify(exc)  # the members share one classification
        if failure is not None and failure.unreachable:
            now = self.clock()
            return any(m.breaker.available(now) for m in self.members)
        return self.members[0].service.refused(exc)

    def snapshot(self) -> dict[str, Any]:
        now = self.clock()
        members = []
        for m in self.members:
            latency, health = self._drift(m, now)
            members.append({**m.service.snapshot(), "state": m.breaker.state(now), "latency_ewma_s": latency,
                            "health": round(health, 3), "calls": m.calls,
                            "ejected_for_s": max(0.0, m.breaker.open_until - now) if m.breaker.open_until else 0.0})
        # Totals beside the members, so metrics (which take a service's numbers, not lists) show a group too.
        return {"name": self.name, "kind": "group", "members": members,
                "limit": sum(m["limit"] for m in members), "in_flight": sum(m["in_flight"] for m in members),
                "queued": sum(m["queued"] for m in members),
                "members_available": sum(1 for m in self.members if m.breaker.available(now)),
                "members_ejected": sum(1 for m in self.members if not m.breaker.available(now))}
