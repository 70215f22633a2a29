"""Home Assistant discovery both ways, and statestream, against a real Mosquitto."""

from __future__ import annotations

import json

import pytest
from mqtt_helpers import Peer, entry_data, loaded

from gatehouse.core import ConfigEntry, Host
from gatehouse.core.testing import Mosquitto, add_entry, state_of, wait_until
from gatehouse.integrations.mqtt.discovery import expand

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


def test_abbreviations_and_base_topic_expand() -> None:
    config = expand(
        {
            "~": "home/node1",
            "stat_t": "~/temp",
            "cmd_t": "set/~",
            "uniq_id": "n1_t",
            "unit_of_meas": "°C",
            "dev": {"ids": ["n1"], "mf": "ACME", "mdl": "T1"},
            "avty": [{"t": "~/lwt", "pl_avail": "up"}],
        }
    )
    assert config == {
        "state_topic": "home/node1/temp",
        "command_topic": "set/home/node1",
        "unique_id": "n1_t",
        "unit_of_measurement": "°C",
        "device": {"identifiers": ["n1"], "manufacturer": "ACME", "model": "T1"},
        "availability": [{"topic": "home/node1/lwt", "payload_available": "up"}],
    }


async def test_discovery_creates_updates_and_removes_entities(
    mosquitto: Mosquitto, peer: Peer, host: Host
) -> None:
    # Announced before we connect: retained, so we still see it.
    peer.publish(
        "homeassistant/sensor/node1/temp/config",
        json.dumps(
            {
                "name": "Node temp",
                "uniq_id": "node1_temp",
                "stat_t": "node1/state",
                "val_tpl": "{{ value_json.t }}",
                "unit_of_meas": "°C",
                "dev_cla": "temperature",
                "dev": {"ids": ["node1"], "name": "Node 1", "mf": "ACME"},
                "json_attr_t": "node1/attrs",  # not supported here: ignored, not refused
            }
        ),
        qos=1,
        retain=True,
    )
    entry = await add_entry(host, "mqtt", entry_data(mosquitto.port))
    assert loaded(entry), entry.reason
    await wait_until(lambda: "sensor.node_1_node_temp" in host.states)
    # Retained: the entity's SUBSCRIBE may reach the broker after this publish.
    peer.publish("node1/state", json.dumps({"t": 21.5}), qos=1, retain=True)
    await wait_until(lambda: state_of(host, "sensor.node_1_node_temp") == "21.5")
    reg = host.entity_registry.get("sensor.node_1_node_temp")
    assert reg is not None and reg.unique_id == "node1_temp" and reg.platform == "mqtt"

    # A switch, announced live, without node id.
    peer.subscribe("relay/set", qos=1)
    peer.publish(
        "homeassistant/switch/relay/config",
        json.dumps({"name": "Relay", "uniq_id": "relay", "cmd_t": "relay/set",
                    "stat_t": "relay/state", "pl_on": "on", "pl_off": "off"}),
        qos=1,
        retain=True,
    )
    await wait_until(lambda: "switch.relay" in host.states)
    await host.services.call("switch", "turn_on", {"entity_id": "switch.relay"})
    await wait_until(lambda: peer.payloads("relay/set") == [b"on"])

    # A changed config replaces the entity (same entity id through the registry).
    peer.publish(
        "homeassistant/sensor/node1/temp/config",
        json.dumps({"name": "Node temp", "uniq_id": "node1_temp", "stat_t": "node1/state2",
                    "dev": {"ids": ["node1"], "name": "Node 1"}}),
        qos=1,
        retain=True,
    )
    peer.publish("node1/state2", "19", qos=1, retain=True)
    await wait_until(lambda: state_of(host, "sensor.node_1_node_temp") == "19")

    # Garbage is ignored and counted; the entry carries on.
    peer.publish("homeassistant/sensor/bad/config", b"{not json", qos=1)
    peer.publish("homeassistant/sensor/bad2/config", json.dumps({"name": "no topic"}), qos=1)
    runtime = entry.runtime_data
    await wait_until(lambda: runtime.parts["discovery"].invalid == 2)

    # An empty retained payload removes the entity.
    peer.publish("homeassistant/sensor/node1/temp/config", b"", qos=1, retain=True)
    await wait_until(lambda: "sensor.node_1_node_temp" not in host.states)
    assert "switch.relay" in host.states
    # Its subscription went with it: a message on the old topic changes nothing.
    assert runtime.connection.router.match("node1/state2") == []
    peer.publish("homeassistant/switch/relay/config", b"", qos=1, retain=True)
    await wait_until(lambda: "switch.relay" not in host.states)


async def test_publish_discovery_and_statestream_for_own_entities(
    mosquitto: Mosquitto, peer: Peer, host: Host
) -> None:
    demo: ConfigEntry[object] = ConfigEntry(
        domain="demo", title="Demo", data={"name": "Demo", "update_interval": 3600}
    )
    await host.config_entries.add(demo)
    peer.subscribe("homeassistant/#", qos=1)
    peer.subscribe("gatehouse/states/#", qos=1)
    entry = await add_entry(
        host, "mqtt",
        entry_data(
            mosquitto.port,
            client_id="box1",
            publish_discovery=True,
            statestream={"include": {"domains": ["sensor", "switch"]},
                         "exclude": {"entity_globs": ["sensor.*outbox*"]}},
        ),
    )
    assert loaded(entry), entry.reason

    topic = "homeassistant/switch/box1/demo_switch/config"
    await wait_until(lambda: peer.payloads(topic))
    config = json.loads(peer.payloads(topic)[-1])
    assert config["command_topic"] == "gatehouse/states/switch/demo_switch/set"
    assert config["state_topic"] == "gatehouse/states/switch/demo_switch/state"
    assert config["availability_topic"] == "gatehouse/status"
    assert config["unique_id"].startswith("gatehouse_box1_")
    sine = json.loads(peer.payloads("homeassistant/sensor/box1/demo_sine/config")[-1])
    assert sine["unit_of_measurement"] == "°C" and sine["device_class"] == "temperature"
    # Outbox sensors are excluded by the glob; the mqtt platform's own never announced.
    assert not any("outbox" in t for t, *_ in peer.snapshot() if t.startswith("homeassistant/"))

    await wait_until(lambda: peer.payloads("gatehouse/states/switch/demo_switch/state"))
    assert peer.payloads("gatehouse/states/switch/demo_switch/state")[-1] == b"on"
    attributes = json.loads(peer.payloads("gatehouse/states/switch/demo_switch/attributes")[-1])
    assert attributes["friendly_name"] == "Demo switch"

    # Home Assistant switches it off through the command topic.
    peer.publish("gatehouse/states/switch/demo_switch/set", "OFF", qos=1)
    await wait_until(lambda: state_of(host, "switch.demo_switch") == "off")
    await wait_until(
        lambda: peer.payloads("gatehouse/states/switch/demo_switch/state")[-1:] == [b"off"]
    )
    # Home Assistant restarting asks for the configs again.
    before = len(peer.payloads(topic))
    peer.publish("homeassistant/status", "online", qos=1)
    await wait_until(lambda: len(peer.payloads(topic)) > before)
