"""The options flow against a real Mosquitto: entities and settings without YAML edits."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import anyio
import pytest
from mqtt_helpers import Peer, entry_data, loaded

from gatehouse.core import ConfigEntry, Host
from gatehouse.core.testing import Mosquitto, add_entry, make_host, state_of, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

TEMP = {
    "platform": "sensor",
    "name": "Boiler temp",
    "state_topic": "plant/boiler",
    "value_template": "{{ value_json.t }}",
    "unit_of_measurement": "°C",
    "device_class": "temperature",
}


async def start(host: Host, entry: ConfigEntry[Any], action: str) -> dict[str, Any]:
    """Open the entry's options flow and pick ``action`` in the menu."""
    result = await host.config_entries.options.init(entry.entry_id)
    assert result["type"] == "form" and result["step_id"] == "init"
    assert [f["name"] for f in result["data_schema"]] == ["action"]
    return dict(await host.config_entries.options.configure(result["flow_id"], {"action": action}))


async def configure(host: Host, flow_id: str, user_input: dict[str, Any]) -> dict[str, Any]:
    return dict(await host.config_entries.options.configure(flow_id, user_input))


async def add_entity(host: Host, entry: ConfigEntry[Any], user_input: dict[str, Any]) -> None:
    result = await start(host, entry, "add_entity")
    result = await configure(host, result["flow_id"], user_input)
    assert result["step_id"] == "init", result["errors"]
    result = await configure(host, result["flow_id"], {"action": "done"})
    assert result["type"] == "create_entry"


async def remove_entity(host: Host, entry: ConfigEntry[Any], label: str) -> None:
    result = await start(host, entry, "remove_entity")
    assert result["step_id"] == "remove_entity"
    assert label in result["data_schema"][0]["options"]
    result = await configure(host, result["flow_id"], {"entity": label})
    result = await configure(host, result["flow_id"], {"action": "done"})
    assert result["type"] == "create_entry"


async def test_add_sensor_then_remove_it(mosquitto: Mosquitto, peer: Peer, host: Host) -> None:
    entry = await add_entry(host, "mqtt", entry_data(mosquitto.port, discovery=False))
    assert loaded(entry)
    await add_entity(host, entry, TEMP)
    await wait_until(lambda: loaded(entry))
    assert entry.options["sensor"][0]["state_topic"] == "plant/boiler"
    assert "sensor" not in entry.data

    peer.publish("plant/boiler", json.dumps({"t": 21.5}), qos=1)
    await wait_until(lambda: state_of(host, "sensor.boiler_temp") == "21.5")
    attributes = host.states.get("sensor.boiler_temp").attributes  # type: ignore[union-attr]
    assert attributes["unit_of_measurement"] == "°C"

    await remove_entity(host, entry, "Boiler temp (sensor)")
    await wait_until(lambda: loaded(entry))
    assert "sensor" not in entry.options
    assert host.states.get("sensor.boiler_temp") is None
    peer.publish("plant/boiler", json.dumps({"t": 30}), qos=1)
    await anyio.sleep(0.3)
    assert host.states.get("sensor.boiler_temp") is None


async def test_bad_input_reshows_the_form(mosquitto: Mosquitto, host: Host) -> None:
    entry = await add_entry(host, "mqtt", entry_data(mosquitto.port, discovery=False))
    await add_entity(host, entry, TEMP)
    await wait_until(lambda: loaded(entry))
    result = await start(host, entry, "add_entity")
    flow_id = result["flow_id"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({**TEMP, "name": "Other", "value_template": "{{ value_json.t "}, "value_template"),
        ({**TEMP, "name": "Other", "value_template": "{{ value | nosuch }}"}, "value_template"),
        ({**TEMP, "name": "Other", "state_topic": "plant/#/x"}, "state_topic"),
        ({**TEMP, "name": "Other", "command_topic": "plant/set"}, "command_topic"),
        ({**TEMP, "name": "Other", "json_path": "a.b"}, "json_path"),
        ({**TEMP, "name": "Other", "qos": 3}, "qos"),
        ({**TEMP, "name": "boiler TEMP"}, "name"),  # the same entity id
        ({"platform": "switch", "name": "Pump", "state_topic": "p/s"}, "command_topic"),
        ({"platform": "switch", "name": "Pump", "command_topic": "p/+"}, "command_topic"),
    ]
    for user_input, field in cases:
        result = await configure(host, flow_id, user_input)
        assert result["type"] == "form" and result["step_id"] == "add_entity", result
        assert field in result["errors"], (user_input, result["errors"])
    # A good switch after all that; nothing was stored until "done".
    result = await configure(
        host, flow_id,
        {"platform": "switch", "name": "Pump", "command_topic": "p/set", "state_topic": "p/s"},
    )
    assert result["step_id"] == "init"
    assert len(entry.options["sensor"]) == 1 and "switch" not in entry.options
    await configure(host, flow_id, {"action": "done"})
    await wait_until(lambda: loaded(entry))
    assert state_of(host, "switch.pump") is not None

    # Nothing to remove but options entities; an empty menu choice is an error.
    fresh = await add_entry(
        host, "mqtt", entry_data(mosquitto.port, client_id="other"), title="Other"
    )
    result = await start(host, fresh, "remove_entity")
    assert result["step_id"] == "init" and result["errors"] == {"action": "no_entities_to_remove"}


