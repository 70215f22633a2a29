"""Group commit: many concurrent ``enqueue()`` calls share one durable transaction.

An fsync costs the same whether it covers one row or a thousand, so paying one per
message would cap the outbox at the disk's fsync rate (a few thousand per second on
good flash, tens on an SD card). Instead every ``enqueue()`` appends its row to an
in-memory list and waits on the *ticket* of the commit round that list belongs to; a
single writer task takes the whole list, commits it in one transaction in a worker
thread, and sets the ticket, releasing every waiter at once. While one round is on its
way to the disk the next one fills up, so batches grow with load by themselves and no
artificial delay ("wait 5 ms for more rows") is needed: an idle outbox commits a lone
message immediately.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

import anyio

from .models import OutboxClosed
from .store import Bound, InsertResult, Row

_LOGGER = logging.getLogger(__name__)


class CommitTicket:
    """Shared by every row of one commit round; set when the round is durable or failed."""

    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.error: BaseException | None = None

    def fail(self, error: BaseException) -> None:
        """Release the waiters with ``error``."""
        self.error = error
        self.done.set()


Committer = Callable[[Sequence[Row], Mapping[str, Bound]], Awaitable[InsertResult]]


class GroupCommitWriter:
    """Owns the pending rows and the one task that commits them.

    The callbacks keep this class ignorant of destinations and counters:
    ``bounds_for`` gives the eviction bounds of the destinations in a round,
    ``on_committed`` and ``on_failed`` let the outbox update its counters and wake
    dispatchers.
    """

    def __init__(
        self,
        commit: Committer,
        bounds_for: Callable[[Sequence[Row]], Mapping[str, Bound]],
        on_committed: Callable[[Sequence[Row], InsertResult], None],
        on_failed: Callable[[Sequence[Row], BaseException], None],
    ) -> None:
        self._commit = commit
        self._bounds_for = bounds_for
        self._on_committed = on_committed
        self._on_failed = on_failed
        self._rows: list[Row] = []
        self._ticket = CommitTicket()
        self._wake = anyio.Event()
        self._closing = False
        self.rounds = 0

    @property
    def pending(self) -> int:
        """Rows waiting for the next round."""
        return len(self._rows)

    def submit(self, row: Row) -> CommitTicket:
        """Queue ``row`` for the next round and return that round's ticket.

        Synchronous on purpose: rows join the list in call order, so the order in which
        callers *started* ``enqueue()`` is the order on disk and on the wire.
        """
        if self._closing:
            raise OutboxClosed("outbox is closing")
        self._rows.append(row)
        if not self._wake.is_set():
            self._wake.set()
        return self._ticket

    def close(self) -> None:
        """Refuse new rows; :meth:`run` returns once what was submitted is committed."""
        self._closing = True
        self._wake.set()

    def abort(self, error: BaseException) -> None:
        """Fail every submitted, uncommitted row with ``error`` (used if never started)."""
        self._closing = True
        if self._rows:
            rows, self._rows = self._rows, []
            self._on_failed(rows, error)
            self._ticket.fail(error)
            self._ticket = CommitTicket()

    async def run(self) -> None:
        """Commit rounds until closed and drained.

        If this task is cancelled, rows not yet committed are failed with
        :class:`OutboxClosed` so that no ``enqueue()`` waits forever.
        """
        try:
            while True:
                if not self._rows:
                    if self._closing:
                        return
                    # Replace the event before waiting, with no await in between, so a
                    # submit() after the emptiness check always sets the awaited event.
                    self._wake = anyio.Event()
                    await self._wake.wait()
                    continue
                rows, ticket = self._rows, self._ticket
                self._rows, self._ticket = [], CommitTicket()
                try:
                    result = await self._commit(rows, self._bounds_for(rows))
                except Exception as exc:  # noqa: BLE001 - any failure must reach the waiters
                    _LOGGER.error("Outbox commit of %d messages failed: %s", len(rows), exc)
                    self._on_failed(rows, exc)
                    ticket.fail(exc)
                    continue
                self.rounds += 1
                # Set the ticket before the bookkeeping callback, and with no await in
                # between: even if this task is being cancelled, the rows *are* durable
                # and their callers must hear so.
                ticket.done.set()
                self._on_committed(rows, result)
        finally:
            self.abort(OutboxClosed("outbox stopped before the message was committed"))
