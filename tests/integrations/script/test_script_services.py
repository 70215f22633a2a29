"""Scripts: script.<key> (waits, fields, response), turn_on/turn_off/toggle, the entity,
reload, scripts.yaml written by the editor, run_actions for other integrations."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "automation"))
from autotools import running, web_running, write

from gatehouse.core import Context
from gatehouse.core.testing import wait_until
from gatehouse.integrations.script.api import run_actions, trace_store

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

SCRIPTS = """
script: !include scripts.yaml
"""
SCRIPTS_YAML = """
greet:
  alias: Greet somebody
  fields:
    who: {description: name, default: world}
  sequence:
    - action: test.record
      data: {value: "hello {{ who }}"}
    - variables: {answer: {greeting: "hello {{ who }}"}}
    - stop: done
      response_variable: answer
hold:
  mode: parallel
  max: 3
  sequence:
    - action: test.record
      data: {value: holding}
    - wait_template: "{{ is_state('switch.release', 'on') }}"
    - action: test.record
      data: {value: released}
"""


async def test_script_service_fields_and_response(config_dir: Path) -> None:
    async with running(config_dir, SCRIPTS, scripts_yaml=SCRIPTS_YAML) as (host, rec):
        state = host.states.get("script.greet")
        assert state.state == "off" and state.attributes["friendly_name"] == "Greet somebody"
        response = await host.services.call("script", "greet", return_response=True)
        assert response == {"greeting": "hello world"}
        await host.services.call("script", "greet", {"who": "Ada"})
        assert rec.values() == ["hello world", "hello Ada"]
        assert host.states.get("script.greet").attributes["last_triggered"] is not None
        description = host.services.description("script", "greet")
        assert description["name"] == "Greet somebody" and "who" in description["fields"]


async def test_turn_on_off_toggle_and_the_entity(config_dir: Path) -> None:
    async with running(config_dir, SCRIPTS, scripts_yaml=SCRIPTS_YAML) as (host, rec):
        await host.services.call("script", "turn_on", {"entity_id": "script.hold"})
        await rec.wait(1)
        await wait_until(lambda: host.states.get("script.hold").state == "on")
        await host.services.call("script", "toggle", {"entity_id": ["script.hold"]})
        assert host.states.get("script.hold").state == "off"
        await host.services.call("script", "toggle", {"entity_id": "script.hold"})
        await host.services.call("script", "turn_on", {"entity_id": "script.hold"})
        await rec.wait(3)
        await wait_until(lambda: host.states.get("script.hold").attributes["current"] == 2)
        host.states.set("switch.release", "on")
        await rec.wait(5)
        assert rec.values().count("released") == 2
        await host.services.call("script", "turn_off", {"entity_id": "all"})
        executions = [t.script_execution for t in trace_store(host).list("script", "hold")]
        assert executions.count("cancelled") == 1 and executions.count("finished") == 2


async def test_reload_and_the_editor(config_dir: Path) -> None:
    async with web_running(config_dir, SCRIPTS, scripts_yaml=SCRIPTS_YAML) as (
            host, rec, socket, _base, _tokens):
        await host.services.call("script", "greet")
        rec.calls.clear()
        write(config_dir, "scripts.yaml", SCRIPTS_YAML + """
added:
  sequence: [{action: test.record, data: {value: added}}]
""")
        greeted = host.states.get("script.greet").attributes["last_triggered"]
        await host.services.call("script", "reload")
        assert host.states.get("script.greet").attributes["last_triggered"] == greeted
        await host.services.call("script", "added")
        assert rec.values() == ["added"]
        await socket.result("script/save", key="from_ui", config={
            "alias": "From the UI", "sequence": [{"action": "test.record",
                                                   "data": {"value": "ui"}}]})
        await host.services.call("script", "from_ui")
        assert rec.values() == ["added", "ui"]
        listed = await socket.result("script/list")
        assert {s["key"] for s in listed["scripts"]} == {"greet", "hold", "added", "from_ui"}
        bad = await socket.call("script/save", key="broken", config={"sequence": [
            {"repeat": {"sequence": []}}]})
        assert not bad["success"] and "repeat needs exactly one of" in bad["error"]["message"]
        await socket.result("script/delete", key="from_ui")
        assert not host.services.has("script", "from_ui")


async def test_run_actions_for_other_integrations(config_dir: Path) -> None:
    async with running(config_dir, "automation:\n") as (host, rec):
        result = await run_actions(host, [
            {"service": "test.record", "data": {"value": "{{ x + 1 }}"}},
            {"stop": "bye", "response_variable": "x"},
        ], {"x": 41}, Context())
        assert rec.values() == [42]
        assert result.execution == "finished" and result.response == 41


async def test_home_assistant_rest_config_api_for_scripts(config_dir: Path) -> None:
    from aiohttp import ClientSession

    async with web_running(config_dir, SCRIPTS, scripts_yaml=SCRIPTS_YAML) as (
            host, rec, _socket, base, tokens), ClientSession(base_url=base) as http:
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        url = "/api/config/script/config/rest_script"
        body = {"alias": "Over REST", "sequence": [{"service": "test.record",
                                                    "data": {"value": "rest"}}]}
        async with http.post(url, json=body, headers=admin) as r:
            assert r.status == 200, await r.text()
        await host.services.call("script", "rest_script")
        assert rec.values() == ["rest"]
        async with http.get("/api/config/script/config/greet", headers=admin) as r:
            assert (await r.json())["alias"] == "Greet somebody"
        async with http.post(url, json={"sequence": "nope"}, headers=admin) as r:
            assert r.status == 400
        async with http.delete(url, headers=admin) as r:
            assert r.status == 200
        assert not host.services.has("script", "rest_script")