async def test_settings_turn_on_statestream_and_off_discovery(
    mosquitto: Mosquitto, peer: Peer, host: Host
) -> None:
    entry = await add_entry(host, "mqtt", entry_data(mosquitto.port))
    assert "discovery" in entry.runtime_data.parts
    result = await start(host, entry, "settings")
    assert result["step_id"] == "settings"
    defaults = {f["name"]: f.get("default") for f in result["data_schema"]}
    assert defaults["discovery"] is True and defaults["statestream"] is False
    bad = await configure(host, result["flow_id"], {"statestream_base_topic": "x/#"})
    assert bad["step_id"] == "settings" and "statestream_base_topic" in bad["errors"]
    result = await configure(
        host, result["flow_id"],
        {"discovery": False, "statestream": True, "statestream_base_topic": "opt/states"},
    )
    await configure(host, result["flow_id"], {"action": "done"})
    await wait_until(lambda: loaded(entry))
    assert entry.options == {"discovery": False, "statestream": {"base_topic": "opt/states"}}
    assert "discovery" not in entry.runtime_data.parts
    assert "statestream" in entry.runtime_data.parts
    peer.subscribe("opt/states/#")
    host.states.set("input_boolean.flag", "on")
    await wait_until(lambda: peer.payloads("opt/states/input_boolean/flag/state") == [b"on"])


def write_yaml(config_dir: Path, port: int) -> None:
    text = f"""\
        gatehouse:
          control_socket: false
        mqtt:
          broker: 127.0.0.1
          port: {port}
          discovery: false
          sensor:
            - name: From yaml
              state_topic: plant/yaml
        """
    (config_dir / "configuration.yaml").write_text(textwrap.dedent(text), encoding="utf-8")


async def test_options_of_a_yaml_entry_survive_a_restart(
    config_dir: Path, mosquitto: Mosquitto, peer: Peer
) -> None:
    write_yaml(config_dir, mosquitto.port)
    host = make_host(config_dir)
    async with host.running():
        (entry,) = host.config_entries.entries("mqtt")
        assert loaded(entry) and entry.source == "import"
        result = await start(host, entry, "add_entity")
        result = await configure(host, result["flow_id"], {**TEMP, "name": "From yaml"})
        assert result["errors"] == {"name": "duplicate_name"}  # YAML names count too
        result = await configure(host, result["flow_id"], TEMP)
        await configure(host, result["flow_id"], {"action": "done"})
        await wait_until(lambda: loaded(entry))
        peer.publish("plant/boiler", json.dumps({"t": 1}), qos=1)
        await wait_until(lambda: state_of(host, "sensor.boiler_temp") == "1")

    host = make_host(config_dir)
    async with host.running():
        (entry,) = host.config_entries.entries("mqtt")
        assert loaded(entry), entry.reason
        assert entry.options["sensor"][0]["name"] == "Boiler temp"
        peer.publish("plant/yaml", "y", qos=1)
        peer.publish("plant/boiler", json.dumps({"t": 2}), qos=1)
        await wait_until(lambda: state_of(host, "sensor.boiler_temp") == "2")
        await wait_until(lambda: state_of(host, "sensor.from_yaml") == "y")
