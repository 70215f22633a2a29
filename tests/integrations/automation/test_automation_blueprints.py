"""Blueprints: the shipped ones, instances (use_blueprint), input checks against
selectors, what a blueprint lacks, and import over the WebSocket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from autotools import running, web_running

from gatehouse.core.helpers import load_yaml
from gatehouse.core.testing import make_host, wait_until
from gatehouse.integrations.script.api import BlueprintError, trace_store
from gatehouse.integrations.script.blueprint import (
    SHIPPED_DIR,
    check_inputs,
    instantiate,
    load_blueprint_file,
    missing_features,
    parse_blueprint,
)
from gatehouse.integrations.script.triggers import trigger_platforms

pytestmark = pytest.mark.anyio

SHIPPED = sorted(p.relative_to(SHIPPED_DIR).as_posix() for p in SHIPPED_DIR.rglob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED)
def test_shipped_blueprints_load(path: str) -> None:
    blueprint = load_blueprint_file(SHIPPED_DIR / path, path)
    assert blueprint.domain == path.split("/", maxsplit=1)[0]
    assert blueprint.source_url and blueprint.description


def test_template_blueprint_fits_the_template_integration(tmp_path: Path) -> None:
    from gatehouse.integrations.template.config import BLOCK_SCHEMA

    blueprint = load_blueprint_file(SHIPPED_DIR / "template/gatehouse/value_in_range.yaml",
                                    "value_in_range.yaml")
    host = make_host(tmp_path)
    body = instantiate(host, blueprint, {"source": "sensor.level", "low": 10, "high": 90})
    block = BLOCK_SCHEMA(body)
    assert "binary_sensor" in block


THRESHOLD = """
automation:
  - id: tank_high
    alias: Tank high
    use_blueprint:
      path: gatehouse/threshold_alarm.yaml
      input:
        sensor: sensor.tank_level
        high: 90
        low: 80
        hold: {milliseconds: 50}
        alarm_actions:
          - action: test.record
            data: {value: "alarm {{ states('sensor.tank_level') }}"}
        clear_actions:
          - action: test.record
            data: {value: clear}
"""


async def test_threshold_alarm_with_hysteresis(config_dir: Path) -> None:
    async with running(config_dir, THRESHOLD) as (host, rec):
        assert (config_dir / "blueprints/automation/gatehouse/threshold_alarm.yaml").is_file()
        host.states.set("sensor.tank_level", "50")
        host.states.set("sensor.tank_level", "95")
        host.states.set("sensor.tank_level", "85")   # inside the band: cancels the hold
        host.states.set("sensor.tank_level", "96")
        await rec.wait(1)
        host.states.set("sensor.tank_level", "85")   # band: no clear
        host.states.set("sensor.tank_level", "70")
        await rec.wait(2)
        assert rec.values() == ["alarm 96", "clear"]
        runs = trace_store(host).list("automation", "tank_high")
        assert runs[-1].blueprint_inputs is not None and runs[-1].blueprint_inputs["high"] == 90


async def test_shipped_blueprints_are_copied_once(config_dir: Path) -> None:
    async with running(config_dir, "automation:\n") as (_host, _rec):
        copied = config_dir / "blueprints/automation/gatehouse"
        assert {p.name for p in copied.iterdir()} >= {"threshold_alarm.yaml",
                                                      "device_offline.yaml"}
        (copied / "device_offline.yaml").unlink()  # the user removes one
    async with running(config_dir, "automation:\n") as (_host, _rec):
        assert not (copied / "device_offline.yaml").exists()
        assert (config_dir / "blueprints/script/gatehouse/pulse_switch.yaml").is_file()


async def test_device_offline_blueprint(config_dir: Path) -> None:
    config = """
automation:
  - id: offline
    use_blueprint:
      path: gatehouse/device_offline.yaml
      input:
        watched: [sensor.plc_a, sensor.plc_b]
        grace: {milliseconds: 30}
        offline_actions: [{action: test.record, data: {value: "off {{ entity_id }}"}}]
        online_actions: [{action: test.record, data: {value: "on {{ entity_id }}"}}]
"""
    async with running(config_dir, config) as (host, rec):
        host.states.set("sensor.plc_b", "1")
        host.states.set("sensor.plc_b", "unavailable")
        await rec.wait(1)
        host.states.set("sensor.plc_b", "2")
        await rec.wait(2)
        assert rec.values() == ["off sensor.plc_b", "on sensor.plc_b"]


async def test_mirror_blueprint_calls_opcua_write(config_dir: Path) -> None:
    config = """
automation:
  - id: mirror
    use_blueprint:
      path: gatehouse/modbus_opcua_mirror.yaml
      input:
        source: sensor.plant_tank_level
        node: "nsu=urn:gatehouse:sim;s=Tank.Level"
        deadband: 1
