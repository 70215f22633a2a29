"""Over the web server: webhooks, traces (``trace/list``, ``trace/get`` as Home
Assistant's), and the editor's commands that write automations.yaml and reload."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from aiohttp import ClientSession
from autotools import web_running

from gatehouse.core.testing import wait_until
from gatehouse.integrations.script.api import trace_store

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

HOOKED = """
automation:
  - id: hooked
    alias: Hooked
    triggers:
      - trigger: webhook
        webhook_id: s3cret-hook-id-0123456789
      - trigger: webhook
        webhook_id: remote-ok-id-0123456789
        local_only: false
        allowed_methods: [GET]
    conditions:
      - "{{ trigger.json is none or trigger.json.level > 1 }}"
    actions:
      - action: test.record
        data:
          value: "{{ trigger.json.level if trigger.json else trigger.query.x }}"
"""


async def test_webhook_trigger(config_dir: Path) -> None:
    async with web_running(config_dir, HOOKED) as (_host, rec, _socket, base, _tokens), \
            ClientSession(base_url=base) as http:
        for body in ({"level": 1}, {"level": 5}):
            async with http.post("/api/webhook/s3cret-hook-id-0123456789", json=body) as r:
                assert r.status == 200
        async with http.post("/api/webhook/unknown-id", json={"level": 9}) as r:
            assert r.status == 200  # unknown ids look like known ones
        async with http.get("/api/webhook/s3cret-hook-id-0123456789") as r:
            assert r.status == 200  # GET is not allowed: ignored
        async with http.get("/api/webhook/remote-ok-id-0123456789?x=7") as r:
            assert r.status == 200
        await rec.wait(2)
        assert rec.values() == [5, 7]


async def test_traces_over_websocket(config_dir: Path) -> None:
    config = """
automation:
  - id: traced
    alias: Traced
    triggers:
      - trigger: state
        entity_id: sensor.v
    conditions:
      - condition: numeric_state
        entity_id: sensor.v
        above: 10
    actions:
      - variables: {doubled: "{{ trigger.to_state.state | int * 2 }}"}
      - if: "{{ doubled > 30 }}"
        then:
          - action: test.record
            data: {value: "{{ doubled }}"}
        else:
          - action: test.fail
"""
    async with web_running(config_dir, config) as (host, rec, socket, _base, _tokens):
        host.states.set("sensor.v", "5")    # failed_conditions
        host.states.set("sensor.v", "12")   # error (test.fail)
        host.states.set("sensor.v", "40")   # finished
        await rec.wait(1)
        store = trace_store(host)
        await wait_until(lambda: [t.state for t in store.list("automation")] == ["stopped"] * 3)
        runs = await socket.result("trace/list", domain="automation", item_id="traced")
        assert [r["script_execution"] for r in runs] == ["failed_conditions", "error",
                                                          "finished"]
        assert runs[1]["error"] and "device said no" in runs[1]["error"]
        assert runs[2]["trigger"] == "state of sensor.v"
        full = await socket.result("trace/get", domain="automation", item_id="traced",
                                   run_id=runs[2]["run_id"])
        steps = full["trace"]
        assert set(steps) >= {"trigger/0", "condition/0", "action/0", "action/1",
                              "action/1/if/condition/0", "action/1/then/0"}
        assert steps["condition/0"][0]["result"]["result"] is True
        assert steps["action/1"][0]["result"] == {"choice": "then"}
        assert steps["action/1/then/0"][0]["result"]["params"]["service_data"] == {
            "value": 80}
        assert steps["trigger/0"][0]["changed_variables"]["trigger"]["to_state"][
            "state"] == "40"
        assert full["config"]["id"] == "traced"
        failed = await socket.result("trace/get", domain="automation", item_id="traced",
                                     run_id=runs[1]["run_id"])
        assert "device said no" in failed["trace"]["action/1/else/0"][0]["error"]
        missing = await socket.call("trace/get", domain="automation", item_id="traced",
                                    run_id="nope")
        assert not missing["success"]


async def test_editor_saves_into_automations_yaml_and_reloads(config_dir: Path) -> None:
    config = """
