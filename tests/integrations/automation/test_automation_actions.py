"""Every action kind and every condition kind, run as scripts on a real host."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import anyio
import pytest
from autotools import next_event, running

from gatehouse.integrations.script.conditions import time_matches

pytestmark = pytest.mark.anyio


def scripts(body: str) -> str:
    return "script:\n" + body


async def call(host: Any, name: str, **data: Any) -> Any:
    return await host.services.call("script", name, data, return_response=True)


async def test_conditions_table(config_dir: Path) -> None:
    config = scripts("""
  check:
    sequence:
      - variables:
          results:
            state: "{{ true }}"
      - if:
          - condition: state
            entity_id: [switch.a, switch.b]
            state: "on"
            match: any
        then: [{variables: {s1: true}}]
        else: [{variables: {s1: false}}]
      - if:
          - condition: numeric_state
            entity_id: sensor.t
            above: 10
            below: sensor.limit
        then: [{variables: {s2: true}}]
        else: [{variables: {s2: false}}]
      - if: "{{ states('sensor.t') | int == 15 }}"
        then: [{variables: {s3: true}}]
        else: [{variables: {s3: false}}]
      - if:
          - or:
              - condition: state
                entity_id: switch.b
                state: "on"
              - not:
                  - condition: template
                    value_template: "{{ false }}"
          - and:
              - "{{ true }}"
        then: [{variables: {s4: true}}]
        else: [{variables: {s4: false}}]
      - if:
          - condition: state
            entity_id: sensor.t
            attribute: unit
            state: C
        then: [{variables: {s5: true}}]
        else: [{variables: {s5: false}}]
      - stop: done
        response_variable: out
      - variables: {}
    fields: {}
    variables:
      out: {}
""")
    # responses come from the stop's response_variable, which must be set before it:
    config = config.replace("      - stop: done\n        response_variable: out",
                            "      - variables:\n          out: \"{{ {'s1': s1, 's2': s2, "
                            "'s3': s3, 's4': s4, 's5': s5} }}\"\n      - stop: done\n"
                            "        response_variable: out")
    async with running(config_dir, config) as (host, _rec):
        host.states.set("switch.a", "off")
        host.states.set("switch.b", "on")
        host.states.set("sensor.t", "15", {"unit": "C"})
        host.states.set("sensor.limit", "20")
        assert await call(host, "check") == {"s1": True, "s2": True, "s3": True, "s4": True,
                                             "s5": True}
        host.states.set("switch.b", "off")
        host.states.set("sensor.limit", "12")
        host.states.set("sensor.t", "16", {"unit": "F"})
        assert await call(host, "check") == {"s1": False, "s2": False, "s3": False,
                                             "s4": True, "s5": False}


def test_time_condition_rules() -> None:
    monday_8 = dt.datetime(2026, 1, 5, 8, 0)
    assert time_matches(monday_8, dt.time(7), dt.time(9), [])
    assert not time_matches(monday_8, dt.time(9), None, [])
    assert time_matches(monday_8, dt.time(22), dt.time(9), [])  # across midnight
    assert not time_matches(monday_8, None, None, ["sat", "sun"])
    assert time_matches(monday_8, None, dt.time(8, 0, 1), ["mon"])


async def test_trigger_condition_in_automation(config_dir: Path) -> None:
    config = """
automation:
  - triggers:
      - {trigger: event, event_type: a, id: first}
      - {trigger: event, event_type: b, id: second}
    conditions:
      - condition: trigger
        id: second
    actions:
      - action: test.record
        data: {value: "{{ trigger.id }}"}
"""
    async with running(config_dir, config) as (host, rec):
        host.bus.fire("a")
        host.bus.fire("b")
        assert (await rec.wait(1))[0]["value"] == "second"


async def test_flow_actions(config_dir: Path) -> None:
    config = scripts("""
  flow:
    fields:
      items: {default: [a, b, c]}
    sequence:
      - variables: {log: []}
      - repeat:
          count: 3
          sequence:
            - variables:
                log: "{{ log + ['c' ~ repeat.index ~ ('L' if repeat.last else '')] }}"
      - repeat:
          for_each: "{{ items }}"
          sequence:
            - variables: {log: "{{ log + [repeat.item] }}"}
      - variables: {n: 0}
      - repeat:
          while: "{{ n < 2 }}"
          sequence:
            - variables: {n: "{{ n + 1 }}", log: "{{ log + ['w' ~ n] }}"}
      - repeat:
          until:
            - condition: template
              value_template: "{{ n >= 4 }}"
          sequence:
            - variables: {n: "{{ n + 1 }}", log: "{{ log + ['u' ~ n] }}"}
      - choose:
          - conditions: "{{ n == 3 }}"
            sequence: [{variables: {log: "{{ log + ['three'] }}"}}]
          - conditions: "{{ n == 4 }}"
            sequence: [{variables: {log: "{{ log + ['four'] }}"}}]
        default: [{variables: {log: "{{ log + ['default'] }}"}}]
      - choose:
          - conditions: "{{ false }}"
            sequence: []
        default: [{variables: {log: "{{ log + ['default'] }}"}}]
      - sequence:
          - variables: {log: "{{ log + ['nested'] }}"}
      - stop: ok
        response_variable: result
    variables:
      result: {}
