"""One task per destination that moves its queue to the destination's :class:`Sender`.

The loop is fetch → send → settle, strictly one batch at a time: a destination's order
is only kept if batch n+1 is not handed over before batch n is settled. A fetch takes
the queue's head in (priority DESC, id) order, so an alarm committed while a batch is
in flight goes into the next batch, ahead of the telemetry still queued. Throughput
comes from the batch size (the sender may pipeline inside a batch), not from
overlapping batches.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import anyio

from .models import (
    BreakerState,
    DeliveryOutcome,
    OutboxMessage,
    OutcomeKind,
    PermanentDeliveryError,
    Sender,
    TransientDeliveryError,
)
from .policy import Backoff, BreakerPolicy, CircuitBreaker

_LOGGER = logging.getLogger(__name__)

#: What the queue's database raises when the disk is full or failing (worker thread).
STORE_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)


@dataclass(slots=True)
class Counters:
    """Per-destination counters since the outbox opened (mutated on the event loop)."""

    enqueued: int = 0
    delivered: int = 0
    dropped: int = 0
    refused: int = 0
    expired: int = 0
    dead_lettered: int = 0
    retries: int = 0
    redeliveries: int = 0


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    """The delivery half of a destination's configuration."""

    batch_size: int
    backoff: Backoff
    breaker: BreakerPolicy
    send_timeout: float | None


Fetch = Callable[[str, int], Awaitable[tuple[list[OutboxMessage], int]]]
Settle = Callable[[str, Sequence[int], Sequence[tuple[int, str]]], Awaitable[int]]


@dataclass(slots=True)
class _Verdict:
    """How one attempt went: ``settled`` are the ids of the batch's settled prefix."""

    acked: int = 0
    rejects: list[tuple[int, str]] = field(default_factory=list)
    settled: list[int] = field(default_factory=list)
    retry: bool = False


