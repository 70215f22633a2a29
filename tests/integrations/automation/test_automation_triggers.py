"""Each trigger platform against a real host (state changes, events, templates, time)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from autotools import running

from gatehouse.core import Context
from gatehouse.integrations.script.msgtriggers import subject_matches
from gatehouse.integrations.script.triggers import _pattern, next_pattern_time, next_time_of_day

pytestmark = pytest.mark.anyio


def automation(trigger: str, value: str = "{{ trigger.id }}") -> str:
    return f"""
automation:
  - id: a
    triggers:
{trigger}
    actions:
      - action: test.record
        data:
          value: "{value}"
"""


async def test_state_from_to_not_from_not_to(config_dir: Path) -> None:
    config = automation("""
      - trigger: state
        id: to_on
        entity_id: switch.x
        from: "off"
        to: "on"
      - trigger: state
        id: not_from_unavailable
        entity_id: switch.x
        not_from: unavailable
        not_to: ["off", "on"]
""")
    async with running(config_dir, config) as (host, rec):
        host.states.set("switch.x", "off")
        host.states.set("switch.x", "unavailable")  # not_from_unavailable (from off)
        host.states.set("switch.x", "on")  # from unavailable: neither
        host.states.set("switch.x", "off")
        host.states.set("switch.x", "on")  # off → on: to_on
        host.states.set("switch.x", "jammed")  # not_from unavailable, not to on/off
        calls = await rec.wait(3)
        assert [c["value"] for c in calls] == ["not_from_unavailable", "to_on",
                                               "not_from_unavailable"]


async def test_state_without_to_fires_on_attribute_changes_and_attribute_trigger(
        config_dir: Path) -> None:
    config = automation("""
      - trigger: state
        id: any
        entity_id: sensor.t
      - trigger: state
        id: attr
        entity_id: sensor.t
        attribute: mode
        to: eco
""")
    async with running(config_dir, config) as (host, rec):
        host.states.set("sensor.t", "1", {"mode": "normal"})
        host.states.set("sensor.t", "1", {"mode": "eco"})
        calls = await rec.wait(3)
        assert sorted(c["value"] for c in calls) == ["any", "any", "attr"]


async def test_state_for_fires_after_holding_and_is_cancelled_by_a_change(
        config_dir: Path) -> None:
    config = automation("""
      - trigger: state
        entity_id: binary_sensor.door
        to: "on"
        for: {milliseconds: 80}
""", "{{ trigger.for.total_seconds() }}")
    async with running(config_dir, config) as (host, rec):
        host.states.set("binary_sensor.door", "on")
        host.states.set("binary_sensor.door", "off")  # cancels the first 'for'
        host.states.set("binary_sensor.door", "on")
        calls = await rec.wait(1)
        assert calls[0]["value"] == 0.08
        assert len(rec.calls) == 1


async def test_numeric_state_crossing_and_for(config_dir: Path) -> None:
    config = automation("""
      - trigger: numeric_state
        id: high
        entity_id: sensor.level
        above: 90
      - trigger: numeric_state
        id: band
        entity_id: sensor.level
        above: sensor.low_limit
        below: 20
      - trigger: numeric_state
        id: attr
        entity_id: sensor.level
        attribute: raw
        value_template: "{{ state.attributes.raw / 10 }}"
        above: 5
        for: "00:00:00.05"
""")
    async with running(config_dir, config) as (host, rec):
        host.states.set("sensor.low_limit", "10")
        host.states.set("sensor.level", "50", {"raw": 10})
        host.states.set("sensor.level", "95", {"raw": 10})   # high
        host.states.set("sensor.level", "96", {"raw": 10})   # still high: no
        host.states.set("sensor.level", "15", {"raw": 10})   # band
        host.states.set("sensor.level", "15", {"raw": 70})   # attr after 50 ms
        calls = await rec.wait(3)
        assert [c["value"] for c in calls] == ["high", "band", "attr"]


async def test_numeric_state_already_in_range_waits_for_a_crossing(config_dir: Path,
                                                                    write_config: object) -> None:
    from autotools import write

    write(config_dir, "configuration.yaml", automation("""
      - trigger: numeric_state
        entity_id: sensor.level
        above: 90
"""))
    from gatehouse.core.testing import make_host

    host = make_host(config_dir)
    async with host.running():
        from autotools import Recorder

        rec = Recorder(host)
        # already above when the automation attached? set before reload
        host.states.set("sensor.level", "95")
        await host.services.call("automation", "reload")
        host.states.set("sensor.level", "97")  # in range all along: no
        host.states.set("sensor.level", "50")
        host.states.set("sensor.level", "91")  # crossing: yes
        await rec.wait(1)
        assert len(rec.calls) == 1


async def test_event_trigger_with_event_data_and_context_user(config_dir: Path) -> None:
    config = automation("""
      - trigger: event
        event_type: [plant_alarm, other]
        event_data:
          area: boiler
          detail: {level: 2}
