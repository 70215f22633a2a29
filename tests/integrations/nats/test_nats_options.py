"""The options flow against a real nats-server: subject entities without YAML edits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from natstools import add_nats, assert_loaded, jdump, raw_client

from gatehouse.core import ConfigEntry, ConfigEntryState, Host
from gatehouse.core.testing import NatsServer, make_host, state_of, wait_until
from gatehouse.integrations.nats.client import flush_in_order

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

LEVEL = {
    "platform": "sensor",
    "name": "Tank level",
    "subject": "plant.tank.level",
    "json_path": "$.level",
    "unit_of_measurement": "%",
}


async def start(host: Host, entry: ConfigEntry[Any], action: str) -> dict[str, Any]:
    result = await host.config_entries.options.init(entry.entry_id)
    assert result["type"] == "form" and result["step_id"] == "init"
    return dict(await host.config_entries.options.configure(result["flow_id"], {"action": action}))


async def configure(host: Host, flow_id: str, user_input: dict[str, Any]) -> dict[str, Any]:
    return dict(await host.config_entries.options.configure(flow_id, user_input))


def is_loaded(entry: ConfigEntry[Any]) -> bool:
    return entry.state is ConfigEntryState.LOADED


async def test_add_sensor_then_remove_it(nats_server: NatsServer, host: Host) -> None:
    entry = await add_nats(host, servers=nats_server.url)
    assert_loaded(entry)
    result = await start(host, entry, "add_entity")
    assert result["step_id"] == "add_entity"
    result = await configure(host, result["flow_id"], LEVEL)
    assert result["step_id"] == "init", result["errors"]
    result = await configure(host, result["flow_id"], {"action": "done"})
    assert result["type"] == "create_entry"
    await wait_until(lambda: is_loaded(entry))
    assert entry.options["sensor"][0]["subject"] == "plant.tank.level"

    async with raw_client(nats_server.url) as nc:
        await nc.publish("plant.tank.level", jdump({"level": 42}))
        await flush_in_order(nc, 5)
        await wait_until(lambda: state_of(host, "sensor.tank_level") == "42")

        result = await start(host, entry, "remove_entity")
        assert result["data_schema"][0]["options"] == ["Tank level (sensor)"]
        result = await configure(host, result["flow_id"], {"entity": "Tank level (sensor)"})
        await configure(host, result["flow_id"], {"action": "done"})
        await wait_until(lambda: is_loaded(entry))
        assert "sensor" not in entry.options
        assert host.states.get("sensor.tank_level") is None
        await nc.publish("plant.tank.level", jdump({"level": 50}))
        await flush_in_order(nc, 5)
        await anyio.sleep(0.3)
        assert host.states.get("sensor.tank_level") is None


async def test_bad_input_reshows_the_form(nats_server: NatsServer, host: Host) -> None:
    entry = await add_nats(host, servers=nats_server.url)
    result = await start(host, entry, "remove_entity")
    assert result["errors"] == {"action": "no_entities_to_remove"}
    result = await configure(host, result["flow_id"], {"action": "add_entity"})
    flow_id = result["flow_id"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({**LEVEL, "json_path": None, "value_template": "{{ value "}, "value_template"),
        ({**LEVEL, "json_path": None, "value_template": "{{ value | nosuch }}"},
         "value_template"),
        ({**LEVEL, "value_template": "{{ value }}"}, "json_path"),
        ({**LEVEL, "subject": "plant.>.x"}, "subject"),
        ({**LEVEL, "subject": "plant.ta*"}, "subject"),
        ({**LEVEL, "platform": "binary_sensor"}, "unit_of_measurement"),
        ({**LEVEL, "json_path": "$.level..x"}, "json_path"),  # the helpers' dialect
    ]
    messages = []
    for case, field in cases:
        user_input = {k: v for k, v in case.items() if v is not None}
        result = await configure(host, flow_id, user_input)
        assert result["type"] == "form" and result["step_id"] == "add_entity", result
        assert field in result["errors"], (user_input, result["errors"])
        messages.append(result["errors"][field])
    assert messages[2] == "value_template and json_path exclude each other"
    assert messages[5] == "not used by binary_sensor"
    result = await configure(host, flow_id, LEVEL)
    assert result["step_id"] == "init"
    # The same name again in the same flow: refused before saving.
    result = await configure(host, flow_id, {"action": "add_entity"})
    result = await configure(host, flow_id, {**LEVEL, "name": "tank LEVEL"})
    assert result["errors"] == {"name": "duplicate_name"}
    assert entry.options == {}


async def test_options_of_a_yaml_entry_survive_a_restart(
    nats_server: NatsServer, config_dir: Path, write_config: Callable[[str], Path]
) -> None:
    write_config(
        f"""
        nats:
          name: Plant bus
          servers: {nats_server.url}
          reconnect_time_wait: 0.1
          binary_sensor:
            - name: Pump running
              subject: plant.pump
        """
    )
    async with make_host(config_dir).running() as host:
        (entry,) = host.config_entries.entries("nats")
        assert_loaded(entry)
        result = await start(host, entry, "add_entity")
        result = await configure(host, result["flow_id"], {**LEVEL, "name": "Pump running"})
        assert result["errors"] == {"name": "duplicate_name"}  # YAML names count too
        result = await configure(host, result["flow_id"], LEVEL)
        await configure(host, result["flow_id"], {"action": "done"})
        await wait_until(lambda: is_loaded(entry))

    async with make_host(config_dir).running() as host:
        (entry,) = host.config_entries.entries("nats")
        assert_loaded(entry)
        assert entry.options["sensor"][0]["name"] == "Tank level"
        async with raw_client(nats_server.url) as nc:
            await nc.publish("plant.tank.level", jdump({"level": 7}))
            await nc.publish("plant.pump", b"ON")
            await flush_in_order(nc, 5)
            await wait_until(lambda: state_of(host, "sensor.tank_level") == "7")
            await wait_until(lambda: state_of(host, "binary_sensor.pump_running") == "on")
