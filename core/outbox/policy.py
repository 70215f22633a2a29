"""Retry pacing for one destination: backoff (the shared ``util.backoff``) and a
circuit breaker.

Both are plain synchronous objects that take the current time as an argument instead of
reading a clock, so the dispatcher owns all sleeping and the tests can drive them
without waiting.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..util.backoff import Backoff
from .models import BreakerState

__all__ = ["Backoff", "BreakerPolicy", "CircuitBreaker"]


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a destination's circuit breaker opens and how long it stays open.

    ``failure_threshold`` consecutive failed attempts open it; after ``reset_timeout``
    seconds one probe (a batch of a single message) is let through.
    """

    failure_threshold: int = 5
    reset_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if self.reset_timeout < 0:
            raise ValueError("reset_timeout must not be negative")


class CircuitBreaker:
    """Closed → open after K consecutive failures → half-open probe → closed on success.

    Backoff alone keeps hammering a dead destination every ``maximum`` seconds with full
    batches; the breaker turns that into one small probe per cool-down and gives the
    host a state it can show ("the cloud link is down") instead of a growing retry count.
    """

    def __init__(self, policy: BreakerPolicy) -> None:
        self.policy = policy
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0

    @property
    def state(self) -> BreakerState:
        """The current state."""
        return self._state

    @property
    def consecutive_failures(self) -> int:
        """Failed attempts since the last success."""
        return self._failures

    def retry_after(self, now: float) -> float:
        """Seconds until an attempt is allowed (0 unless open and cooling down)."""
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.policy.reset_timeout - now)

    def allow(self, now: float) -> bool:
        """Whether an attempt may start now; moves open → half-open once cooled down."""
        if self._state is BreakerState.OPEN:
            if now < self._opened_at + self.policy.reset_timeout:
                return False
            self._state = BreakerState.HALF_OPEN
        return True

    def record_success(self) -> BreakerState:
        """The destination answered; close the breaker. Returns the previous state."""
        previous = self._state
        self._state = BreakerState.CLOSED
        self._failures = 0
        return previous

    def record_failure(self, now: float) -> BreakerState:
        """An attempt failed; open the breaker if warranted. Returns the new state."""
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or (
            self._failures >= self.policy.failure_threshold
        ):
            self._state = BreakerState.OPEN
            self._opened_at = now
        return self._state
