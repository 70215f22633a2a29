"""Durable store-and-forward outbox for integrations that send data off the box.

Import everything from here; the sub-modules are implementation detail::

    from gatehouse.core.outbox import Outbox, DeliveryOutcome, OutboxMessage

    async with Outbox.open(config_dir / "outbox.db") as outbox:
        outbox.register_destination("mqtt", sender, max_messages=50_000)
        await outbox.enqueue("mqtt", b"payload", headers={"topic": "t"})
        await outbox.enqueue("mqtt", b"alarm", priority=10)  # overtakes the backlog

A destination's queue is served highest priority first and FIFO within a priority;
``outbox.py``'s docstring says what that means for order, overflow, TTL and dead letters.
"""

from .host import OUTBOX, get_outbox
from .models import (
    BreakerState,
    DeadLetter,
    DeliveryOutcome,
    DestinationStats,
    OutboxClosed,
    OutboxError,
    OutboxFull,
    OutboxMessage,
    OutcomeKind,
    OverflowPolicy,
    PermanentDeliveryError,
    Sender,
    StoreStats,
    TransientDeliveryError,
    UnknownDestination,
)
from .outbox import ENCRYPTED_HEADER, DestinationConfig, Outbox
from .policy import Backoff, BreakerPolicy, CircuitBreaker

__all__ = [
    "ENCRYPTED_HEADER",
    "OUTBOX",
    "Backoff",
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "DeadLetter",
    "DeliveryOutcome",
    "DestinationConfig",
    "DestinationStats",
    "Outbox",
    "OutboxClosed",
    "OutboxError",
    "OutboxFull",
    "OutboxMessage",
    "OutcomeKind",
    "OverflowPolicy",
    "PermanentDeliveryError",
    "Sender",
    "StoreStats",
    "TransientDeliveryError",
    "UnknownDestination",
    "get_outbox",
]
