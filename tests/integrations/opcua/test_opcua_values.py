"""Values from a real OPC UA server to entity states: subscriptions, deadbands, status
codes, polling, and node addressing by namespace URI."""

from __future__ import annotations

import anyio
import pytest
from opcua_helpers import FIRST_NAMESPACE, NS, SYNC, AddEntry, Sim, node, wait_state

from gatehouse.core import STATE_UNAVAILABLE, ConfigEntryState, Host
from gatehouse.core.testing import wait_until

pytestmark = pytest.mark.anyio


async def test_nodes_are_found_by_namespace_uri_whatever_their_index(
    host: Host, sim: Sim, add_entry: AddEntry
) -> None:
    # The simulator registered another namespace first: ours is index 3, not 2.
    assert sim.simulator.namespace_index == 3
    sim.process.tank_level = 12.5
    await add_entry(
        sim.endpoint,
        [
            node("Tank.Level", "sensor", name="By URI"),
            {"node": "ns=2;s=Tank.Level", "platform": "sensor", "name": "By stale index"},
        ],
    )
    await wait_state(host, "sensor.plant_by_uri", "12.5")
    # ns=2 is FIRST_NAMESPACE now: no such node there, and the entity says so.
    stale = host.states.get("sensor.plant_by_stale_index")
    assert stale is not None and stale.state == STATE_UNAVAILABLE
    assert FIRST_NAMESPACE


async def test_subscription_delivers_value_changes_to_states(
    host: Host, sim: Sim, add_entry: AddEntry
) -> None:
    sim.process.tank_level = 40.0
    sim.process.high_level_alarm = False
    entry = await add_entry(
        sim.endpoint,
        [
            node("Tank.Level", "sensor", unit_of_measurement="%"),
            node("Alarm.HighLevel", "binary_sensor"),
        ],
    )
    assert entry.state is ConfigEntryState.LOADED
    level = await wait_state(host, "sensor.plant_tank_level", "40.0")
    assert level.attributes["unit_of_measurement"] == "%"
    assert level.attributes["node"] == NS + "Tank.Level"
    assert "quality" not in level.attributes
    await wait_state(host, "binary_sensor.plant_alarm_highlevel", "off")
    # Initial values come from a Read; then the subscription takes over.
    await wait_until(lambda: len(entry.runtime_data.monitor.subscribed) == 2)

    seen: list[str] = []
    host.bus.listen(
        "state_changed",
        lambda e: seen.append(e.data["new_state"].state)
        if e.data["entity_id"] == "sensor.plant_tank_level" else None,
    )
    for value in (41.0, 42.5, 95.0):
        sim.process.tank_level = value
        await wait_state(host, "sensor.plant_tank_level", str(value))
    sim.process.high_level_alarm = True
    await wait_state(host, "binary_sensor.plant_alarm_highlevel", "on")
    assert seen == ["41.0", "42.5", "95.0"]


async def test_deadband_suppresses_small_changes(
    host: Host, sim: Sim, add_entry: AddEntry
) -> None:
    sim.process.temperature = 20.0
    await add_entry(sim.endpoint, [node("Tank.Temperature", "sensor", deadband=1.0)])
    await wait_state(host, "sensor.plant_tank_temperature", "20.0")

    sim.process.temperature = 20.4  # within the deadband: the server does not report it
    await wait_until(lambda: sim.simulator.read_value("Tank.Temperature") == 20.4)
    await anyio.sleep(10 * 0.02 + 5 * SYNC)  # ten publishing intervals
    assert host.states.get("sensor.plant_tank_temperature").state == "20.0"  # type: ignore[union-attr]

    sim.process.temperature = 22.0  # beyond it
    await wait_state(host, "sensor.plant_tank_temperature", "22.0")


async def test_uncertain_shows_quality_and_bad_makes_unavailable(
    host: Host, sim: Sim, add_entry: AddEntry
) -> None:
    sim.process.tank_level = 33.0
    await add_entry(sim.endpoint, [node("Tank.Level", "sensor")])
    await wait_state(host, "sensor.plant_tank_level", "33.0")
    try:
        sim.simulator.set_status("Tank.Level", "UncertainLastUsableValue")
        sim.process.tank_level = 34.0
        uncertain = await wait_state(host, "sensor.plant_tank_level", "34.0")
        assert uncertain.attributes["quality"] == "uncertain"
        assert uncertain.attributes["status"] == "UncertainLastUsableValue"

        sim.simulator.set_status("Tank.Level", "BadSensorFailure")
        await wait_state(host, "sensor.plant_tank_level", STATE_UNAVAILABLE)
    finally:
        sim.simulator.set_status("Tank.Level", None)
    good = await wait_state(host, "sensor.plant_tank_level", "34.0")
    assert "quality" not in good.attributes


async def test_poll_mode_reads_on_an_interval(host: Host, sim: Sim, add_entry: AddEntry) -> None:
    sim.process.tank_level = 10.0
    entry = await add_entry(
        sim.endpoint, [node("Tank.Level", "sensor", monitor="poll", poll_interval=0.05)]
    )
    await wait_state(host, "sensor.plant_tank_level", "10.0")
    monitor = entry.runtime_data.monitor
    await wait_until(lambda: [str(ref) for ref in monitor.polled] == [NS + "Tank.Level"])
    assert monitor.subscribed == []
    sim.process.tank_level = 11.0
    await wait_state(host, "sensor.plant_tank_level", "11.0")


async def test_polling_fallback_when_the_server_refuses_subscriptions(
    host: Host, sim: Sim, add_entry: AddEntry
) -> None:
    sim.process.tank_level = 20.0
    sim.simulator.set_max_subscriptions(0)
    try:
        entry = await add_entry(
            sim.endpoint, [node("Tank.Level", "sensor", poll_interval=0.05)]
        )
        await wait_state(host, "sensor.plant_tank_level", "20.0")
        monitor = entry.runtime_data.monitor
        await wait_until(lambda: [str(ref) for ref in monitor.polled] == [NS + "Tank.Level"])
        assert monitor.subscribed == []
        sim.process.tank_level = 21.0
        await wait_state(host, "sensor.plant_tank_level", "21.0")
    finally:
        sim.simulator.set_max_subscriptions(1000)


async def test_unknown_namespace_or_node_makes_only_that_entity_unavailable(
    host: Host, sim: Sim, add_entry: AddEntry, caplog: pytest.LogCaptureFixture
) -> None:
    sim.process.tank_level = 5.0
    entry = await add_entry(
        sim.endpoint,
        [
            node("Tank.Level", "sensor"),
            {"node": "nsu=urn:not:there;s=X", "platform": "sensor", "name": "No namespace"},
            node("Tank.Nothing", "sensor", name="No node"),
        ],
    )
    assert entry.state is ConfigEntryState.LOADED
    await wait_state(host, "sensor.plant_tank_level", "5.0")
    assert host.states.get("sensor.plant_no_namespace").state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    assert host.states.get("sensor.plant_no_node").state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    assert "has no namespace 'urn:not:there'" in caplog.text
    assert "BadNodeIdUnknown" in caplog.text
