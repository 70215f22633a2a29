"""Template entities made in the UI: the form, and the live preview over the WebSocket.

A real host with its web server on a loopback port; the preview is asked over an
authenticated WebSocket as the browser does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from gatehouse.core import ConfigEntryState, Host
from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.testing import make_host, state_of, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

CONFIG = """\
gatehouse:
  control_socket: false
http:
  server_host: 127.0.0.1
  server_port: 0
template: []
"""


@pytest.fixture
async def web(config_dir: Path) -> AsyncIterator[tuple[Host, str, dict[str, str]]]:
    (config_dir / "configuration.yaml").write_text(CONFIG, encoding="utf-8")
    host = make_host(config_dir, packages={"template": "gatehouse.integrations.template",
                                           "script": "gatehouse.integrations.script",
                                           "mqtt": "gatehouse.integrations.mqtt"})
    async with host.running():
        server = host.data.get(HTTP_SERVER)
        assert server is not None
        tokens = {}
        for role in ("admin", "user"):
            user = await server.runtime.auth.create_user(f"t_{role}", "a password", role=role)
            tokens[role] = (await server.runtime.auth.create_token(user, "tests"))[1]
        yield host, f"http://127.0.0.1:{server.port}", tokens


async def ws_call(base: str, token: str, **message: Any) -> dict[str, Any]:
    async with ClientSession(base_url=base) as http, http.ws_connect("/api/websocket") as ws:
        assert (await ws.receive_json(timeout=10))["type"] == "auth_required"
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await ws.receive_json(timeout=10))["type"] == "auth_ok"
        await ws.send_json({"id": 1, **message})
        while True:
            answer: dict[str, Any] = await ws.receive_json(timeout=10)
            if answer.get("id") == 1:
                return answer


async def test_the_form_makes_a_live_template_sensor(
    web: tuple[Host, str, dict[str, str]],
) -> None:
    host, _, _ = web
    host.states.set("sensor.raw", "10")
    flow = host.config_entries.flow
    form = await flow.init("template")
    assert form["type"] == "form"
    refused = await flow.configure(form["flow_id"], {
        "template_type": "sensor", "name": "Doubled", "state": "{{ states('sensor.raw' }}"})
    assert refused["type"] == "form"
    assert "line 1" in refused["errors"]["state"]
    done = await flow.configure(form["flow_id"], {
        "template_type": "sensor", "name": "Doubled", "unit_of_measurement": "W",
        "state": "{{ states('sensor.raw') | int * 2 }}"})
    assert done["type"] == "create_entry"
    entry = next(e for e in host.config_entries.entries("template") if e.title == "Doubled")
    assert entry.state is ConfigEntryState.LOADED
    assert state_of(host, "sensor.doubled") == "20"
    host.states.set("sensor.raw", "21")
    assert state_of(host, "sensor.doubled") == "42"
    assert host.entity_registry.entity_id_for("sensor", "template", entry.entry_id) \
        == "sensor.doubled"
    # unloading stops the tracking: no more writes
    await host.config_entries.unload(entry.entry_id)
    host.states.set("sensor.raw", "1")
    assert state_of(host, "sensor.doubled") != "2"


async def test_the_options_change_the_template_and_reload(
    web: tuple[Host, str, dict[str, str]],
) -> None:
    host, _, _ = web
    host.states.set("sensor.raw", "10")
    flow = host.config_entries.flow
    form = await flow.init("template")
    await flow.configure(form["flow_id"], {
        "template_type": "sensor", "name": "Scaled", "unit_of_measurement": "W",
        "state": "{{ states('sensor.raw') | int * 2 }}"})
    assert state_of(host, "sensor.scaled") == "20"
    entry = next(e for e in host.config_entries.entries("template") if e.title == "Scaled")
    options = host.config_entries.options
    step = await options.init(entry.entry_id)
    refused = await options.configure(step["flow_id"], {"state": "{{ oops( }}"})
    assert "line 1" in refused["errors"]["state"]
    done = await options.configure(step["flow_id"], {
        "state": "{{ states('sensor.raw') | int * 3 }}", "unit_of_measurement": "kW"})
    assert done["type"] == "create_entry"
    await wait_until(lambda: state_of(host, "sensor.scaled") == "30")
    assert host.states.get("sensor.scaled").attributes["unit_of_measurement"] == "kW"  # type: ignore[union-attr]
    yaml_entry = next(e for e in host.config_entries.entries("template")
                      if e.unique_id == "yaml")
    aborted = await options.init(yaml_entry.entry_id)
    assert aborted == {**aborted, "type": "abort", "reason": "yaml_managed"}


async def test_a_binary_sensor_from_the_form(web: tuple[Host, str, dict[str, str]]) -> None:
    host, _, _ = web
    host.states.set("sensor.raw", "95")
    flow = host.config_entries.flow
    form = await flow.init("template")
    await flow.configure(form["flow_id"], {
        "template_type": "binary_sensor", "name": "High", "device_class": "problem",
        "state": "{{ states('sensor.raw') | float(0) > 90 }}"})
    assert state_of(host, "binary_sensor.high") == "on"
    host.states.set("sensor.raw", "5")
    assert state_of(host, "binary_sensor.high") == "off"


async def test_the_preview_renders_over_the_websocket(
    web: tuple[Host, str, dict[str, str]],
) -> None:
    host, base, tokens = web
    host.states.set("sensor.raw", "7")
    answer = await ws_call(base, tokens["admin"], type="template/preview",
                           template_type="sensor", unit_of_measurement="W",
                           state="{{ states('sensor.raw') | int * 3 }}")
    assert answer["success"], answer
    assert answer["result"] == {"state": "21 W", "error": None, "entities": ["sensor.raw"],
                                "domains": [], "all_states": False}
    binary = await ws_call(base, tokens["admin"], type="template/preview",
                           template_type="binary_sensor", state="{{ states.sensor | count }}")
    assert binary["result"]["state"] == "on" and binary["result"]["domains"] == ["sensor"]
    broken = await ws_call(base, tokens["admin"], type="template/preview",
                           state="ok\n{{ 'x' | float }}")
    assert broken["result"]["state"] is None
    assert "line 2" in broken["result"]["error"]


async def test_the_preview_is_for_admins(web: tuple[Host, str, dict[str, str]]) -> None:
    _, base, tokens = web
    answer = await ws_call(base, tokens["user"], type="template/preview", state="{{ 1 }}")
    assert answer["success"] is False
    assert answer["error"]["code"] == "unauthorized"
