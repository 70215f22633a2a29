"""Moving items from paho's network thread into the event loop, in batches.

paho runs its network loop in a thread of its own and calls ``on_message`` there for
every message. Scheduling one loop callback per message would cost a
``call_soon_threadsafe`` (a lock, a deque append and a write to the loop's self-pipe
to wake it) per message, which at tens of thousands of messages a second is most of
the budget. Instead the thread appends to a ``collections.deque`` (thread-safe for
append/popleft without a lock) and schedules *one* drain when it finds no drain
pending; the drain then takes everything that has piled up meanwhile. Under load a
single wake-up carries hundreds of messages; when idle each message still gets its
own prompt wake-up, so latency stays low.

Under load the loop empties the deque faster than paho fills it (paho reads one packet
per ``select``), so "one wake-up per non-empty" would still mean a wake-up every few
messages, each a self-pipe write and two GIL hand-overs. So a drain that finds only a
few items shortly after the previous one defers itself by ``coalesce`` seconds (half a
millisecond) once, leaving the "scheduled" flag set so paho's thread stays quiet
meanwhile. An idle bridge is never delayed: the first message after a pause is
delivered at once.

The drain handles at most ``budget`` items per run and reschedules itself for the
rest, so a flood cannot starve the other tasks of the loop.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_BUDGET = 4096
#: A drain finding fewer items than this, soon after the previous one, waits a little.
COALESCE_BELOW = 256
DEFAULT_COALESCE = 0.001


class ThreadBridge(Generic[T]):
    """Deliver items put from any thread to ``handler`` in the loop, in order.

    ``call_soon_threadsafe`` is the host's (``host.call_soon_threadsafe``);
    ``call_later(delay, callback)`` schedules from inside the loop (continuing a drain
    that hit its budget, deferring a small one). ``handler`` runs in the loop for each
    item; an exception it raises is logged and the drain goes on with the next item.
    """

    __slots__ = (
        "_budget",
        "_call_later",
        "_call_soon_threadsafe",
        "_closed",
        "_coalesce",
        "_deferred",
        "_handler",
        "_items",
        "_last_drain",
        "_scheduled",
        "drains",
        "items_total",
    )

    def __init__(
        self,
        call_soon_threadsafe: Callable[[Callable[[], None]], None],
        call_later: Callable[[float, Callable[[], None]], object],
        handler: Callable[[T], None],
        *,
        budget: int = DEFAULT_BUDGET,
        coalesce: float = DEFAULT_COALESCE,
    ) -> None:
        self._call_soon_threadsafe = call_soon_threadsafe
        self._call_later = call_later
        self._handler = handler
        self._budget = budget
        self._coalesce = coalesce
        self._deferred = False
        self._last_drain = 0.0
        self._items: deque[T] = deque()
        # True from the moment a drain is scheduled until that drain starts. Only the
        # thread that flips it False→True schedules, so there is at most one drain
        # waiting in the loop's queue at any time.
        self._scheduled = False
        self._closed = False
        #: Drains run and items delivered (diagnostics, and the batching test).
        self.drains = 0
        self.items_total = 0

    def put(self, item: T) -> None:
        """Queue ``item`` (any thread). Never blocks, never raises after close."""
        if self._closed:
            return
        self._items.append(item)
        if not self._scheduled:
            self._scheduled = True
            try:
                self._call_soon_threadsafe(self._drain)
            except RuntimeError:
                # The loop is closed (host stopped while paho still ran): nobody is
                # left to deliver to.
                self._closed = True

    def __len__(self) -> int:
        return len(self._items)

    def close(self) -> None:
        """Stop delivering; items still queued are dropped."""
        self._closed = True
        self._items.clear()

    def _drain(self) -> None:
        if self._closed:
            self._scheduled = False
            return
        now = time.monotonic()
        if (
            not self._deferred
            and self._coalesce
            and len(self._items) < COALESCE_BELOW
            and now - self._last_drain < self._coalesce
        ):
            # Busy, but only a few items: let more pile up (the flag stays set).
            self._deferred = True
            self._call_later(self._coalesce, self._drain)
            return
        self._deferred = False
        self._last_drain = now
        # Cleared before taking items: an item appended from now on either is taken
        # by this drain or schedules the next one, so nothing is left behind.
        self._scheduled = False
        self.drains += 1
        items = self._items
        popleft = items.popleft
        handler = self._handler
        count = min(len(items), self._budget)
        for _ in range(count):
            item = popleft()
            try:
                handler(item)
            except Exception:
                _LOGGER.exception("Error handling %r from the MQTT network thread", item)
        self.items_total += count
        if items and not self._scheduled and not self._closed:
            self._scheduled = True
            self._call_later(0, self._drain)
