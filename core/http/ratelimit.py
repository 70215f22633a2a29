"""Failed-login accounting per client address, with a lockout.

After ``threshold`` failures within ``lockout`` seconds an address is locked out for
``lockout`` seconds counted from its last failure; while locked even the right password
is refused (otherwise the lockout would only slow a guesser down until it hits). A
success clears the address. The table is bounded so that a flood from many addresses
cannot grow memory without limit: the stalest address is forgotten first.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

_MAX_TRACKED: Final = 10_000


class LoginLimiter:
    def __init__(
        self,
        threshold: int,
        lockout: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_tracked: int = _MAX_TRACKED,
    ) -> None:
        self.threshold = threshold
        self.lockout = lockout
        #: Monotonic seconds; tests replace it to move time without sleeping.
        self.clock = clock
        self._max = max_tracked
        self._failures: OrderedDict[str, list[float]] = OrderedDict()

    def _recent(self, address: str) -> list[float]:
        horizon = self.clock() - self.lockout
        times = [t for t in self._failures.get(address, ()) if t > horizon]
        if times:
            self._failures[address] = times
        else:
            self._failures.pop(address, None)
        return times

    def retry_after(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None if it is not locked out."""
        times = self._recent(address)
        if len(times) < self.threshold:
            return None
        return max(1, math.ceil(times[-1] + self.lockout - self.clock()))

    def failed(self, address: str) -> int | None:
        """Record a failure; returns the lockout (seconds) if this one triggered it."""
        times = self._recent(address)
        times.append(self.clock())
        self._failures[address] = times
        self._failures.move_to_end(address)
        while len(self._failures) > self._max:
            self._failures.popitem(last=False)
        return self.retry_after(address)

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)
