"""Domain services find their config entry from the entity they target (no entry ids).

``LoadedEntries.pick``/``target_entries``: a call with ``entity_id`` (HA's ``target``)
and no ``entry_id`` acts on the entry that owns the entity; an entity of no loaded entry
of the domain, or entities of two entries, are refused by name. Real services: demo's
``reset_counter`` (two demo entries) and modbus' writes (two hubs on two real servers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from peopletools import ModbusPeer, add_demo, host_with

from gatehouse.core import ServiceValidationError
from gatehouse.core.testing import wait_until

pytestmark = pytest.mark.anyio


async def test_demo_reset_counter_resets_only_the_targeted_entry(config_dir: Path) -> None:
    async with host_with(config_dir) as host:
        kitchen = await add_demo(host, "Kitchen")
        garage = await add_demo(host, "Garage")
        [kitchen_switch] = [e.entity_id for e in host.entities.of_entry(kitchen)
                            if e.entity_id.startswith("switch.")]
        answer = await host.services.call(
            "demo", "reset_counter", {"entity_id": kitchen_switch}, return_response=True
        )
        assert answer is not None and set(answer["previous"]) == {kitchen}
        # Without a target (and without entry_id) every entry, as before.
        answer = await host.services.call("demo", "reset_counter", {}, return_response=True)
        assert answer is not None and set(answer["previous"]) == {kitchen, garage}


async def test_an_entity_of_another_integration_is_refused_by_name(config_dir: Path) -> None:
    async with host_with(config_dir) as host:
        await add_demo(host, "Kitchen")
        host.states.set("sensor.elsewhere", "1")
        with pytest.raises(ServiceValidationError, match=r"sensor\.elsewhere is not an entity"):
            await host.services.call("demo", "reset_counter", {"entity_id": "sensor.elsewhere"})


@pytest.fixture
async def peers() -> Any:
    first, second = ModbusPeer((1,)), ModbusPeer((1,))
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await first.stop()
        await second.stop()


async def test_modbus_write_goes_to_the_hub_of_the_targeted_entity(
    config_dir: Path, peers: tuple[ModbusPeer, ModbusPeer]
) -> None:
    north, south = peers
    yaml = f"""
    modbus:
      - name: North
        host: {north.host}
        port: {north.port}
        sensors:
          - name: North level
            address: 0
      - name: South
        host: {south.host}
        port: {south.port}
        sensors:
          - name: South level
            address: 0
    """
    async with host_with(config_dir, yaml) as host:
        await wait_until(lambda: host.services.has("modbus", "write_register")
                         and host.states.get("sensor.south_level") is not None)
        # Two hubs and no hub name: the entity says which.
        await host.services.call("modbus", "write_register",
                                 {"entity_id": "sensor.south_level", "address": 4, "value": 9})
        assert south.slaves[1].writes == [(6, 4, [9])]
        assert north.slaves[1].writes == []
        # HA's target as the WebSocket merges it: a list.
        await host.services.call("modbus", "write_coil",
                                 {"entity_id": ["sensor.north_level"], "address": 1,
                                  "state": True})
        assert north.slaves[1].writes == [(5, 1, [True])]
        # Entities of both hubs: which one is meant cannot be told.
        with pytest.raises(ServiceValidationError, match="belong to 2 modbus entries"):
            await host.services.call(
                "modbus", "write_register",
                {"entity_id": ["sensor.north_level", "sensor.south_level"], "address": 0,
                 "value": 1},
            )
        # Nothing targeted and no hub: as before, the caller is told what to pass.
        with pytest.raises(ServiceValidationError, match="pass hub"):
            await host.services.call("modbus", "write_register", {"address": 0, "value": 1})


async def test_a_modbus_write_without_slave_goes_to_the_targeted_entitys_slave(
    config_dir: Path,
) -> None:
    """Picking an entity of slave 3 and leaving slave empty wrote to slave 1 (another
    device on the same bus): the default is now the targeted entity's slave."""
    peer = ModbusPeer((1, 3))
    await peer.start()
    try:
        yaml = f"""
        modbus:
          - name: Bus
            host: {peer.host}
            port: {peer.port}
            sensors:
              - name: Boiler
                slave: 3
                address: 0
              - name: Chiller
                slave: 1
                address: 0
        """
        async with host_with(config_dir, yaml) as host:
            await wait_until(lambda: host.states.get("sensor.bus_3_boiler") is not None)
            await host.services.call("modbus", "write_register",
                                     {"entity_id": "sensor.bus_3_boiler", "address": 2, "value": 5})
            assert peer.slaves[3].writes == [(6, 2, [5])]
            assert peer.slaves[1].writes == []
            # Given, slave wins; no target, 1 as before.
            await host.services.call("modbus", "write_register",
                                     {"entity_id": "sensor.bus_3_boiler", "slave": 1, "address": 2,
                                      "value": 6})
            await host.services.call("modbus", "write_register", {"address": 2, "value": 7})
            assert peer.slaves[1].writes == [(6, 2, [6]), (6, 2, [7])]
            with pytest.raises(ServiceValidationError, match="on slaves 1, 3; pass slave"):
                await host.services.call(
                    "modbus", "write_register",
                    {"entity_id": ["sensor.bus_3_boiler", "sensor.bus_1_chiller"], "address": 0,
                     "value": 1},
                )
    finally:
        await peer.stop()


async def test_opcua_read_uses_the_server_of_the_targeted_entity(config_dir: Path) -> None:
    """Two real OPC UA servers (the plant simulator) with different tank levels."""
    from opcua_helpers import NS, Sim, node, serving

    from gatehouse.core.testing import add_entry, free_port
    from gatehouse.integrations.opcua.config import ENTRY_SCHEMA
    from gatehouse.integrations.simulator.opcua_server import OpcuaSimulator
    from gatehouse.integrations.simulator.process import ProcessModel

    def simulator(level: float) -> Sim:
        process = ProcessModel()
        process.tank_level = level
        return Sim(OpcuaSimulator(process, step=False, update_interval=0.02), process,
                   free_port())

    async with serving(simulator(11.0)) as east, serving(simulator(77.0)) as west, \
            host_with(config_dir) as host:
        for name, sim in (("East", east), ("West", west)):
            data = ENTRY_SCHEMA({"name": name, "endpoint": sim.endpoint,
                                 "publishing_interval": 0.02,
                                 "nodes": [node("Tank.Level", "sensor")]})
            await add_entry(host, "opcua", data, title=name, unique_id=name.lower())
        await wait_until(lambda: host.states.get("sensor.west_tank_level") is not None)
        answer = await host.services.call(
            "opcua", "read", {"node": NS + "Tank.Level", "entity_id": "sensor.west_tank_level"},
            return_response=True,
        )
        assert answer is not None and answer["value"] == pytest.approx(77.0)
        answer = await host.services.call(
            "opcua", "read", {"node": NS + "Tank.Level", "entity_id": "sensor.east_tank_level"},
            return_response=True,
        )
        assert answer is not None and answer["value"] == pytest.approx(11.0)
