"""The :class:`Outbox`: durable store-and-forward for everything that leaves the box.

Integrations that push data to a remote system (MQTT, NATS, AWS IoT, InfluxDB) enqueue
here instead of sending directly, so a broker outage, a flaky uplink or a restart costs
latency, never data. The outbox guarantees:

* **durability**: when ``enqueue()`` returns, the message is fsynced to SQLite (WAL,
  synchronous=FULL) and survives kill -9 and power loss;
* **at-least-once, in order per priority**: a message is deleted only after its
  destination acknowledged it; after a failure or a restart, delivery resumes at the
  first unacknowledged message (duplicates possible, counted as redeliveries);
* **priorities**: ``enqueue(..., priority=n)`` (alarms 10, telemetry 0, bulk -10 by
  convention; any 32-bit int). A destination's queue is served highest priority first,
  strictly FIFO within one priority, so an alarm overtakes a backlog of telemetry
  queued during an outage. "In order" means per priority: two messages of the same
  priority reach the sender in enqueue order; a higher one may overtake. A batch is a
  prefix of that order, so it may span priorities (alarms first) but never reorders
  one priority, and a retry resumes at the first unsettled message. An alarm waits at
  most for the batch already in flight. Strict priority can starve lower ones while
  higher ones keep coming: meant for rare, urgent messages, not a second data stream;
* **bounded disk use**: per destination, by message count and/or bytes, with an
  explicit overflow policy: ``drop_oldest`` evicts the lowest priority first (oldest
  first within it), so no alarm is dropped while telemetry is queued; ``refuse``
  turns away any message at the bound, whatever its priority (the bound protects the
  disk, and the caller hears ``OutboxFull`` before anything is stored);
* **TTL** per message, whatever its priority; dead letters keep their priority and
  get it back when requeued;
* **no busy work**: dispatchers sleep on an event while their queue is empty, and
  back off (exponential, jittered, behind a circuit breaker) while a destination fails;
* **sensitive values encrypted at rest**: ``enqueue(..., entity_id=...)`` with an
  outbox ``cipher`` (the host's: ``gatehouse.core.crypto``) stores the payload of a
  sensitive entity as an AES-GCM envelope, marked by the reserved header
  ``ENCRYPTED_HEADER``, and decrypts it in the worker thread before the sender sees
  it (the sender never sees the header either). A message whose key is missing, or
  that does not authenticate, goes to the dead letters still encrypted, with the
  reason naming the key id: requeue it once the keyring is restored. A header rather
  than a column: no schema migration, and an older Gatehouse reading the file would
  deliver the envelope, never the plaintext.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeVar, TypeVarTuple, Unpack

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup, TaskStatus

from ..exceptions import GatehouseError
from ..util.burstlog import BurstLog
from .dispatcher import Counters, Dispatcher, DispatchSettings
from .models import (
    BreakerState,
    DeadLetter,
    DestinationStats,
    OutboxClosed,
    OutboxError,
    OutboxFull,
    OutboxMessage,
    OverflowPolicy,
    Sender,
    StoreStats,
    UnknownDestination,
)
from .policy import Backoff, BreakerPolicy
from .queue import CommitTicket, GroupCommitWriter
from .store import (
    PRIORITY_MAX,
    PRIORITY_MIN,
    Bound,
    InsertResult,
    OutboxStore,
    Row,
    Tally,
    encode_headers,
)

if TYPE_CHECKING:
    from ..crypto import TagCipher

_LOGGER = logging.getLogger(__name__)

ENCRYPTED_HEADER: Final = "x-gatehouse-encrypted"
"""Marks a stored payload as an envelope; reserved (an enqueue naming it is refused)
and removed before a sender sees the message."""

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")

DEFAULT_MAX_MESSAGES = 100_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class DestinationConfig:
    """Everything :meth:`Outbox.register_destination` was told about a destination."""

    max_messages: int | None
    max_bytes: int | None
    overflow: OverflowPolicy
    ttl: float | None
    batch_size: int
    backoff: Backoff
    breaker: BreakerPolicy
    send_timeout: float | None

    def bound(self) -> Bound:
        """The size bound in the store's terms."""
        return Bound(
            self.max_messages,
            self.max_bytes,
            self.overflow is OverflowPolicy.DROP_OLDEST,
        )


