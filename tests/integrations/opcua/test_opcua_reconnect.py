"""Losing and regaining the server: entities go unavailable, come back, and the
subscription is rebuilt in a new session, even when the namespace index changed."""

from __future__ import annotations

import pytest
from opcua_helpers import SYNC, AddEntry, Sim, node, serving, wait_state

from gatehouse.core import STATE_UNAVAILABLE, ConfigEntryState, Host
from gatehouse.core.testing import free_port, wait_until
from gatehouse.integrations.simulator.opcua_server import OpcuaSimulator
from gatehouse.integrations.simulator.process import ProcessModel

pytestmark = pytest.mark.anyio


def simulator(process: ProcessModel, *extra_namespaces: str) -> OpcuaSimulator:
    return OpcuaSimulator(
        process, step=False, update_interval=SYNC, extra_namespaces=extra_namespaces
    )


async def test_server_restart_makes_entities_unavailable_then_restores_values(
    host: Host, add_entry: AddEntry
) -> None:
    process = ProcessModel(tank_level=30.0, pump_on=False)
    port = free_port()
    nodes = [node("Tank.Level", "sensor"), node("Pump.Running", "switch")]
    async with serving(Sim(simulator(process), process, port)) as first:
        assert first.simulator.namespace_index == 2
        entry = await add_entry(first.endpoint, nodes)
        await wait_state(host, "sensor.plant_tank_level", "30.0")
        await wait_state(host, "switch.plant_pump_running", "off")
    # Server gone: every entity says so, none keeps showing a stale value.
    await wait_state(host, "sensor.plant_tank_level", STATE_UNAVAILABLE)
    await wait_state(host, "switch.plant_pump_running", STATE_UNAVAILABLE)
    assert entry.state is ConfigEntryState.LOADED

    # Back on the same port, renumbered: two namespaces now come before ours.
    process.tank_level = 31.0
    restarted = simulator(process, "urn:gatehouse:test:a", "urn:gatehouse:test:b")
    async with serving(Sim(restarted, process, port)):
        assert restarted.namespace_index == 4
        await wait_state(host, "sensor.plant_tank_level", "31.0", timeout=10)
        # A reconnect attempt may also have reached the old server while it closed.
        assert entry.runtime_data.sessions >= 2
        await wait_until(lambda: entry.runtime_data.monitor.subscribed, message="a subscription")
        process.tank_level = 32.0  # and it delivers
        await wait_state(host, "sensor.plant_tank_level", "32.0")
        await host.services.call("switch", "turn_on", {"entity_id": "switch.plant_pump_running"})
        assert process.pump_on is True


async def test_unreachable_server_at_setup_is_retried_until_it_answers(
    host: Host, add_entry: AddEntry
) -> None:
    process = ProcessModel(tank_level=60.0)
    port = free_port()
    entry = await add_entry(f"opc.tcp://127.0.0.1:{port}/", [node("Tank.Level", "sensor")])
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert "connecting to" in (entry.reason or "")
    async with serving(Sim(simulator(process), process, port)):
        await wait_until(lambda: entry.state is ConfigEntryState.LOADED, timeout=10)
        await wait_state(host, "sensor.plant_tank_level", "60.0")
