"""The demo integration, tested the way the kit lets any integration be tested.

The demo is the shortest reference integration, so its tests are the shortest
reference tests: a running host (``host`` fixture), ``add_entry``, ``wait_until`` and
``state_of`` from ``gatehouse.core.testing``, no broker needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gatehouse.core import ConfigEntryState, Host
from gatehouse.core.testing import add_entry, make_host, state_of, wait_until

pytestmark = pytest.mark.anyio

FAST = {"name": "Lab", "update_interval": 0.02, "sine_period": 1.0, "amplitude": 5.0}


async def test_an_entry_makes_a_device_with_three_live_entities(host: Host) -> None:
    entry = await add_entry(host, "demo", FAST, title="Lab", unique_id="lab")
    assert entry.state is ConfigEntryState.LOADED
    assert {e.entity_id for e in host.entities.of_entry(entry.entry_id)} == {
        "sensor.lab_sine", "sensor.lab_counter", "switch.lab_switch",
    }
    sine = host.states.get("sensor.lab_sine")
    assert sine is not None and sine.attributes["unit_of_measurement"] == "°C"
    assert 15.0 <= float(sine.state) <= 25.0  # 20 ± amplitude
    # The sine moves and the counter counts while the switch is on.
    first = state_of(host, "sensor.lab_sine")
    await wait_until(lambda: state_of(host, "sensor.lab_sine") != first)
    await wait_until(lambda: int(state_of(host, "sensor.lab_counter") or 0) >= 3)
    devices = host.device_registry.devices(config_entry_id=entry.entry_id)
    assert [(d.name, d.model) for d in devices] == [("Lab", "Demo device")]


async def test_the_switch_stops_the_counter_and_remembers_when(host: Host) -> None:
    await add_entry(host, "demo", FAST, title="Lab", unique_id="lab")
    await wait_until(lambda: int(state_of(host, "sensor.lab_counter") or 0) >= 1)
    await host.services.call("switch", "turn_off", {"entity_id": "switch.lab_switch"},
                             blocking=True)
    switch = host.states.get("switch.lab_switch")
    assert switch is not None and switch.state == "off"
    assert switch.attributes["last_switched"] is not None
    stopped_at = state_of(host, "sensor.lab_counter")
    # Several update ticks later the counter has not moved.
    sine = state_of(host, "sensor.lab_sine")
    for _ in range(3):
        await wait_until(lambda s=sine: state_of(host, "sensor.lab_sine") != s)
        sine = state_of(host, "sensor.lab_sine")
    assert state_of(host, "sensor.lab_counter") == stopped_at
    await host.services.call("switch", "toggle", {"entity_id": "switch.lab_switch"},
                             blocking=True)
    assert state_of(host, "switch.lab_switch") == "on"


async def test_reset_counter_answers_the_previous_values(host: Host) -> None:
    one = await add_entry(host, "demo", {**FAST, "name": "One"}, title="One", unique_id="one")
    two = await add_entry(host, "demo", {**FAST, "name": "Two"}, title="Two", unique_id="two")
    await wait_until(lambda: int(state_of(host, "sensor.one_counter") or 0) >= 2
                     and int(state_of(host, "sensor.two_counter") or 0) >= 2)
    answer: Any = await host.services.call(
        "demo", "reset_counter", {"entry_id": one.entry_id}, blocking=True,
        return_response=True,
    )
    assert set(answer["previous"]) == {one.entry_id}
    assert answer["previous"][one.entry_id] >= 2
    both: Any = await host.services.call("demo", "reset_counter", {}, blocking=True,
                                         return_response=True)
    assert set(both["previous"]) == {one.entry_id, two.entry_id}


async def test_the_service_lives_as_long_as_some_entry_is_loaded(host: Host) -> None:
    one = await add_entry(host, "demo", {**FAST, "name": "One"}, title="One", unique_id="one")
    two = await add_entry(host, "demo", {**FAST, "name": "Two"}, title="Two", unique_id="two")
    await host.config_entries.unload(one.entry_id)
    assert host.services.has("demo", "reset_counter")
    await host.config_entries.unload(two.entry_id)
    assert not host.services.has("demo", "reset_counter")
    assert await host.config_entries.setup(one.entry_id)
    assert host.services.has("demo", "reset_counter")


async def test_options_flow_changes_the_update_interval(host: Host) -> None:
    entry = await add_entry(host, "demo", {**FAST, "update_interval": 3600}, title="Lab",
                            unique_id="lab")
    await wait_until(lambda: state_of(host, "sensor.lab_counter") == "0")
    flow = host.config_entries.options
    form = await flow.init(entry.entry_id)
    done = await flow.configure(form["flow_id"], {"update_interval": 0.02})
    assert done["type"] == "create_entry"
    assert entry.options == {"update_interval": 0.02}
    # Reloaded with the new interval: the counter now counts within a test's patience.
    await wait_until(lambda: int(state_of(host, "sensor.lab_counter") or 0) >= 2)


async def test_yaml_makes_one_entry_per_device(config_dir: Path, write_config: Any) -> None:
    write_config("""
        demo:
          - name: Hall
            update_interval: 0.05
          - name: Attic
    """)
    async with make_host(config_dir).running() as host:
        entries = host.config_entries.entries("demo")
        assert sorted(e.title for e in entries) == ["Attic", "Hall"]
        assert all(e.state is ConfigEntryState.LOADED for e in entries)
        await wait_until(lambda: int(state_of(host, "sensor.hall_counter") or 0) >= 1)


async def test_bad_yaml_names_file_line_and_loads_nothing(
    config_dir: Path, write_config: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    write_config("""
        demo:
          - name: Hall
            update_interval: -1
    """)
    async with make_host(config_dir).running() as host:
        assert host.config_entries.entries("demo") == []
    problem = next(r.getMessage() for r in caplog.records if "update_interval" in r.getMessage())
    assert problem.endswith(
        "configuration.yaml:4: demo[0] -> update_interval: value must be at least 0.01"
    )
