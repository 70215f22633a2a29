"""Entities from YAML, fed by a real Mosquitto: sensors, binary sensors, switches, numbers."""

from __future__ import annotations

import json
import logging
import textwrap
from pathlib import Path

import pytest
from mqtt_helpers import Peer, loaded

from gatehouse.core import STATE_UNAVAILABLE, Host
from gatehouse.core.control import collect_diagnostics
from gatehouse.core.testing import Mosquitto, make_host, state_of, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


def write_yaml(config_dir: Path, port: int, body: str) -> None:
    text = textwrap.dedent(
        f"""\
        gatehouse:
          control_socket: false
        mqtt:
          broker: 127.0.0.1
          port: {port}
          discovery: false
        """
    ) + textwrap.indent(textwrap.dedent(body), "  ")
    (config_dir / "configuration.yaml").write_text(text, encoding="utf-8")


def mqtt_entry_id(host: Host) -> str:
    (entry,) = host.config_entries.entries("mqtt")
    assert loaded(entry), entry.reason
    return entry.entry_id


async def test_sensors_from_yaml_update_and_count_bad_payloads(
    config_dir: Path, mosquitto: Mosquitto, peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    write_yaml(
        config_dir,
        mosquitto.port,
        """\
        sensor:
          - name: Raw
            unique_id: raw
            state_topic: plant/raw
          - name: Templated
            unique_id: templated
            state_topic: plant/tpl
            value_template: "{{ (value_json.temp * 2) | round(1) }}"
            unit_of_measurement: "°C"
            device_class: temperature
            state_class: measurement
          - name: Pathed
            unique_id: pathed
            state_topic: plant/path
            json_path: "a.b[1].c"
        """,
    )
    host = make_host(config_dir)
    async with host.running():
        entry_id = mqtt_entry_id(host)
        peer.publish("plant/raw", "hello", qos=1)
        peer.publish("plant/tpl", json.dumps({"temp": 10.25}), qos=1)
        peer.publish("plant/path", json.dumps({"a": {"b": [{"c": 1}, {"c": 42.5}]}}), qos=1)
        await wait_until(lambda: state_of(host, "sensor.raw") == "hello")
        await wait_until(lambda: state_of(host, "sensor.templated") == "20.5")
        await wait_until(lambda: state_of(host, "sensor.pathed") == "42.5")
        attributes = host.states.get("sensor.templated").attributes  # type: ignore[union-attr]
        assert attributes["unit_of_measurement"] == "°C"
        assert attributes["device_class"] == "temperature"
        assert attributes["state_class"] == "measurement"

        # Garbage: not JSON, JSON without the path, a template that fails. Each is
        # counted, the state keeps its last good value, the loop goes on.
        caplog.set_level(logging.INFO, logger="gatehouse.integrations.mqtt")
        for _ in range(5):
            peer.publish("plant/path", b"not json{", qos=1)
        peer.publish("plant/path", json.dumps({"a": {"b": []}}), qos=1)
        peer.publish("plant/tpl", b"plain text", qos=1)
        peer.publish("plant/raw", b"\xff\xfe", qos=1)  # not UTF-8
        peer.publish("plant/path", json.dumps({"a": {"b": [0, {"c": 7}]}}), qos=1)
        await wait_until(lambda: state_of(host, "sensor.pathed") == "7")

        report = collect_diagnostics(host)["plugins"]["mqtt"][entry_id]
        bad = {e["entity_id"]: e["bad_payloads"] for e in report["entities"]}
        assert bad == {"sensor.pathed": 6, "sensor.raw": 1, "sensor.templated": 1}
        assert report["bad_payloads"] == 8
        assert state_of(host, "sensor.templated") == "20.5"
        assert state_of(host, "sensor.raw") == "hello"
        # Logged once per burst: one warning for the six bad ones of sensor.pathed.
        warnings = [
            r for r in caplog.records
            if r.levelno == logging.WARNING and "sensor.pathed" in r.getMessage()
        ]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert any("readable again after 6 bad ones" in r.getMessage() for r in caplog.records)

        # The loop is alive and well: a good message still lands.
        peer.publish("plant/raw", "still here", qos=1)
        await wait_until(lambda: state_of(host, "sensor.raw") == "still here")


async def test_switch_commands_and_state(
    config_dir: Path, mosquitto: Mosquitto, peer: Peer
) -> None:
    write_yaml(
        config_dir,
        mosquitto.port,
        """\
        switch:
          - name: Pump
            unique_id: pump
            command_topic: plant/pump/set
            state_topic: plant/pump/state
            payload_on: "1"
            payload_off: "0"
            state_on: "running"
            state_off: "stopped"
          - name: Lamp
            unique_id: lamp
            command_topic: plant/lamp/set
        """,
    )
    peer.subscribe("plant/+/set", qos=1)
    host = make_host(config_dir)
    async with host.running():
        mqtt_entry_id(host)
        await host.services.call("switch", "turn_on", {"entity_id": "switch.pump"})
        await wait_until(lambda: peer.payloads("plant/pump/set") == [b"1"])
        # Not optimistic (it has a state topic): the state follows the device.
        assert state_of(host, "switch.pump") == "unknown"
        peer.publish("plant/pump/state", "running", qos=1)
        await wait_until(lambda: state_of(host, "switch.pump") == "on")
        await host.services.call("switch", "turn_off", {"entity_id": "switch.pump"})
        await wait_until(lambda: peer.payloads("plant/pump/set") == [b"1", b"0"])
        peer.publish("plant/pump/state", "stopped", qos=1)
        await wait_until(lambda: state_of(host, "switch.pump") == "off")

        # Optimistic (no state topic): the state follows the command.
        await host.services.call("switch", "toggle", {"entity_id": "switch.lamp"})
        assert state_of(host, "switch.lamp") == "on"
        await wait_until(lambda: peer.payloads("plant/lamp/set") == [b"ON"])


async def test_binary_sensor_and_number(config_dir: Path, mosquitto: Mosquitto, peer: Peer) -> None:
    write_yaml(
        config_dir,
        mosquitto.port,
        """\
        binary_sensor:
          - name: Door
            unique_id: door
            state_topic: plant/door
            json_path: open
        number:
          - name: Setpoint
            unique_id: setpoint
            command_topic: plant/setpoint/set
            state_topic: plant/setpoint
            min: 0
            max: 50
            step: 0.5
        """,
    )
    peer.subscribe("plant/setpoint/set", qos=1)
    host = make_host(config_dir)
    async with host.running():
        mqtt_entry_id(host)
        peer.publish("plant/door", json.dumps({"open": True}), qos=1)
        await wait_until(lambda: state_of(host, "binary_sensor.door") == "on")
        peer.publish("plant/door", json.dumps({"open": "OFF"}), qos=1)
        await wait_until(lambda: state_of(host, "binary_sensor.door") == "off")

        await host.services.call("number", "set_value", {"entity_id": "number.setpoint",
                                                          "value": 21.5})
        await wait_until(lambda: peer.payloads("plant/setpoint/set") == [b"21.5"])
        peer.publish("plant/setpoint", "21.5", qos=1)
        await wait_until(lambda: state_of(host, "number.setpoint") == "21.5")
        state = host.states.get("number.setpoint")
        assert state is not None and state.attributes["max"] == 50.0


async def test_availability_topic(config_dir: Path, mosquitto: Mosquitto, peer: Peer) -> None:
    write_yaml(
        config_dir,
        mosquitto.port,
        """\
        sensor:
          - name: Meter
            unique_id: meter
            state_topic: plant/meter
            availability_topic: plant/meter/status
            payload_available: alive
            payload_not_available: dead
        """,
    )
    host = make_host(config_dir)
    async with host.running():
        mqtt_entry_id(host)
        # No availability message yet: unavailable.
        assert state_of(host, "sensor.meter") == STATE_UNAVAILABLE
        peer.publish("plant/meter/status", "alive", qos=1, retain=True)
        peer.publish("plant/meter", "12", qos=1)
        await wait_until(lambda: state_of(host, "sensor.meter") == "12")
        peer.publish("plant/meter/status", "dead", qos=1)
        await wait_until(lambda: state_of(host, "sensor.meter") == STATE_UNAVAILABLE)
        peer.publish("plant/meter/status", "alive", qos=1)
        await wait_until(lambda: state_of(host, "sensor.meter") == "12")
