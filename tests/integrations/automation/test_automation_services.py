"""automation.trigger/turn_on/turn_off/toggle/reload; the entity's attributes; the on/off
choice across restarts; a broken automation next to good ones; !include files."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from autotools import Recorder, running, write

from gatehouse.core.testing import make_host, wait_until
from gatehouse.integrations.script.api import trace_store

pytestmark = pytest.mark.anyio

CONFIG = """
automation: !include automations.yaml
"""

AUTOMATIONS = """
- id: relay
  alias: Relay
  trigger:
    - platform: event
      event_type: go
  condition: >-
    {{ trigger is not defined or trigger.event is not defined
       or trigger.event.data.ok | default(false) }}
  action:
    - service: test.record
      data: {value: "{{ extra | default('none') }}"}
- id: broken
  alias: Broken
  trigger:
    - platform: no_such_trigger
  action: []
- id: also_fine
  triggers: [{trigger: event, event_type: other}]
  actions: [{action: test.record, data: {value: other}}]
"""


async def test_services_and_entity(config_dir: Path) -> None:
    async with running(config_dir, CONFIG, automations_yaml=AUTOMATIONS) as (host, rec):
        assert host.states.get("automation.broken") is None
        assert host.states.get("automation.also_fine").state == "on"
        relay = host.states.get("automation.relay")
        assert relay.state == "on"
        assert relay.attributes["id"] == "relay" and relay.attributes["mode"] == "single"
        assert relay.attributes["friendly_name"] == "Relay"

        await host.services.call("automation", "trigger",
                                 {"entity_id": "automation.relay", "variables": {"extra": 1}})
        await rec.wait(1)
        await host.services.call("automation", "turn_off", {"entity_id": "automation.relay"})
        assert host.states.get("automation.relay").state == "off"
        host.bus.fire("go", {"ok": True})  # off: ignored
        await host.services.call("automation", "toggle", {"entity_id": "automation.relay"})
        assert host.states.get("automation.relay").state == "on"
        host.bus.fire("go", {"ok": False})  # condition fails
        host.bus.fire("go", {"ok": True})
        await rec.wait(2)
        assert rec.values() == [1, "none"]
        await wait_until(lambda: host.states.get("automation.relay").attributes[
            "last_triggered"] is not None)


async def test_reload_without_restart(config_dir: Path) -> None:
    async with running(config_dir, CONFIG, automations_yaml=AUTOMATIONS) as (host, rec):
        await host.services.call("automation", "trigger", {"entity_id": "automation.also_fine"})
        await rec.wait(1)
        before = host.states.get("automation.also_fine").attributes["last_triggered"]
        await host.services.call("automation", "reload")
        assert host.states.get("automation.also_fine").attributes["last_triggered"] == before
        rec.calls.clear()
        write(config_dir, "automations.yaml", """
- id: newcomer
  alias: Newcomer
  triggers: [{trigger: event, event_type: go}]
  actions: [{action: test.record, data: {value: new}}]
""")
        await host.services.call("automation", "reload")
        assert host.states.get("automation.relay") is None
        assert host.states.get("automation.newcomer").state == "on"
        host.bus.fire("go", {"ok": True})
        await rec.wait(1)
        assert rec.values() == ["new"]


async def test_reload_from_inside_an_automation(config_dir: Path) -> None:
    config = """
automation:
  - id: reloader
    triggers: [{trigger: event, event_type: reload_now}]
    actions:
      - action: automation.reload
      - action: test.record
        data: {value: never}
  - id: witness
    triggers: [{trigger: event, event_type: automation_reloaded}]
    actions: [{action: test.record, data: {value: reloaded}}]
"""
    async with running(config_dir, config) as (host, rec):
        host.bus.fire("reload_now")
        await rec.wait(1)
        assert rec.values() == ["reloaded"]
        assert host.states.get("automation.reloader").state == "on"


async def test_turned_off_survives_a_restart_and_initial_state(config_dir: Path) -> None:
    write(config_dir, "configuration.yaml", CONFIG)
    write(config_dir, "automations.yaml", AUTOMATIONS + """
- id: starts_off
  initial_state: false
  triggers: [{trigger: event, event_type: x}]
  actions: []
""")
    host = make_host(config_dir)
    async with host.running():
        assert host.states.get("automation.starts_off").state == "off"
        await host.services.call("automation", "turn_off",
                                 {"entity_id": "automation.also_fine"})
    host = make_host(config_dir)
    async with host.running():
        assert host.states.get("automation.also_fine").state == "off"
        assert host.states.get("automation.relay").state == "on"
        rec = Recorder(host)
        host.bus.fire("other")
        host.bus.fire("go", {"ok": True})
        await rec.wait(1)
        assert rec.values() == ["none"]


async def test_automation_yaml_read_next_to_an_empty_section(config_dir: Path) -> None:
    """A fresh install: configuration.yaml says only 'automation:', the UI's file holds
    the automations."""
    async with running(config_dir, "automation:\n",
                       automations_yaml=AUTOMATIONS) as (host, _rec):
        assert host.states.get("automation.relay") is not None


async def test_turn_off_stops_running_actions(config_dir: Path) -> None:
    config = """
automation:
  - id: slow
    triggers: [{trigger: event, event_type: go}]
    actions:
      - action: test.record
        data: {value: started}
      - wait_template: "{{ false }}"
      - action: test.record
        data: {value: never}
"""
    async with running(config_dir, config) as (host, rec):
        host.bus.fire("go")
        await rec.wait(1)
        await wait_until(lambda: host.states.get("automation.slow").attributes["current"] == 1)
        await host.services.call("automation", "turn_off", {"entity_id": "automation.slow"})
        await wait_until(lambda: host.states.get("automation.slow").attributes["current"] == 0)
        assert any(t.script_execution == "cancelled"
                   for t in trace_store(host).list("automation", "slow"))
        await anyio.lowlevel.checkpoint()
        assert rec.values() == ["started"]


async def test_a_user_cannot_lend_an_automation_their_missing_rights(config_dir: Path) -> None:
    """automation.trigger and script.turn_on run with the caller's user in the context:
    an action the user may not call is refused inside the run (the trace says so);
    a state trigger runs as the system."""
    from gatehouse.core import Context
    from gatehouse.core.permissions import Permissions

    config = """
automation:
  - id: publisher
    triggers: [{trigger: event, event_type: go}]
    actions:
      - action: test.raw
      - action: test.record
        data: {value: after}
"""
    async with running(config_dir, config) as (host, rec):
        host.services.register("test", "raw", lambda call: None, admin_only=True)
        host.services.set_permissions({"u": Permissions.of(
            "user", {"read": ["automation.*"], "control": ["automation.*"],
                     "services": ["automation.*", "test.*"]}, "u")}.get)
        await host.services.call("automation", "trigger",
                                 {"entity_id": "automation.publisher"},
                                 context=Context(user_id="u"))
        await wait_until(lambda: any(t.script_execution == "error"
                                     for t in trace_store(host).list("automation")))
        (run,) = trace_store(host).list("automation", "publisher")
        assert "admin" in (run.error or "")
        host.bus.fire("go")  # the system: allowed
        await rec.wait(1)
