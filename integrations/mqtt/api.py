"""The MQTT integration's public surface for other integrations.

Other integrations (aws_iot, schema_guard, automations) use MQTT through what this
module exports and nothing else; the rest of the package may change.

Two ways in:

**The ``mqtt_message`` bus event.** Topic filters listed under ``subscribe:`` in an
mqtt entry's configuration are forwarded to the bus as ``EVENT_MQTT_MESSAGE`` events
whose data is an ``MqttMessageEventData``::

    mqtt:
      broker: 10.0.0.2
      subscribe:
        - plant/+/alarm
        - {topic: "plant/line1/#", qos: 1}

    host.bus.listen(EVENT_MQTT_MESSAGE, on_message)        # or the plain "mqtt_message"

The payload is the raw ``bytes``: decoding is the listener's business.

**The API object.** Once an mqtt entry is loaded, ``host.data[MQTT_API]`` is an
``MqttApi``; it stays for the host's lifetime, and subscriptions made through it
survive reloads of the mqtt entries (they are re-applied when an entry loads again)::

    from gatehouse.integrations.mqtt.api import MQTT_API, MqttMessage

    api = host.data[MQTT_API]
    unsubscribe = api.subscribe("things/+/shadow", on_message, qos=1)
    entry.on_unload(unsubscribe)
    await api.publish("things/t1/cmd", b'{"on": true}', qos=1)

* ``subscribe(topic_filter, callback, *, qos=0, entry_id=None)`` → undo. ``callback``
  receives an ``MqttMessage`` and runs *in the event loop*, in arrival order: it must
  not block (start a task for slow work). An exception it raises is logged; the other
  callbacks still run. ``entry_id=None`` subscribes on every mqtt entry (usually one).
* ``await publish(topic, payload, *, qos=0, retain=False, entry_id=None)``. QoS 0 is
  sent at once, and dropped if the broker is not connected. QoS 1 and 2 go through the
  host's durable outbox: when ``publish`` returns the message is on disk and will
  reach the broker, in order, across broker outages and restarts (at least once;
  duplicates possible). ``entry_id=None`` uses the first loaded entry. Raises
  ``MqttUnavailable`` when no mqtt entry is loaded.
* ``publish_nowait(...)``: the same from synchronous code (an event listener); QoS ≥ 1
  is accepted into the outbox without waiting for its commit (``enqueue_nowait``).
* ``is_connected(entry_id=None)``, ``entry_ids()``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, NamedTuple, Protocol, TypedDict

from gatehouse.core import EventType, HostKey

from .errors import MqttUnavailable
from .topics import valid_filter

__all__ = [
    "EVENT_MQTT_MESSAGE",
    "MQTT_API",
    "Broker",
    "MessageCallback",
    "MqttApi",
    "MqttMessage",
    "MqttMessageEventData",
    "MqttUnavailable",
    "Unsubscribe",
]

_LOGGER = logging.getLogger(__name__)


class MqttMessage(NamedTuple):
    """A received message, as subscription callbacks see it."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    entry_id: str


MessageCallback = Callable[[MqttMessage], None]
Unsubscribe = Callable[[], None]


class MqttMessageEventData(TypedDict):
    """Data of ``mqtt_message``: one received message of a ``subscribe:`` filter."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    entry_id: str


EVENT_MQTT_MESSAGE: Final[EventType[MqttMessageEventData]] = EventType("mqtt_message")


class Broker(Protocol):
    """What one loaded mqtt entry offers the API (implemented by the integration)."""

    @property
    def connected(self) -> bool: ...

    def subscribe(self, topic_filter: str, callback: MessageCallback, qos: int) -> Unsubscribe:
        ...

    async def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None: ...

    def publish_nowait(self, topic: str, payload: bytes, qos: int, retain: bool) -> None: ...


def _as_bytes(payload: bytes | bytearray | str | int | float | None) -> bytes:
    if payload is None:
        return b""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, bytearray):
        return bytes(payload)
    return str(payload).encode("utf-8")


@dataclass(eq=False)
class _Subscription:
    topic_filter: str
    callback: MessageCallback
    qos: int
    entry_id: str | None
    undos: dict[str, Unsubscribe] = field(default_factory=dict)


class MqttApi:
    """See the module docstring. One per host, at ``host.data[MQTT_API]``."""

    def __init__(self) -> None:
        self._brokers: dict[str, Broker] = {}
        self._subscriptions: list[_Subscription] = []

    # -- used by the integration ------------------------------------------------------

    def attach(self, entry_id: str, broker: Broker) -> Unsubscribe:
        """Make a loaded entry's broker available; returns the detach."""
        self._brokers[entry_id] = broker
        for sub in self._subscriptions:
            if sub.entry_id in (None, entry_id):
                sub.undos[entry_id] = broker.subscribe(sub.topic_filter, sub.callback, sub.qos)

        def detach() -> None:
            if self._brokers.get(entry_id) is broker:
                del self._brokers[entry_id]
            for sub in self._subscriptions:
                undo = sub.undos.pop(entry_id, None)
                if undo is not None:
                    undo()

        return detach

    # -- public ------------------------------------------------------------------------

    def entry_ids(self) -> list[str]:
        """Loaded mqtt entries, in load order."""
        return list(self._brokers)

    def is_connected(self, entry_id: str | None = None) -> bool:
        broker = self._brokers.get(entry_id) if entry_id else self._first()
        return broker is not None and broker.connected

    def subscribe(
        self,
        topic_filter: str,
        callback: MessageCallback,
        *,
        qos: int = 0,
        entry_id: str | None = None,
    ) -> Unsubscribe:
        """Call ``callback`` in the loop for each message matching ``topic_filter``."""
        valid_filter(topic_filter)
        if qos not in (0, 1, 2):
            raise ValueError("qos must be 0, 1 or 2")
        sub = _Subscription(topic_filter, callback, qos, entry_id)
        self._subscriptions.append(sub)
        for broker_entry_id, broker in self._brokers.items():
            if entry_id in (None, broker_entry_id):
                sub.undos[broker_entry_id] = broker.subscribe(topic_filter, callback, qos)

        def unsubscribe() -> None:
            if sub in self._subscriptions:
                self._subscriptions.remove(sub)
            while sub.undos:
                _, undo = sub.undos.popitem()
                undo()

        return unsubscribe

    async def publish(
        self,
        topic: str,
        payload: bytes | bytearray | str | int | float | None,
        *,
        qos: int = 0,
        retain: bool = False,
        entry_id: str | None = None,
    ) -> None:
        """Publish; QoS ≥ 1 returns once the message is durable in the outbox."""
        await self._broker(entry_id).publish(topic, _as_bytes(payload), qos, retain)

    def publish_nowait(
        self,
        topic: str,
        payload: bytes | bytearray | str | int | float | None,
        *,
        qos: int = 0,
        retain: bool = False,
        entry_id: str | None = None,
    ) -> None:
        """Publish from synchronous code (QoS ≥ 1: accepted, committed shortly after)."""
        self._broker(entry_id).publish_nowait(topic, _as_bytes(payload), qos, retain)

    def _first(self) -> Broker | None:
        return next(iter(self._brokers.values()), None)

    def _broker(self, entry_id: str | None) -> Broker:
        broker = self._brokers.get(entry_id) if entry_id else self._first()
        if broker is None:
            which = f"entry {entry_id}" if entry_id else "entry"
            raise MqttUnavailable(f"no mqtt {which} is loaded")
        return broker


#: The host's MQTT API (set when the first mqtt entry loads; kept for the host's life).
MQTT_API: Final[HostKey[MqttApi]] = HostKey("mqtt.api")

