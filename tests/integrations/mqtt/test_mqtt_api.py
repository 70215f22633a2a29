"""The public surface: ``mqtt.publish``, the ``mqtt_message`` event, ``MQTT_API``, and the
outbox statistics entities."""

from __future__ import annotations

import pytest
from mqtt_helpers import Peer, entry_data, loaded

from gatehouse.core import Event, Host, ServiceValidationError
from gatehouse.core.testing import Mosquitto, add_entry, state_of, wait_until
from gatehouse.integrations.mqtt.api import (
    EVENT_MQTT_MESSAGE,
    MQTT_API,
    MqttMessage,
    MqttMessageEventData,
    MqttUnavailable,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


async def test_publish_service(mosquitto: Mosquitto, peer: Peer, host: Host) -> None:
    peer.subscribe("out/#", qos=1)
    entry = await add_entry(host, "mqtt", entry_data(mosquitto.port, sensor=[
        {"name": "Temp", "unique_id": "temp", "state_topic": "in/temp"}]), title="Broker")
    assert loaded(entry), entry.reason
    peer.publish("in/temp", "21", qos=1)
    await wait_until(lambda: state_of(host, "sensor.temp") == "21")

    call = host.services.call
    await call("mqtt", "publish", {"topic": "out/plain", "payload": "hi"})
    await call("mqtt", "publish", {"topic": "out/tpl", "qos": 1,
                                   "payload_template": "{{ states('sensor.temp') | int + 1 }}"})
    await call("mqtt", "publish", {"topic": "out/kept", "payload": "k", "qos": 2, "retain": True})
    await wait_until(lambda: peer.payloads("out/tpl") == [b"22"])
    await wait_until(lambda: peer.payloads("out/plain") == [b"hi"])
    await wait_until(lambda: peer.payloads("out/kept") == [b"k"])

    late = Peer(mosquitto.port, "late")
    try:
        late.subscribe("out/kept", qos=1)
        await wait_until(lambda: late.payloads("out/kept") == [b"k"])  # retained
    finally:
        late.close()

    with pytest.raises(ServiceValidationError):
        await call("mqtt", "publish", {"topic": "out/#", "payload": "x"})
    with pytest.raises(ServiceValidationError):
        await call("mqtt", "publish", {"topic": "out/x", "payload": "a", "payload_template": "b"})
    with pytest.raises(ServiceValidationError):
        await call("mqtt", "publish", {"topic": "out/x", "payload_template": "{{ nope.x }}"})


async def test_service_is_held_by_any_loaded_entry(
    mosquitto: Mosquitto, peer: Peer, host: Host
) -> None:
    first = await add_entry(host, "mqtt", entry_data(mosquitto.port, client_id="a"), title="A")
    second = await add_entry(host, "mqtt", entry_data(mosquitto.port, client_id="b"), title="B")
    assert loaded(first) and loaded(second)
    await host.config_entries.unload(first.entry_id)
    assert host.services.has("mqtt", "publish")  # B still holds it
    peer.subscribe("via/b", qos=1)
    await host.services.call("mqtt", "publish", {"topic": "via/b", "payload": "1", "qos": 1})
    await wait_until(lambda: peer.payloads("via/b") == [b"1"])
    await host.config_entries.unload(second.entry_id)
    assert not host.services.has("mqtt", "publish")


async def test_mqtt_message_event(mosquitto: Mosquitto, peer: Peer, host: Host) -> None:
    events: list[MqttMessageEventData] = []

    def on_message(event: Event[MqttMessageEventData]) -> None:
        events.append(event.data)

    host.bus.listen(EVENT_MQTT_MESSAGE, on_message)
    entry = await add_entry(
        host, "mqtt",
        entry_data(mosquitto.port, subscribe=["alarms/+/high", {"topic": "audit/#", "qos": 1}]),
    )
    assert loaded(entry), entry.reason
    peer.publish("alarms/tank1/high", b"\x01\x02", qos=1)
    peer.publish("alarms/tank1/low", b"ignored", qos=1)
    peer.publish("audit/a/b", b"who", qos=1, retain=True)
    await wait_until(lambda: len(events) == 2)
    assert events[0] == {"topic": "alarms/tank1/high", "payload": b"\x01\x02", "qos": 0,
                         "retain": False, "entry_id": entry.entry_id}
    assert events[1]["topic"] == "audit/a/b" and events[1]["qos"] == 1


async def test_api_object_subscriptions_survive_reload(
    mosquitto: Mosquitto, peer: Peer, host: Host
) -> None:
    entry = await add_entry(host, "mqtt", entry_data(mosquitto.port))
    api = host.data[MQTT_API]
    got: list[MqttMessage] = []
    unsubscribe = api.subscribe("shadow/+/update", got.append, qos=1)
    await entry.runtime_data.connection.wait_subscribed(5)
    peer.publish("shadow/t1/update", "1", qos=1)
    await wait_until(lambda: [m.payload for m in got] == [b"1"])
    assert got[0].topic == "shadow/t1/update" and got[0].entry_id == entry.entry_id

    assert await host.config_entries.reload(entry.entry_id)
    assert host.data[MQTT_API] is api and api.is_connected()
    peer.publish("shadow/t2/update", "2", qos=1)
    await wait_until(lambda: [m.payload for m in got] == [b"1", b"2"])

    peer.subscribe("api/out", qos=1)
    await api.publish("api/out", "durable", qos=1)
    api.publish_nowait("api/out", b"now", qos=0)
    await wait_until(lambda: sorted(peer.payloads("api/out")) == [b"durable", b"now"])

    unsubscribe()
    assert entry.runtime_data.connection.router.match("shadow/t3/update") == []
    await host.config_entries.unload(entry.entry_id)
    assert not api.is_connected()
    with pytest.raises(MqttUnavailable):
        await api.publish("api/out", "x")


async def test_outbox_stat_entities(mosquitto: Mosquitto, host: Host) -> None:
    entry = await add_entry(host, "mqtt", entry_data(mosquitto.port), title="Plant broker")
    assert loaded(entry)
    depth = "sensor.plant_broker_outbox_queued_messages"
    assert state_of(host, depth) == "0"
    for suffix in ("oldest_message_age", "dropped_messages", "delivery_retries",
                   "dead_lettered_messages", "redeliveries"):
        assert f"sensor.plant_broker_outbox_{suffix}" in host.states