""", "{{ trigger.event.data.area }}-{{ trigger.event.event_type }}")
    async with running(config_dir, config) as (host, rec):
        host.bus.fire("plant_alarm", {"area": "tank", "detail": {"level": 2}})
        host.bus.fire("plant_alarm", {"area": "boiler", "detail": {"level": 1}})
        host.bus.fire("other", {"area": "boiler", "detail": {"level": 2}, "x": 1})
        calls = await rec.wait(1)
        assert calls[0]["value"] == "boiler-other"


async def test_template_trigger_fires_on_becoming_true_with_for(config_dir: Path) -> None:
    config = automation("""
      - trigger: template
        id: hot
        value_template: "{{ states('sensor.temp') | float(0) > 30 }}"
      - trigger: template
        id: held
        value_template: "{{ is_state('switch.pump', 'on') }}"
        for: {milliseconds: 50}
""")
    async with running(config_dir, config) as (host, rec):
        host.states.set("sensor.temp", "31")
        host.states.set("sensor.temp", "35")   # still true: no second fire
        host.states.set("switch.pump", "on")
        calls = await rec.wait(2)
        assert [c["value"] for c in calls] == ["hot", "held"]


async def test_time_pattern_every_second(config_dir: Path) -> None:
    config = automation("""
      - trigger: time_pattern
        seconds: "*"
""", "{{ trigger.now.second }}")
    async with running(config_dir, config) as (_host, rec):
        calls = await rec.wait(1, timeout=3)
        assert isinstance(calls[0]["value"], int)


def test_time_pattern_and_time_schedules() -> None:
    now = dt.datetime(2026, 1, 5, 10, 59, 58, 500000)
    hours, minutes, seconds = _pattern("/2", 23, "h"), _pattern(0, 59, "m"), _pattern(0, 59, "s")
    assert next_pattern_time(now, hours, minutes, seconds) == dt.datetime(2026, 1, 5, 12, 0, 0)
    every5 = _pattern("/5", 59, "m")
    assert next_pattern_time(now, _pattern(None, 23, "h"), every5, _pattern(0, 59, "s")) == \
        dt.datetime(2026, 1, 5, 11, 0, 0)
    assert next_time_of_day(now, dt.time(7, 30)) == dt.datetime(2026, 1, 6, 7, 30)
    assert next_time_of_day(now, dt.time(11, 0)) == dt.datetime(2026, 1, 5, 11, 0)


async def test_time_trigger_at_the_next_second(config_dir: Path) -> None:
    at = (dt.datetime.now() + dt.timedelta(seconds=2)).strftime("%H:%M:%S")
    config = automation(f"""
      - trigger: time
        at: "{at}"
""", "{{ trigger.platform }}")
    async with running(config_dir, config) as (_host, rec):
        calls = await rec.wait(1, timeout=5)
        assert calls[0]["value"] == "time"


async def test_time_trigger_at_an_entity(config_dir: Path) -> None:
    config = automation("""
      - trigger: time
        at: [sensor.next_alarm, input_datetime.wake]
""", "{{ trigger.entity_id }}")
    async with running(config_dir, config) as (host, rec):
        soon = dt.datetime.now(dt.UTC) + dt.timedelta(milliseconds=300)
        host.states.set("sensor.next_alarm", (soon - dt.timedelta(hours=1)).isoformat())
        host.states.set("sensor.next_alarm", soon.isoformat())  # rescheduled
        host.states.set("input_datetime.wake", "not a time")     # ignored
        calls = await rec.wait(1)
        assert calls[0]["value"] == "sensor.next_alarm"
        assert len(rec.calls) == 1


async def test_host_start_trigger_and_trigger_ids(config_dir: Path) -> None:
    config = automation("""
      - trigger: homeassistant
        event: start
        id: booted
      - platform: gatehouse
        event: start
""")
    async with running(config_dir, config) as (_host, rec):
        calls = await rec.wait(2)
        assert sorted(str(c["value"]) for c in calls) == ["1", "booted"]


def test_nats_subject_wildcards() -> None:
    assert subject_matches(["plant", "*", "level"], "plant.a.level")
    assert not subject_matches(["plant", "*", "level"], "plant.a.b.level")
    assert subject_matches(["plant", ">"], "plant.a.b")
    assert not subject_matches(["plant", ">"], "plant")


async def test_nats_trigger_matches_consumer_events(config_dir: Path) -> None:
    config = automation("""
      - trigger: nats
        subject: "plant.*.alarm"
        payload: "HIGH"
""", "{{ trigger.subject }}")
    async with running(config_dir, config) as (host, rec):
        host.bus.fire("nats_message", {"subject": "plant.a.status", "data": "HIGH"})
        host.bus.fire("nats_message", {"subject": "plant.b.alarm", "data": "LOW"})
        host.bus.fire("nats_message", {"subject": "plant.c.alarm", "data": "HIGH"},
                      Context())
        calls = await rec.wait(1)
        assert calls[0]["value"] == "plant.c.alarm"
