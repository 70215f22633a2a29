"""Template entities from configuration.yaml on a real host, Home Assistant's format.

Services the actions call are real services of the host, registered by the test
(``record``), so what a switch, number or button did is what the registry was asked.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gatehouse.core import ConfigEntryState, Event, Host, ServiceCall
from gatehouse.core.testing import make_host, state_of, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

PACKAGES = {
    "template": "gatehouse.integrations.template",
    "script": "gatehouse.integrations.script",  # the engine of actions and triggers
    "mqtt": "gatehouse.integrations.mqtt",
}

CONFIG = """\
gatehouse:
  control_socket: false
template:
  - sensor:
      - name: Tank percent
        unique_id: tank_pct
        unit_of_measurement: "%"
        state: "{{ (states('sensor.tank_raw') | float(0) / 40) | round(1) }}"
        availability: "{{ has_value('sensor.tank_raw') }}"
        icon: "{{ 'mdi:alert' if states('sensor.tank_raw') | float(0) > 3600 else 'mdi:water' }}"
        attributes:
          raw: "{{ states('sensor.tank_raw') }}"
          source: tank
          me: "{{ this.entity_id }}"
          previous: "{{ this.state if states('sensor.tank_raw') != '' else '' }}"
      - name: Sensors on
        state: "{{ states.sensor | selectattr('state', 'eq', 'on') | list | count }}"
    binary_sensor:
      - name: Tank high
        device_class: problem
        state: "{{ states('sensor.tank_percent') | float(0) > 90 }}"
    switch:
      - name: Pump
        state: "{{ is_state('input.relay', 'on') }}"
        turn_on:
          - action: test.record
            data: {what: "on", by: "{{ this.entity_id }}"}
        turn_off:
          service: test.record
          data: {what: "off"}
      - name: Lamp
        turn_on: {action: test.record, data: {what: lamp on}}
        turn_off: {action: test.record, data: {what: lamp off}}
    number:
      - name: Setpoint
        state: "{{ states('input.setpoint') }}"
        min: 0
        max: 50
        step: 0.5
        set_value: {action: test.record, data: {what: setpoint, value: "{{ value * 2 }}"}}
    button:
      - name: Reset
        press: {action: test.record, target: {entity_id: sensor.tank_raw}, data: {what: press}}
  - trigger:
      - trigger: state
        entity_id: sensor.tank_raw
        to: "4000"
        id: full
      - platform: state
        entity_id: input.door
    variables:
      factor: 10
    sensor:
      - name: Last trigger
        state: "{{ trigger.id }}:{{ trigger.to_state.state | int * factor }}"
"""


class Recorder:
    """The ``test.record`` service: every call's data, in order."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, call: ServiceCall) -> None:
        self.calls.append(dict(call.data))


@pytest.fixture
async def running(config_dir: Path) -> AsyncIterator[tuple[Host, Recorder]]:
    (config_dir / "configuration.yaml").write_text(CONFIG, encoding="utf-8")
    host = make_host(config_dir, packages=PACKAGES)
    recorder = Recorder()
    async with host.running():
        host.services.register("test", "record", recorder)
        yield host, recorder


async def test_sensors_follow_the_states_they_read(running: tuple[Host, Recorder]) -> None:
    host, _ = running
    assert state_of(host, "sensor.tank_percent") == "unavailable"  # no raw value yet
    host.states.set("sensor.tank_raw", "2000")
    tank = host.states.get("sensor.tank_percent")
    assert tank is not None and tank.state == "50.0"
    assert tank.attributes["unit_of_measurement"] == "%"
    assert tank.attributes["icon"] == "mdi:water"
    assert tank.attributes["raw"] == 2000 and tank.attributes["source"] == "tank"
    assert tank.attributes["me"] == "sensor.tank_percent"
    assert tank.attributes["previous"] == "unavailable"  # ``this``: the state before
    assert state_of(host, "binary_sensor.tank_high") == "off"
    host.states.set("sensor.tank_raw", "3700")
    assert state_of(host, "sensor.tank_percent") == "92.5"
    assert state_of(host, "binary_sensor.tank_high") == "on"
    assert host.states.get("sensor.tank_percent").attributes["icon"] == "mdi:alert"  # type: ignore[union-attr]
    assert host.entity_registry.entity_id_for("sensor", "template", "tank_pct") \
        == "sensor.tank_percent"


async def test_a_sensor_writes_only_when_what_it_reads_changes(
    running: tuple[Host, Recorder],
) -> None:
    host, _ = running
    host.states.set("sensor.tank_raw", "400")
    writes: list[str] = []
    host.bus.listen("state_changed",
                    lambda event: writes.append(event.data["entity_id"]),
                    lambda data: data["entity_id"] == "sensor.tank_percent")
    for index in range(20):
        host.states.set(f"light.unrelated_{index}", "on")
    assert writes == []
    host.states.set("sensor.tank_raw", "800")
    assert writes == ["sensor.tank_percent"]


