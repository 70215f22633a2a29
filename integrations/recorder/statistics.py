"""Long-term statistics: 5-minute and hourly mean/min/max of ``state_class: measurement``.

Compiled in the writer thread from the states as they are written, not by re-reading
the database: each measured entity keeps a running, time-weighted sum for the current
5-minute bucket (a value counts for as long as it held), its min and max. When a state
or the clock passes the bucket's end, the bucket is closed (the last value carried to
the end) and the next one starts with that value, so an entity whose value does not
change still gets a row every 5 minutes: a flat line, not a gap. An hour is closed
from its 5-minute rows (means weighted by the time each covered). The rows are
written with the next commit and kept for ``statistics_keep_days``.

After a restart the running values start again empty: the bucket the host was
stopped in is left out rather than guessed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .const import HOUR_PERIOD, SHORT_TERM_PERIOD

#: At most this many carried buckets are emitted for one gap (a day), so a clock jump
#: cannot make a thread loop for ever.
MAX_CARRIED: int = 24 * 3600 // SHORT_TERM_PERIOD

#: (metadata_id, start_ts, mean, min, max)
Row = tuple[int, float, float, float, float]


@dataclass(slots=True)
class _Hour:
    start: float
    seconds: float = 0.0
    weighted: float = 0.0
    low: float = math.inf
    high: float = -math.inf


@dataclass(slots=True)
class _Running:
    """One entity's current 5-minute bucket."""

    start: float
    value: float
    since: float
    first: float
    weighted: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    hour: _Hour | None = field(default=None)


def bucket_start(ts: float, period: int = SHORT_TERM_PERIOD) -> float:
    return float(int(ts // period) * period)


class StatisticsCompiler:
    """See the module docstring. Used from the writer thread only."""

    def __init__(self) -> None:
        self._running: dict[int, _Running] = {}
        self.short_term: list[Row] = []
        self.hourly: list[Row] = []

    def __len__(self) -> int:
        return len(self._running)

    def forget(self, metadata_id: int) -> None:
        self._running.pop(metadata_id, None)

    def add(self, metadata_id: int, ts: float, value: float) -> None:
        """A new value of a measured entity at ``ts`` (per row written: kept cheap)."""
        if not math.isfinite(value):
            return
        run = self._running.get(metadata_id)
        if run is None:
            self._running[metadata_id] = _Running(
                start=bucket_start(ts), value=value, since=ts, first=ts, low=value, high=value)
            return
        if ts < run.since:  # noqa: PLR1730 - a clock step backwards: count from now on
            ts = run.since
        if ts >= run.start + SHORT_TERM_PERIOD:
            self._roll(metadata_id, run, ts)
        run.weighted += run.value * (ts - run.since)
        run.since = ts
        run.value = value
        if value < run.low:  # noqa: PLR1730 - per row: no call
            run.low = value
        if value > run.high:  # noqa: PLR1730 - per row: no call
            run.high = value

    def roll(self, now: float) -> None:
        """Close every bucket that ended before ``now``."""
        for metadata_id, run in self._running.items():
            self._roll(metadata_id, run, now)

    def take(self) -> tuple[list[Row], list[Row]]:
        """The closed 5-minute and hourly rows since the last call."""
        short, hourly = self.short_term, self.hourly
        self.short_term, self.hourly = [], []
        return short, hourly

    def _roll(self, metadata_id: int, run: _Running, now: float) -> None:
        carried = 0
        while run.start + SHORT_TERM_PERIOD <= now and carried <= MAX_CARRIED:
            end = run.start + SHORT_TERM_PERIOD
            weighted = run.weighted + run.value * (end - run.since)
            seconds = end - max(run.start, run.first)
            mean = weighted / seconds if seconds > 0 else run.value
            low = min(run.low, run.value)
            high = max(run.high, run.value)
            self.short_term.append((metadata_id, run.start, mean, low, high))
            self._add_hour(metadata_id, run, seconds, mean, low, high)
            run.start, run.since, run.first = end, end, end
            run.weighted = 0.0
            run.low = run.high = run.value
            carried += 1
        if run.start + SHORT_TERM_PERIOD <= now:  # a long gap: jump to now's bucket
            run.start = bucket_start(now)
            run.since = run.first = run.start
            run.hour = None

    def _add_hour(self, metadata_id: int, run: _Running, seconds: float, mean: float,
                  low: float, high: float) -> None:
        start = bucket_start(run.start, HOUR_PERIOD)
        hour = run.hour
        if hour is None or hour.start != start:
            hour = run.hour = _Hour(start)
        hour.seconds += seconds
        hour.weighted += mean * seconds
        hour.low = min(hour.low, low)
        hour.high = max(hour.high, high)
        if run.start + SHORT_TERM_PERIOD >= start + HOUR_PERIOD:  # the hour's last bucket
            if hour.seconds > 0:
                self.hourly.append((metadata_id, start, hour.weighted / hour.seconds,
                                    hour.low, hour.high))
            run.hour = None
