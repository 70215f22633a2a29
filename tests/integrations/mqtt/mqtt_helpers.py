"""Helpers for the MQTT tests (importable by the kill -9 child script too).

Hosts, entries and waiting come from the test kit (``gatehouse.core.testing``); what is
left here is MQTT's own: a paho peer to publish and watch with, and entry data.
"""

from __future__ import annotations

import threading
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from gatehouse.core import ConfigEntry, ConfigEntryState


def entry_data(port: int, **extra: Any) -> dict[str, Any]:
    """An mqtt entry's data for the loopback broker on ``port``."""
    return {"broker": "127.0.0.1", "port": port, **extra}


def loaded(entry: ConfigEntry[Any]) -> bool:
    return entry.state is ConfigEntryState.LOADED


class Peer:
    """A paho client in its own thread that records what it receives.

    ``messages`` holds ``(topic, payload, qos, retain)`` in arrival order.
    """

    def __init__(
        self,
        port: int,
        client_id: str,
        *,
        clean_session: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self.messages: list[tuple[str, bytes, int, bool]] = []
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session
        )
        self.client.on_message = self._on_message
        self.client.on_connect = lambda *a: self._connected.set()
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.max_inflight_messages_set(1000)
        self.client.reconnect_delay_set(1, 2)
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(10):
            raise RuntimeError("test peer could not connect")

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload, message.qos, message.retain))

    def subscribe(self, topic: str, qos: int = 0) -> None:
        self._subscribed.clear()
        self.client.subscribe(topic, qos)
        if not self._subscribed.wait(10):
            raise RuntimeError(f"no SUBACK for {topic}")

    def publish(self, topic: str, payload: bytes | str, qos: int = 0, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos, retain)
        if qos:
            info.wait_for_publish(10)

    def payloads(self, topic: str) -> list[bytes]:
        with self._lock:
            return [m[1] for m in self.messages if m[0] == topic]

    def snapshot(self) -> list[tuple[str, bytes, int, bool]]:
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
