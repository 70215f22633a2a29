"""Entities against a real pymodbus server: values, writes with read-back, services."""

from __future__ import annotations

from pathlib import Path

import pytest
from mbtools import attrs, entry_of, running_host
from modbus_peers import ModbusPeer

from gatehouse.core import GatehouseError, ServiceValidationError
from gatehouse.core.testing import free_port, state_of, wait_until
from gatehouse.integrations.modbus.datatypes import Codec, DataType, Order
from gatehouse.integrations.modbus.errors import ModbusDeviceError, ModbusValueError

pytestmark = pytest.mark.anyio


def hub_yaml(peer: ModbusPeer, body: str, *, name: str = "Plant", extra: str = "") -> str:
    return f"""
modbus:
  - name: {name}
    host: {peer.host}
    port: {peer.port}
    timeout: 2
    scan_interval: 0.05
{extra}{body}"""


SENSORS = """
    sensors:
      - name: Level
        address: 0
        input_type: input
        data_type: float32
        word_order: little
        precision: 2
        unit_of_measurement: "%"
      - name: Temperature
        address: 10
        data_type: int16
        scale: 0.1
        offset: -20
        precision: 1
      - name: Energy
        address: 12
        data_type: uint64
        byte_order: little
      - name: Serial
        address: 20
        data_type: string
        count: 3
      - name: Neighbour
        slave: 2
        address: 0
        data_type: int32
    binary_sensors:
      - name: Alarm
        address: 5
        input_type: discrete_input
      - name: Flag
        address: 30
        input_type: holding
        bit: 4
"""


async def test_sensors_read_values_with_scale_offset_precision(
    config_dir: Path, peer: ModbusPeer
) -> None:
    peer.set_registers(
        1, 0, Codec(data_type=DataType.FLOAT32, word_order=Order.LITTLE).encode(12.5),
        table="i",
    )
    peer.set_registers(1, 10, Codec(data_type=DataType.INT16).encode(-15))
    peer.set_registers(
        1, 12, Codec(data_type=DataType.UINT64, byte_order=Order.LITTLE).encode(2**40 + 5)
    )
    peer.set_registers(1, 20, Codec(data_type=DataType.STRING, count=3).encode("GH-01"))
    peer.set_registers(2, 0, Codec(data_type=DataType.INT32).encode(-70000))
    peer.set_bits(1, 5, [True], table="d")
    peer.set_registers(1, 30, [0b1_0000])
    async with running_host(config_dir, hub_yaml(peer, SENSORS)) as host:
        await wait_until(lambda: state_of(host, "sensor.plant_1_serial") == "GH-01")
        assert state_of(host, "sensor.plant_1_level") == "12.50"
        assert attrs(host, "sensor.plant_1_level")["unit_of_measurement"] == "%"
        assert state_of(host, "sensor.plant_1_temperature") == "-21.5"  # -15 * 0.1 - 20
        assert state_of(host, "sensor.plant_1_energy") == str(2**40 + 5)
        assert state_of(host, "sensor.plant_2_neighbour") == "-70000"
        assert state_of(host, "binary_sensor.plant_1_alarm") == "on"
        assert state_of(host, "binary_sensor.plant_1_flag") == "on"
        # values follow the device
        peer.set_registers(1, 10, [300])
        await wait_until(lambda: state_of(host, "sensor.plant_1_temperature") == "10.0")
        # the planner merged slave 1's holding points 10..22 and 30 into one read
        diag = attrs(host, "sensor.plant_1_diagnostics")
        assert diag["last_cycle_requests"] == 3  # holding 10..30, input 0..1, discrete 5
        assert diag["errors"] == 0 and diag["available"] is True


SWITCHES = """
    switches:
      - name: Pump
        address: 3
      - name: Mode
        address: 40
        write_type: holding
        command_on: 5
        command_off: 2
      - name: Heater
        address: 41
        write_type: holding
        bit: 2
      - name: Blind
        address: 4
        verify: false
"""


