"""What a loaded mqtt entry holds (``entry.runtime_data``) and how it publishes.

``MqttRuntime`` is the entry's side of the public API (``api.Broker``): subscribe
through the connection's router, publish QoS 0 directly and QoS 1/2 through the host
outbox (``OutboxLink``, destination ``mqtt.<entry_id>``), whose sender is
``sender.MqttSender``. The outbox is there from set-up on, connected or not: that is
what lets QoS 1/2 publishes made while the broker is away (at boot too) wait on disk.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .api import MessageCallback, Unsubscribe
from .sender import headers_for
from .topics import valid_topic

if TYPE_CHECKING:
    from gatehouse.core.helpers import OutboxLink

    from .client import MqttConnection
    from .entity import MqttEntity
    from .sender import MqttSender

_LOGGER = logging.getLogger(__name__)


def destination_name(entry_id: str) -> str:
    """The outbox destination of an entry."""
    return f"mqtt.{entry_id}"


class MqttRuntime:
    """One loaded mqtt entry: connection, outbox destination, live entities."""

    def __init__(
        self, entry_id: str, connection: MqttConnection, sender: MqttSender, outbox: OutboxLink
    ) -> None:
        self.entry_id = entry_id
        self.connection = connection
        self.sender = sender
        self.outbox = outbox
        self.destination = outbox.destination
        #: Live MQTT entities of this entry (they add and remove themselves).
        self.entities: set[MqttEntity] = set()
        self.dropped_qos0 = 0
        #: Optional parts by name (discovery, statestream...), each with diagnostics().
        self.parts: dict[str, Any] = {}
        connection.add_listener(self._connection_changed)

    # -- api.Broker ---------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.connection.connected

    def subscribe(
        self, topic_filter: str, callback: MessageCallback, qos: int = 0, *,
        governed: bool = False,
    ) -> Unsubscribe:
        return self.connection.subscribe(topic_filter, callback, qos, governed=governed)

    async def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        """QoS 0 now (dropped while disconnected); QoS 1/2 durably through the outbox."""
        if qos == 0:
            self._publish_now(topic, payload, retain)
            return
        await self.outbox.enqueue(payload, headers_for(topic, qos, retain))

    def publish_nowait(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        if qos == 0:
            self._publish_now(topic, payload, retain)
            return
        self.outbox.enqueue_nowait(payload, headers_for(topic, qos, retain))

    def _publish_now(self, topic: str, payload: bytes, retain: bool) -> None:
        valid_topic(topic)  # paho would raise ValueError; make it the schema's error
        if not self.connection.connected:
            self.dropped_qos0 += 1
            return
        self.connection.publish(topic, payload, 0, retain)

    # -- internals -----------------------------------------------------------------------

    def _connection_changed(self, connected: bool) -> None:
        for entity in list(self.entities):
            entity.connection_changed()

    def diagnostics(self) -> dict[str, Any]:
        entities = sorted(
            (e.diagnostics() for e in self.entities), key=lambda d: str(d["entity_id"])
        )
        return {
            "connection": self.connection.diagnostics(),
            "outbox_destination": self.destination,
            "sender": self.sender.diagnostics(),
            "dropped_qos0_while_disconnected": self.dropped_qos0,
            "entities": entities,
            "bad_payloads": sum(int(e["bad_payloads"]) for e in entities),
        }
