"""Value types shared by the outbox's store, dispatchers and callers.

They live in a leaf module so that integrations can type their senders against
:class:`Sender`, :class:`OutboxMessage` and :class:`DeliveryOutcome` without importing
the machinery (SQLite, task groups) behind them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from ..exceptions import GatehouseError, StoreTooNewError

# --------------------------------------------------------------------------- errors


class OutboxError(GatehouseError):
    """Base of the errors the outbox raises on purpose."""


class OutboxTooNewError(OutboxError, StoreTooNewError):
    """The outbox database was written by a newer release: refused, left as it is."""


class OutboxFull(OutboxError):
    """A destination with the ``refuse`` overflow policy is at its size bound.

    Raised by ``enqueue`` *before* anything is stored, so the caller knows for certain the
    message was not accepted and can apply its own back-pressure.
    """

    def __init__(self, destination: str, reason: str) -> None:
        super().__init__(f"outbox for {destination!r} is full: {reason}")
        self.destination = destination
        self.reason = reason


class OutboxClosed(OutboxError):
    """The outbox is closing or closed; nothing more is accepted."""


class UnknownDestination(OutboxError, KeyError):
    """A call named a destination that was never registered.

    Enqueueing to an unregistered name is refused rather than silently stored, because
    the size bound, overflow policy and TTL that protect the disk are per-destination
    settings that only registration provides.
    """

    def __init__(self, destination: str) -> None:
        super().__init__(f"unknown outbox destination {destination!r}")
        self.destination = destination

    def __str__(self) -> str:  # KeyError would repr() the message otherwise
        return str(self.args[0])


class TransientDeliveryError(Exception):
    """Raised by a :class:`Sender` when the whole batch failed for a reason that may pass.

    Typical causes: broker unreachable, connection reset, HTTP 5xx/429. Every message of
    the batch stays queued, the destination's backoff and circuit breaker advance.
    """


class PermanentDeliveryError(Exception):
    """Raised by a :class:`Sender` when the destination refused the batch for good.

    Typical cause: HTTP 400 for a malformed body. Retrying would only repeat the refusal,
    so every message of the batch moves to the dead-letter table with ``reason``. A sender
    that can tell which message was at fault should return per-message
    :meth:`DeliveryOutcome.rejected` outcomes instead, so the good ones are not buried.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One stored message as handed to a :class:`Sender`.

    ``id`` is the store's row id: strictly increasing per destination, so a sender may use
    it as an idempotency key to suppress the duplicates that at-least-once delivery
    allows (it is *not* the sending order once priorities differ: an alarm enqueued
    after a backlog has a higher id and leaves first). ``attempts`` counts earlier
    hand-overs to a sender (0 on the first), which lets a sender set e.g. MQTT's DUP flag.
    """

    id: int
    destination: str
    payload: bytes
    headers: Mapping[str, str]
    created: float
    """Wall-clock time (``time.time()``) of the enqueue; wall clock because it must keep
    its meaning across restarts."""
    attempts: int = 0
    priority: int = 0
    """Higher leaves first (alarms 10, telemetry 0, bulk -10 by convention)."""

    @property
    def redelivery(self) -> bool:
        """True when this message was handed to a sender before (duplicates possible)."""
        return self.attempts > 0


class OutcomeKind(enum.Enum):
    """What happened to one message of a batch."""

    ACKED = "acked"
    RETRY = "retry"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """The result a :class:`Sender` reports for one message of a batch.

    Use the shared constants ``DeliveryOutcome.ACKED`` and ``DeliveryOutcome.RETRY`` and
    the factory :meth:`rejected`; outcomes are plain values so a sender can build the
    list in whatever order its protocol completes.
    """

    kind: OutcomeKind
    reason: str | None = None

    ACKED: ClassVar[DeliveryOutcome]
    RETRY: ClassVar[DeliveryOutcome]

    @classmethod
    def rejected(cls, reason: str) -> DeliveryOutcome:
        """The destination refused this message for good; it goes to the dead letters."""
        return cls(OutcomeKind.REJECTED, reason)


DeliveryOutcome.ACKED = DeliveryOutcome(OutcomeKind.ACKED)
DeliveryOutcome.RETRY = DeliveryOutcome(OutcomeKind.RETRY)


class Sender(Protocol):
    """What an integration provides to move messages off the box.

    ``send`` receives up to ``batch_size`` messages in queue order (highest priority
    first, FIFO within a priority; one batch may span priorities) and returns one
    outcome per message, in the same order; a sender delivers them in that order.
    Batching exists so that protocols with pipelining (MQTT QoS 1 with many PUBACKs in
    flight, HTTP bulk writes) can amortise round trips.
    A missing outcome counts as ``RETRY``. Raise :class:`TransientDeliveryError` when the
    whole batch failed (broker down); any other exception is treated the same way, so a
    bug in a sender can delay messages but never lose them.
    """

    async def send(self, batch: Sequence[OutboxMessage]) -> Sequence[DeliveryOutcome]:
        """Deliver ``batch`` and report one outcome per message."""
        ...


# --------------------------------------------------------------------------- settings


class OverflowPolicy(enum.Enum):
    """What to do when a destination reaches its size bound.

    ``DROP_OLDEST`` suits telemetry, where the newest reading is worth more than an old
    one and producers must never stall; it evicts the lowest priority first (oldest
    first within it), so an alarm is never dropped while telemetry is queued.
    ``REFUSE`` suits commands and audit records, where silently losing an accepted
    message is worse than pushing back on the producer; it refuses any priority.
    """

    DROP_OLDEST = "drop_oldest"
    REFUSE = "refuse"


class BreakerState(enum.Enum):
    """State of a destination's circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True, slots=True)
class DestinationStats:
    """A point-in-time snapshot of one destination, cheap to take (no disk access).

    Gauges (``depth``, ``bytes``, ``oldest_age``, ``dead_letter_depth``,
    ``breaker_state``) describe now; counters count since this process opened the outbox.
    """

    destination: str
    registered: bool
    depth: int
    """Messages accepted and not yet removed (stored plus awaiting their group commit)."""
    high_priority_depth: int
    """Those of them with a priority above 0 (alarms): what overtakes the backlog."""
    bytes: int
    """Payload bytes of those messages."""
    oldest_age: float | None
    """Seconds since the oldest queued message was enqueued; None when empty."""
    dead_letter_depth: int
    enqueued: int
    delivered: int
    dropped: int
    """Evicted by the ``drop_oldest`` overflow policy."""
    refused: int
    """Turned away by the ``refuse`` overflow policy (``OutboxFull`` raised)."""
    expired: int
    dead_lettered: int
    retries: int
    """Delivery attempts that failed transiently (one per failed batch)."""
    redeliveries: int
    """Messages handed to a sender that had been handed over before."""
    breaker_state: BreakerState
    consecutive_failures: int


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Counters of the SQLite store, mainly to show group commit at work."""

    enqueue_transactions: int
    """Durable (synchronous=FULL) transactions that inserted enqueued messages."""
    enqueued_rows: int
    transactions: int
    """All write transactions, including delivery bookkeeping."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message a destination refused for good, kept for an operator to inspect."""

    id: int
    destination: str
    payload: bytes
    headers: Mapping[str, str]
    created: float
    attempts: int
    reason: str
    dead_at: float
    priority: int = 0
    """Kept from the message, and kept again when it is requeued."""
