"""The simulator integration served over Modbus, read and driven by the modbus integration.

``DEFAULT_SNIPPET`` is the block proposed for ``core/default_config/configuration.yaml``;
it is tested here as written (only the port and intervals are changed), so the default
configuration is known to work.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
from mbtools import attrs, entry_of, running_host

from gatehouse.core import ConfigEntryState
from gatehouse.core.testing import free_port, port_is_open, state_of, wait_until
from gatehouse.integrations.modbus.errors import ModbusDeviceError
from gatehouse.integrations.simulator.modbus_server import EXTRA_START, extra_points

pytestmark = pytest.mark.anyio

DEFAULT_SNIPPET = """\
simulator:
  name: Plant simulator
  host: 127.0.0.1
  port: 5020
  step_interval: 0.5

modbus:
  - name: Plant
    type: tcp
    host: 127.0.0.1
    port: 5020
    timeout: 2
    scan_interval: 1
    sensors:
      - name: Tank level
        address: 0
        input_type: input
        data_type: float32
        precision: 1
        unit_of_measurement: "%"
        state_class: measurement
      - name: Temperature
        address: 2
        input_type: input
        data_type: float32
        precision: 1
        unit_of_measurement: "°C"
        device_class: temperature
        state_class: measurement
    binary_sensors:
      - name: High level alarm
        address: 0
        input_type: discrete_input
    switches:
      - name: Pump
        address: 0
      - name: Heater
        address: 1
    numbers:
      - name: Valve setpoint
        address: 0
        data_type: uint16
        scale: 0.1
        precision: 1
        min: 0
        max: 100
        step: 0.5
        unit_of_measurement: "%"
"""


def snippet(port: int) -> str:
    return (
        DEFAULT_SNIPPET.replace("port: 5020", f"port: {port}")
        .replace("step_interval: 0.5", "step_interval: 0.05")
        .replace("scan_interval: 1", "scan_interval: 0.05")
    )


async def test_default_snippet_reads_and_drives_the_plant(config_dir: Path) -> None:
    async with running_host(config_dir, snippet(free_port())) as host:
        sim = entry_of(host, "simulator")
        assert sim.state is ConfigEntryState.LOADED
        process = sim.runtime_data.process
        await wait_until(lambda: state_of(host, "sensor.plant_tank_level") not in (None, "unknown"))
        assert abs(float(state_of(host, "sensor.plant_tank_level") or 0) - process.tank_level) < 1
        assert attrs(host, "sensor.plant_temperature")["unit_of_measurement"] == "°C"
        assert state_of(host, "binary_sensor.plant_high_level_alarm") == "off"
        assert state_of(host, "switch.plant_heater") == "on"
        assert state_of(host, "number.plant_valve_setpoint") == "30.0"

        await host.services.call("switch", "turn_on", {"entity_id": "switch.plant_pump"})
        assert process.pump_on is True
        assert state_of(host, "switch.plant_pump") == "on"
        await host.services.call(
            "number", "set_value", {"entity_id": "number.plant_valve_setpoint", "value": 42.5}
        )
        assert process.valve_setpoint == 42.5
        assert state_of(host, "number.plant_valve_setpoint") == "42.5"
        # the model runs: with the valve open and the heater on the level moves
        level = process.tank_level
        await wait_until(lambda: abs(process.tank_level - level) > 0.05)
        # the plant refuses a setpoint above 100 % like a device would
        with pytest.raises(ModbusDeviceError, match=r"IllegalDataValue \(exception code 3\)"):
            await host.services.call("modbus", "write_register", {"address": 0, "value": 1500})
        assert process.valve_setpoint == 42.5


def extra_yaml(port: int, slaves: int) -> str:
    lines = [
        "simulator:",
        "  host: 127.0.0.1",
        f"  port: {port}",
        f"  slaves: {slaves}",
        "modbus:",
        "  - name: Extra",
        "    host: 127.0.0.1",
        f"    port: {port}",
        "    scan_interval: 0.05",
        "    diagnostics: false",
        "    sensors:",
    ]
    for slave in range(1, slaves + 1):
        for point in extra_points(slave):
            lines += [
                f"      - name: s{slave} {point.name}",
                f"        slave: {slave}",
                f"        address: {EXTRA_START + point.address}",
                f"        input_type: {'input' if slave % 2 else 'holding'}",
                f"        data_type: {point.data_type}",
            ]
            if point.data_type == "string":
                lines.append(f"        count: {point.count}")
    return "\n".join(lines) + "\n"


async def test_every_type_of_the_extra_block_decodes_exactly(config_dir: Path) -> None:
    slaves = 2
    async with running_host(config_dir, extra_yaml(free_port(), slaves)) as host:
        expected = {
            f"sensor.extra_{slave}_s{slave}_{point.name}": point.value
            for slave in range(1, slaves + 1)
            for point in extra_points(slave)
        }
        await wait_until(lambda: all(state_of(host, e) not in (None, "unknown") for e in expected))
        for entity_id, value in expected.items():
            got = state_of(host, entity_id)
            if isinstance(value, float):
                assert math.isclose(float(got or "nan"), value, rel_tol=1e-7), entity_id
            else:
                assert got == str(value), entity_id
        # 40 points over 100 contiguous registers: one request per slave and cycle
        coordinator = entry_of(host).runtime_data.coordinator
        assert coordinator.requests_per_cycle() == {1: 1, 2: 1}


async def test_unload_stops_the_server_and_reload_serves_again(config_dir: Path) -> None:
    port = free_port()
    async with running_host(config_dir, f"simulator:\n  port: {port}\n") as host:
        entry = entry_of(host, "simulator")
        assert port_is_open("127.0.0.1", port)
        assert await host.config_entries.unload(entry.entry_id)
        assert not port_is_open("127.0.0.1", port)
        assert await host.config_entries.setup(entry.entry_id)
        assert port_is_open("127.0.0.1", port)


async def test_busy_port_makes_the_entry_retry(config_dir: Path) -> None:
    port = free_port()
    yaml = f"simulator:\n  - name: A\n    port: {port}\n  - name: B\n    port: {port}\n"
    async with running_host(config_dir, yaml) as host:
        states = sorted(str(e.state) for e in host.config_entries.entries())
        assert states == ["loaded", "setup_retry"]


@pytest.mark.skipif(
    importlib.util.find_spec("asyncua") is None, reason="asyncua (opcua extra) not installed"
)
async def test_opcua_block_serves_the_same_plant_over_opcua(config_dir: Path) -> None:
    if importlib.util.find_spec("gatehouse.integrations.simulator.opcua_server") is None:
        pytest.skip("the OPC UA server module is not there yet")
    modbus_port, opcua_port = free_port(), free_port()
    yaml = f"simulator:\n  port: {modbus_port}\n  opcua:\n    port: {opcua_port}\n"
    async with running_host(config_dir, yaml) as host:
        runtime = entry_of(host, "simulator").runtime_data
        assert runtime.opcua_endpoint == f"opc.tcp://127.0.0.1:{opcua_port}"
        assert port_is_open("127.0.0.1", opcua_port)
        assert port_is_open("127.0.0.1", modbus_port)
    assert not port_is_open("127.0.0.1", opcua_port)