class Dispatcher:
    """Delivers one destination's queue; created and started by the outbox.

    ``fetch`` and ``settle`` are the store's methods already wrapped to run in the
    worker thread. ``is_idle`` tells whether enqueued rows are still waiting for their
    group commit, so :meth:`wait_drained` does not report "empty" while they are.
    """

    def __init__(
        self,
        name: str,
        sender: Sender,
        settings: DispatchSettings,
        counters: Counters,
        fetch: Fetch,
        settle: Settle,
        is_idle: Callable[[], bool],
    ) -> None:
        self.name = name
        self.sender = sender
        self.settings = settings
        self.counters = counters
        self.breaker = CircuitBreaker(settings.breaker)
        self.scope = anyio.CancelScope()
        self.finished = anyio.Event()
        self._fetch = fetch
        self._settle = settle
        self._is_idle = is_idle
        self._wake = anyio.Event()
        self._drained: anyio.Event | None = None
        self._sleeping_empty = False
        self._failures = 0
        self._store_failures = 0

    def notify(self) -> None:
        """New rows were committed: wake the dispatcher if it sleeps on an empty queue."""
        self._wake.set()

    async def wait_drained(self) -> None:
        """Return once the dispatcher has found the queue empty with nothing pending."""
        if self._sleeping_empty and not self._wake.is_set() and self._is_idle():
            return
        if self._drained is None:
            self._drained = anyio.Event()
        await self._drained.wait()

    def stop(self) -> None:
        """Stop delivering (the task ends at its next await); the queue stays on disk."""
        self.scope.cancel()

    async def run(self) -> None:
        """The dispatcher task: loop until stopped."""
        try:
            with self.scope:
                await self._loop()
        finally:
            self.finished.set()

    async def _loop(self) -> None:
        while True:
            breaker = self.breaker
            if breaker.state is BreakerState.OPEN:
                await anyio.sleep(breaker.retry_after(anyio.current_time()))
                if not breaker.allow(anyio.current_time()):
                    continue
                _LOGGER.info("Outbox %s: circuit half-open, sending a probe", self.name)
            limit = 1 if breaker.state is BreakerState.HALF_OPEN else self.settings.batch_size
            # Fresh event before looking at the queue: a commit that lands after the
            # fetch started sets this one, so the wait below cannot miss it.
            self._wake = anyio.Event()
            try:
                batch, expired = await self._fetch(self.name, limit)
            except STORE_ERRORS as err:
                await self._store_trouble(err)
                continue
            self._store_recovered()
            if expired:
                self._note_expired(expired)
            if not batch:
                if self._drained is not None and self._is_idle():
                    self._drained.set()
                    self._drained = None
                self._sleeping_empty = True
                try:
                    await self._wake.wait()
                finally:
                    self._sleeping_empty = False
                continue
            self.counters.redeliveries += sum(1 for message in batch if message.attempts)
            try:
                verdict = await self._attempt(batch)
            except STORE_ERRORS as err:  # settling failed: the batch is sent again later
                await self._store_trouble(err)
                continue
            if not verdict.retry:
                self._succeeded()
                continue
            self.counters.retries += 1
            if verdict.settled:
                # Partial progress: the destination is alive, only the rest must wait.
                self._succeeded()
                self._failures = 1
            else:
                self._failures += 1
                previous = breaker.state
                if breaker.record_failure(anyio.current_time()) is BreakerState.OPEN:
                    level = logging.WARNING if previous is BreakerState.CLOSED else logging.DEBUG
                    _LOGGER.log(
                        level,
                        "Outbox %s: circuit open after %d consecutive failures; "
                        "next probe in %.1f s",
                        self.name,
                        breaker.consecutive_failures,
                        self.settings.breaker.reset_timeout,
                    )
                    continue
            await anyio.sleep(self.settings.backoff.delay(self._failures))

    async def _store_trouble(self, err: BaseException) -> None:
        """The queue's database failed (a full disk, an I/O error): wait and try again.

        Never raised into the host's task group: one destination's storage trouble
        must not stop the host (or the other destinations). Nothing is lost — what
        was fetched stays queued, what was sent but not settled is sent again (at
        least once). Logged once per streak, with the back-off between attempts.
        """
        self._store_failures += 1
        if self._store_failures == 1:
            _LOGGER.error("Outbox %s: its database failed (%s); retrying with back-off "
                          "until it works again", self.name, err)
        await anyio.sleep(self.settings.backoff.delay(self._store_failures))

    def _store_recovered(self) -> None:
        if self._store_failures:
            _LOGGER.warning("Outbox %s: its database works again after %d failed attempts",
                            self.name, self._store_failures)
            self._store_failures = 0

    def _succeeded(self) -> None:
        if self.breaker.record_success() is not BreakerState.CLOSED:
            _LOGGER.info("Outbox %s: destination answers again, circuit closed", self.name)
        self._failures = 0

    def _note_expired(self, expired: int) -> None:
        self.counters.expired += expired
        _LOGGER.debug("Outbox %s: %d messages expired before delivery", self.name, expired)

    async def _attempt(self, batch: Sequence[OutboxMessage]) -> _Verdict:
        """Hand ``batch`` to the sender and settle what it reports."""
        outcomes: Sequence[DeliveryOutcome] | None
        try:
            # A sender stuck on a half-open TCP connection would otherwise hold the
            # whole queue hostage; the timeout turns that into an ordinary retry.
            with anyio.fail_after(self.settings.send_timeout):
                outcomes = await self.sender.send(batch)
        except PermanentDeliveryError as exc:
            outcomes = [DeliveryOutcome.rejected(exc.reason)] * len(batch)
        except TransientDeliveryError as exc:
            self._log_failure("transient failure: %s", exc)
            outcomes = None
        except TimeoutError:
            self._log_failure("no answer within %s s", self.settings.send_timeout)
            outcomes = None
        except Exception:
            # A sender bug must not lose data: treat it like a transient failure so the
            # messages stay queued and the breaker eventually opens.
            _LOGGER.exception("Outbox %s: sender raised unexpectedly", self.name)
            outcomes = None
        verdict = self._judge(batch, outcomes)
        if verdict.settled:
            # Shielded: once the sender has reported, the bookkeeping must happen even if
            # the dispatcher is being stopped, or the counters would drift from the disk.
            with anyio.CancelScope(shield=True):
                await self._settle(self.name, verdict.settled, verdict.rejects)
            self.counters.delivered += verdict.acked
            if verdict.rejects:
                self.counters.dead_lettered += len(verdict.rejects)
                _LOGGER.warning(
                    "Outbox %s: %d messages rejected for good and dead-lettered (first: %s)",
                    self.name,
                    len(verdict.rejects),
                    verdict.rejects[0][1],
                )
        return verdict

    def _judge(
        self, batch: Sequence[OutboxMessage], outcomes: Sequence[DeliveryOutcome] | None
    ) -> _Verdict:
        """Find the settled prefix: everything up to the first message to retry.

        Outcomes after the first RETRY are ignored on purpose: those messages stay
        queued behind the one that failed, so the destination sees them again in order.
        """
        verdict = _Verdict()
        if outcomes is None:
            verdict.retry = True
            return verdict
        if len(outcomes) != len(batch):
            _LOGGER.warning(
                "Outbox %s: sender returned %d outcomes for %d messages; "
                "the missing ones are retried",
                self.name,
                len(outcomes),
                len(batch),
            )
        for index, message in enumerate(batch):
            outcome = outcomes[index] if index < len(outcomes) else DeliveryOutcome.RETRY
            if outcome.kind is OutcomeKind.ACKED:
                verdict.acked += 1
            elif outcome.kind is OutcomeKind.REJECTED:
                verdict.rejects.append((message.id, outcome.reason or "rejected"))
            else:
                verdict.retry = True
                break
            verdict.settled.append(message.id)
        return verdict

    def _log_failure(self, template: str, detail: object) -> None:
        # Warn on the first failure of a streak only; the rest are debug noise that the
        # retries counter and the breaker state already show.
        level = logging.WARNING if self._failures == 0 else logging.DEBUG
        _LOGGER.log(level, "Outbox %s: " + template, self.name, detail)
