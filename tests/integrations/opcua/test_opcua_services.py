"""Writes with the node's own types (switch, number, ``opcua.write``), ``opcua.read``,
``opcua.browse``, the config flow and YAML set-up, against a real OPC UA server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from asyncua import ua
from opcua_helpers import NS, AddEntry, Sim, node, wait_state

from gatehouse.core import ConfigEntryState, Host, ServiceValidationError
from gatehouse.core.testing import make_host, wait_until
from gatehouse.integrations.opcua.errors import OpcuaStatusError

pytestmark = pytest.mark.anyio

VT = ua.VariantType


async def test_switch_and_number_write_the_model_with_the_node_types(
    host: Host, sim: Sim, add_entry: AddEntry
) -> None:
    sim.process.pump_on = False
    sim.process.valve_setpoint = 30.0
    await add_entry(
        sim.endpoint,
        [node("Pump.Running", "switch"), node("Valve.Setpoint", "number", min=0, max=100)],
    )
    await wait_state(host, "switch.plant_pump_running", "off")
    await wait_state(host, "number.plant_valve_setpoint", "30.0")

    await host.services.call("switch", "turn_on", {"entity_id": "switch.plant_pump_running"})
    assert sim.process.pump_on is True
    assert sim.simulator.read_variant_type("Pump.Running") is VT.Boolean
    await wait_state(host, "switch.plant_pump_running", "on")

    # number.set_value hands us a float; 42 must still go out as a Double.
    await host.services.call(
        "number", "set_value", {"entity_id": "number.plant_valve_setpoint", "value": 42}
    )
    assert sim.process.valve_setpoint == 42.0
    assert sim.simulator.read_variant_type("Valve.Setpoint") is VT.Double
    await wait_state(host, "number.plant_valve_setpoint", "42.0")

    await host.services.call("switch", "turn_off", {"entity_id": "switch.plant_pump_running"})
    assert sim.process.pump_on is False


WRITES: list[tuple[str, Any, Any, ua.VariantType]] = [
    ("Types.Boolean", "on", True, VT.Boolean),
    ("Types.Int16", 7, 7, VT.Int16),
    ("Types.Int32", -70000, -70000, VT.Int32),
    ("Types.Int64", 3.0, 3, VT.Int64),
    ("Types.UInt16", "65535", 65535, VT.UInt16),
    ("Types.UInt32", 12, 12, VT.UInt32),
    ("Types.UInt64", 2**63, 2**63, VT.UInt64),
    ("Types.Float", 2.5, 2.5, VT.Float),
    ("Types.Double", 1, 1.0, VT.Double),
    ("Types.String", 5, "5", VT.String),
]


async def test_write_service_converts_to_each_node_data_type(
    host: Host, sim: Sim, add_entry: AddEntry
) -> None:
    await add_entry(sim.endpoint)
    for variable, value, expected, vtype in WRITES:
        await host.services.call("opcua", "write", {"node": NS + variable, "value": value})
        assert sim.simulator.read_variant_type(variable) is vtype, variable
        assert sim.simulator.read_value(variable) == expected, variable


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("Types.Int16", 70000, "outside the Int16 range"),
        ("Types.UInt16", -1, "outside the UInt16 range"),
        ("Types.Int32", 2.5, "not a whole number"),
        ("Types.Boolean", "maybe", "not a Boolean"),
        ("Types.Double", "ten", "not a number"),
    ],
)
async def test_write_service_refuses_values_that_do_not_fit(
    host: Host, sim: Sim, add_entry: AddEntry, variable: str, value: Any, message: str
) -> None:
    await add_entry(sim.endpoint)
    before = sim.simulator.read_value(variable)
    with pytest.raises(ServiceValidationError, match=message):
        await host.services.call("opcua", "write", {"node": NS + variable, "value": value})
    assert sim.simulator.read_value(variable) == before


async def test_write_to_a_read_only_node_reports_the_status(
    host: Host, sim: Sim, add_entry: AddEntry
) -> None:
    await add_entry(sim.endpoint)
    with pytest.raises(OpcuaStatusError, match=r"refused: (BadUserAccessDenied|BadNotWritable)"):
        await host.services.call("opcua", "write", {"node": NS + "Tank.Level", "value": 1.0})


async def test_read_service_returns_value_status_type_and_timestamp(
    host: Host, sim: Sim, add_entry: AddEntry
) -> None:
    sim.process.tank_level = 61.5
    await add_entry(sim.endpoint)
    await wait_until(lambda: sim.simulator.read_value("Tank.Level") == 61.5)
    response = await host.services.call(
        "opcua", "read", {"node": NS + "Tank.Level"}, return_response=True
    )
    assert response is not None
    assert response["node"] == NS + "Tank.Level"
    assert response["value"] == 61.5
    assert response["status"] == "Good"
    assert response["quality"] == "good"
    assert response["data_type"] == "Double"
    assert response["source_timestamp"].endswith("+00:00")

    with pytest.raises(ServiceValidationError, match="no namespace"):
        await host.services.call(
            "opcua", "read", {"node": "nsu=urn:nope;s=X"}, return_response=True
        )
    with pytest.raises(ServiceValidationError, match="not a node id"):
        await host.services.call("opcua", "read", {"node": "Tank.Level"}, return_response=True)


async def test_browse_service_returns_a_tree_with_stable_node_ids(
    host: Host, sim: Sim, add_entry: AddEntry
) -> None:
    await add_entry(sim.endpoint)
    tank = await host.services.call(
        "opcua", "browse", {"node": NS + "Tank"}, return_response=True
    )
    assert tank is not None
    children = {child["browse_name"]: child for child in tank["children"]}
    assert children["Level"] == {
        "node": NS + "Tank.Level",
        "browse_name": "Level",
        "display_name": "Level",
        "node_class": "Variable",
        "data_type": "Double",
    }

    objects = await host.services.call("opcua", "browse", {"depth": 2}, return_response=True)
    assert objects is not None and objects["node"] == "i=85"
    folders = {child["node"]: child for child in objects["children"]}
    pump = folders[NS + "Pump"]
    assert pump["node_class"] == "Object"
    assert [c["node"] for c in pump["children"]] == [NS + "Pump.Running"]
    assert pump["children"][0]["data_type"] == "Boolean"

    small = await host.services.call(
        "opcua", "browse", {"depth": 2, "limit": 3}, return_response=True
    )
    assert small is not None and small["truncated"] is True


async def test_services_pick_the_server_by_entry_id_when_several_are_loaded(
    host: Host, sim: Sim, add_entry: AddEntry
) -> None:
    first = await add_entry(sim.endpoint, name="Line one")
    await add_entry(sim.endpoint, name="Line two")
    with pytest.raises(ServiceValidationError, match="pass entry_id"):
        await host.services.call("opcua", "read", {"node": NS + "Tank.Level"},
                                 return_response=True)
    response = await host.services.call(
        "opcua", "read", {"node": NS + "Tank.Level", "entry_id": first.entry_id},
        return_response=True,
    )
    assert response is not None and response["status"] == "Good"
    await host.config_entries.unload(first.entry_id)
    assert host.services.has("opcua", "read")  # the other entry still serves them


async def test_security_policy_the_server_does_not_offer_is_a_setup_error(
    host: Host, sim: Sim, add_entry: AddEntry
) -> None:
    entry = await add_entry(
        sim.endpoint, security_policy="Basic256Sha256", security_mode="SignAndEncrypt"
    )
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert "offers no Basic256Sha256/SignAndEncrypt endpoint" in (entry.reason or "")
    assert "None_" in (entry.reason or "")


async def test_config_flow_checks_the_connection_and_creates_the_entry(
    host: Host, sim: Sim, add_entry: AddEntry
) -> None:
    form = await host.config_entries.flow.init("opcua")
    assert form["type"] == "form"
    fields = {f["name"] for f in form["data_schema"]}
    assert {"endpoint", "security_policy", "security_mode", "auth", "password"} <= fields

    bad = await host.config_entries.flow.configure(
        form["flow_id"], {"name": "Nowhere", "endpoint": "opc.tcp://127.0.0.1:9/"}
    )
    assert bad["type"] == "form" and bad["errors"] == {"base": "cannot_connect"}

    done = await host.config_entries.flow.configure(
        form["flow_id"], {"name": "Simulator", "endpoint": sim.endpoint}
    )
    assert done["type"] == "create_entry"
    entry = host.config_entries.get(done["entry_id"])
    assert entry.state is ConfigEntryState.LOADED
    assert entry.unique_id == sim.endpoint
    assert entry.data["nodes"] == []


async def test_yaml_configuration_sets_up_entities(
    sim: Sim, config_dir: Path, write_config: Callable[[str], Path]
) -> None:
    sim.process.tank_level = 70.0
    write_config(
        f"""
        opcua:
          - name: Plant
            endpoint: {sim.endpoint}
            publishing_interval: 0.05
            nodes:
              - node: "{NS}Tank.Level"
                platform: sensor
                name: Level
                unit_of_measurement: "%"
                state_class: measurement
        """
    )
    host = make_host(config_dir)
    host.plugins.add_package("opcua", "gatehouse.integrations.opcua")
    async with host.running():
        state = await wait_state(host, "sensor.plant_level", "70.0")
        assert state.attributes["state_class"] == "measurement"