""").replace("      - stop: ok",
            "      - variables: {result: {log: \"{{ log }}\"}}\n      - stop: ok")
    async with running(config_dir, config) as (host, _rec):
        response = await call(host, "flow")
        assert response == {"log": ["c1", "c2", "c3L", "a", "b", "c", "w1", "w2", "u3", "u4",
                                    "four", "default", "nested"]}
        response = await call(host, "flow", items=["x"])
        assert response["log"][3] == "x"


async def test_service_call_target_templated_data_and_response(config_dir: Path) -> None:
    config = scripts("""
  calls:
    sequence:
      - service: test.record
        target:
          entity_id: "{{ 'switch.' ~ which }}"
        data:
          value: "{{ 2 * 21 }}"
          plain: text
      - action: test.respond
        data: {q: 1}
        response_variable: answer
      - stop: answered
        response_variable: answer
""")
    async with running(config_dir, config) as (host, rec):
        response = await call(host, "calls", which="pump")
        assert rec.calls == [{"entity_id": "switch.pump", "value": 42, "plain": "text"}]
        assert response == {"echo": {"q": 1}}


async def test_delay_event_wait_template_and_wait_for_trigger(config_dir: Path) -> None:
    config = scripts("""
  waits:
    sequence:
      - delay: {milliseconds: 20}
      - event: script_step
        event_data: {step: "{{ 'waiting' }}"}
      - wait_template: "{{ is_state('switch.go', 'on') }}"
        timeout: 5
      - action: test.record
        data: {value: "{{ wait.completed }}"}
      - wait_for_trigger:
          - trigger: event
            event_type: proceed
        timeout: 5
      - action: test.record
        data: {value: "{{ wait.trigger.event.data.n }}"}
      - wait_for_trigger:
          - trigger: event
            event_type: never
        timeout: {milliseconds: 30}
      - action: test.record
        data: {value: "{{ wait.trigger is none }}"}
      - wait_template: "{{ false }}"
        timeout: 0.02
        continue_on_timeout: false
      - action: test.record
        data: {value: never}
""")
    async with running(config_dir, config) as (host, rec):
        async with anyio.create_task_group() as group:
            group.start_soon(call, host, "waits")
            await next_event(host, "script_step")
            host.states.set("switch.go", "on")
            await rec.wait(1)
            # the wait_for_trigger attaches once the run gets the loop again: fire
            # until it has seen one (each round yields to the run)
            while len(rec.calls) < 2:
                host.bus.fire("proceed", {"n": 7})
                await anyio.lowlevel.checkpoint()
            await rec.wait(3)
        assert rec.values() == [True, 7, True]


async def test_stop_error_continue_on_error_and_condition_action(config_dir: Path) -> None:
    config = scripts("""
  tolerant:
    sequence:
      - action: test.fail
        continue_on_error: true
      - action: test.record
        data: {value: after_failure}
      - condition: state
        entity_id: switch.never
        state: "on"
      - action: test.record
        data: {value: unreachable}
  strict:
    sequence:
      - action: test.fail
      - action: test.record
        data: {value: unreachable}
  failing_stop:
    sequence:
      - stop: broken
        error: true
  disabled:
    sequence:
      - action: test.record
        enabled: false
        data: {value: disabled}
      - action: test.record
        data: {value: enabled}
""")
    async with running(config_dir, config) as (host, rec):
        await call(host, "tolerant")
        from gatehouse.core import ServiceValidationError

        with pytest.raises(ServiceValidationError, match="the device said no"):
            await call(host, "strict")
        with pytest.raises(ServiceValidationError, match="broken"):
            await call(host, "failing_stop")
        await call(host, "disabled")
        assert rec.values() == ["after_failure", "enabled"]


async def test_parallel_runs_branches_together(config_dir: Path) -> None:
    config = scripts("""
  both:
    sequence:
      - parallel:
          - sequence:
              - wait_for_trigger: [{trigger: event, event_type: second_done}]
                timeout: 5
              - action: test.record
                data: {value: first}
          - sequence:
              - action: test.record
                data: {value: second}
              - event: second_done
""")
    async with running(config_dir, config) as (host, rec):
        await call(host, "both")
        assert rec.values() == ["second", "first"]