async def test_switches_write_and_read_back(config_dir: Path, peer: ModbusPeer) -> None:
    peer.set_registers(1, 41, [0b1000_0001])
    async with running_host(config_dir, hub_yaml(peer, SWITCHES)) as host:
        await wait_until(lambda: state_of(host, "switch.plant_heater") == "off")
        assert state_of(host, "switch.plant_mode") == "unknown"  # 0 is neither command
        await host.services.call("switch", "turn_on", {"entity_id": "switch.plant_pump"})
        assert state_of(host, "switch.plant_pump") == "on"
        assert peer.slaves[1].writes[-1] == (5, 3, [True])
        await host.services.call("switch", "turn_on", {"entity_id": "switch.plant_mode"})
        assert state_of(host, "switch.plant_mode") == "on"
        assert peer.slaves[1].writes[-1] == (6, 40, [5])
        await host.services.call("switch", "turn_off", {"entity_id": "switch.plant_mode"})
        assert peer.slaves[1].writes[-1] == (6, 40, [2])
        # one bit of a register: the other bits survive the write
        await host.services.call("switch", "turn_on", {"entity_id": "switch.plant_heater"})
        assert state_of(host, "switch.plant_heater") == "on"
        assert peer.slaves[1].writes[-1] == (6, 41, [0b1000_0101])
        await host.services.call("switch", "toggle", {"entity_id": "switch.plant_heater"})
        assert peer.slaves[1].writes[-1] == (6, 41, [0b1000_0001])
        # without verify the state is assumed from the write
        await host.services.call("switch", "turn_on", {"entity_id": "switch.plant_blind"})
        assert state_of(host, "switch.plant_blind") == "on"
        assumed = {
            entity_id: getattr(host.entities.get(entity_id), "assumed_state", None)
            for entity_id in ("switch.plant_blind", "switch.plant_pump")
        }
        assert assumed == {"switch.plant_blind": True, "switch.plant_pump": False}


NUMBERS = """
    numbers:
      - name: Valve
        address: 50
        data_type: uint16
        scale: 0.1
        precision: 1
        min: 0
        max: 100
        unit_of_measurement: "%"
      - name: Offset
        address: 51
        data_type: int16
        min: -50000
        max: 50000
      - name: Gain
        address: 52
        data_type: float32
        word_order: little
        min: -10
        max: 10
"""


async def test_number_writes_with_conversion_and_range_checks(
    config_dir: Path, peer: ModbusPeer
) -> None:
    async with running_host(config_dir, hub_yaml(peer, NUMBERS)) as host:
        await wait_until(lambda: state_of(host, "number.plant_valve") == "0.0")
        await host.services.call(
            "number", "set_value", {"entity_id": "number.plant_valve", "value": 42.5}
        )
        assert peer.slaves[1].writes[-1] == (6, 50, [425])
        assert state_of(host, "number.plant_valve") == "42.5"
        assert attrs(host, "number.plant_valve")["max"] == 100.0
        await host.services.call(
            "number", "set_value", {"entity_id": "number.plant_gain", "value": -2.5}
        )
        expected = Codec(data_type=DataType.FLOAT32, word_order=Order.LITTLE).encode(-2.5)
        assert peer.slaves[1].writes[-1] == (16, 52, expected)
        assert state_of(host, "number.plant_gain") == "-2.5"
        writes = len(peer.slaves[1].writes)
        # the configured range: refused before anything is sent
        with pytest.raises(ServiceValidationError, match=r"outside 0.0..100.0"):
            await host.services.call(
                "number", "set_value", {"entity_id": "number.plant_valve", "value": 150}
            )
        # inside the configured range but not representable by the register type (the
        # core turns the ValueError of an entity action into a ServiceValidationError)
        with pytest.raises((ModbusValueError, ServiceValidationError),
                           match=r"40000.0 is out of range for int16 \(-32768\.\.32767\)"):
            await host.services.call(
                "number", "set_value", {"entity_id": "number.plant_offset", "value": 40000}
            )
        assert len(peer.slaves[1].writes) == writes


async def test_services_write_registers_and_coils(config_dir: Path, peer: ModbusPeer) -> None:
    async with running_host(config_dir, hub_yaml(peer, "")) as host:
        await host.services.call("modbus", "write_register",
                                 {"slave": 2, "address": 7, "value": 1234})
        await host.services.call("modbus", "write_register",
                                 {"hub": "Plant", "slave": 2, "address": 8, "value": [1, -1]})
        await host.services.call("modbus", "write_coil", {"address": 9, "state": True})
        await host.services.call("modbus", "write_coil",
                                 {"hub": "plant", "address": 10, "state": [True, False, "on"]})
        assert peer.slaves[2].writes == [(6, 7, [1234]), (16, 8, [1, 0xFFFF])]
        assert peer.slaves[1].writes == [(5, 9, [True]), (15, 10, [True, False, True])]


async def test_service_errors_are_clear(config_dir: Path, peer: ModbusPeer) -> None:
    async with running_host(config_dir, hub_yaml(peer, "")) as host:
        with pytest.raises(ModbusDeviceError) as caught:
            await host.services.call("modbus", "write_register", {"address": 600, "value": 1})
        err = caught.value
        assert err.code == 2 and err.code_name == "IllegalDataAddress"
        assert str(err) == (
            "slave 1 on hub 'Plant' answered IllegalDataAddress (exception code 2) "
            "to write_register at address 600"
        )
        with pytest.raises(ModbusDeviceError, match="IllegalDataAddress"):
            await host.services.call("modbus", "write_coil",
                                     {"address": 510, "state": [True] * 4})
        with pytest.raises(ServiceValidationError, match="no modbus hub named 'nope'"):
            await host.services.call("modbus", "write_coil",
                                     {"hub": "nope", "address": 1, "state": True})
        with pytest.raises(ServiceValidationError, match="address"):
            await host.services.call("modbus", "write_register", {"address": -1, "value": 1})
        with pytest.raises(ServiceValidationError, match=r"outside -32768\.\.65535"):
            await host.services.call("modbus", "write_register", {"address": 1, "value": 70000})
        assert host.states.get("sensor.plant_diagnostics") is None  # no points, no slaves
        assert isinstance(err, GatehouseError)


