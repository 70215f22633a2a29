"""Entry health: a loaded OPC UA entry whose server goes away says "reconnecting".

Issue 14: with the simulator stopped the opcua entry stayed a green "Loaded" in the UI.
The runtime reports each session up and each lost or refused one to
``entry.set_health``; the REST and WebSocket entry JSON carry it as ``health``.
"""

from __future__ import annotations

import pytest
from opcua_helpers import SYNC, AddEntry, Sim, node, serving, wait_state

from gatehouse.core import STATE_UNAVAILABLE, ConfigEntryState, Host
from gatehouse.core.http.views_config import entry_json
from gatehouse.core.testing import free_port, wait_until
from gatehouse.integrations.simulator.opcua_server import OpcuaSimulator
from gatehouse.integrations.simulator.process import ProcessModel

pytestmark = pytest.mark.anyio


async def test_lost_server_makes_the_entry_report_reconnecting_then_connected(
    host: Host, add_entry: AddEntry
) -> None:
    process = ProcessModel(tank_level=30.0, pump_on=False)
    port = free_port()
    nodes = [node("Tank.Level", "sensor")]
    sim = OpcuaSimulator(process, step=False, update_interval=SYNC)
    async with serving(Sim(sim, process, port)) as first:
        entry = await add_entry(first.endpoint, nodes)
        await wait_state(host, "sensor.plant_tank_level", "30.0")
        up = entry_json(host, entry)["health"]
        assert up is not None and up["connected"] is True and up["last_error"] is None

    await wait_state(host, "sensor.plant_tank_level", STATE_UNAVAILABLE)
    await wait_until(lambda: entry.health is not None and not entry.health.connected)
    assert entry.state is ConfigEntryState.LOADED
    down = entry_json(host, entry)["health"]
    assert down["connected"] is False and down["since"] >= up["since"]
    assert down["last_error"], down

    restarted = OpcuaSimulator(process, step=False, update_interval=SYNC)
    async with serving(Sim(restarted, process, port)):
        await wait_until(lambda: entry.health is not None and entry.health.connected,
                         timeout=15)
        back = entry_json(host, entry)["health"]
        assert back["since"] >= down["since"] and back["last_error"] is not None

    await host.config_entries.unload(entry.entry_id)
    assert entry_json(host, entry)["health"] is None
