"""The vertical slice: a state trigger, a condition, a service call; both syntaxes."""

from __future__ import annotations

from pathlib import Path

import pytest
from autotools import running

from gatehouse.core.testing import wait_until

pytestmark = pytest.mark.anyio

OLD_SYNTAX = """
automation:
  - id: pump_guard
    alias: Pump guard
    trigger:
      platform: state
      entity_id: sensor.level
      to: "high"
    condition:
      - condition: state
        entity_id: switch.enable
        state: "on"
    action:
      - service: test.record
        data:
          value: "{{ trigger.to_state.state }}"
          level: "{{ states('sensor.level') }}"
"""

NEW_SYNTAX = """
automation:
  - id: pump_guard
    alias: Pump guard
    triggers:
      - trigger: state
        entity_id: sensor.level
        to: "high"
    conditions:
      - condition: state
        entity_id: switch.enable
        state: "on"
    actions:
      - action: test.record
        data:
          value: "{{ trigger.to_state.state }}"
          level: "{{ states('sensor.level') }}"
"""


@pytest.mark.parametrize("configuration", [OLD_SYNTAX, NEW_SYNTAX], ids=["old", "new"])
async def test_state_trigger_condition_service(config_dir: Path, configuration: str) -> None:
    async with running(config_dir, configuration) as (host, rec):
        assert host.states.get("automation.pump_guard").state == "on"
        host.states.set("switch.enable", "off")
        host.states.set("sensor.level", "high")  # condition fails
        host.states.set("sensor.level", "low")
        host.states.set("switch.enable", "on")
        host.states.set("sensor.level", "high")
        calls = await rec.wait(1)
        assert calls == [{"value": "high", "level": "high"}]
        await wait_until(lambda: host.states.get("automation.pump_guard").attributes[
            "last_triggered"] is not None)
        assert host.states.get("automation.pump_guard").attributes["current"] == 0
