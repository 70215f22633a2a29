"""Discovery as Home Assistant sees it (issue 16, defects 1-4).

1. With ``publish_discovery`` and discovery consumption both on, our own announcements
   came back and were consumed: duplicates (``sensor.gatehouse_box1_demo_sine``), a
   device for ourselves, and the duplicates streamed out again.
2. Every entity was announced under one device "Gatehouse <client id>"; each now goes
   under its own device, ``via_device`` the host's (announced with a status entity).
3. ``suggested_display_precision``, ``entity_category``, ``enabled_by_default``.
4. An unnamed discovered entity is named as Home Assistant names it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from mqtt_helpers import Peer, entry_data, loaded

from gatehouse.core import ConfigEntry, Host, SensorEntity, SensorEntityDescription
from gatehouse.core.testing import Mosquitto, add_entry, state_of, wait_until
from gatehouse.integrations.mqtt.discovery import _entity_extras, _name_under
from gatehouse.integrations.mqtt.naming import device_class_name, entity_name

pytestmark = pytest.mark.anyio

SINE_TOPIC = "homeassistant/sensor/box1/demo_sine/config"
HOST_TOPIC = "homeassistant/binary_sensor/box1/gatehouse_host_status/config"


async def _demo_and_mqtt(host: Host, mosquitto: Mosquitto, **extra: Any) -> ConfigEntry[Any]:
    demo: ConfigEntry[object] = ConfigEntry(
        domain="demo", title="Demo", data={"name": "Demo", "update_interval": 3600}
    )
    await host.config_entries.add(demo)
    entry = await add_entry(
        host, "mqtt",
        entry_data(mosquitto.port, client_id="box1", publish_discovery=True, **extra),
    )
    assert loaded(entry), entry.reason
    return entry


async def test_own_announcements_are_not_consumed(
    mosquitto: Mosquitto, peer: Peer, host: Host
) -> None:
    peer.subscribe("homeassistant/#", qos=1)
    peer.subscribe("gatehouse/states/#", qos=1)
    entry = await _demo_and_mqtt(host, mosquitto)
    runtime = entry.runtime_data
    consumer = runtime.parts["discovery"]
    publisher = runtime.parts["discovery_publish"]
    await wait_until(lambda: peer.payloads(SINE_TOPIC))
    # Every announcement came back to us (we subscribe the prefix) and was left alone.
    await wait_until(lambda: consumer.own_skipped >= publisher.published,
                     message="our announcements did not come back")
    assert consumer.entities == {}
    assert not [e for e in host.states.entity_ids() if "gatehouse_box1" in e]
    assert host.device_registry.devices(config_entry_id=entry.entry_id) == []
    assert not [t for t, *_ in peer.snapshot() if "gatehouse_box1" in t
                and t.startswith("gatehouse/states/")]
    assert consumer.diagnostics()["own_announcements_skipped"] >= publisher.published


async def test_each_entity_under_its_own_device_via_the_host(
    mosquitto: Mosquitto, peer: Peer, host: Host
) -> None:
    peer.subscribe("homeassistant/#", qos=1)
    await _demo_and_mqtt(host, mosquitto)
    await wait_until(lambda: peer.payloads(SINE_TOPIC) and peer.payloads(HOST_TOPIC))
    sine = json.loads(peer.payloads(SINE_TOPIC)[-1])
    [identifier] = sine["device"]["identifiers"]
    assert identifier.startswith("gatehouse_box1_demo_")  # the demo's (domain, entry id)
    assert sine["device"] == {
        "identifiers": [identifier],
        "name": "Demo",
        "manufacturer": "Gatehouse",
        "model": "Demo device",
        "sw_version": "1.0",
        "via_device": "gatehouse_box1",
    }
    # Home Assistant shows "<device> <name>": "Demo sine", as we do.
    assert sine["name"] == "sine"
    assert sine["object_id"] == "demo_sine"
    assert sine["origin"]["name"] == "Gatehouse"
    # 3. What only the entity knows.
    assert sine["suggested_display_precision"] == 2
    assert "entity_category" not in sine  # the demo has no description: nothing known
    counter = json.loads(peer.payloads("homeassistant/sensor/box1/demo_counter/config")[-1])
    assert counter["device"]["identifiers"] == sine["device"]["identifiers"]
    # The host's device exists in Home Assistant through its status entity.
    status = json.loads(peer.payloads(HOST_TOPIC)[-1])
    assert status["device"]["identifiers"] == ["gatehouse_box1"]
    assert status["state_topic"] == "gatehouse/status"
    assert (status["payload_on"], status["payload_off"]) == ("online", "offline")
    assert status["device_class"] == "connectivity"
    assert status["entity_category"] == "diagnostic"


def test_published_name_without_the_device_name() -> None:
    assert _name_under("Demo sine", {"name": "Demo"}) == "sine"
    assert _name_under("Demo", {"name": "Demo"}) is None
    assert _name_under("Demolition", {"name": "Demo"}) == "Demolition"
    assert _name_under("Kitchen", None) == "Kitchen"


@dataclass(frozen=True, kw_only=True)
class _Description(SensorEntityDescription):
    pass


class _Sensor(SensorEntity):
    platform_domain: ClassVar[str] = "sensor"


def test_entity_extras_carry_category_and_enabled_default() -> None:
    sensor = _Sensor()
    sensor.entity_description = _Description(
        key="rssi", entity_category="diagnostic", enabled_by_default=False,
        suggested_display_precision=0,
    )
    assert _entity_extras(sensor) == {
        "suggested_display_precision": 0,
        "entity_category": "diagnostic",
        "enabled_by_default": False,
    }
    assert _entity_extras(None) == {}
    # A category Home Assistant does not know would make it refuse the whole config.
    sensor.entity_description = _Description(key="x", entity_category="system")
    assert "entity_category" not in _entity_extras(sensor)


@pytest.mark.parametrize(
    ("platform", "config", "expected"),
    [
        ("sensor", {"device_class": "temperature", "device": {"name": "Bedroom"}},
         "Bedroom Temperature"),
        ("sensor", {"name": "Temp", "device": {"name": "Bedroom"}}, "Bedroom Temp"),
        ("sensor", {"name": None, "device": {"name": "Bedroom"}}, "Bedroom"),
        ("sensor", {"device": {"name": "Bedroom"}}, "Bedroom MQTT Sensor"),
        ("sensor", {"device_class": "pm25"}, "PM2.5"),
        ("sensor", {}, "MQTT Sensor"),
        ("binary_sensor", {"device_class": "battery_charging"}, "Charging"),
        ("switch", {"device_class": "outlet", "device": {"name": "Desk"}}, "Desk MQTT Switch"),
        ("number", {"device_class": "carbon_dioxide"}, "Carbon dioxide"),
    ],
)
def test_entity_names_follow_home_assistant(
    platform: str, config: dict[str, Any], expected: str
) -> None:
    assert entity_name(platform, config) == expected


def test_device_class_names() -> None:
    assert device_class_name("volatile_organic_compounds") == "Volatile organic compounds"
    assert device_class_name("monetary") == "Balance"


async def test_unnamed_discovered_sensor_named_from_device_and_class(
    mosquitto: Mosquitto, peer: Peer, host: Host
) -> None:
    """Home Assistant's documented example: "Bedroom Temperature", sensor.bedroom_temperature
    (it was sensor.bedroom_homeassistant_sensor_sensorbedroom_state)."""
    entry = await add_entry(host, "mqtt", entry_data(mosquitto.port))
    assert loaded(entry), entry.reason
    peer.publish(
        "homeassistant/sensor/sensorBedroom/config",
        json.dumps({
            "device_class": "temperature",
            "state_topic": "homeassistant/sensor/sensorBedroom/state",
            "unit_of_measurement": "°C",
            "value_template": "{{ value_json.temperature }}",
            "unique_id": "temp01ae",
            "device": {"identifiers": ["bedroom01ae"], "name": "Bedroom"},
        }),
        qos=1, retain=True,
    )
    await wait_until(lambda: "sensor.bedroom_temperature" in host.states,
                     message=f"not made: {sorted(host.states.entity_ids())}")
    peer.publish("homeassistant/sensor/sensorBedroom/state", '{"temperature": 23.2}', qos=1)
    await wait_until(lambda: state_of(host, "sensor.bedroom_temperature") == "23.2")
    state = host.states.get("sensor.bedroom_temperature")
    assert state is not None
    assert state.attributes["friendly_name"] == "Bedroom Temperature"
