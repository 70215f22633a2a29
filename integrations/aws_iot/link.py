"""The MQTT link the AWS IoT protocols (shadow, jobs, fleet provisioning) run over.

The connection (``client.py``) implements it; ``shadow.py``, ``jobs.py`` and
``provisioning.py`` only see this protocol, so each can be tested over any link and the
connection can change (reconnects, a new certificate after provisioning) underneath them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

#: Called on the event loop with (topic, payload) for each message on a subscription.
MessageCallback = Callable[[str, bytes], None]


class MqttLink(Protocol):
    """What a protocol module may do with the connection."""

    async def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Send; return once the broker acknowledged it (QoS 1) or it was written (QoS 0).

        Raises ``AwsIotNotConnected`` (errors.py) when there is no connection.
        """

    async def subscribe(self, topic_filter: str, callback: MessageCallback, qos: int = 1) -> None:
        """Subscribe (return once SUBACK came); the subscription is restored after every
        reconnect, before the ``on_connect`` callbacks run."""

    def on_connect(self, callback: Callable[[], Awaitable[None]]) -> Callable[[], None]:
        """Run ``callback`` after each (re)connect; returns the function that removes it."""
