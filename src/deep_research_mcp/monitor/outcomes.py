"""How a call ended, in the few kinds the monitor counts: shared by the metrics and the run timelines, which both
classify calls, so neither has to import the other for it."""

from __future__ import annotations

import asyncio

from ..errors import ProviderHTTPError, ProviderTimeout

ERROR_KINDS = ("429", "5xx", "timeout", "other")


def outcome_of(exc: BaseException | None) -> str:
    """"ok", an error kind of ERROR_KINDS, or "cancelled" (the run was stopped: not the service's fault)."""
    if exc is None:
        return "ok"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    if isinstance(exc, ProviderHTTPError):
        return "429" if exc.status == 429 else "5xx" if exc.status >= 500 else "other"
    if isinstance(exc, ProviderTimeout | TimeoutError):
        return "timeout"
    return "other"
