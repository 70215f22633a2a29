"""The options flow: points added and removed in the web UI, against a real server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mbtools import entry_of, running_host
from modbus_peers import ModbusPeer

from gatehouse.core import FlowResult, Host
from gatehouse.core.testing import state_of, wait_until
from gatehouse.integrations.modbus.config import PLATFORM_KEYS, PLATFORM_SCHEMAS, point_form_schema
from gatehouse.integrations.modbus.datatypes import Codec, DataType

pytestmark = pytest.mark.anyio


def hub_yaml(peer: ModbusPeer) -> str:
    return f"""
modbus:
  - name: Plant
    host: {peer.host}
    port: {peer.port}
    timeout: 2
    scan_interval: 0.05
    sensors:
      - name: Level
        address: 0
"""


def field_names(result: FlowResult) -> list[str]:
    return [f["name"] for f in result["data_schema"]]


def choices(result: FlowResult, name: str) -> list[Any]:
    return next(f["options"] for f in result["data_schema"] if f["name"] == name)


async def add_point(host: Host, flow_id: str, platform: str, point: dict[str, Any]) -> FlowResult:
    """From the menu: choose "add", the platform, then submit the point's form."""
    form = await host.config_entries.options.configure(flow_id, {"action": "add_point"})
    assert form["step_id"] == "add_point"
    form = await host.config_entries.options.configure(flow_id, {"platform": platform})
    assert form["step_id"] == "point"
    return await host.config_entries.options.configure(flow_id, point)


async def test_points_added_in_the_ui_poll_survive_restarts_and_can_be_removed(
    config_dir: Path, peer: ModbusPeer
) -> None:
    peer.set_registers(1, 0, [7])
    peer.set_registers(1, 50, Codec(data_type=DataType.INT16).encode(-84))
    peer.set_bits(1, 6, [True], table="d")
    async with running_host(config_dir, hub_yaml(peer)) as host:
        entry = entry_of(host)
        await wait_until(lambda: state_of(host, "sensor.plant_level") == "7")
        menu = await host.config_entries.options.init(entry.entry_id)
        assert menu["step_id"] == "init"
        assert choices(menu, "action") == ["add_point", "done"]  # nothing to remove yet
        flow_id = menu["flow_id"]

        # the address is out of range: the field says so, nothing crashes
        form = await add_point(host, flow_id, "sensor", {"name": "Flow", "address": 70000})
        assert form["type"] == "form" and form["step_id"] == "point"
        assert set(form["errors"]) == {"address"}
        # a rule across fields of the YAML schema lands on the field too
        form = await host.config_entries.options.configure(
            flow_id, {"name": "Flow", "address": 65535, "data_type": "float32"}
        )
        assert "past 65535" in form["errors"]["address"]
        form = await host.config_entries.options.configure(
            flow_id, {"name": "Flow", "address": 50, "data_type": "string"}
        )
        assert form["errors"] == {"data_type": "data_type string needs count (registers)"}
        form = await host.config_entries.options.configure(
            flow_id, {"name": "Flow", "address": 50, "scale": 0}
        )
        assert form["errors"] == {"scale": "scale must not be 0"}
        # a name the YAML already uses is refused
        form = await host.config_entries.options.configure(
            flow_id, {"name": "Level", "address": 50}
        )
        assert "already has a point named 'Level'" in form["errors"]["name"]

        menu = await host.config_entries.options.configure(
            flow_id,
            {"name": "Flow", "address": 50, "data_type": "int16", "scale": 0.5,
             "precision": 1, "unit_of_measurement": "m3/h"},
        )
        assert menu["step_id"] == "init"
        assert choices(menu, "action") == ["add_point", "remove_point", "done"]
        menu = await add_point(
            host, flow_id, "binary_sensor",
            {"name": "Door", "address": 6, "input_type": "discrete_input"},
        )
        assert menu["step_id"] == "init"
        assert state_of(host, "sensor.plant_flow") is None  # nothing applied before "done"
        done = await host.config_entries.options.configure(flow_id, {"action": "done"})
        assert done["type"] == "create_entry" and done["entry_state"] == "loaded"

        # the reload brought the new entities, with live values; the YAML point stays
        await wait_until(lambda: state_of(host, "sensor.plant_flow") == "-42.0")
        await wait_until(lambda: state_of(host, "binary_sensor.plant_door") == "on")
        assert host.states.get("sensor.plant_flow").attributes[  # type: ignore[union-attr]
            "unit_of_measurement"] == "m3/h"
        assert state_of(host, "sensor.plant_level") == "7"
        assert [p["name"] for p in entry.options["sensors"]] == ["Flow"]
        assert entry.options["sensors"][0]["data_type"] == "int16"  # JSON-plain
        assert [p["name"] for p in entry.options["binary_sensors"]] == ["Door"]
        assert "sensors" not in entry.data or [p["name"] for p in entry.data["sensors"]] == [
            "Level"
        ]

    # A restart with the same YAML: the UI points were saved and come back.
    peer.set_registers(1, 50, Codec(data_type=DataType.INT16).encode(10))
    async with running_host(config_dir, hub_yaml(peer)) as host:
        entry = entry_of(host)
        await wait_until(lambda: state_of(host, "sensor.plant_flow") == "5.0")
        assert state_of(host, "sensor.plant_level") == "7"
        assert state_of(host, "binary_sensor.plant_door") == "on"

        menu = await host.config_entries.options.init(entry.entry_id)
        form = await host.config_entries.options.configure(
            menu["flow_id"], {"action": "remove_point"}
        )
        assert form["step_id"] == "remove_point"
        assert choices(form, "name") == ["Flow", "Door"]  # YAML's Level is not offered
        menu = await host.config_entries.options.configure(menu["flow_id"], {"name": "Flow"})
        assert menu["step_id"] == "init"
        done = await host.config_entries.options.configure(menu["flow_id"], {"action": "done"})
        assert done["type"] == "create_entry"
        await wait_until(lambda: state_of(host, "sensor.plant_flow") is None)
        assert "sensors" not in entry.options
        await wait_until(lambda: state_of(host, "binary_sensor.plant_door") == "on")
        await wait_until(lambda: state_of(host, "sensor.plant_level") == "7")


