"""Shared helpers for the tag encryption tests."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from gatehouse.core.crypto import Keyring, TagCipher

GATEHOUSE = Path(sys.executable).with_name("gatehouse")


def keyring_at(tmp_path: Path) -> Keyring:
    return Keyring(tmp_path / "config" / ".storage" / "keyring.json")


def everything(_entity_id: str) -> bool:
    return True


def cipher_on(keyring: Keyring, **kwargs: Any) -> TagCipher:
    """A cipher for which every entity is sensitive."""
    return TagCipher(keyring, sensitive=everything, **kwargs)


def nonce_of(envelope: dict[str, Any]) -> bytes:
    return base64.b64decode(envelope["nonce"])


def run_cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """The installed ``gatehouse`` command, for real (a child process)."""
    return subprocess.run(
        [str(GATEHOUSE), *args], input=stdin, capture_output=True, timeout=60, check=False
    )


def keyring_doc(keyring: Keyring) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(keyring.path.read_text())
    return doc


class Watcher:
    """A paho subscriber in its own thread that records (topic, payload) pairs."""

    def __init__(self, port: int, topic: str) -> None:
        import threading

        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        ready = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="crypto-watcher")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_connect = lambda client, *a: client.subscribe(topic, 1)
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        if not ready.wait(10):
            raise RuntimeError("watcher could not subscribe")

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def payloads(self, topic: str) -> list[bytes]:
        with self._lock:
            return [p for t, p in self.messages if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
