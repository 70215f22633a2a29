"""Every problem of a form at once, and a name in use as a field error (real flows).

Before: a name already in use aborted the whole flow (start over, retype everything),
and a form with a bad value and a taken name showed one problem per submit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from peopletools import ModbusPeer, add_demo, host_with

pytestmark = pytest.mark.anyio


@pytest.fixture
async def peer() -> Any:
    server = ModbusPeer((1,))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_a_taken_name_is_an_error_at_the_name_and_the_flow_goes_on(
    config_dir: Path,
) -> None:
    async with host_with(config_dir) as host:
        await add_demo(host, "Kitchen")
        flow = host.config_entries.flow
        first = await flow.init("demo")
        again = await flow.configure(first["flow_id"], {"name": "Kitchen"})
        assert again["type"] == "form"
        assert again["errors"] == {"name": "already_configured"}
        assert again["strings"]["errors"]["name"].startswith("A demo device with this name")
        done = await flow.configure(first["flow_id"], {"name": "Pantry"})  # same flow
        assert done["type"] == "create_entry"
        assert sorted(e.title for e in host.config_entries.entries("demo")) == [
            "Kitchen", "Pantry"]


async def test_schema_errors_and_a_taken_name_come_together(config_dir: Path) -> None:
    async with host_with(config_dir) as host:
        await add_demo(host, "Kitchen")
        flow = host.config_entries.flow
        first = await flow.init("demo")
        answer = await flow.configure(
            first["flow_id"], {"name": "kitchen", "update_interval": 0, "sine_period": 0}
        )
        assert answer["errors"] == {
            "name": "already_configured",
            "update_interval": "value must be at least 0.01",
            "sine_period": "value must be at least 1",
        }


async def test_modbus_hub_name_in_use_is_a_field_error(
    config_dir: Path, peer: ModbusPeer
) -> None:
    yaml = f"""
    modbus:
      - name: Plant
        host: {peer.host}
        port: {peer.port}
    """
    async with host_with(config_dir, yaml) as host:
        flow = host.config_entries.flow
        first = await flow.init("modbus")
        answer = await flow.configure(
            first["flow_id"],
            {"name": "Plant", "type": "tcp", "host": peer.host, "port": 70000},
        )
        assert answer["errors"] == {"name": "already_configured",
                                    "port": "value must be at most 65535"}
        answer = await flow.configure(
            first["flow_id"], {"name": "Plant", "type": "tcp", "host": peer.host,
                               "port": peer.port},
        )
        assert answer["errors"] == {"name": "already_configured"}
        assert answer["strings"]["title"] == "Add a Modbus hub"
        assert answer["strings"]["fields"]["timeout"]["unit"] == "s"


async def test_modbus_point_form_reports_a_taken_name_with_the_schema_errors(
    config_dir: Path, peer: ModbusPeer
) -> None:
    yaml = f"""
    modbus:
      - name: Plant
        host: {peer.host}
        port: {peer.port}
        sensors:
          - name: Level
            address: 0
    """
    async with host_with(config_dir, yaml) as host:
        [entry] = host.config_entries.entries("modbus")
        options = host.config_entries.options
        menu = await options.init(entry.entry_id)
        # The YAML point is on the menu, marked read-only.
        assert menu["description_placeholders"]["yaml_points"] == (
            "Level (sensors, YAML, read-only)")
        assert "From YAML (read-only" in menu["strings"]["description"]
        assert "Level (sensors, YAML, read-only)" in menu["strings"]["description"]
        await options.configure(menu["flow_id"], {"action": "add_point"})
        await options.configure(menu["flow_id"], {"platform": "sensor"})
        answer = await options.configure(
            menu["flow_id"], {"name": "Level", "address": 70000}
        )
        assert answer["step_id"] == "point"
        assert set(answer["errors"]) == {"name", "address"}
        assert "already has a point named 'Level'" in answer["errors"]["name"]


async def test_entity_list_menu_lists_yaml_entities_and_add_reports_everything(
    config_dir: Path,
) -> None:
    """nats (an EntityListOptionsFlow); its server need not run for the options flow."""
    yaml = """
    nats:
      name: Plant bus
      servers: nats://127.0.0.1:1
      binary_sensor:
        - name: Pump running
          subject: plant.pump
    """
    async with host_with(config_dir, yaml) as host:
        [entry] = host.config_entries.entries("nats")
        options = host.config_entries.options
        menu = await options.init(entry.entry_id)
        assert menu["description_placeholders"]["yaml_entities"] == (
            "Pump running (binary_sensor, YAML, read-only)")
        assert "From YAML (read-only" in menu["strings"]["description"]
        form = await options.configure(menu["flow_id"], {"action": "add_entity"})
        # The form's schema refuses the subject; the YAML's name is taken: both at once.
        answer = await options.configure(
            menu["flow_id"], {"platform": "sensor", "name": "Pump running", "subject": 5}
        )
        assert answer["step_id"] == form["step_id"] == "add_entity"
        assert answer["errors"] == {"subject": "expected str", "name": "duplicate_name"}
