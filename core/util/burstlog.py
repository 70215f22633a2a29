"""Logging that stays quiet during a burst: the first occurrence, then a count at the end.

A device that starts sending garbage sends it every second; a full queue overflows on
every enqueue. Logging each occurrence would bury every other line and, on an
appliance, fill the disk the rest of the house depends on. A ``BurstLog`` logs the
first occurrence of a burst (with its details), counts the rest silently, and logs one
line with the count when the burst ends (``calm``). The totals stay readable for
diagnostics and sensors.
"""

from __future__ import annotations

import logging
from typing import Any


class BurstLog:
    """Log the start and the end of a burst of one kind of trouble, count the rest.

    ``start`` and ``end`` are %-style messages with named fields (``%(name)s``). The
    fields given to the constructor are shared by both; ``hit(**details)`` adds the
    details of the occurrence that starts a burst; ``end`` may use ``%(count)d``, the
    number of occurrences in the burst::

        bad = BurstLog(_LOGGER,
                       "%(name)s: cannot read payload on %(topic)s (%(reason)s)",
                       "%(name)s: payloads readable again after %(count)d bad ones",
                       name="sensor.x")
        bad.hit(topic=topic, reason=str(err))   # logged: first of the burst
        bad.hit(topic=topic, reason=str(err))   # counted only
        bad.calm()                              # logged once, with the count
    """

    __slots__ = ("_end", "_end_level", "_level", "_logger", "_start", "burst", "fields", "total")

    def __init__(
        self,
        logger: logging.Logger,
        start: str,
        end: str,
        *,
        level: int = logging.WARNING,
        end_level: int = logging.INFO,
        **fields: Any,
    ) -> None:
        self._logger = logger
        self._start = start
        self._end = end
        self._level = level
        self._end_level = end_level
        #: Fields shared by both messages (mutable: an entity renamed after creation).
        self.fields: dict[str, Any] = fields
        #: Occurrences since this object was made.
        self.total = 0
        #: Occurrences in the current burst (0: no burst in progress).
        self.burst = 0

    def hit(self, count: int = 1, **details: Any) -> bool:
        """Count ``count`` occurrences; log the start of a burst. True if it logged."""
        self.total += count
        started = self.burst == 0
        self.burst += count
        if started:
            self._logger.log(self._level, self._start, {**self.fields, **details})
        return started

    def calm(self) -> None:
        """The trouble is over: log how many occurrences the burst had, start afresh."""
        if self.burst:
            self._logger.log(self._end_level, self._end, {**self.fields, "count": self.burst})
            self.burst = 0

    def __repr__(self) -> str:
        return f"<BurstLog total={self.total} burst={self.burst} {self.fields}>"
