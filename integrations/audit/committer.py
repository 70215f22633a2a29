"""``AuditLog``: records offered from the event loop, written by one task in group commits.

``append`` is synchronous and never blocks (bus listeners call it inline): it puts the
record on a bounded list and wakes the writer task. The task takes the whole list as
one round and hands it to ``LogWriter.write_batch`` in a worker thread, which appends
every line and fsyncs once (the pattern of ``core/outbox/queue.py``): while one round
is on its way to disk the next fills up, so rounds grow with load and an idle log
commits a lone record at once. ``flush()`` waits until everything offered so far is
durable.

When the list is full, a record is dropped and counted, not queued: memory stays
bounded whatever floods the bus. The count itself is recorded (``audit.overflow``,
``details.dropped``) as the first record of the next round, i.e. when there is space
again, so the log says where it has a gap.

A round that cannot be written (disk full, I/O error) is lost: its waiters get the
error, ``write_failures`` counts it, and the writer re-reads the chain from disk (a
half-written line is cut and recorded), so the next round continues an intact chain.

Checkpoints are signed every ``checkpoint_records`` records, ``checkpoint_interval``
seconds after the first unsigned record, and when the log closes; ``on_checkpoint``
gets each new note once it is on disk (the integration fires ``audit_checkpoint``).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread

from .writer import LogWriter, Pending

_LOGGER = logging.getLogger(__name__)

_NOBODY: dict[str, str | None] = {"user_id": None, "name": None, "ip": None}


class _Ticket:
    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.error: BaseException | None = None


class AuditLog:
    """The running log of one entry."""

    def __init__(
        self, writer: LogWriter, *, queue_size: int, checkpoint_records: int,
        checkpoint_interval: float,
        on_checkpoint: Callable[[str], None] | None = None,
    ) -> None:
        self.writer = writer
        #: Called with each new note once it is on disk (the integration sets it).
        self.on_checkpoint = on_checkpoint
        self.queue_size = queue_size
        self.checkpoint_records = checkpoint_records
        self.checkpoint_interval = checkpoint_interval
        self._pending: list[Pending] = []
        self._ticket = _Ticket()
        #: The ticket of the round being written (its records are no longer pending).
        self._inflight: _Ticket | None = None
        self._wake = anyio.Event()
        self._closing = False
        self._stopped = anyio.Event()
        self._force_checkpoint = False
        self._unsigned_since: float | None = None
        self.appended = 0
        self.written = 0
        self.dropped = 0
        self._dropped_unreported = 0
        self.rounds = 0
        self.failures = 0
        self.refused_closed = 0

    # -- producers ------------------------------------------------------------------

    def append(
        self, action: str, *, actor: dict[str, str | None] | None = None,
        target: str | None = None, result: str = "ok", details: dict[str, Any] | None = None,
    ) -> bool:
        """Offer one record; False if it was dropped (queue full or closed)."""
        if self._closing:
            self.refused_closed += 1
            return False
        if len(self._pending) >= self.queue_size:
            self.dropped += 1
            self._dropped_unreported += 1
            return False
        self._pending.append(
            Pending(action, dict(actor or _NOBODY), target, result, dict(details or {}))
        )
        self.appended += 1
        self._wake.set()
        return True

    async def flush(self) -> None:
        """Return once every record offered before the call is on disk (fsynced)."""
        if self._pending or self._dropped_unreported:
            ticket = self._ticket
            self._wake.set()
        elif self._inflight is not None:
            ticket = self._inflight  # taken by the writer, not yet fsynced
        else:
            return
        await ticket.done.wait()
        if ticket.error is not None:
            raise ticket.error

    async def checkpoint(self) -> None:
        """Sign a checkpoint now (if anything is unsigned) and wait for it."""
        self._force_checkpoint = True
        ticket = self._ticket
        self._wake.set()
        await ticket.done.wait()

    @property
    def pending(self) -> int:
        return len(self._pending)

    # -- the writer task ------------------------------------------------------------

    async def run(self) -> None:
        """Commit rounds until closed; on cancellation the rest is still written."""
        if self.writer.since_checkpoint and self._unsigned_since is None:
            self._unsigned_since = time.monotonic()  # left unsigned by the last run
        try:
            while True:
                if not self._pending and not self._dropped_unreported \
                        and not self._force_checkpoint:
                    if self._closing:
                        break
                    self._wake = anyio.Event()
                    with anyio.move_on_after(self._wait_time()):
                        await self._wake.wait()
                    if not self._wake.is_set() and self._unsigned_since is not None:
                        self._force_checkpoint = True
                    continue
                await self._round()
        finally:
            with anyio.CancelScope(shield=True):
                self._closing = True
                while self._pending or self._dropped_unreported:
                    await self._round()
                if self.writer.since_checkpoint:
                    self._force_checkpoint = True
                    await self._round()
                await anyio.to_thread.run_sync(self.writer.close)
                self._stopped.set()

    def _wait_time(self) -> float:
        if self._unsigned_since is None:
            return math.inf
        return max(0.0, self._unsigned_since + self.checkpoint_interval - time.monotonic())

    async def _round(self) -> None:
        batch, ticket = self._pending, self._ticket
        self._pending, self._ticket = [], _Ticket()
        if self._dropped_unreported:
            overflow = Pending("audit.overflow", dict(_NOBODY), None, "dropped",
                               {"dropped": self._dropped_unreported})
            batch = [overflow, *batch]
            self._dropped_unreported = 0
        due = self._force_checkpoint or (
            self.writer.since_checkpoint + len(batch) >= self.checkpoint_records
        )
        self._force_checkpoint = False
        self._inflight = ticket
        checkpoints = self.writer.checkpoints
        try:
            written = await anyio.to_thread.run_sync(self.writer.write_batch, batch, due)
        except Exception as exc:  # noqa: BLE001 - the waiters must hear, the task go on
            _LOGGER.error("Audit log: writing %d records failed: %s", len(batch), exc)
            self.failures += 1
            self._inflight = None
            ticket.error = exc
            ticket.done.set()
            try:  # back in step with the disk: a half-written line is cut on reopen
                await anyio.to_thread.run_sync(self.writer.reopen)
            except Exception as again:  # noqa: BLE001 - the next round tries again
                _LOGGER.error("Audit log: reopening after the failure failed: %s", again)
            return
        self.rounds += 1
        self.written += written
        self._inflight = None
        ticket.done.set()
        if self.writer.checkpoints != checkpoints and self.on_checkpoint is not None:
            note = self.writer.last_note
            if note is not None:
                try:
                    self.on_checkpoint(note)
                except Exception:
                    _LOGGER.exception("Audit log: checkpoint callback failed")
        if self.writer.since_checkpoint == 0:
            self._unsigned_since = None
        elif self._unsigned_since is None:
            self._unsigned_since = time.monotonic()

    async def close(self) -> None:
        """Write what is queued, sign a last checkpoint, close the file."""
        self._closing = True
        self._wake.set()
        await self._stopped.wait()

    def diagnostics(self) -> dict[str, Any]:
        return {
            "origin": self.writer.origin, "seq": self.writer.seq,
            "file": self.writer.current_file, "appended": self.appended,
            "written": self.written, "dropped": self.dropped, "pending": self.pending,
            "rounds": self.rounds, "checkpoints": self.writer.checkpoints,
            "write_failures": self.failures,
        }
