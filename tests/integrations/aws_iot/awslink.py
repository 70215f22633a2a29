"""A paho-based ``MqttLink`` for testing shadow.py, jobs.py and provisioning.py alone.

The integration's own connection (client.py) implements ``MqttLink`` too; this one is
the smallest thing that keeps the contract (publish returns after PUBACK, subscriptions
restored after a reconnect before the ``on_connect`` callbacks, ``AwsIotNotConnected``
while offline) so the protocol modules are tested against the real broker and the fake
without depending on the connection's code.

paho runs on its own thread; every callback is handed to the event loop with
``call_soon_threadsafe``, so the protocol modules only ever run on the loop.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from awsfake import stop_paho
from awstools import ENDPOINT, THING
from paho.mqtt.enums import CallbackAPIVersion

from gatehouse.core.testing import Mosquitto

try:  # the connection helper's errors.py; ConnectionError until it is in the tree
    from gatehouse.integrations.aws_iot.errors import AwsIotNotConnected as _NotConnected
except ImportError:  # pragma: no cover - depends on what is committed
    _NotConnected = ConnectionError  # type: ignore[assignment,misc]

MessageCallback = Callable[[str, bytes], None]
TIMEOUT = 5.0


class PahoLink:
    """``MqttLink`` over one paho client (MQTT 3.1.1, clean session, as AWS's SDKs)."""

    def __init__(
        self,
        broker: Mosquitto,
        root_ca: Path,
        cert: Path,
        key: Path,
        client_id: str = THING,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
        )
        ctx = ssl.create_default_context(cafile=str(root_ca))
        ctx.load_cert_chain(str(cert), str(key))
        self._client.tls_set_context(ctx)
        # int in paho's annotations, float seconds in its loop
        self._client.reconnect_delay_set(min_delay=0.05, max_delay=0.2)  # type: ignore[arg-type]
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_ack
        self._client.on_subscribe = self._on_ack
        self._client.on_message = self._on_message
        self._broker = broker
        self._subs: dict[str, tuple[MessageCallback, int]] = {}
        self._connect_callbacks: list[Callable[[], Awaitable[None]]] = []
        self._acked: set[int] = set()
        self._waiting: dict[int, asyncio.Event] = {}
        self.connected = asyncio.Event()
        self.connects = 0
        self.published: list[tuple[str, bytes]] = []
        #: Topics of the publishes the broker acknowledged, in order.
        self.delivered: list[str] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------
    async def start(self) -> None:
        self._client.connect_async(ENDPOINT, self._broker.tls_port, keepalive=30)
        self._client.loop_start()
        await asyncio.wait_for(self.connected.wait(), TIMEOUT)

    async def stop(self) -> None:
        await asyncio.to_thread(stop_paho, self._client)
        for task in list(self._tasks):
            task.cancel()

    def kick(self) -> None:
        """Drop the TCP connection (paho reconnects): a network blip."""
        sock = self._client.socket()
        if sock is not None:
            sock.close()

    # -- MqttLink -----------------------------------------------------------------
    async def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        if not self.connected.is_set():
            raise _NotConnected("not connected")
        info = self._client.publish(topic, payload, qos=qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise _NotConnected(f"publish failed: {mqtt.error_string(info.rc)}")
        self.published.append((topic, payload))
        if qos:
            await self._acked_mid(info.mid)
        self.delivered.append(topic)

    async def subscribe(self, topic_filter: str, callback: MessageCallback, qos: int = 1) -> None:
        self._subs[topic_filter] = (callback, qos)
        if not self.connected.is_set():
            return  # restored on connect
        rc, mid = self._client.subscribe(topic_filter, qos)
        if rc != mqtt.MQTT_ERR_SUCCESS or mid is None:
            raise _NotConnected(f"subscribe failed: {mqtt.error_string(rc)}")
        await self._acked_mid(mid)

    def on_connect(self, callback: Callable[[], Awaitable[None]]) -> Callable[[], None]:
        self._connect_callbacks.append(callback)

        def remove() -> None:
            if callback in self._connect_callbacks:
                self._connect_callbacks.remove(callback)

        return remove

    # -- paho thread ---------------------------------------------------------------
    async def _acked_mid(self, mid: int) -> None:
        with self._lock:
            if mid in self._acked:
                self._acked.discard(mid)
                return
            event = self._waiting[mid] = asyncio.Event()
        try:
            await asyncio.wait_for(event.wait(), TIMEOUT)
        finally:
            with self._lock:
                self._waiting.pop(mid, None)

    def _on_ack(self, client: mqtt.Client, userdata: object, mid: int, *rest: Any) -> None:
        with self._lock:
            event = self._waiting.get(mid)
            if event is None:
                self._acked.add(mid)
                return
        self._loop.call_soon_threadsafe(event.set)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self._loop.call_soon_threadsafe(self._deliver, msg.topic, bytes(msg.payload))

    def _deliver(self, topic: str, payload: bytes) -> None:
        for topic_filter, (callback, _) in list(self._subs.items()):
            if mqtt.topic_matches_sub(topic_filter, topic):
                callback(topic, payload)

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            return
        self._loop.call_soon_threadsafe(self._connected)

    def _connected(self) -> None:
        task = self._loop.create_task(self._restore())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _restore(self) -> None:
        self.connected.set()
        self.connects += 1
        for topic_filter, (_, qos) in list(self._subs.items()):
            rc, mid = self._client.subscribe(topic_filter, qos)
            if rc == mqtt.MQTT_ERR_SUCCESS and mid is not None:
                await self._acked_mid(mid)
        for callback in list(self._connect_callbacks):
            await callback()

    def _on_disconnect(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self.connected.clear)


@asynccontextmanager
async def paho_link(
    broker: Mosquitto, root_ca: Path, cert: Path, key: Path, client_id: str = THING
) -> AsyncIterator[PahoLink]:
    """A connected :class:`PahoLink` for the block."""
    link = PahoLink(broker, root_ca, cert, key, client_id)
    try:
        await link.start()
        yield link
    finally:
        await link.stop()