async def test_a_domain_template_is_rate_limited_but_catches_up(
    running: tuple[Host, Recorder],
) -> None:
    host, _ = running
    first = state_of(host, "sensor.sensors_on")
    for index in range(5):
        host.states.set(f"sensor.flag_{index}", "on")
    # once a second at most for a domain: the last of the burst arrives, once
    await wait_until(lambda: state_of(host, "sensor.sensors_on") == "5", timeout=5)
    assert first == "0"


async def test_switch_actions_call_services_and_state_follows_its_template(
    running: tuple[Host, Recorder],
) -> None:
    host, recorder = running
    assert state_of(host, "switch.pump") == "off"
    await host.services.call("switch", "turn_on", {"entity_id": "switch.pump"})
    assert recorder.calls == [{"what": "on", "by": "switch.pump"}]
    assert state_of(host, "switch.pump") == "off"  # the template says so, not the command
    host.states.set("input.relay", "on")
    assert state_of(host, "switch.pump") == "on"
    await host.services.call("switch", "turn_off", {"entity_id": "switch.pump"})
    assert recorder.calls[-1] == {"what": "off"}


async def test_a_switch_without_state_template_is_optimistic(
    running: tuple[Host, Recorder],
) -> None:
    host, recorder = running
    assert state_of(host, "switch.lamp") == "off"
    await host.services.call("switch", "toggle", {"entity_id": "switch.lamp"})
    assert state_of(host, "switch.lamp") == "on"
    assert recorder.calls == [{"what": "lamp on"}]


async def test_number_set_value_and_button_press(running: tuple[Host, Recorder]) -> None:
    host, recorder = running
    host.states.set("input.setpoint", "12.5")
    number = host.states.get("number.setpoint")
    assert number is not None and number.state == "12.5"
    assert (number.attributes["min"], number.attributes["max"]) == (0.0, 50.0)
    await host.services.call("number", "set_value",
                             {"entity_id": "number.setpoint", "value": 20})
    assert recorder.calls == [{"what": "setpoint", "value": 40.0}]
    await host.services.call("button", "press", {"entity_id": "button.reset"})
    assert recorder.calls[-1] == {"what": "press", "entity_id": "sensor.tank_raw"}
    assert state_of(host, "button.reset") not in (None, "unknown")


async def test_a_failing_action_is_an_error_naming_the_entity(
    running: tuple[Host, Recorder],
) -> None:
    host, _ = running
    host.services.remove("test", "record")
    with pytest.raises(Exception, match=r"switch\.lamp turn_on failed"):
        await host.services.call("switch", "turn_on", {"entity_id": "switch.lamp"})


async def test_trigger_based_sensor_renders_when_a_trigger_fires(
    running: tuple[Host, Recorder],
) -> None:
    host, _ = running
    assert state_of(host, "sensor.last_trigger") == "unknown"
    seen: list[str] = []
    host.bus.listen("state_changed", lambda event: seen.append(event.data["new_state"].state),
                    lambda data: data["entity_id"] == "sensor.last_trigger")
    host.states.set("sensor.tank_raw", "3000")  # not to 4000: no trigger
    host.states.set("sensor.tank_raw", "4000")
    await wait_until(lambda: state_of(host, "sensor.last_trigger") == "full:40000")
    host.states.set("input.door", "7")
    await wait_until(lambda: state_of(host, "sensor.last_trigger") == "1:70")  # its index
    assert seen == ["full:40000", "1:70"]


async def test_time_pattern_trigger(config_dir: Path) -> None:
    (config_dir / "configuration.yaml").write_text(textwrap.dedent("""\
        gatehouse:
          control_socket: false
        template:
          - trigger:
              - trigger: time_pattern
                seconds: "/1"
            sensor:
              - name: Ticks
                state: "{{ trigger.platform }} {{ trigger.now.second }}"
        """), encoding="utf-8")
    host = make_host(config_dir, packages=PACKAGES)
    async with host.running():
        fired: list[Event[Any]] = []
        host.bus.listen("state_changed", fired.append,
                        lambda data: data["entity_id"] == "sensor.ticks")
        await wait_until(lambda: len(fired) >= 2, timeout=10)
        assert str(state_of(host, "sensor.ticks")).startswith("time_pattern ")


async def test_a_bad_template_fails_set_up_naming_entity_and_field(config_dir: Path) -> None:
    (config_dir / "configuration.yaml").write_text(textwrap.dedent("""\
        gatehouse:
          control_socket: false
        template:
          - sensor:
              - name: Fine
                state: "{{ 1 }}"
              - name: Broken
                attributes:
                  bad: "{{ states('x' }}"
                state: "{{ 2 }}"
        """), encoding="utf-8")
    host = make_host(config_dir, packages=PACKAGES)
    async with host.running():
        entries = host.config_entries.entries("template")
        assert len(entries) == 1
        entry = entries[0]
        assert entry.state is ConfigEntryState.SETUP_ERROR
        assert "sensor 2 (Broken), attributes.bad" in str(entry.reason)
        assert "line 1" in str(entry.reason)


