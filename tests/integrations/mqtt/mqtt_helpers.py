"""Helpers for the MQTT tests (importable by the kill -9 child script too)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from gatehouse.core import ConfigEntry, ConfigEntryState, Host
from gatehouse.core.helpers import Backoff

MQTT_PACKAGE = "gatehouse.integrations.mqtt"


def mqtt_host(config_dir: Path, *, stop_timeout: float = 5) -> Host:
    """A host tuned for tests that can load ``mqtt`` without its entry point."""
    host = Host(config_dir, stop_timeout=stop_timeout)
    host.config_entries.retry_policy = Backoff(initial=0.05, maximum=0.2, jitter=0)
    host.plugins.add_package("mqtt", MQTT_PACKAGE)
    return host


def entry_data(port: int, **extra: Any) -> dict[str, Any]:
    return {"broker": "127.0.0.1", "port": port, **extra}


async def add_entry(host: Host, port: int, title: str = "Broker", **extra: Any) -> ConfigEntry[Any]:
    """Add (and set up) an mqtt entry for the broker on ``port``."""
    data = entry_data(port, **extra)
    entry: ConfigEntry[Any] = ConfigEntry(domain="mqtt", title=title, data=data)
    await host.config_entries.add(entry)
    return entry


async def wait_until(
    predicate: Callable[[], object], timeout: float = 10.0, message: str = ""
) -> None:
    """Poll ``predicate`` until it is true (fail after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s: {message or predicate}")
        await anyio.sleep(0.01)


def state_of(host: Host, entity_id: str) -> str | None:
    state = host.states.get(entity_id)
    return None if state is None else state.state


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
