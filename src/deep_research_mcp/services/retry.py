"""How a call to a service is retried: how often, and how long to wait before the next try."""

from __future__ import annotations

import random
from dataclasses import dataclass

MAX_RETRY_WAIT_S = 60.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 3
    base_delay_s: float = 0.5
    structured_retries: int = 2
    # Tries a service refused before doing any work (429) that do not count against max_retries when the service
    # paces them (queue, pause); a provider refusing this often is down, not busy. A request refused while the
    # service takes others at the same concurrency is refused for itself and gets max_retries (see `Refusals`).
    max_refusals: int = 10

    def delay(self, attempt: int, error: BaseException) -> float:
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return float(min(retry_after, MAX_RETRY_WAIT_S))
        # Full jitter keeps many researchers that failed together from retrying in lockstep.
        return random.uniform(0, min(self.base_delay_s * 2**attempt, MAX_RETRY_WAIT_S))
