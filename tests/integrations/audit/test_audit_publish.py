"""Checkpoints off the box: every checkpoint also reaches an MQTT topic on a real
Mosquitto (through the outbox and ``mqtt.publish``) and verifies there with the log's
public key alone; with the broker down at boot it waits in the outbox and arrives once
the broker is back."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
import voluptuous as vol
from paho.mqtt.enums import CallbackAPIVersion

from gatehouse.core import Host
from gatehouse.core.testing import Mosquitto, make_host, wait_until
from gatehouse.integrations.audit.config import CONFIG_SCHEMA
from gatehouse.integrations.audit.note import Verifier, verify
from gatehouse.integrations.audit.verify import verify_path

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

TOPIC = "plant/audit/checkpoints"


class Watcher:
    """A paho subscriber in its own thread that keeps what arrives on TOPIC."""

    def __init__(self, port: int) -> None:
        self.notes: list[str] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="audit-watcher")
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *a: c.subscribe(TOPIC, 1)
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise RuntimeError("the watcher got no SUBACK")

    def _on_message(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.notes.append(message.payload.decode())

    def received(self) -> list[str]:
        with self._lock:
            return list(self.notes)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def watcher(mosquitto: Mosquitto) -> Iterator[Watcher]:
    found = Watcher(mosquitto.port)
    try:
        yield found
    finally:
        found.close()


def _config(config_dir: Path, port: int) -> None:
    (config_dir / "configuration.yaml").write_text(textwrap.dedent(f"""\
        gatehouse:
          control_socket: false
        mqtt:
          broker: 127.0.0.1
          port: {port}
          discovery: false
        audit:
          publish_checkpoints:
            integration: mqtt
            topic: {TOPIC}
            outbox:
              retry_initial: 0.05
              retry_max: 0.2
        """), encoding="utf-8")


def _verifier(host: Host) -> Verifier:
    return Verifier.parse((host.storage_dir / "audit" / "audit_ed25519.pub").read_text())


async def test_each_checkpoint_arrives_on_the_topic_and_verifies(
    config_dir: Path, mosquitto: Mosquitto, watcher: Watcher
) -> None:
    _config(config_dir, mosquitto.port)
    host = make_host(config_dir)
    async with host.running():
        host.bus.fire("audit_security", {"action": "cert.issue", "target": "cert:7"})
        await host.services.call("audit", "checkpoint", {})
        await wait_until(lambda: len(watcher.received()) == 1, 10, "the first checkpoint")
        checkpoint = verify(watcher.received()[0], _verifier(host))
        runtime = host.config_entries.entries("audit")[0].runtime_data
        assert checkpoint.size == runtime.log.writer.seq - 1
        host.bus.fire("audit_security", {"action": "key.rotate", "target": "key:k2"})
        await host.services.call("audit", "checkpoint", {})
        await wait_until(lambda: len(watcher.received()) == 2, 10, "the second checkpoint")
    # The last one, signed while the host stopped, left with the next start.
    host = make_host(config_dir)
    async with host.running():
        await wait_until(lambda: len(watcher.received()) >= 3, 10, "the stop's checkpoint")
    sizes = [verify(note, _verifier(host)).size for note in watcher.received()]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    assert verify_path(host.storage_dir / "audit").ok


async def test_with_the_broker_down_the_checkpoint_waits_and_arrives_later(
    config_dir: Path, mosquitto: Mosquitto,
) -> None:
    mosquitto.stop()
    _config(config_dir, mosquitto.port)
    host = make_host(config_dir)
    async with host.running():
        entry = host.config_entries.entries("audit")[0]
        assert entry.state.value == "loaded"
        await host.services.call("audit", "checkpoint", {})
        publisher = entry.runtime_data.publisher
        await wait_until(lambda: publisher.link.stats().depth == 1, 10, "queued")
        mosquitto.start()
        watcher = Watcher(mosquitto.port)
        try:
            await wait_until(lambda: len(watcher.received()) >= 1, 20, "delivered late")
            checkpoint = verify(watcher.received()[0], _verifier(host))
            assert checkpoint.size >= 1
        finally:
            watcher.close()


def test_a_wildcard_topic_is_refused_with_the_configuration() -> None:
    for topic in ("plant/#", "plant/+/x", "a b", ""):
        with pytest.raises(vol.Invalid, match="topic"):
            CONFIG_SCHEMA({"publish_checkpoints": {"integration": "mqtt", "topic": topic}})
    with pytest.raises(vol.Invalid):
        CONFIG_SCHEMA({"publish_checkpoints": {"integration": "kafka", "topic": "x"}})
    found = CONFIG_SCHEMA({"publish_checkpoints": {"integration": "nats", "topic": "a.b"}})
    assert found["publish_checkpoints"]["outbox"]["max_messages"] == 10_000


async def test_checkpoints_reach_a_nats_subject_too(config_dir: Path, nats_server: Any) -> None:
    import nats

    (config_dir / "configuration.yaml").write_text(textwrap.dedent(f"""\
        gatehouse:
          control_socket: false
        nats:
          name: Plant bus
          servers: {nats_server.url}
          reconnect_time_wait: 0.1
        audit:
          publish_checkpoints:
            integration: nats
            topic: plant.audit.checkpoints
        """), encoding="utf-8")
    client = await nats.connect(nats_server.url)
    got: list[str] = []

    async def on_message(message: Any) -> None:
        got.append(message.data.decode())

    try:
        await client.subscribe("plant.audit.checkpoints", cb=on_message)
        await client.flush()
        host = make_host(config_dir)
        async with host.running():
            host.bus.fire("audit_security", {"action": "key.rotate", "target": "key:k9"})
            await host.services.call("audit", "checkpoint", {})
            await wait_until(lambda: len(got) == 1, 10, "the checkpoint on NATS")
            checkpoint = verify(got[0], _verifier(host))
            runtime = host.config_entries.entries("audit")[0].runtime_data
            assert checkpoint.size == runtime.log.writer.seq - 1
    finally:
        await client.close()