automation:
  - id: from_yaml
    triggers: [{trigger: event, event_type: never}]
    actions: []
"""
    async with web_running(config_dir, config) as (host, rec, socket, _base, _tokens):
        saved = await socket.result("automation/save", config={
            "alias": "Made in the UI",
            "triggers": [{"trigger": "event", "event_type": "ui_go"}],
            "actions": [{"action": "test.record", "data": {"value": "ui"}}],
        })
        key = saved["id"]
        written = yaml.safe_load((config_dir / "automations.yaml").read_text())
        assert written[0]["id"] == key and written[0]["alias"] == "Made in the UI"
        await wait_until(lambda: host.states.get("automation.made_in_the_ui") is not None)
        host.bus.fire("ui_go")
        await rec.wait(1)
        listed = await socket.result("automation/list")
        by_id = {a["id"]: a for a in listed["automations"]}
        assert by_id[key]["editable"] and not by_id["from_yaml"]["editable"]
        refused = await socket.call("automation/save", automation_id="from_yaml", config={
            "triggers": [{"trigger": "event", "event_type": "x"}], "actions": []})
        assert not refused["success"] and "configuration.yaml" in refused["error"]["message"]
        bad = await socket.call("automation/save", config={
            "triggers": [{"trigger": "nonsense"}], "actions": []})
        assert not bad["success"] and "unknown trigger 'nonsense'" in bad["error"]["message"]
        got = await socket.result("automation/config", automation_id=key)
        assert got["config"]["alias"] == "Made in the UI"
        by_entity = await socket.result("automation/config",
                                        entity_id="automation.made_in_the_ui")
        assert by_entity["config"] == got["config"]  # Home Assistant's form of the call
        assert "alias: Made in the UI" in got["yaml"]
        edited = got["yaml"].replace("Made in the UI", "Edited as YAML")
        await socket.result("automation/save", automation_id=key, yaml=edited)
        # the entity keeps its id (same unique id), its name follows the alias
        await wait_until(lambda: host.states.get("automation.made_in_the_ui").attributes[
            "friendly_name"] == "Edited as YAML")
        broken = await socket.call("automation/save", automation_id=key, yaml="alias: [")
        assert not broken["success"] and "<pasted>" in broken["error"]["message"]
        await socket.result("automation/delete", automation_id=key)
        await wait_until(lambda: host.states.get("automation.made_in_the_ui") is None)
        assert yaml.safe_load((config_dir / "automations.yaml").read_text()) == []


async def test_home_assistant_rest_config_api(config_dir: Path) -> None:
    async with web_running(config_dir, "automation:\n") as (host, rec, _socket, base, tokens), \
            ClientSession(base_url=base) as http:
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        user = {"Authorization": f"Bearer {tokens['user']}"}
        url = "/api/config/automation/config/rest_one"
        body = {"alias": "Over REST", "trigger": [{"platform": "event", "event_type": "r"}],
                "action": [{"service": "test.record", "data": {"value": "rest"}}]}
        async with http.post(url, json=body, headers=user) as r:
            assert r.status == 403
        async with http.post(url, json=body, headers=admin) as r:
            assert r.status == 200 and await r.json() == {"result": "ok"}
        await wait_until(lambda: host.states.get("automation.over_rest") is not None)
        host.bus.fire("r")
        await rec.wait(1)
        async with http.get(url, headers=admin) as r:
            assert (await r.json())["alias"] == "Over REST"
        async with http.post(url, json={"trigger": []}, headers=admin) as r:
            assert r.status == 400 and "trigger" in (await r.json())["message"]
        async with http.delete(url, headers=admin) as r:
            assert r.status == 200
        async with http.get(url, headers=admin) as r:
            assert r.status == 404
        # Regression: these routes read the body with aiohttp's request.json() (no depth
        # limit): JSON nested 100,000 deep was a RecursionError, a 500 with a traceback.
        deep = b"[" * 100_000 + b"]" * 100_000
        for path in (url, "/api/config/script/config/deep_one"):
            async with http.post(path, data=deep, headers={
                    **admin, "Content-Type": "application/json"}) as r:
                assert r.status == 400, (path, r.status)
                assert "invalid JSON" in (await r.json())["message"]
