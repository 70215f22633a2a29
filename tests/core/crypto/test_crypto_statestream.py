"""Sensitive values on the wire (mqtt statestream) and at rest, against a real Mosquitto."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptotools import Watcher

from gatehouse.core import ConfigEntryState, Host
from gatehouse.core.crypto import TagCipher, tag_cipher
from gatehouse.core.outbox import get_outbox
from gatehouse.core.testing import Mosquitto, add_entry, make_host, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

SECRET = "RECIPE-4711"


def configuration(publish: bool) -> str:
    return f"""
gatehouse:
  encryption:
    publish: {str(publish).lower()}
    sensitive:
      include:
        entity_globs: ["sensor.recipe_*"]
"""


async def running_host(config_dir: Path, publish: bool) -> AsyncIterator[Host]:
    (config_dir / "configuration.yaml").write_text(configuration(publish))
    host = make_host(config_dir)
    async with host.running():
        yield host


@pytest.fixture
async def publishing_host(config_dir: Path) -> AsyncIterator[Host]:
    async for host in running_host(config_dir, True):
        yield host


@pytest.fixture
async def quiet_host(config_dir: Path) -> AsyncIterator[Host]:
    async for host in running_host(config_dir, False):
        yield host


def stream(port: int, qos: int = 1) -> dict[str, object]:
    return {"broker": "127.0.0.1", "port": port, "client_id": "crypto-stream",
            "statestream": {"base_topic": "gh", "qos": qos}}


async def test_publish_true_sends_envelopes_for_sensitive_entities_only(
    mosquitto: Mosquitto, publishing_host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    host = publishing_host
    watcher = Watcher(mosquitto.port, "gh/#")
    try:
        with caplog.at_level(logging.DEBUG):
            entry = await add_entry(host, "mqtt", stream(mosquitto.port))
            assert entry.state is ConfigEntryState.LOADED, entry.reason
            host.states.set("sensor.recipe_temp", SECRET, {"unit_of_measurement": "°C"})
            host.states.set("sensor.tank_level", "42", {})
            await wait_until(lambda: bool(watcher.payloads("gh/sensor/recipe_temp/attributes"))
                             and bool(watcher.payloads("gh/sensor/tank_level/state")))
        # Once per change, and again by publish_all when the connection came up after it.
        assert set(watcher.payloads("gh/sensor/tank_level/state")) == {b"42"}
        state_payload = watcher.payloads("gh/sensor/recipe_temp/state")[-1]
        attr_payload = watcher.payloads("gh/sensor/recipe_temp/attributes")[-1]
        assert not any(SECRET.encode() in p for t, p in watcher.messages)
        assert SECRET.encode() not in state_payload
        envelope = json.loads(state_payload)
        assert envelope["entity_id"] == "sensor.recipe_temp"
        cipher = tag_cipher(host)
        assert cipher is not None
        assert cipher.decrypt(envelope) == SECRET.encode()
        attributes = json.loads(attr_payload)
        assert attributes["entity_id"] == "sensor.recipe_temp/attributes"
        assert json.loads(cipher.decrypt(attributes)) == {"unit_of_measurement": "°C"}
        # A consumer with only the keyring file (a fresh process) reads it too.
        assert TagCipher(cipher.keyring).decrypt(envelope) == SECRET.encode()
        # The state machine (and so /api/states, behind login) keeps the plaintext.
        state = host.states.get("sensor.recipe_temp")
        assert state is not None and state.state == SECRET
        assert SECRET not in caplog.text
        outbox_file = host.config_dir / ".storage" / "outbox.db"
        raw = b"".join(p.read_bytes() for p in outbox_file.parent.glob("outbox.db*"))
        assert SECRET.encode() not in raw
    finally:
        watcher.close()


async def test_publish_false_sends_the_value_but_keeps_it_encrypted_while_queued(
    mosquitto: Mosquitto, quiet_host: Host
) -> None:
    host = quiet_host
    with socket.socket() as probe:  # a port nobody listens on: the broker is "down"
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    down = await add_entry(host, "mqtt", stream(dead_port))
    assert down.state is ConfigEntryState.LOADED, down.reason  # store-and-forward at boot
    outbox = await get_outbox(host)
    destination = f"mqtt.{down.entry_id}"
    host.states.set("sensor.recipe_temp", SECRET, {})
    await wait_until(lambda: outbox.stats(destination).depth >= 2)
    raw = b"".join(p.read_bytes() for p in (host.config_dir / ".storage").glob("outbox.db*"))
    assert SECRET.encode() not in raw

    watcher = Watcher(mosquitto.port, "gh/#")
    try:
        await host.config_entries.remove(down.entry_id)
        up = await add_entry(host, "mqtt", stream(mosquitto.port))
        assert up.state is ConfigEntryState.LOADED, up.reason
        host.states.set("sensor.recipe_temp", SECRET + "-2", {})
        await wait_until(lambda: SECRET.encode() + b"-2" in watcher.payloads(
            "gh/sensor/recipe_temp/state"))
    finally:
        watcher.close()
    raw = b"".join(p.read_bytes() for p in (host.config_dir / ".storage").glob("outbox.db*"))
    assert SECRET.encode() not in raw
