"""The REST API as ``homeassistant-api`` and ``hass-cli`` use it: states, services,
events, config, components, the error log; HA's status codes for an unknown service
(400) and an unknown path (404, whatever the method)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hatools import base_url, hass_cli
from homeassistant_api import AsyncClient
from homeassistant_api.errors import EndpointNotFoundError, RequestError

from gatehouse.core import Host
from gatehouse.core.http.core_config import HA_PROTOCOL_VERSION
from gatehouse.core.testing import wait_until

pytestmark = pytest.mark.anyio

Client = TestClient[Any, Any]


async def test_states_services_events_with_homeassistant_api(
    owner: Client, token: str, host: Host
) -> None:
    async with AsyncClient(base_url(owner) + "/api", token) as api:
        states = await api.get_states()
        assert {s.entity_id for s in states} == {s.entity_id for s in host.states.all()}
        switch = await api.get_state(entity_id="switch.demo_switch")
        assert switch.state in ("on", "off")
        domains = await api.get_domains()
        assert "reset_counter" in domains["demo"].services
        changed = await api.trigger_service("switch", "toggle", entity_id="switch.demo_switch")
        assert [s.entity_id for s in changed] == ["switch.demo_switch"]
        assert changed[0].state != switch.state
        seen: list[Any] = []
        host.bus.listen("ha_client_test", seen.append)
        message = await api.fire_event("ha_client_test", answer=42)
        assert "fired" in message
        await wait_until(lambda: seen)
        assert seen[0].data == {"answer": 42}
        events = await api.get_events()
        assert any(e.event == "ha_client_test" for e in events)
        with pytest.raises(RequestError):  # HA: 400 for an unknown service
            await api.trigger_service("demo", "no_such_service")
        with pytest.raises(EndpointNotFoundError):
            await api.request("no/such/path", method="POST")  # type: ignore[arg-type]


async def test_config_components_and_error_log(owner: Client, token: str, host: Host) -> None:
    logging.getLogger("gatehouse.test_ha").warning("a line for the error log")
    async with AsyncClient(base_url(owner) + "/api", token) as api:
        config = await api.get_config()
        for key in ("latitude", "longitude", "elevation", "time_zone", "unit_system",
                    "config_dir", "allowlist_external_dirs", "allowlist_external_urls",
                    "location_name", "components", "state"):
            assert key in config, key
        assert config["version"] == HA_PROTOCOL_VERSION
        assert config["gatehouse_version"]
        assert config["unit_system"]["temperature"] == "°C"
        assert config["config_dir"] == str(host.config_dir)
        components = await api.get_components()
        assert set(components) == set(config["components"]) and "demo" in components
        text = await api.get_error_log()
        assert "[gatehouse.test_ha] a line for the error log" in text


async def test_hass_cli_states_services_events(owner: Client, token: str, host: Host) -> None:
    states = await hass_cli(owner, token, "state", "list")
    assert {s["entity_id"] for s in states} >= {"switch.demo_switch", "sensor.demo_sine"}
    before = host.states.get("switch.demo_switch").state  # type: ignore[union-attr]
    await hass_cli(owner, token, "service", "call", "switch.toggle",
                   "--arguments", "entity_id=switch.demo_switch")
    assert host.states.get("switch.demo_switch").state != before  # type: ignore[union-attr]
    services = await hass_cli(owner, token, "service", "list")  # flattened by hass-cli
    (toggle,) = [s for s in services if (s["domain"], s["service"]) == ("switch", "toggle")]
    assert "target" in toggle and "entity_id" not in toggle["fields"]
    seen: list[Any] = []
    host.bus.listen("cli_event", seen.append)
    await hass_cli(owner, token, "event", "fire", "cli_event", "--json", '{"x": 1}',
                   output="yaml")
    await wait_until(lambda: seen)
    assert seen[0].data == {"x": 1}
    info = await hass_cli(owner, token, "config", "release", output="yaml", check=False)
    assert info[2] == 0 and HA_PROTOCOL_VERSION in info[0]


async def test_websocket_errors_use_home_assistant_codes(owner: Client, token: str) -> None:
    ws = await owner.ws_connect("/api/websocket")
    await ws.send_json({"type": "auth", "access_token": token})
    await ws.receive_json(timeout=5)
    await ws.receive_json(timeout=5)
    asks = [
        ({"type": "call_service", "domain": "demo", "service": "nope"}, "not_found"),
        ({"type": "config/entity_registry/get", "entity_id": "sensor.none"}, "not_found"),
        ({"type": "config/entity_registry/get"}, "invalid_format"),
        ({"type": "config/area_registry/delete", "area_id": "nowhere"}, "not_found"),
        ({"type": "config/entity_registry/update", "entity_id": "switch.demo_switch",
          "new_entity_id": "sensor.other_domain"}, "home_assistant_error"),
        ({"type": "render_template", "template": "{{ 1 +* }}"}, "template_error"),
    ]
    for n, (ask, code) in enumerate(asks, start=1):
        await ws.send_json({"id": n, **ask})
        answer = await ws.receive_json(timeout=5)
        assert answer["success"] is False and answer["error"]["code"] == code, (ask, answer)
    await ws.close()
