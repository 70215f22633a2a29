"""Backoff: how long to wait after consecutive failures, for every retry loop in the house.

One policy object serves the config entry retry (``ConfigEntryNotReady``), the outbox's
delivery retries, and every integration's reconnect loop (OPC UA sessions, Modbus
lines, probes of dead slaves). Before it existed each of those had its own doubling
formula with its own jitter convention and its own float-overflow bug waiting to
happen; now there is one formula, tested once.

``Backoff`` is immutable and pure (it takes the failure count, and the random source
as an argument), so tests need no clock and no seed. ``BackoffCounter`` is the small
mutable part a loop keeps: how many times in a row it failed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

# Beyond this many doublings every sane cap has long been reached; clamping the exponent
# keeps ``multiplier ** n`` from overflowing a float after days of failures.
_MAX_EXPONENT = 64


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with proportional jitter, capped at ``maximum`` seconds.

    The n-th consecutive failure waits ``min(maximum, initial * multiplier**(n-1))``
    shortened by a random fraction up to ``jitter``. Jitter spreads the retries of many
    boxes (or entries) that lost the same peer at the same moment, so they do not all
    come back in lock-step; shortening rather than lengthening keeps ``maximum`` a true
    upper bound, which is what an operator reading "retrying in at most 5 min" expects.
    """

    initial: float = 0.5
    maximum: float = 60.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < 0:
            raise ValueError("backoff delays must not be negative")
        if self.multiplier < 1:
            raise ValueError("backoff multiplier must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("backoff jitter must be between 0 and 1")

    def delay(self, failures: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after ``failures`` consecutive failures (0 for none)."""
        if failures <= 0:
            return 0.0
        exponent = min(failures - 1, _MAX_EXPONENT)
        base = min(self.maximum, self.initial * self.multiplier**exponent)
        return base * (1.0 - self.jitter * rand())

    def counter(self) -> BackoffCounter:
        """A fresh failure counter that paces one loop with this policy."""
        return BackoffCounter(self)


class BackoffCounter:
    """The failures-in-a-row of one retry loop, paced by a ``Backoff``::

        pacing = policy.counter()
        while True:
            try:
                await connect()
            except OSError:
                await anyio.sleep(pacing.failed())
                continue
            pacing.succeeded()
    """

    __slots__ = ("failures", "policy")

    def __init__(self, policy: Backoff) -> None:
        self.policy = policy
        self.failures = 0

    def failed(self, rand: Callable[[], float] = random.random) -> float:
        """Count one more failure; return the seconds to wait before the next attempt."""
        self.failures += 1
        return self.policy.delay(self.failures, rand)

    def succeeded(self) -> None:
        """The attempt worked: the next failure starts again from ``initial``."""
        self.failures = 0

    def __repr__(self) -> str:
        return f"<BackoffCounter failures={self.failures} {self.policy}>"
