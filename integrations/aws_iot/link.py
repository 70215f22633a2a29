"""The MQTT link the AWS IoT protocols (shadow, jobs, fleet provisioning) run over.

The connection (``client.py``) implements it; ``shadow.py``, ``jobs.py`` and
``provisioning.py`` only see this protocol, so each can be tested over any link and the
connection can change (reconnects, a new certificate after provisioning) underneath them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

import anyio

if TYPE_CHECKING:
    from gatehouse.core import Host

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


class LinkProtocol:
    """The lifecycle a protocol module (shadow, jobs) has on the link: the undo functions
    of what it registered (``_unsubs``) and one loop task (``_run``) in its own cancel
    scope. ``stop`` ends both; the link has no unsubscribe, so its message callbacks stay
    registered and check ``_stopped``."""

    def __init__(self) -> None:
        self._stopped = False
        self._scope: anyio.CancelScope | None = None
        self._unsubs: list[Callable[[], None]] = []

    async def _run(self, scope: anyio.CancelScope) -> None:
        raise NotImplementedError

    def _spawn_run(self, host: Host, name: str) -> None:
        self._scope = anyio.CancelScope()
        host.spawn(self._run(self._scope), name)

    async def stop(self) -> None:
        self._stopped = True
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        if self._scope is not None:
            self._scope.cancel()
            self._scope = None
