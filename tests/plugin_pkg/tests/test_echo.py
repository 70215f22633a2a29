"""Tests of the ``echo`` plugin, written as its author would, against the installed kit.

Nothing here reaches into Gatehouse's own test suite: only ``gatehouse.core`` and the
test kit ``gatehouse.core.testing`` (its fixtures come from the conftest's
``pytest_plugins``). The main suite runs this folder as a separate pytest session.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gatehouse.core import ConfigEntryState, Host
from gatehouse.core.testing import Mosquitto, NatsServer, add_entry, state_of, wait_until

pytestmark = pytest.mark.anyio


async def test_say_writes_the_sensor_and_answers(host: Host) -> None:
    entry = await add_entry(host, "echo", {"prefix": ">> "})
    assert entry.state is ConfigEntryState.LOADED
    answer: Any = await host.services.call(
        "echo", "say", {"text": "hello"}, blocking=True, return_response=True
    )
    assert answer["text"] == ">> hello"
    assert state_of(host, "sensor.echo_last_message") == ">> hello"


async def test_unload_removes_the_service(host: Host) -> None:
    entry = await add_entry(host, "echo")
    await host.config_entries.unload(entry.entry_id)
    assert not host.services.has("echo", "say")


async def test_say_can_publish_through_the_mqtt_integration(
    host: Host, mosquitto: Mosquitto
) -> None:
    """The kit's broker, the shipped mqtt integration, and our plugin, together."""
    received: list[bytes] = []
    subscribed = threading.Event()
    watcher = paho.Client(CallbackAPIVersion.VERSION2, client_id="echo-watcher")
    watcher.on_connect = lambda c, *a: c.subscribe("echo/out", qos=1)
    watcher.on_subscribe = lambda *a: subscribed.set()
    watcher.on_message = lambda c, u, m: received.append(m.payload)
    watcher.connect(mosquitto.host, mosquitto.port)
    watcher.loop_start()
    try:
        assert subscribed.wait(10)
        mqtt = await add_entry(host, "mqtt", {"broker": mosquitto.host, "port": mosquitto.port})
        assert mqtt.state is ConfigEntryState.LOADED
        await add_entry(host, "echo")
        await host.services.call("echo", "say", {"text": "hi", "topic": "echo/out"},
                                 blocking=True)
        await wait_until(lambda: received == [b"hi"])
    finally:
        watcher.loop_stop()
        watcher.disconnect()


def test_the_kits_nats_server_is_a_real_one(nats_server: NatsServer) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{nats_server.monitor_url}/varz", timeout=5) as answer:
        varz = json.load(answer)
    assert varz["port"] == nats_server.port
    assert varz["jetstream"]["config"]["store_dir"]