def _overflow_log(destination: str, what: str) -> BurstLog:
    """Logs an overflow once when it starts and once when it ends, never per message.

    A full queue under load overflows on every enqueue; a log line each time would
    fill the disk the outbox is trying to protect.
    """
    return BurstLog(
        _LOGGER,
        "Outbox %(destination)s is full (%(detail)s): %(what)s messages; further ones are "
        "counted, not logged, until it has room again",
        "Outbox %(destination)s has room again; %(count)d messages were %(what)s meanwhile",
        end_level=logging.WARNING,
        destination=destination,
        what=what,
    )


@dataclass(slots=True)
class _Destination:
    """Runtime state of a registered destination."""

    config: DestinationConfig
    sender: Sender
    dispatcher: Dispatcher | None = None


class Outbox:
    """Durable per-destination queues with delivery tasks; see the module docstring.

    Use either ``async with Outbox.open(path) as outbox:`` or, inside a host's own task
    group, ``outbox = Outbox(path); await outbox.start(task_group)`` and later
    ``await outbox.close()``. Only one process may use a database file at a time.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, cipher: TagCipher | None = None
    ) -> None:
        self.path = path
        self.cipher = cipher
        """Encrypts sensitive entities' payloads at rest and decrypts them for senders."""
        self._store = OutboxStore(path)
        self._limiter = anyio.CapacityLimiter(1)
        self._destinations: dict[str, _Destination] = {}
        self._counters: dict[str, Counters] = {}
        self._drop_bursts: dict[str, BurstLog] = {}
        self._refuse_bursts: dict[str, BurstLog] = {}
        self._writer = GroupCommitWriter(
            self._insert, self._bounds_for, self._committed, self._commit_failed
        )
        self._task_group: TaskGroup | None = None
        self._started = False
        self._ready = False
        self._closing = False
        self._close_requested = anyio.Event()
        self._stopped = anyio.Event()

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    @asynccontextmanager
    async def open(
        cls, path: str | os.PathLike[str], *, cipher: TagCipher | None = None
    ) -> AsyncIterator[Outbox]:
        """Open the outbox for the duration of a block; closing commits pending enqueues."""
        outbox = cls(path, cipher=cipher)
        async with anyio.create_task_group() as task_group:
            await outbox.start(task_group)
            try:
                yield outbox
            finally:
                with anyio.CancelScope(shield=True):
                    await outbox.close()

    async def start(self, task_group: TaskGroup) -> None:
        """Open the database and start the writer and dispatchers inside ``task_group``.

        Returns once the database is open and queued messages are counted, so stats and
        enqueues work right away. Errors opening the file are raised here.
        """
        if self._started:
            raise RuntimeError("outbox already started")
        self._started = True
        await task_group.start(self._run)

    async def _run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        try:
            await self._call(self._store.open)
            for name in self._store.tallies:
                self._counters_for(name)
            async with anyio.create_task_group() as task_group:
                self._task_group = task_group
                task_group.start_soon(self._writer.run)
                for name, destination in self._destinations.items():
                    self._spawn(name, destination)
                self._ready = True
                task_status.started()
                await self._close_requested.wait()
                # Dispatchers first, so no new batch starts; then let the writer commit
                # what was accepted before close() and return.
                for destination in self._destinations.values():
                    if destination.dispatcher is not None:
                        destination.dispatcher.stop()
                self._writer.close()
        finally:
            self._task_group = None
            self._closing = True
            with anyio.CancelScope(shield=True):
                await self._call(self._store.close)
            self._stopped.set()

    async def close(self) -> None:
        """Stop the dispatchers, commit enqueues accepted so far, close the database.

        Messages not yet delivered stay on disk for the next start. Idempotent.
        """
        self._closing = True
        if not self._started:
            self._writer.abort(OutboxClosed("outbox closed before it was started"))
            return
        self._close_requested.set()
        await self._stopped.wait()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called (or the outbox's task ended)."""
        return self._closing

    async def _call(self, func: Callable[[Unpack[_Ts]], _T], *args: *_Ts) -> _T:
        """Run a store method in a worker thread, one at a time (one connection)."""
        return await anyio.to_thread.run_sync(func, *args, limiter=self._limiter)

    # ------------------------------------------------------------------ destinations

    def register_destination(
        self,
        name: str,
        sender: Sender,
        *,
        max_messages: int | None = DEFAULT_MAX_MESSAGES,
        max_bytes: int | None = DEFAULT_MAX_BYTES,
        overflow: OverflowPolicy | str = OverflowPolicy.DROP_OLDEST,
        ttl: float | None = None,
        batch_size: int = 100,
        backoff: Backoff | None = None,
        breaker: BreakerPolicy | None = None,
        send_timeout: float | None = 60.0,
    ) -> Callable[[], None]:
        """Declare a destination and start delivering its queue through ``sender``.

        ``max_messages``/``max_bytes`` bound the queue (None: unbounded on that axis);
        ``overflow`` says what happens at the bound; ``ttl`` (seconds) drops messages
        not delivered in time; ``batch_size`` caps messages per ``sender.send`` call;
        ``backoff`` and ``breaker`` pace retries; a ``send`` call running longer than
        ``send_timeout`` seconds is cancelled and counts as a transient failure.
        Messages already on disk for ``name`` (from before a restart) are delivered
        before newer ones of the same priority. Returns a callable that unregisters
        the destination: its dispatcher stops and its queue stays on disk until the
        name is registered again. May be called before :meth:`start`.
        """
        if self._closing:
            raise OutboxClosed("outbox is closed")
        if name in self._destinations:
            raise ValueError(f"outbox destination {name!r} is already registered")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        for label, value in (("max_messages", max_messages), ("max_bytes", max_bytes)):
            if value is not None and value < 1:
                raise ValueError(f"{label} must be positive or None")
        if ttl is not None and ttl <= 0:
            raise ValueError("ttl must be positive or None")
        if send_timeout is not None and send_timeout <= 0:
            raise ValueError("send_timeout must be positive or None")
        config = DestinationConfig(
            max_messages=max_messages,
            max_bytes=max_bytes,
            overflow=OverflowPolicy(overflow),
            ttl=ttl,
            batch_size=batch_size,
            backoff=backoff or Backoff(),
            breaker=breaker or BreakerPolicy(),
            send_timeout=send_timeout,
        )
        destination = _Destination(config, sender)
        self._destinations[name] = destination
        self._counters_for(name)
        if self._task_group is not None:
            self._spawn(name, destination)

        def unregister() -> None:
            if self._destinations.get(name) is destination:
                del self._destinations[name]
                if destination.dispatcher is not None:
                    destination.dispatcher.stop()

        return unregister

    def _spawn(self, name: str, destination: _Destination) -> None:
        assert self._task_group is not None
        store = self._store

        async def fetch(dest: str, limit: int) -> tuple[list[OutboxMessage], int]:
            batch, expired, rejects = await self._call(self._fetch_open, dest, limit)
            if rejects:
                self._counters_for(dest).dead_lettered += len(rejects)
                _LOGGER.error(
                    "Outbox %s: %d encrypted messages could not be decrypted and were "
                    "dead-lettered, still encrypted (first: %s); requeue them once the "
                    "key is back", dest, len(rejects), rejects[0][1],
                )
            return batch, expired

        async def settle(
            dest: str, ids: Sequence[int], rejects: Sequence[tuple[int, str]]
        ) -> int:
            return await self._call(store.settle, dest, ids, rejects, time.time())

        config = destination.config
        dispatcher = Dispatcher(
            name,
            destination.sender,
            DispatchSettings(
                config.batch_size, config.backoff, config.breaker, config.send_timeout
            ),
            self._counters_for(name),
            fetch,
            settle,
            lambda: store.tally(name).pending == 0,
        )
        destination.dispatcher = dispatcher
        self._task_group.start_soon(dispatcher.run, name=f"outbox dispatcher {name}")

    def _fetch_open(
        self, dest: str, limit: int
    ) -> tuple[list[OutboxMessage], int, list[tuple[int, str]]]:
        """``store.fetch``, with encrypted payloads decrypted (worker thread).

        Messages that cannot be decrypted are dead-lettered here, so the sender only
        ever gets plaintext; a batch of nothing else is followed by the next one.
        """
        store, cipher = self._store, self.cipher
        expired_total = 0
        all_rejects: list[tuple[int, str]] = []
        while True:
            now = time.time()
            batch, expired = store.fetch(dest, limit, now)
            expired_total += expired
            if not any(ENCRYPTED_HEADER in message.headers for message in batch):
                return batch, expired_total, all_rejects
            opened: list[OutboxMessage] = []
            rejects: list[tuple[int, str]] = []
            for message in batch:
                if ENCRYPTED_HEADER not in message.headers:
                    opened.append(message)
                    continue
                reason = "encrypted, and this outbox has no keyring"
                if cipher is not None:
                    try:
                        plaintext = cipher.open(message.payload)
                    except GatehouseError as err:
                        reason = f"cannot decrypt: {err}"
                    else:
                        headers = {
                            k: v for k, v in message.headers.items() if k != ENCRYPTED_HEADER
                        }
                        opened.append(OutboxMessage(  # not dataclasses.replace: 3x slower
                            message.id, message.destination, plaintext, headers,
                            message.created, message.attempts, message.priority,
                        ))
                        continue
                rejects.append((message.id, reason))
            if rejects:
                store.settle(dest, [row_id for row_id, _ in rejects], rejects, now)
                all_rejects.extend(rejects)
            if opened or not batch:
                return opened, expired_total, all_rejects

    def destinations(self) -> list[str]:
        """Names with a registration, queued messages or dead letters."""
        with self._store.lock:
            stored = set(self._store.tallies)
        return sorted(set(self._destinations) | stored)

    def _counters_for(self, name: str) -> Counters:
        counters = self._counters.get(name)
        if counters is None:
            counters = self._counters[name] = Counters()
            self._drop_bursts[name] = _overflow_log(name, "dropped (oldest first)")
            self._refuse_bursts[name] = _overflow_log(name, "refused")
        return counters

    # ------------------------------------------------------------------ enqueue

    async def enqueue(
        self,
        destination: str,
        payload: bytes | bytearray | memoryview,
        *,
        headers: Mapping[str, str] | None = None,
        ttl: float | None = None,
        priority: int = 0,
        entity_id: str | None = None,
    ) -> None:
        """Store a message durably for ``destination``; return once it is on disk.

        Concurrent calls share one fsync (group commit). Messages of one priority keep
        the order in which the calls were made; a higher ``priority`` (an int,
        32-bit) leaves before a lower one. ``ttl`` overrides the destination's TTL.
        Raises :class:`OutboxFull` (``refuse`` policy, at the bound, nothing stored),
        :class:`UnknownDestination`, :class:`OutboxClosed`, or :class:`OutboxError`
        if the commit failed (the message is then *not* stored). If the caller is
        cancelled while waiting, the message may or may not be stored.
        ``entity_id`` names the entity whose value ``payload`` carries: when the
        outbox's cipher says it is sensitive, the payload is stored encrypted.
        """
        ticket = self._accept(destination, payload, headers, ttl, priority, entity_id)
        await ticket.done.wait()
        error = ticket.error
        if error is not None:
            # A fresh exception per waiter: the shared one would collect every waiter's
            # traceback if raised from all of them.
            if isinstance(error, OutboxClosed):
                raise OutboxClosed(str(error)) from error
            raise OutboxError(f"could not store message: {error}") from error

    def enqueue_nowait(
        self,
        destination: str,
        payload: bytes | bytearray | memoryview,
        *,
        headers: Mapping[str, str] | None = None,
        ttl: float | None = None,
        priority: int = 0,
        entity_id: str | None = None,
    ) -> None:
        """Accept a message without waiting for its commit (fire and forget).

        It becomes durable with the next group commit, normally within milliseconds;
        a crash before then loses it. For producers that would rather not wait (a
        sensor callback) and can afford that window. Bound checks still apply.
        """
        self._accept(destination, payload, headers, ttl, priority, entity_id)

    def _accept(
        self,
        destination: str,
        payload: bytes | bytearray | memoryview,
        headers: Mapping[str, str] | None,
        ttl: float | None,
        priority: int,
        entity_id: str | None = None,
    ) -> CommitTicket:
        # Checked first: a bad value must fail this call alone, not the group commit
        # it would share with other callers (SQLite refuses ints beyond 64 bits).
        if type(priority) is not int:
            raise TypeError(f"outbox priority must be an int, not {type(priority).__name__}")
        if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
            raise ValueError(f"outbox priority {priority} is outside the 32-bit range")
        if self._closing:
            raise OutboxClosed("outbox is closed")
        if not self._ready:
            # The stored counts the size bound is checked against are not loaded yet.
            raise OutboxError("outbox not started")
        registered = self._destinations.get(destination)
        if registered is None:
            raise UnknownDestination(destination)
        if not isinstance(payload, bytes):
            payload = bytes(payload)
        if headers is not None and ENCRYPTED_HEADER in headers:
            raise ValueError(f"outbox header {ENCRYPTED_HEADER!r} is reserved")
        if entity_id is not None:
            cipher = self.cipher
            if cipher is not None and cipher.is_sensitive(entity_id):
                # Raises (nothing stored) when the keyring is unusable: never plaintext.
                payload = cipher.seal(entity_id, payload)
                headers = {**(headers or {}), ENCRYPTED_HEADER: "aes256gcm"}
        config = registered.config
        size = len(payload)
        now = time.time()
        if config.max_bytes is not None and size > config.max_bytes:
            self._counters[destination].refused += 1
            raise OutboxFull(destination, f"message of {size} bytes exceeds max_bytes")
        ttl = config.ttl if ttl is None else ttl
        row: Row = (
            destination,
            payload,
            encode_headers(headers),
            size,
            now,
            None if ttl is None else now + ttl,
            priority,
        )
        store = self._store
        refuse = False
        with store.lock:
            tally = store.tallies.get(destination)
            if tally is None:
                tally = store.tallies[destination] = Tally()
            if config.overflow is OverflowPolicy.REFUSE:
                over_n, over_b = config.bound().excess(
                    tally.count + tally.pending + 1,
                    tally.nbytes + tally.pending_bytes + size,
                )
                refuse = bool(over_n or over_b)
            if not refuse:
                tally.pending += 1
                tally.pending_bytes += size
                tally.pending_high += priority > 0
                if tally.pending_since is None:
                    tally.pending_since = now
        if refuse:
            self._counters[destination].refused += 1
            self._refuse_bursts[destination].hit(detail=self._describe_bound(config))
            raise OutboxFull(destination, self._describe_bound(config))
        if config.overflow is OverflowPolicy.REFUSE:
            self._refuse_bursts[destination].calm()
        try:
            return self._writer.submit(row)
        except BaseException:
            self._release_pending([row])
            raise

    @staticmethod
    def _describe_bound(config: DestinationConfig) -> str:
        parts = []
        if config.max_messages is not None:
            parts.append(f"max_messages={config.max_messages}")
        if config.max_bytes is not None:
            parts.append(f"max_bytes={config.max_bytes}")
        return ", ".join(parts)

    # Writer callbacks (run on the event loop).

    async def _insert(self, rows: Sequence[Row], bounds: Mapping[str, Bound]) -> InsertResult:
        return await self._call(self._store.insert, rows, bounds)

    def _bounds_for(self, rows: Sequence[Row]) -> Mapping[str, Bound]:
        bounds: dict[str, Bound] = {}
        for row in rows:
            name = row[0]
            if name not in bounds:
                registered = self._destinations.get(name)
                if registered is not None:
                    bounds[name] = registered.config.bound()
        return bounds

    def _committed(self, rows: Sequence[Row], result: InsertResult) -> None:
        per_destination: dict[str, int] = {}
        for row in rows:
            per_destination[row[0]] = per_destination.get(row[0], 0) + 1
        for name, n in per_destination.items():
            self._counters_for(name).enqueued += n
            dropped = result.dropped.get(name, 0)
            registered = self._destinations.get(name)
            if dropped:
                self._counters[name].dropped += dropped
                detail = self._describe_bound(registered.config) if registered else "bound"
                self._drop_bursts[name].hit(dropped, detail=detail)
            else:
                self._drop_bursts[name].calm()
            if registered is not None and registered.dispatcher is not None:
                registered.dispatcher.notify()

    def _commit_failed(self, rows: Sequence[Row], error: BaseException) -> None:
        self._release_pending(rows)

    def _release_pending(self, rows: Iterable[Row]) -> None:
        store = self._store
        with store.lock:
            for row in rows:
                tally = store.tallies.get(row[0])
                if tally is None:
                    continue
                tally.pending = max(0, tally.pending - 1)
                tally.pending_bytes = max(0, tally.pending_bytes - row[3])
                tally.pending_high = max(0, tally.pending_high - (row[6] > 0))
                if tally.pending == 0:
                    tally.pending_since = None

    # ------------------------------------------------------------------ observation

    def stats(self, destination: str) -> DestinationStats:
        """A snapshot of ``destination``'s queue, counters and breaker (no disk access)."""
        if destination not in self._destinations and destination not in self._store.tallies:
            raise UnknownDestination(destination)
        store = self._store
        with store.lock:
            tally = store.tallies.get(destination)
            if tally is None:
                depth = nbytes = dead = high = 0
                oldest: float | None = None
            else:
                depth = tally.count + tally.pending
                high = tally.high + tally.pending_high
                nbytes = tally.nbytes + tally.pending_bytes
                dead = tally.dead
                candidates = [
                    t
                    for t in (
                        tally.head_created if tally.count else None,
                        tally.pending_since if tally.pending else None,
                    )
                    if t is not None
                ]
                oldest = min(candidates) if candidates else None
        counters = self._counters_for(destination)
        registered = self._destinations.get(destination)
        dispatcher = registered.dispatcher if registered is not None else None
        return DestinationStats(
            destination=destination,
            registered=registered is not None,
            depth=depth,
            high_priority_depth=high,
            bytes=nbytes,
            oldest_age=None if oldest is None else max(0.0, time.time() - oldest),
            dead_letter_depth=dead,
            enqueued=counters.enqueued,
            delivered=counters.delivered,
            dropped=counters.dropped,
            refused=counters.refused,
            expired=counters.expired,
            dead_lettered=counters.dead_lettered,
            retries=counters.retries,
            redeliveries=counters.redeliveries,
            breaker_state=(
                dispatcher.breaker.state if dispatcher is not None else BreakerState.CLOSED
            ),
            consecutive_failures=(
                dispatcher.breaker.consecutive_failures if dispatcher is not None else 0
            ),
        )

    def store_stats(self) -> StoreStats:
        """Transaction counters of the SQLite store (group commit efficiency)."""
        store = self._store
        return StoreStats(
            enqueue_transactions=store.enqueue_transactions,
            enqueued_rows=store.enqueued_rows,
            transactions=store.transactions,
        )

    async def wait_drained(self, destination: str) -> None:
        """Return once ``destination``'s queue is empty and nothing awaits commit.

        For orderly shutdowns and tests; combine with ``anyio.fail_after`` since a
        failing destination may never drain.
        """
        registered = self._destinations.get(destination)
        if registered is None:
            raise UnknownDestination(destination)
        if registered.dispatcher is None:
            raise RuntimeError("outbox not started")
        await registered.dispatcher.wait_drained()

    # ------------------------------------------------------------------ dead letters

    async def dead_letters(
        self, destination: str | None = None, *, limit: int = 100
    ) -> list[DeadLetter]:
        """Dead letters (all destinations, or one), oldest first, at most ``limit``."""
        return await self._call(self._store.dead_letters, destination, limit)

    async def requeue_dead_letters(
        self, ids: Iterable[int] | None = None, *, destination: str | None = None
    ) -> int:
        """Move dead letters back to the tail of their queues; returns how many.

        Each keeps its priority, so a requeued alarm overtakes queued telemetry again.
        Selects by ``ids`` and/or ``destination`` (neither: all). Each gets a fresh TTL.
        A ``refuse`` destination that would overflow raises :class:`OutboxFull` and
        nothing is requeued; a ``drop_oldest`` one evicts as usual.
        """
        ttls = {name: d.config.ttl for name, d in self._destinations.items()}
        bounds = {name: d.config.bound() for name, d in self._destinations.items()}
        id_list = None if ids is None else list(ids)
        count, dropped, touched = await self._call(
            self._store.requeue, id_list, destination, time.time(), ttls, bounds
        )
        for name in touched:
            counters = self._counters_for(name)
            if dropped.get(name):
                counters.dropped += dropped[name]
            registered = self._destinations.get(name)
            if registered is not None and registered.dispatcher is not None:
                registered.dispatcher.notify()
        return count

    async def purge_dead_letters(
        self,
        ids: Iterable[int] | None = None,
        *,
        destination: str | None = None,
        older_than: float | None = None,
    ) -> int:
        """Delete dead letters for good (by ids, destination, and/or ``dead_at`` before
        the wall-clock time ``older_than``); returns how many."""
        id_list = None if ids is None else list(ids)
        return await self._call(self._store.purge, id_list, destination, older_than)
