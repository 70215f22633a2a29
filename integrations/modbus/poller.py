"""One task per slave: read what is due, publish it, never stall the others, never die.

Why one task per slave: a slave that is slow or gone must only cost *its* points. Each
poller keeps its own schedule (per-point scan intervals, grouped by interval) and its
own availability. The line is shared (the hub serialises requests), so a dead slave
still costs a timeout whenever it is asked; to bound that, a slave that stops
answering is not polled in full any more but *probed*: one request, no retries, at
intervals that double up to ``PROBE_INTERVAL_MAX`` (the house's ``Backoff``, without
jitter: the line is shared, so there is nobody to spread out). The first answer makes
it available again and the next cycle is a full one.

Availability is per slave (any answer in a cycle means the slave is there) and per
span (a span whose request failed has no value). An exception response to a merged
request that says ``IllegalDataAddress`` is taken as "the merge touched a hole": the
spans of that request are isolated and read one by one from then on.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from gatehouse.core.helpers import Backoff

from .client import ModbusHub, SlaveStats
from .const import PROBE_INTERVAL_MAX
from .errors import (
    ILLEGAL_DATA_ADDRESS,
    ModbusConnectionError,
    ModbusDeviceError,
    ModbusError,
    ModbusRequestError,
    ModbusTimeoutError,
)
from .planner import ReadPlan, ReadRequest, ReadSpan, plan_reads

_LOGGER = logging.getLogger(__name__)

Listener = Callable[[], None]


@dataclass(frozen=True, slots=True)
class SpanState:
    """The latest reading of a span: ``values``, or ``None`` and the ``error`` why not."""

    values: tuple[int | bool, ...] | None = None
    error: str | None = None


_UNREAD = SpanState()


class SlavePoller:
    """Polls one slave of a hub; entities listen to their spans."""

    def __init__(
        self,
        hub: ModbusHub,
        slave: int,
        *,
        max_gap: int,
        max_bit_gap: int,
        coalesce: bool = True,
    ) -> None:
        self.hub = hub
        self.slave = slave
        self.max_gap = max_gap
        self.max_bit_gap = max_bit_gap
        self.coalesce = coalesce
        self.stats: SlaveStats = hub.stats_for(slave)
        self._intervals: dict[ReadSpan, float] = {}
        self._states: dict[ReadSpan, SpanState] = {}
        self._listeners: dict[ReadSpan, list[Listener]] = {}
        self._cycle_listeners: list[Listener] = []
        self._isolated: frozenset[ReadSpan] = frozenset()
        self._plans: dict[frozenset[float], ReadPlan] = {}
        self._probes = self._probe_backoff().counter()
        self._probe_delay = 0.0

    def __repr__(self) -> str:
        return f"<SlavePoller {self.hub.name} slave {self.slave}>"

    # -- registration ----------------------------------------------------------------

    def add_span(self, span: ReadSpan, interval: float) -> None:
        """Poll ``span`` at least every ``interval`` seconds (the shortest interval wins)."""
        if span.slave != self.slave:
            raise ValueError(f"{span} does not belong to slave {self.slave}")
        self._intervals[span] = min(interval, self._intervals.get(span, math.inf))
        self._plans.clear()
        self._probes = self._probe_backoff().counter()

    @property
    def spans(self) -> list[ReadSpan]:
        return list(self._intervals)

    def listen(self, span: ReadSpan, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` when the span's reading or the slave's availability changes."""
        listeners = self._listeners.setdefault(span, [])
        listeners.append(listener)
        return lambda: listeners.remove(listener) if listener in listeners else None

    def listen_cycles(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after every poll cycle (diagnostics)."""
        self._cycle_listeners.append(listener)
        return lambda: (
            self._cycle_listeners.remove(listener) if listener in self._cycle_listeners else None
        )

    def state(self, span: ReadSpan) -> SpanState:
        return self._states.get(span, _UNREAD)

    @property
    def available(self) -> bool:
        return self.stats.available

    # -- planning --------------------------------------------------------------------

    def plan(self, intervals: frozenset[float] | None = None) -> ReadPlan:
        """The requests for the spans of ``intervals`` (all spans if ``None``), cached."""
        key = intervals if intervals is not None else frozenset(self._intervals.values())
        plan = self._plans.get(key)
        if plan is None:
            spans = [s for s, i in self._intervals.items() if i in key]
            plan = plan_reads(
                spans, max_gap=self.max_gap, max_bit_gap=self.max_bit_gap,
                isolated=self._isolated, coalesce=self.coalesce,
            )
            self._plans[key] = plan
        return plan

    # -- running ---------------------------------------------------------------------

    async def run(self) -> None:
        """Poll forever (until cancelled). Errors are counted and logged, never raised."""
        if not self._intervals:
            return
        next_due = dict.fromkeys(set(self._intervals.values()), anyio.current_time())
        while True:
            if not self.available:
                await anyio.sleep(self._probe_delay)
                await self._guarded(self.poll(probe=True))
                # Back (or not): either way start a full schedule from now.
                next_due = dict.fromkeys(next_due, anyio.current_time())
                continue
            now = anyio.current_time()
            due = frozenset(i for i, t in next_due.items() if t <= now)
            if due:
                await self._guarded(self.poll(due))
                after = anyio.current_time()
                for interval in due:
                    when = next_due[interval]
                    while when <= after:  # skip ticks an overrun made us miss
                        when += interval
                    next_due[interval] = when
            await anyio.sleep(max(0.0, min(next_due.values()) - anyio.current_time()))

    def _probe_backoff(self) -> Backoff:
        """Pacing of probes: the first comes two scan intervals after the failed cycle
        (the shortest interval of the slave's points), then the wait doubles up to
        ``PROBE_INTERVAL_MAX``, and is never shorter than one scan interval."""
        shortest = min(self._intervals.values(), default=PROBE_INTERVAL_MAX)
        return Backoff(
            initial=2 * shortest, maximum=max(PROBE_INTERVAL_MAX, shortest), jitter=0
        )

    async def _guarded(self, work: Awaitable[object]) -> None:
        """Run one cycle; a bug in it is logged and counted, and polling goes on."""
        try:
            await work
        except Exception as err:
            self.stats.errors += 1
            self.stats.last_error = f"internal error: {err!r}"
            _LOGGER.exception("Modbus poll of %s failed unexpectedly", self)

    async def poll(self, intervals: frozenset[float] | None = None, *, probe: bool = False) -> int:
        """Run one cycle; returns the number of requests sent.

        A probe sends only the first request of the plan, without retries: it only has
        to find out whether the slave answers at all.
        """
        plan = self.plan(intervals)
        requests = plan.requests[:1] if probe else plan.requests
        started = anyio.current_time()
        sent = answered = 0
        changed: set[ReadSpan] = set()
        for request in requests:
            sent += 1
            try:
                values = await self.hub.read(
                    self.slave, request.register_type, request.address, request.count,
                    retries=0 if probe else None,
                )
            except ModbusDeviceError as err:
                answered += 1
                if err.code == ILLEGAL_DATA_ADDRESS and len(request.spans) > 1:
                    sent += await self._split(request, changed)
                else:
                    self._fail_spans(request, err, changed)
            except ModbusConnectionError as err:
                self._fail_spans(request, err, changed)
                break  # the line is down: the remaining requests would fail the same way
            except ModbusRequestError as err:
                self._fail_spans(request, err, changed)
                if answered == 0 and isinstance(err, ModbusTimeoutError):
                    # Silent from the first request on: the slave is most likely gone, and
                    # every further request would hold the line for another timeout.
                    for rest in requests[requests.index(request) + 1 :]:
                        self._fail_spans(rest, err, changed)
                    break
            else:
                answered += 1
                for span in request.spans:
                    self._store(span, SpanState(request.extract(span, values)), changed)
        self.stats.cycles += 1
        self.stats.last_cycle_requests = sent
        self.stats.last_cycle_duration = anyio.current_time() - started
        self._set_available(answered > 0 or sent == 0, changed)
        self._notify(changed)
        return sent

    async def _split(self, request: ReadRequest, changed: set[ReadSpan]) -> int:
        """Read the spans of a refused merged request one by one, and keep them apart."""
        _LOGGER.info(
            "Modbus %s refused %s (IllegalDataAddress); reading its %d points separately",
            self, request.describe(), len(request.spans),
        )
        self._isolated = self._isolated | set(request.spans)
        self._plans.clear()
        sent = 0
        for span in request.spans:
            sent += 1
            try:
                values = await self.hub.read(
                    self.slave, span.register_type, span.address, span.count
                )
            except ModbusError as err:
                self._store(span, SpanState(None, str(err)), changed)
            else:
                self._store(span, SpanState(tuple(values)), changed)
        return sent

    async def refresh(self, span: ReadSpan) -> SpanState:
        """Read one span now (after a write); raises the hub's errors to the caller.

        Listeners of the span are told even if the reading did not change: a poll cycle
        in progress may have stored the same value already without having told anyone
        yet (cycles publish when they end).
        """
        changed: set[ReadSpan] = {span}
        try:
            values = await self.hub.read(self.slave, span.register_type, span.address, span.count)
        except ModbusError as err:
            self._store(span, SpanState(None, str(err)), changed)
            self._notify(changed)
            raise
        self._store(span, SpanState(tuple(values)), changed)
        self._notify(changed)
        return self.state(span)

    # -- publishing ------------------------------------------------------------------

    def _fail_spans(self, request: ReadRequest, err: ModbusError, changed: set[ReadSpan]) -> None:
        for span in request.spans:
            self._store(span, SpanState(None, str(err)), changed)

    def _store(self, span: ReadSpan, state: SpanState, changed: set[ReadSpan]) -> None:
        if self._states.get(span) != state:
            self._states[span] = state
            changed.add(span)

    def _set_available(self, available: bool, changed: set[ReadSpan]) -> None:
        if available:
            self._probes.succeeded()
        else:
            self._probe_delay = self._probes.failed()
        if available == self.stats.available:
            return
        self.stats.available = available
        changed.update(self._intervals)
        if available:
            _LOGGER.info("Modbus %s answers again", self)
        else:
            _LOGGER.warning(
                "Modbus %s stopped answering (%s); probing it until it is back",
                self, self.stats.last_error,
            )

    def _notify(self, changed: set[ReadSpan]) -> None:
        listeners = [cb for span in changed for cb in self._listeners.get(span, ())]
        for listener in [*listeners, *self._cycle_listeners]:
            try:
                listener()
            except Exception:
                # One entity failing to write its state must not hide the others' values.
                _LOGGER.exception("Modbus %s: listener %r failed", self, listener)

