"""The AIMD limit on a fake clock: how overloads, errors and good calls move it, and the hold below a ceiling."""

from __future__ import annotations

import pytest

from deep_research_mcp.errors import ConfigError
from deep_research_mcp.services import AdaptiveLimit, LimitConfig

from .fakes import FakeClock


def limit(clock: FakeClock, **kw: object) -> AdaptiveLimit:
    values: dict[str, object] = {"max": 50}
    values.update(kw)
    return AdaptiveLimit(LimitConfig(**values), clock)  # type: ignore[arg-type]


def test_it_starts_at_the_maximum_so_nothing_changes_until_a_service_pushes_back() -> None:
    clock = FakeClock()
    lim = limit(clock)
    for _ in range(100):
        lim.on_success(1.0, 20)
    assert lim.current == 50


def test_a_burst_of_refusals_brings_the_limit_to_what_the_service_took() -> None:
    clock = FakeClock()
    lim = limit(clock)
    sent_at = clock.now
    clock.advance(0.1)
    # 20 calls in flight, the service takes 8: the first refusal sets the round, the 11 others each take one off.
    lim.on_failure("overload", sent_at, 20)
    for in_flight in range(19, 8, -1):
        lim.on_failure("overload", sent_at, in_flight)
    assert lim.current == 7  # 20 × 0.9 - 11
    assert lim.ceiling == 20


def test_errors_decrease_once_per_round_from_the_limit() -> None:
    clock = FakeClock()
    lim = limit(clock, max=10)
    sent_at = clock.now
    clock.advance(0.1)
    for _ in range(5):
        lim.on_failure("error", sent_at, 3)
    assert lim.current == 9  # 10 × 0.9 once, not five times, and not cut to the 3 in flight
    clock.advance(0.1)
    lim.on_failure("error", clock.now - 0.05, 3)
    assert lim.current == 8  # a call sent after the decrease starts a new round


def test_good_calls_grow_it_about_one_per_round_but_not_when_slow_or_idle() -> None:
    clock = FakeClock()
    lim = limit(clock, max=20, initial=4)
    for _ in range(4):
        lim.on_success(1.0, 4)
    assert lim.current == 4 and lim.value > 4.9  # about +1 after `limit` good calls
    before = lim.value
    lim.on_success(5.0, 5)  # latency far above its baseline: the service is queueing
    lim.on_success(1.0, 1)  # barely used: no evidence more would go well
    assert lim.value == before


def test_it_holds_below_the_level_that_was_refused_and_probes_it_with_growing_waits() -> None:
    clock = FakeClock()
    lim = limit(clock, max=20, initial=9)
    lim.on_success(1.0, 9)
    clock.advance(1)
    lim.on_failure("overload", clock.now - 0.5, 9)  # refused at 9
    assert lim.current == 8 and lim.ceiling == 9
    for _ in range(50):
        lim.on_success(1.0, 8)
    assert lim.current == 8  # held: within probe_hold_s of the refusal
    clock.advance(5)
    for _ in range(10):
        lim.on_success(1.0, 8)
    assert lim.current == 9  # probing once the hold is over
    clock.advance(1)
    lim.on_failure("overload", clock.now - 0.5, 9)  # the probe was refused: twice the hold
    clock.advance(6)
    for _ in range(20):
        lim.on_success(1.0, 8)
    assert lim.current == 8
    clock.advance(5)
    for _ in range(20):
        lim.on_success(1.0, 9)
    assert lim.current == 9
    clock.advance(10)
    lim.on_success(1.0, 9)  # the probe held for a whole hold: the ceiling is gone
    assert lim.ceiling is None


def test_it_stays_between_the_floor_and_the_maximum() -> None:
    clock = FakeClock()
    lim = limit(clock, max=6, floor=3)
    for _ in range(10):
        clock.advance(1)
        lim.on_failure("overload", clock.now - 0.5, 6)
    assert lim.current == 3
    for _ in range(200):
        clock.advance(10)
        lim.on_success(1.0, 6)
    assert lim.current == 6


def test_a_fixed_limit_never_moves() -> None:
    clock = FakeClock()
    lim = limit(clock, max=8, adaptive=False)
    lim.on_failure("overload", clock.now - 1, 8)
    assert lim.current == 8


@pytest.mark.parametrize(("kw", "words"), [({"max": 0}, "maximum"), ({"max": 4, "floor": 5}, "floor 5 is above"),
                                           ({"max": 4, "initial": 9}, "initial")])
def test_impossible_limits_are_config_errors(kw: dict[str, int], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        LimitConfig(**kw)
