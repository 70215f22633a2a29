"""The password-guessing budget: at most ``threshold`` attempts per ``window`` per key.

Keys are the client address (``addr:<ip>``) and the user name tried (``user:<name>``):
a guesser is stopped whether it tries many passwords for one user from many addresses
or many users from one address.

A slot of the budget is *reserved before* the slow password check (``reserve``), not
counted after it. The check and the reservation happen in one synchronous step on the
event loop, so a burst of concurrent requests cannot all pass the check while the first
ones are still hashing: at most ``threshold`` of them ever reach scrypt, the rest are
refused at once (429). A failed attempt keeps its slot until it leaves the window; a
successful one gives back only its own slot (``Attempt.succeeded``) and never clears the
failures before it, so a right password cannot reopen the budget for a burst behind it.
While a key's budget is used even the right password is refused: otherwise the limit
would only slow a guesser down until it hits.

The table is bounded so that a flood of distinct addresses or user names cannot grow
memory without limit: the stalest key is forgotten first.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Final

_MAX_TRACKED: Final = 10_000


def address_key(address: str) -> str:
    return f"addr:{address}"


def user_key(username: str) -> str:
    return f"user:{username.casefold()[:64]}"


class Throttled(Exception):
    """The budget of a key is used; try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} s")
        self.retry_after = retry_after


class _Slot:
    """One reserved attempt (compared by identity: two may share a timestamp)."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at


class Attempt:
    """A reserved attempt: report how it ended with ``failed`` or ``succeeded``."""

    def __init__(self, limiter: LoginLimiter, keys: tuple[str, ...], slot: _Slot) -> None:
        self._limiter = limiter
        self.keys = keys
        self._slot = slot

    def failed(self) -> int | None:
        """The slot stays used; returns the wait (s) if the budget is now used up."""
        return self._limiter.retry_after(self.keys)

    def succeeded(self) -> None:
        """Give back this attempt's own slot (and nothing else)."""
        self._limiter.release(self.keys, self._slot)

    def cancelled(self) -> None:
        """The attempt never reached the check (a bad request): give the slot back."""
        self._limiter.release(self.keys, self._slot)


class LoginLimiter:
    def __init__(
        self,
        threshold: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_tracked: int = _MAX_TRACKED,
    ) -> None:
        self.threshold = threshold
        self.window = window
        #: Monotonic seconds; tests replace it to move time without sleeping.
        self.clock = clock
        self._max = max_tracked
        self._slots: OrderedDict[str, list[_Slot]] = OrderedDict()

    def _live(self, key: str, now: float) -> list[_Slot]:
        horizon = now - self.window
        slots = [s for s in self._slots.get(key, ()) if s.at > horizon]
        if slots:
            self._slots[key] = slots
        else:
            self._slots.pop(key, None)
        return slots

    def retry_after(self, keys: Iterable[str]) -> int | None:
        """Seconds until every key in ``keys`` has a free slot, or None if they have."""
        now = self.clock()
        waits = []
        for key in keys:
            slots = self._live(key, now)
            if len(slots) >= self.threshold:
                # A slot frees when the oldest of the last ``threshold`` leaves the window.
                waits.append(slots[-self.threshold].at + self.window - now)
        if not waits:
            return None
        return max(1, math.ceil(max(waits)))

    def reserve(self, keys: Iterable[str]) -> Attempt:
        """Take a slot under every key, or raise ``Throttled`` (nothing taken then).

        Synchronous on purpose: no other request can run between the check and the
        reservation.
        """
        wanted = tuple(dict.fromkeys(keys))
        retry = self.retry_after(wanted)
        if retry is not None:
            raise Throttled(retry)
        slot = _Slot(self.clock())
        for key in wanted:
            self._slots.setdefault(key, []).append(slot)
            self._slots.move_to_end(key)
        while len(self._slots) > self._max:
            self._slots.popitem(last=False)
        return Attempt(self, wanted, slot)

    def release(self, keys: Iterable[str], slot: _Slot) -> None:
        for key in keys:
            slots = self._slots.get(key)
            if slots is None:
                continue
            slots[:] = [s for s in slots if s is not slot]
            if not slots:
                del self._slots[key]

    def used(self, key: str) -> int:
        """Slots of ``key`` in the window (reserved or failed)."""
        return len(self._live(key, self.clock()))
