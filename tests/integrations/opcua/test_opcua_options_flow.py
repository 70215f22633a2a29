"""The options flow: nodes added and removed in the web UI, against a real server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from opcua_helpers import NS, AddEntry, Sim, node, wait_state

from gatehouse.core import FlowResult, Host
from gatehouse.core.testing import make_host, wait_until
from gatehouse.integrations.opcua.config import NODE_FORM_SCHEMA, NODE_SCHEMA

pytestmark = pytest.mark.anyio

YAML = """
opcua:
  - name: Plant
    endpoint: {endpoint}
    publishing_interval: 0.05
    nodes:
      - node: "{ns}Tank.Level"
        platform: sensor
        name: Level
"""


def plant_host(config_dir: Path, sim: Sim) -> Host:
    (config_dir / "configuration.yaml").write_text(
        YAML.format(endpoint=sim.endpoint, ns=NS), encoding="utf-8"
    )
    host = make_host(config_dir)
    host.plugins.add_package("opcua", "gatehouse.integrations.opcua")
    return host


def the_entry(host: Host) -> Any:
    (entry,) = [e for e in host.config_entries.entries() if e.domain == "opcua"]
    return entry


def choices(result: FlowResult, name: str) -> list[Any]:
    return next(f["options"] for f in result["data_schema"] if f["name"] == name)


async def test_nodes_added_in_the_ui_update_survive_restarts_and_can_be_removed(
    config_dir: Path, sim: Sim
) -> None:
    sim.process.tank_level = 55.0
    sim.process.temperature = 21.5
    host = plant_host(config_dir, sim)
    async with host.running():
        await wait_state(host, "sensor.plant_level", "55.0")
        entry = the_entry(host)
        options = host.config_entries.options
        menu = await options.init(entry.entry_id)
        assert menu["step_id"] == "init"
        assert choices(menu, "action") == ["add_node", "done"]
        flow_id = menu["flow_id"]
        form = await options.configure(flow_id, {"action": "add_node"})
        assert form["step_id"] == "add_node"
        assert [f["name"] for f in form["data_schema"]][:3] == ["name", "platform", "node"]

        def temperature(**changes: Any) -> dict[str, Any]:
            return {"name": "Temperature", "platform": "sensor",
                    "node": NS + "Tank.Temperature", "unit_of_measurement": "°C", **changes}

        async def refused(user_input: dict[str, Any]) -> dict[str, str]:
            result = await options.configure(flow_id, user_input)
            assert result["type"] == "form" and result["step_id"] == "add_node", result
            return result["errors"]

        errors = await refused(temperature(node="Tank.Temperature"))
        assert list(errors) == ["node"] and "is not a node id" in errors["node"]
        errors = await refused(temperature(node="nsu=urn:nope;s=Tank.Temperature"))
        assert "has no namespace 'urn:nope'" in errors["node"]  # asked the server
        errors = await refused(temperature(node=NS + "Tank.Nothing"))
        assert list(errors) == ["node"]
        errors = await refused(temperature(name="Level"))
        assert "already has a node named 'Level'" in errors["name"]
        errors = await refused(temperature(node=NS + "Tank.Level"))  # YAML has it as a sensor
        assert "configured twice" in errors["node"]
        errors = await refused(temperature(deadband=150, deadband_type="percent"))
        assert errors == {"deadband": "a percent deadband is at most 100"}

        menu = await options.configure(flow_id, temperature())
        assert menu["step_id"] == "init"
        assert choices(menu, "action") == ["add_node", "remove_node", "done"]
        await options.configure(flow_id, {"action": "add_node"})
        menu = await options.configure(
            flow_id, {"name": "Pump", "platform": "switch", "node": NS + "Pump.Running"}
        )
        assert menu["step_id"] == "init"
        done = await options.configure(flow_id, {"action": "done"})
        assert done["type"] == "create_entry" and done["entry_state"] == "loaded"

        state = await wait_state(host, "sensor.plant_temperature", "21.5")
        assert state.attributes["unit_of_measurement"] == "°C"
        await wait_state(host, "switch.plant_pump", "off")
        await host.services.call("switch", "turn_on", {"entity_id": "switch.plant_pump"})
        await wait_until(lambda: sim.process.pump_on)
        await wait_state(host, "sensor.plant_level", "55.0")
        assert [n["name"] for n in entry.options["nodes"]] == ["Temperature", "Pump"]
        assert [n["name"] for n in entry.data["nodes"]] == ["Level"]
        sim.process.pump_on = False

    # A restart with the same YAML: the nodes added in the UI were saved and come back.
    sim.process.temperature = 30.0
    host = plant_host(config_dir, sim)
    async with host.running():
        await wait_state(host, "sensor.plant_temperature", "30.0")
        await wait_state(host, "sensor.plant_level", "55.0")
        entry = the_entry(host)
        options = host.config_entries.options
        menu = await options.init(entry.entry_id)
        form = await options.configure(menu["flow_id"], {"action": "remove_node"})
        assert choices(form, "name") == ["Temperature", "Pump"]  # YAML's Level is not offered
        menu = await options.configure(menu["flow_id"], {"name": "Temperature"})
        done = await options.configure(menu["flow_id"], {"action": "done"})
        assert done["type"] == "create_entry"
        await wait_until(lambda: host.states.get("sensor.plant_temperature") is None,
                       message="the removed node's entity to go")
        assert [n["name"] for n in entry.options["nodes"]] == ["Pump"]
        await wait_state(host, "switch.plant_pump", "off")
        await wait_state(host, "sensor.plant_level", "55.0")


def test_the_form_asks_for_the_yaml_node_fields() -> None:
    yaml_fields = {str(k) for k in NODE_SCHEMA.schema}
    assert {str(k) for k in NODE_FORM_SCHEMA.schema} == yaml_fields - {"unique_id"}


async def test_a_ui_node_the_yaml_took_since_is_skipped_with_a_warning(
    host: Host, sim: Sim, add_entry: AddEntry, caplog: pytest.LogCaptureFixture
) -> None:
    sim.process.tank_level = 41.0
    sim.process.pump_on = False
    ui_nodes = [node("Tank.Level", "sensor", name="Level from the UI"),
                node("Pump.Running", "switch")]
    entry = await add_entry(sim.endpoint, [node("Tank.Level", "sensor")],
                            options={"nodes": ui_nodes})
    await wait_state(host, "sensor.plant_tank_level", "41.0")
    await wait_state(host, "switch.plant_pump_running", "off")  # the other UI node is there
    assert host.states.get("sensor.plant_level_from_the_ui") is None
    assert len(host.entities.of_entry(entry.entry_id)) == 2
    assert "Plant: nodes 'Level from the UI' added in the UI clashes" in caplog.text