async def test_an_unknown_trigger_fails_set_up_naming_the_block(config_dir: Path) -> None:
    (config_dir / "configuration.yaml").write_text(textwrap.dedent("""\
        gatehouse:
          control_socket: false
        template:
          - trigger: {trigger: nonsense}
            sensor:
              - name: Never
                state: "{{ 1 }}"
        """), encoding="utf-8")
    host = make_host(config_dir, packages=PACKAGES)
    async with host.running():
        entry = host.config_entries.entries("template")[0]
        assert entry.state is ConfigEntryState.SETUP_ERROR
        assert "template trigger block 1" in str(entry.reason)
        assert "nonsense" in str(entry.reason)


async def test_a_malformed_action_fails_set_up_naming_entity_and_field(
    config_dir: Path,
) -> None:
    (config_dir / "configuration.yaml").write_text(textwrap.dedent("""\
        gatehouse:
          control_socket: false
        template:
          - button:
              - name: Odd
                press: {delay: "not a duration"}
        """), encoding="utf-8")
    host = make_host(config_dir, packages=PACKAGES)
    async with host.running():
        entry = host.config_entries.entries("template")[0]
        assert entry.state is ConfigEntryState.SETUP_ERROR
        assert "button 1" in str(entry.reason) and "Odd press" in str(entry.reason)


async def test_a_numeric_state_trigger_from_the_script_engine(config_dir: Path) -> None:
    (config_dir / "configuration.yaml").write_text(textwrap.dedent("""\
        gatehouse:
          control_socket: false
        template:
          - triggers:
              - trigger: numeric_state
                entity_id: sensor.level
                above: 90
            binary_sensor:
              - name: Overflowed once
                state: "{{ trigger.to_state.state | float > 90 }}"
        """), encoding="utf-8")
    host = make_host(config_dir, packages=PACKAGES)
    async with host.running():
        host.states.set("sensor.level", "50")
        assert state_of(host, "binary_sensor.overflowed_once") == "unknown"
        host.states.set("sensor.level", "95")
        await wait_until(lambda: state_of(host, "binary_sensor.overflowed_once") == "on")


async def test_trigger_block_condition_and_action(config_dir: Path) -> None:
    (config_dir / "configuration.yaml").write_text(textwrap.dedent("""\
        gatehouse:
          control_socket: false
        template:
          - triggers:
              - trigger: state
                entity_id: sensor.level
            conditions:
              - "{{ trigger.to_state.state | int(0) > 10 }}"
            actions:
              - variables:
                  doubled: "{{ trigger.to_state.state | int * 2 }}"
            sensor:
              - name: Doubled level
                state: "{{ doubled }}"
        """), encoding="utf-8")
    host = make_host(config_dir, packages=PACKAGES)
    async with host.running():
        seen: list[str] = []
        host.bus.listen("state_changed", lambda event: seen.append(event.data["new_state"].state),
                        lambda data: data["entity_id"] == "sensor.doubled_level")
        host.states.set("sensor.level", "5")  # the condition stops it
        host.states.set("sensor.level", "21")
        await wait_until(lambda: state_of(host, "sensor.doubled_level") == "42")
        assert seen == ["42"]


def test_condition_without_trigger_is_refused() -> None:
    from gatehouse.integrations.template.config import CONFIG_SCHEMA

    with pytest.raises(Exception, match="belong to a block with trigger"):
        CONFIG_SCHEMA([{"condition": "{{ true }}", "sensor": [{"state": "{{ 1 }}"}]}])


async def test_reload_applies_the_edited_section_without_a_restart(config_dir: Path) -> None:
    config = config_dir / "configuration.yaml"
    config.write_text(textwrap.dedent("""\
        gatehouse:
          control_socket: false
        template:
          - sensor:
              - name: Edited
                state: "{{ 1 }}"
        """), encoding="utf-8")
    host = make_host(config_dir, packages=PACKAGES)
    async with host.running():
        assert state_of(host, "sensor.edited") == "1"
        config.write_text(config.read_text(encoding="utf-8").replace("{{ 1 }}", "{{ 2 }}")
                          + "      - name: Added\n        state: added\n", encoding="utf-8")
        await host.services.call("template", "reload", {})
        assert state_of(host, "sensor.edited") == "2"
        assert state_of(host, "sensor.added") == "added"
        # a broken edit is refused naming the field, and the entities stay
        config.write_text(config.read_text(encoding="utf-8").replace("state: added",
                                                                      "stat: added"),
                          encoding="utf-8")
        with pytest.raises(Exception, match="stat"):
            await host.services.call("template", "reload", {})
        assert state_of(host, "sensor.added") == "added"
