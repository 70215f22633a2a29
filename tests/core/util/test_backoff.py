"""The one backoff policy: entry retries, the outbox and every reconnect loop use it."""

from __future__ import annotations

import random

import pytest

from gatehouse.core.helpers import Backoff, BackoffCounter


def test_grows_exponentially_and_caps() -> None:
    policy = Backoff(initial=2.0, multiplier=2.0, maximum=300.0, jitter=0)
    assert [policy.delay(n) for n in range(1, 10)] == [2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert policy.delay(50) == 300.0
    assert Backoff(initial=1, multiplier=3, maximum=1000, jitter=0).delay(5) == 81


def test_no_failure_means_no_wait() -> None:
    assert Backoff(initial=5, jitter=0).delay(0) == 0.0
    assert Backoff(initial=5, jitter=0).delay(-3) == 0.0


def test_jitter_only_shortens_and_spreads() -> None:
    rng = random.Random(1234)
    policy = Backoff(initial=10.0, multiplier=2.0, maximum=100.0, jitter=0.2)
    first = [policy.delay(1, rng.random) for _ in range(500)]
    capped = [policy.delay(20, rng.random) for _ in range(500)]
    assert all(8.0 <= d <= 10.0 for d in first)
    assert all(80.0 <= d <= 100.0 for d in capped)  # the cap is a true upper bound
    # jitter actually spreads the retries (not lock-step) and covers most of the band
    assert len(set(first)) > 400
    assert min(first) < 8.4 and max(first) > 9.6


def test_survives_huge_failure_counts() -> None:
    # A peer that has been down for days reaches failure counts whose power overflows
    # a float; the delay must still be the cap, not an OverflowError.
    policy = Backoff(initial=2.0, multiplier=2.0, maximum=300.0, jitter=0)
    assert policy.delay(1100) == 300.0
    assert policy.delay(10**6) == 300.0


@pytest.mark.parametrize(
    "kwargs",
    [{"initial": -1}, {"maximum": -1}, {"multiplier": 0.5}, {"jitter": 1.5}, {"jitter": -0.1}],
)
def test_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)


def test_counter_paces_a_loop_and_resets_on_success() -> None:
    pacing = Backoff(initial=0.5, maximum=3, jitter=0).counter()
    assert isinstance(pacing, BackoffCounter)
    assert [pacing.failed() for _ in range(5)] == [0.5, 1.0, 2.0, 3, 3]
    assert pacing.failures == 5
    pacing.succeeded()
    assert pacing.failures == 0
    assert pacing.failed() == 0.5
