"""Store-and-forward holds at boot too: a host that starts while its broker is
unreachable loads its mqtt entry, offers ``mqtt.publish``, queues QoS 1/2 messages on
disk and delivers them once the broker comes up.

A finding from the chaos tests: the entry used to raise ``ConfigEntryNotReady`` before
registering the service, so for as long as it stayed in ``setup_retry`` callers got
"service not found" and their messages were refused instead of queued.
"""

from __future__ import annotations

import socket
from pathlib import Path

import anyio.to_thread
import pytest
from mqtt_helpers import Peer, entry_data, loaded

from gatehouse.core import STATE_UNAVAILABLE, Host
from gatehouse.core.testing import (
    LOOPBACK,
    Mosquitto,
    add_entry,
    port_is_open,
    state_of,
    wait_until,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

LINK = "binary_sensor.plant_link"


async def test_entry_loads_and_queues_while_the_broker_is_down_at_boot(
    host: Host, tmp_path: Path
) -> None:
    broker = Mosquitto(tmp_path / "late-broker")  # its port is chosen, nothing listens yet
    assert not port_is_open(broker.host, broker.port)
    watcher: Peer | None = None
    try:
        entry = await add_entry(
            host, "mqtt",
            entry_data(broker.port, client_id="boot-publisher", discovery=False,
                       sensor=[{"name": "Boot level", "unique_id": "boot_level",
                                "state_topic": "boot/level"}]),
            title="Plant",
        )
        assert loaded(entry), (entry.state, entry.reason)
        assert host.services.has("mqtt", "publish")
        assert state_of(host, LINK) == "off"
        link = host.states.get(LINK)
        assert link is not None and link.attributes["device_class"] == "connectivity"
        assert "cannot connect" in str(link.attributes["last_error"])
        assert state_of(host, "sensor.boot_level") == STATE_UNAVAILABLE

        # QoS 1 is accepted durably; QoS 0 is dropped and counted, as while any outage.
        await host.services.call(
            "mqtt", "publish",
            {"topic": "boot/queued", "payload": "kept", "qos": 1, "retain": True},
        )
        await host.services.call("mqtt", "publish", {"topic": "boot/lost", "payload": "x"})
        runtime = entry.runtime_data
        assert runtime.outbox.stats().depth == 1
        assert runtime.dropped_qos0 == 1

        await anyio.to_thread.run_sync(broker.start)  # paho finds it on its next attempt
        await wait_until(lambda: state_of(host, LINK) == "on", timeout=45,
                         message="the broker link never came up")
        watcher = Peer(broker.port, "boot-watcher")
        watcher.subscribe("boot/#", qos=1)  # retained: seen whenever it was delivered
        await wait_until(lambda: b"kept" in watcher.payloads("boot/queued"), timeout=30)
        await wait_until(lambda: runtime.outbox.stats().depth == 0)
        assert watcher.payloads("boot/lost") == []

        # The subscriptions made while down reached the broker on the first connect.
        watcher.publish("boot/level", "5", qos=1, retain=True)
        await wait_until(lambda: state_of(host, "sensor.boot_level") == "5")
    finally:
        if watcher is not None:
            watcher.close()
        broker.stop()


async def test_a_broker_that_never_answers_does_not_stop_the_entry(host: Host) -> None:
    """TCP accepted, no CONNACK (an overloaded or wedged broker): the entry loads and
    waits like for an unreachable one, instead of retrying set-up."""
    with socket.create_server((LOOPBACK, 0)) as silent:  # accepts (backlog), never speaks
        port = silent.getsockname()[1]
        entry = await add_entry(
            host, "mqtt", entry_data(port, client_id="silent", connect_timeout=0.5),
            title="Plant",
        )
        assert loaded(entry), (entry.state, entry.reason)
        assert host.services.has("mqtt", "publish")
        link = host.states.get(LINK)
        assert link is not None and link.state == "off"
        assert "no CONNACK" in str(link.attributes["last_error"])
        await host.config_entries.unload(entry.entry_id)