ARRAY = """
    sensors:
      - name: Meter
        slave: 1
        slave_count: 3
        address: 100
        address_count: 2
        data_type: uint32
"""


async def test_slave_count_and_address_count_expand_one_block(
    config_dir: Path, peer: ModbusPeer
) -> None:
    for slave in (1, 2, 3):
        for k in range(2):
            peer.set_registers(slave, 100 + 2 * k,
                               Codec(data_type=DataType.UINT32).encode(slave * 100_000 + k))
    async with running_host(config_dir, hub_yaml(peer, ARRAY)) as host:
        ids = [f"sensor.plant_{s}_meter_{2 * (s - 1) + k + 1}" for s in (1, 2, 3) for k in (0, 1)]
        await wait_until(lambda: all(state_of(host, i) not in (None, "unknown") for i in ids))
        assert [state_of(host, i) for i in ids] == [
            "100000", "100001", "200000", "200001", "300000", "300001"
        ]
        coordinator = entry_of(host).runtime_data.coordinator
        assert coordinator.requests_per_cycle() == {1: 1, 2: 1, 3: 1}


SPLIT = """
    max_gap: 20
    sensors:
      - name: Good
        address: 500
      - name: Beyond
        address: 511
        data_type: float32
"""


async def test_refused_merged_read_is_split_and_the_good_point_survives(
    config_dir: Path, peer: ModbusPeer
) -> None:
    peer.set_registers(1, 500, [77])
    async with running_host(config_dir, hub_yaml(peer, SPLIT)) as host:
        await wait_until(lambda: state_of(host, "sensor.plant_good") == "77")
        # 511..512: 512 is no register
        assert state_of(host, "sensor.plant_beyond") == "unavailable"
        coordinator = entry_of(host).runtime_data.coordinator
        assert coordinator.requests_per_cycle() == {1: 2}
        diagnostics = attrs(host, "sensor.plant_diagnostics")
        assert diagnostics["available"] is True
        assert diagnostics["exception_responses"] >= 2  # the merged read, then 511 alone


async def test_config_flow_adds_a_hub_after_checking_the_connection(
    config_dir: Path, peer: ModbusPeer
) -> None:
    async with running_host(config_dir, "") as host:
        form = await host.config_entries.flow.init("modbus")
        assert form["type"] == "form"
        assert [f["name"] for f in form["data_schema"]] == [
            "name", "type", "host", "port", "timeout"
        ]
        closed = free_port()
        retry = await host.config_entries.flow.configure(
            form["flow_id"],
            {"name": "Bench", "type": "tcp", "host": "127.0.0.1", "port": closed,
             "timeout": 0.5},
        )
        assert retry["type"] == "form" and retry["errors"] == {"base": "cannot_connect"}
        done = await host.config_entries.flow.configure(
            retry["flow_id"],
            {"name": "Bench", "type": "tcp", "host": "127.0.0.1", "port": peer.port,
             "timeout": 0.5},
        )
        assert done["type"] == "create_entry" and done["entry_state"] == "loaded"
        # the new hub is usable at once through the services
        await host.services.call("modbus", "write_register",
                                 {"hub": "Bench", "address": 3, "value": 7})
        assert peer.slaves[1].writes == [(6, 3, [7])]
        again = await host.config_entries.flow.init("modbus")
        aborted = await host.config_entries.flow.configure(
            again["flow_id"],
            {"name": "Bench", "type": "tcp", "host": "127.0.0.1", "port": peer.port},
        )
        assert aborted["type"] == "form"
        assert aborted["errors"] == {"name": "already_configured"}


async def test_a_failing_listener_never_stops_polling(
    config_dir: Path, peer: ModbusPeer, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_host(config_dir, hub_yaml(peer, SENSORS)) as host:
        coordinator = entry_of(host).runtime_data.coordinator

        def broken() -> None:
            raise RuntimeError("listener exploded")

        coordinator.poller(1).listen_cycles(broken)
        peer.set_registers(1, 10, [500])
        await wait_until(lambda: state_of(host, "sensor.plant_1_temperature") == "30.0")
        assert "listener exploded" in caplog.text
        diagnostics = host.plugins.hook.gatehouse_diagnostics(host=host)
        hubs = next(d["hubs"] for d in diagnostics if "hubs" in d)
        assert hubs["Plant"]["slaves"]["1"]["requests_per_full_cycle"] == 3
        assert hubs["Plant"]["connected"] is True