"""
    async with running(config_dir, config) as (host, _rec):
        writes: list[dict[str, Any]] = []
        host.services.register("opcua", "write", lambda call: writes.append(dict(call.data)))
        for value in ("10", "10.5", "unavailable", "12", "12.2", "20"):
            host.states.set("sensor.plant_tank_level", value)
        await wait_until(lambda: len(writes) >= 3)
        assert [w["value"] for w in writes] == [10.0, 12.0, 20.0]
        assert writes[0]["node"] == "nsu=urn:gatehouse:sim;s=Tank.Level"


async def test_schema_violation_blueprint(config_dir: Path) -> None:
    config = """
automation:
  - id: violations
    use_blueprint:
      path: gatehouse/schema_violation_alert.yaml
      input:
        counter: sensor.guard_telemetry_quarantined
        minimum: 2
        alert_actions: [{action: test.record, data: {value: "{{ new_violations }}"}}]
"""
    async with running(config_dir, config) as (host, rec):
        for count in ("0", "1", "4", "5", "9"):
            host.states.set("sensor.guard_telemetry_quarantined", count)
        await rec.wait(2)
        assert rec.values() == [3, 4]


async def test_script_blueprint(config_dir: Path) -> None:
    config = """
script:
  pulse_pump:
    use_blueprint:
      path: gatehouse/pulse_switch.yaml
      input:
        switch: switch.pump
        duration: {milliseconds: 10}
"""
    async with running(config_dir, config) as (host, _rec):
        seen: list[str] = []
        host.services.register("switch", "turn_on", lambda c: seen.append("on"))
        host.services.register("switch", "turn_off", lambda c: seen.append("off"))
        await host.services.call("script", "pulse_pump")
        assert seen == ["on", "off"]


async def test_bad_inputs_are_listed_and_the_rest_loads(config_dir: Path) -> None:
    config = THRESHOLD + """
  - id: wrong
    use_blueprint:
      path: gatehouse/threshold_alarm.yaml
      input:
        sensor: switch.not_a_sensor
        high: lots
        surprise: 1
"""
    async with running(config_dir, config) as (host, _rec):
        assert host.states.get("automation.tank_high") is not None
        assert host.states.get("automation.wrong") is None
        from gatehouse.integrations.automation.services import LOADED

        (runtime,) = LOADED.runtimes(host).values()
        (wrong,) = runtime.invalid
        assert wrong.error is not None
        for part in ("unknown input(s): surprise", "input 'low' is required",
                     "switch.not_a_sensor does not match the selector (domain sensor)",
                     "input 'high': expected a number, got 'lots'"):
            assert part in wrong.error, wrong.error
        assert "configuration.yaml:" in wrong.error


def test_selectors_table(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    host.states.set("sensor.t", "1", {"device_class": "temperature"})
    host.states.set("sensor.p", "1", {"device_class": "pressure"})
    blueprint = parse_blueprint(load_yaml(_write(tmp_path, """
blueprint:
  name: Every selector
  domain: automation
  input:
    temp: {selector: {entity: {domain: sensor, device_class: temperature}}}
    many: {selector: {entity: {multiple: true, filter: [{domain: sensor}, {domain: switch}]}}}
    target: {selector: {target: {entity: {domain: sensor}}}}
    number: {selector: {number: {min: 0, max: 10}}}
    flag: {selector: {boolean: {}}}
    choice: {selector: {select: {options: [a, {value: b, label: B}]}}}
    text: {selector: {text: {}}}
    when: {selector: {time: {}}}
    hold: {selector: {duration: {}}}
    anything: {selector: {object: {}}}
    tpl: {selector: {template: {}}}
    acts: {selector: {action: {}}}
    trig: {selector: {trigger: {}}}
    cond: {selector: {condition: {}}}
triggers: !input trig
actions: !input acts
""")), "every.yaml")
    good = {"temp": "sensor.t", "many": ["sensor.p", "switch.x"],
            "target": {"entity_id": ["sensor.t"]}, "number": 5, "flag": True,
            "choice": "b", "text": "hi", "when": "07:30", "hold": {"seconds": 3},
            "anything": {"x": [1]}, "tpl": "{{ 1 }}", "acts": [{"action": "a.b"}],
            "trig": [{"platform": "state", "entity_id": "sensor.t"}],
            "cond": ["{{ true }}"]}
    assert check_inputs(host, blueprint, good) == []
    bad = {"temp": "sensor.p", "many": "sensor.t", "target": {"entity_id": "switch.x"},
           "number": 11, "flag": "yes", "choice": "c", "text": ["x"], "when": "7h",
           "hold": "soon", "tpl": 5, "acts": [{"nonsense": 1}], "trig": [{"x": 1}],
           "cond": [5], "anything": None}
    problems = " | ".join(check_inputs(host, blueprint, bad))
    for name in ("temp", "target", "number", "flag", "choice", "text", "when", "hold",
                 "tpl", "acts", "trig", "cond"):
        assert f"input '{name}'" in problems, name


def test_missing_features_are_listed(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    blueprint = parse_blueprint(load_yaml(_write(tmp_path, """
blueprint:
  name: From elsewhere
  domain: automation
  input:
    light: {selector: {entity: {domain: light}}}
    color: {selector: {color_wheel: {}}}
