"""Templates as Home Assistant clients use them: the ``render_template`` subscription
over the WebSocket (``hass-client``), ``POST /api/template`` (``homeassistant-api``,
``hass-cli template``), admin only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from aiohttp.test_utils import TestClient
from hass_client import HomeAssistantClient
from hass_client.exceptions import FailedCommand
from hatools import base_url, hass_cli
from homeassistant_api import AsyncClient
from homeassistant_api.errors import BadTemplateError

from gatehouse.core import Host
from gatehouse.core.testing import wait_until

pytestmark = pytest.mark.anyio

Client = TestClient[Any, Any]


async def test_render_template_subscription_rerenders_on_a_referenced_change(
    owner: Client, token: str, host: Host
) -> None:
    host.states.set("sensor.boiler", "20", {"unit_of_measurement": "°C"})
    host.states.set("sensor.other", "1")
    events: list[dict[str, Any]] = []
    async with HomeAssistantClient(base_url(owner) + "/api/websocket", token) as ha:
        stop = await ha.subscribe(
            lambda msg: events.append(msg["event"]), "render_template",
            template="{{ states('sensor.boiler') | float * 2 }}",
        )
        await wait_until(lambda: len(events) == 1)
        assert events[0] == {"result": 40.0, "listeners": {
            "all": False, "domains": [], "entities": ["sensor.boiler"], "time": False}}
        host.states.set("sensor.other", "2")  # not read: nothing sent
        host.states.set("sensor.boiler", "21")
        await wait_until(lambda: len(events) == 2)
        assert events[1]["result"] == 42.0
        stop()
        # After the unsubscribe the tracker is gone: a change sends nothing more (the
        # round trip of another command comes after any event it would have caused).
        await wait_until(lambda: not _subscriptions(owner))
        host.states.set("sensor.boiler", "22")
        await ha.send_command("get_config")
        assert len(events) == 2


def _subscriptions(client: Client) -> int:
    from gatehouse.core.http.runtime import RUNTIME_KEY

    runtime = client.app[RUNTIME_KEY]  # type: ignore[index]
    return sum(len(c.subscriptions) for c in runtime.connections)


async def test_render_template_errors(owner: Client, token: str, host: Host) -> None:
    async with HomeAssistantClient(base_url(owner) + "/api/websocket", token) as ha:
        with pytest.raises(FailedCommand) as bad:
            await ha.send_command("render_template", template="{{ 1 +* }}")
        assert "line 1" in str(bad.value)
        events: list[dict[str, Any]] = []
        await ha.subscribe(lambda msg: events.append(msg["event"]), "render_template",
                           template="{{ states('sensor.x') | float }}", strict=True,
                           report_errors=True)
        host.states.set("sensor.x", "3")
        await wait_until(lambda: any("result" in e for e in events))
        assert events[0]["level"] == "ERROR" and events[0]["error"]
        assert events[-1]["result"] == 3.0


async def test_rest_template_with_homeassistant_api_and_hass_cli(
    owner: Client, token: str, host: Host, tmp_path: Path
) -> None:
    host.states.set("sensor.boiler", "20")
    async with AsyncClient(base_url(owner) + "/api", token) as api:
        text = await api.get_rendered_template("{{ states('sensor.boiler') }} °C")
        assert text == "20 °C"
        with pytest.raises(BadTemplateError):
            await api.get_rendered_template("{% if %}")
    source = tmp_path / "t.j2"
    source.write_text("{{ states('sensor.boiler') | int + 1 }}", encoding="utf-8")
    out, _err, code = await hass_cli(owner, token, "template", str(source), output="yaml",
                                     check=False)
    assert code == 0 and out.strip() == "21"
    refused = await owner.post("/api/template", json={"template": "{{ 1 +* }}"},
                               headers={"Authorization": f"Bearer {token}"})
    assert refused.status == 400
    assert (await refused.json())["message"].startswith("Error rendering template:")


async def test_templates_are_for_admins(owner: Client, token: str, host: Host) -> None:
    from httpkit import OWNER  # noqa: F401  (the owner exists: onboarding done)

    runtime_headers = {"Authorization": f"Bearer {token}"}
    made = await owner.post("/api/auth/users", headers=runtime_headers, json={
        "username": "reader", "password": "reader reader reader", "role": "user"})
    assert made.status in (200, 201), await made.text()
    login = await owner.post("/auth/login", json={"username": "reader",
                                                  "password": "reader reader reader"})
    assert login.status == 200, await login.text()
    issued = await owner.post("/api/auth/tokens", json={"name": "r"},
                              headers={"Origin": base_url(owner)})
    user_token = (await issued.json())["token"]
    refused = await owner.post("/api/template", json={"template": "{{ 1 }}"},
                               headers={"Authorization": f"Bearer {user_token}"})
    assert refused.status == 403
    async with HomeAssistantClient(base_url(owner) + "/api/websocket", user_token) as ha:
        with pytest.raises(FailedCommand):
            await ha.send_command("render_template", template="{{ 1 }}")
    with anyio.fail_after(5):
        log = await owner.get("/api/error_log", headers={"Authorization": f"Bearer {user_token}"})
    assert log.status == 403
