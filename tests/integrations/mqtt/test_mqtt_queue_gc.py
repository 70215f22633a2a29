"""Received messages wait for the loop as tuples the garbage collector does not track.

Issue 16: at full load paho's thread reads faster than the loop ingests, so tens of
thousands of messages queue in the bridge. Queued as paho ``MQTTMessage`` objects (two
tracked containers each: the message and its ``MQTTMessageInfo``) they survived the
young collections, were promoted, and made about ten full collections of the whole
backlog per 100,000 messages. A tuple of str/bytes/int/bool is untracked by the first
collection that sees it, so a backlog costs the collector nothing.
"""

from __future__ import annotations

import gc
import threading
from typing import Any

import paho.mqtt.client as paho
import pytest
from mqtt_helpers import Peer, entry_data, loaded
from paho.mqtt.enums import CallbackAPIVersion

from gatehouse.core import Host
from gatehouse.core.testing import Mosquitto, add_entry, wait_until
from gatehouse.integrations.mqtt.transport import FastClient


def _untracked_after_a_collection(items: list[Any]) -> None:
    gc.collect(0)  # the young collection every queued item meets first
    for item in items:
        assert item.__class__ is tuple, item
        topic, payload, qos, retain = item
        assert (type(topic), type(payload), type(qos), type(retain)) == (str, bytes, int, bool)
        assert not gc.is_tracked(item), item


def test_fast_client_hands_over_untracked_tuples(mosquitto: Mosquitto, peer: Peer) -> None:
    received: list[Any] = []
    enough = threading.Event()

    def sink(item: Any) -> None:
        received.append(item)
        if len(received) == 3:
            enough.set()

    client = FastClient(CallbackAPIVersion.VERSION2, client_id="gc-probe")
    client.message_sink = sink
    subscribed = threading.Event()
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    try:
        client.subscribe("gc/#", 1)
        assert subscribed.wait(10)
        peer.publish("gc/a", b"1")
        peer.publish("gc/b/é", b'{"value": 2}', qos=1)
        peer.publish("gc/c", b"", qos=1, retain=True)
        assert enough.wait(10), received
    finally:
        client.disconnect()
        client.loop_stop()
    # The publishes of one client arrive in order over one subscription.
    assert received == [("gc/a", b"1", 0, False), ("gc/b/é", b'{"value": 2}', 1, False),
                        ("gc/c", b"", 1, False)]
    _untracked_after_a_collection(received)


@pytest.mark.anyio
@pytest.mark.timeout(60)
async def test_connection_queues_untracked_tuples(
    host: Host, mosquitto: Mosquitto, peer: Peer
) -> None:
    """What the integration's connection puts in its bridge, end to end to a state."""
    entry = await add_entry(host, "mqtt", entry_data(
        mosquitto.port, sensor=[{"name": "probe", "unique_id": "probe", "state_topic": "gc/s"}]
    ))
    assert loaded(entry)
    client: Any = entry.runtime_data.connection._client
    assert isinstance(client, paho.Client)
    queued: list[Any] = []
    forward = client.message_sink

    def record(item: Any) -> None:
        queued.append(item)
        forward(item)

    client.message_sink = record
    peer.publish("gc/s", b"21.5")
    await wait_until(lambda: (s := host.states.get("sensor.probe")) and s.state == "21.5")
    assert queued == [("gc/s", b"21.5", 0, False)]
    _untracked_after_a_collection(queued)