triggers:
  - trigger: sun
    event: sunset
  - trigger: state
    entity_id: !input light
actions:
  - action: light.turn_on
    target: {entity_id: !input light}
  - action: notify.mobile_app
""")), "elsewhere.yaml")
    assert missing_features(host, blueprint, trigger_platforms()) == [
        "selector 'color_wheel' (input color)", "service light.turn_on",
        "service notify.mobile_app", "trigger 'sun'"]


def test_blueprint_format_errors(tmp_path: Path) -> None:
    with pytest.raises(BlueprintError, match="undefined input"):
        parse_blueprint(load_yaml(_write(tmp_path, """
blueprint: {name: X, domain: automation, input: {a: {}}}
triggers: !input b
""")), "x.yaml")
    with pytest.raises(BlueprintError, match=r"blueprint\.domain"):
        parse_blueprint({"blueprint": {"name": "X", "domain": "light"}}, "x.yaml")


async def test_import_preview_save_and_use_over_websocket(config_dir: Path) -> None:
    text = (SHIPPED_DIR / "automation/gatehouse/threshold_alarm.yaml").read_text()
    text = text.replace("Threshold alarm with hysteresis", "My alarm")
    async with web_running(config_dir, "automation:\n") as (host, rec, socket, _b, _t):
        preview = await socket.result("blueprint/import", yaml=text)
        assert preview["metadata"]["name"] == "My alarm"
        names = [i["name"] for i in preview["metadata"]["inputs"]]
        assert names == ["sensor", "high", "low", "hold", "alarm_actions", "clear_actions"]
        assert preview["metadata"]["inputs"][1]["section"] == "limits"
        assert preview["missing"] == []
        saved = await socket.result("blueprint/save", yaml=text, path="mine/alarm.yaml")
        assert saved["path"] == "mine/alarm.yaml"
        again = await socket.call("blueprint/save", yaml=text, path="mine/alarm.yaml")
        assert not again["success"] and "exists already" in again["error"]["message"]
        listed = await socket.result("blueprint/list", domain="automation")
        assert "mine/alarm.yaml" in listed and "gatehouse/device_offline.yaml" in listed
        broken = await socket.call("blueprint/import", yaml="blueprint: [1")
        assert not broken["success"]
        new = await socket.result("automation/save", config={
            "alias": "From blueprint",
            "use_blueprint": {"path": "mine/alarm.yaml", "input": {
                "sensor": "sensor.x", "high": 5, "low": 1, "hold": 0,
                "alarm_actions": [{"action": "test.record", "data": {"value": "up"}}]}}})
        await wait_until(lambda: host.states.get("automation.from_blueprint") is not None)
        host.states.set("sensor.x", "0")
        host.states.set("sensor.x", "9")
        await rec.wait(1)
        config = await socket.result("automation/config", automation_id=new["id"])
        assert config["config"]["use_blueprint"]["path"] == "mine/alarm.yaml"
        refused = await socket.call("automation/save", config={
            "use_blueprint": {"path": "mine/alarm.yaml", "input": {"sensor": "sensor.x"}}})
        assert not refused["success"] and "input 'high' is required" in \
            refused["error"]["message"]
        await socket.result("blueprint/delete", domain="automation", path="mine/alarm.yaml")
        # text from the browser cannot read the box (files, secrets, the environment)
        for tag in ("!include /etc/hostname", "!secret password", "!env_var HOME"):
            sneaky = text.replace("name: My alarm", f"name: {tag}")
            for kind in ("blueprint/import", "blueprint/save"):
                answer = await socket.call(kind, yaml=sneaky)
                assert not answer["success"] and "is not allowed" in answer["error"][
                    "message"], (kind, tag)
            answer = await socket.call("automation/save", yaml=f"alias: {tag}\n")
            assert not answer["success"] and "is not allowed" in answer["error"]["message"]


def _write(directory: Path, text: str) -> Path:
    path = directory / "bp.yaml"
    path.write_text(text, encoding="utf-8")
    return path
