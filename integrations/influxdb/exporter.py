"""State changes → points in the outbox (the hot path).

A ``state_changed`` listener that runs inline on the bus (a sync callback: no task per
state): filter, make the line, and queue it. Points made in the same turn of the event
loop share one outbox message (at most ``MAX_POINTS_PER_MESSAGE``, one message per
priority), handed to ``enqueue_nowait`` at the end of that turn: a burst of states
costs one outbox row per 64 points instead of one per point, which is what lets the
exporter keep up with tens of thousands of states per second (the outbox's rows, not
the line protocol, were the limit: ``scripts/bench/bench_influxdb.py``). A lone state
is still a message of its own at once. The window in which a crash loses a point is
the outbox's usual one (until the next group commit, normally milliseconds) plus the
rest of the current loop turn; ``barrier()`` waits until every point queued so far is
on disk (an empty message enqueued durably: commits are in order, so when it is on
disk so is every point before it; the sender skips it).

A point InfluxDB refuses is still dead-lettered alone (``writer.py`` queues it again
by itself, marked, and settles the message it came in).

Nothing here can stall the loop or grow memory: encoding is bounded by the state's own
size, a message by ``MAX_POINTS_PER_MESSAGE``, and the outbox's bounds (``outbox:
max_messages/max_bytes``, ``drop_oldest`` by default for telemetry) decide what happens
when InfluxDB is away for long.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from gatehouse.core import Event, State, StateChangedData
from gatehouse.core.helpers import BurstLog, OutboxError, OutboxLink

from .const import MAX_POINTS_PER_MESSAGE
from .point import PointMaker

_LOGGER = logging.getLogger(__name__)


class Exporter:
    """The entry's ``state_changed`` listener."""

    def __init__(
        self,
        name: str,
        maker: PointMaker,
        link: OutboxLink,
        accept: Callable[[State], bool],
        priority: Callable[[State], int] | None,
        sensitive: Callable[[str], bool] | None = None,
    ) -> None:
        self.maker = maker
        #: Tag encryption (README "Tag encryption"): a sensitive entity's point is a
        #: message of its own, queued with its entity id so the outbox stores it
        #: encrypted (a shared message has no one entity to bind the ciphertext to).
        self.sensitive = sensitive
        self.link = link
        self.accept = accept
        self.priority = priority
        self._pending: dict[int, list[bytes]] = {}
        self._scheduled = False
        self.points = 0
        self.messages = 0
        self.filtered = 0
        self._refused = BurstLog(
            _LOGGER,
            "InfluxDB %(name)s: points not queued (%(reason)s)",
            "InfluxDB %(name)s: queueing points again after %(count)d refused",
            name=name,
        )

    def __call__(self, event: Event[StateChangedData]) -> None:
        state = event.data["new_state"]
        if state is None:
            return
        if not self.accept(state):
            self.filtered += 1
            return
        line = self.maker.line(state)
        if line is None:
            return
        priority = 0 if self.priority is None else self.priority(state)
        if self.sensitive is not None and self.sensitive(state.entity_id):
            self._send_alone(state.entity_id, line.encode(), priority)
            return
        pending = self._pending.get(priority)
        if pending is None:
            pending = self._pending[priority] = []
        pending.append(line.encode())
        self.points += 1
        if len(pending) >= MAX_POINTS_PER_MESSAGE:
            self._send(priority, pending)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def _send(self, priority: int, lines: list[bytes]) -> None:
        del self._pending[priority]
        try:
            self.link.enqueue_nowait(b"\n".join(lines), priority=priority)
        except OutboxError as err:
            self._refused.hit(len(lines), reason=str(err))
            return
        self.messages += 1

    def _send_alone(self, entity_id: str, line: bytes, priority: int) -> None:
        self.points += 1
        try:
            self.link.enqueue_nowait(line, priority=priority, entity_id=entity_id)
        except OutboxError as err:
            self._refused.hit(1, reason=str(err))
            return
        self.messages += 1

    def flush(self) -> None:
        """Queue what this loop turn made (runs at the end of the turn, and on unload)."""
        self._scheduled = False
        for priority, lines in list(self._pending.items()):
            self._send(priority, lines)

    async def barrier(self) -> None:
        """Return once every point queued so far is on disk."""
        self.flush()
        await self.link.enqueue(b"")
