"""The WebSocket API as ``homeassistant-api``'s ``AsyncWebsocketClient`` uses it (a
second, independent HA WebSocket client beside ``hass-client``): auth and
supported_features phases, ping, states, services, events, config, render_template."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from aiohttp.test_utils import TestClient
from hatools import base_url
from homeassistant_api import AsyncWebsocketClient

from gatehouse.core import Host
from gatehouse.core.http.core_config import HA_PROTOCOL_VERSION

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

Client = TestClient[Any, Any]


def ws_url(client: Client) -> str:
    return base_url(client).replace("http://", "ws://") + "/api/websocket"


async def test_homeassistant_api_websocket_client(owner: Client, token: str, host: Host) -> None:
    host.states.set("sensor.boiler", "20")
    async with AsyncWebsocketClient(ws_url(owner), token) as ws:
        assert await ws.ping_latency() >= 0
        assert await ws.get_rendered_template("{{ states('sensor.boiler') | int * 3 }}") == "60"
        config = await ws.get_config()
        assert config["version"] == HA_PROTOCOL_VERSION and "time_zone" in config
        states = await ws.get_states()
        assert {s.entity_id for s in states} == {s.entity_id for s in host.states.all()}
        domains = await ws.get_domains()
        assert "toggle" in domains["switch"].services
        before = host.states.get("switch.demo_switch").state  # type: ignore[union-attr]
        await ws.trigger_service("switch", "toggle", entity_id="switch.demo_switch")
        assert host.states.get("switch.demo_switch").state != before  # type: ignore[union-attr]
        async with ws.listen_events("ws_client_test") as events:  # type: ignore[attr-defined]
            host.bus.fire("ws_client_test", {"n": 1})
            with anyio.fail_after(10):
                async for event in events:
                    assert event.event_type == "ws_client_test" and event.data == {"n": 1}
                    break
