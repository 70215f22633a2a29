"""State changes → points in the outbox (the hot path).

A ``state_changed`` listener that runs inline on the bus (a sync callback: no task per
state): filter, make the line, ``enqueue_nowait`` it. The point becomes durable with
the outbox's next group commit, normally within milliseconds; ``barrier()`` waits for
that (an empty message enqueued durably: commits are in order, so when it is on disk so
is every point before it; the sender skips it).

Nothing here can stall the loop or grow memory: encoding is bounded by the state's own
size, and the outbox's bounds (``outbox: max_messages/max_bytes``, ``drop_oldest`` by
default for telemetry) decide what happens when InfluxDB is away for long.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gatehouse.core import Event, State, StateChangedData
from gatehouse.core.helpers import BurstLog, OutboxError, OutboxLink

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
    ) -> None:
        self.maker = maker
        self.link = link
        self.accept = accept
        self.priority = priority
        # Typed loosely on purpose: ``priority=`` is the outbox's newer keyword.
        self._enqueue: Any = link.enqueue_nowait
        self.points = 0
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
        try:
            if self.priority is None:
                self._enqueue(line.encode())
            else:
                self._enqueue(line.encode(), priority=self.priority(state))
        except OutboxError as err:
            self._refused.hit(reason=str(err))
            return
        self.points += 1

    def enqueue_line(self, line: str) -> None:
        """Queue one ready line (the ``influxdb.write`` service)."""
        self._enqueue(line.encode())

    async def barrier(self) -> None:
        """Return once every point queued so far is on disk."""
        await self.link.enqueue(b"")