async def test_a_hub_made_in_the_ui_gets_a_switch_from_the_options_flow(
    config_dir: Path, peer: ModbusPeer
) -> None:
    async with running_host(config_dir, "") as host:
        form = await host.config_entries.flow.init("modbus")
        made = await host.config_entries.flow.configure(
            form["flow_id"],
            {"name": "Bench", "type": "tcp", "host": peer.host, "port": peer.port,
             "timeout": 1},
        )
        assert made["entry_state"] == "loaded"
        menu = await host.config_entries.options.init(made["entry_id"])
        menu = await add_point(host, menu["flow_id"], "switch", {"name": "Pump", "address": 3})
        assert menu["step_id"] == "init", menu
        await host.config_entries.options.configure(menu["flow_id"], {"action": "done"})
        await wait_until(lambda: state_of(host, "switch.bench_pump") == "off")
        await host.services.call("switch", "turn_on", {"entity_id": "switch.bench_pump"})
        await wait_until(lambda: state_of(host, "switch.bench_pump") == "on")
        assert peer.slaves[1].writes[-1][0] == 5  # write single coil


def test_the_forms_ask_for_the_yaml_point_fields() -> None:
    for platform, key in PLATFORM_KEYS.items():
        yaml_fields = {str(k) for k in PLATFORM_SCHEMAS[key].validators[0].schema}
        form_fields = {str(k) for k in point_form_schema(platform).schema}
        assert form_fields <= yaml_fields
        assert {"name", "slave", "address"} <= form_fields


async def test_a_ui_point_the_yaml_took_since_is_skipped_with_a_warning(
    config_dir: Path, peer: ModbusPeer, caplog: pytest.LogCaptureFixture
) -> None:
    peer.set_registers(1, 0, [7])
    peer.set_registers(1, 20, [3])
    async with running_host(config_dir, hub_yaml(peer)) as host:
        entry = entry_of(host)
        await wait_until(lambda: state_of(host, "sensor.plant_level") == "7")
        # Points saved from the UI earlier; YAML has had a "Level" since.
        host.config_entries.update_entry(entry, options={"sensors": [
            {"name": "Level", "address": 20}, {"name": "Other", "address": 20},
        ]})
        assert await host.config_entries.reload(entry.entry_id)
        await wait_until(lambda: state_of(host, "sensor.plant_other") == "3")
        assert state_of(host, "sensor.plant_level") == "7"  # the YAML's point, address 0
        assert len(host.entities.of_entry(entry.entry_id)) == 3  # 2 sensors + diagnostics
        assert "Plant: sensors 'Level' added in the UI clashes" in caplog.text
