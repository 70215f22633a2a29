"""All three Home Assistant clients against one host started as ``gatehouse run`` starts
it: ``configuration.yaml`` with ``http:`` on an ephemeral port, the demo and the
recorder; states, services, events, registries, templates, history and logbook."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from hass_client import HomeAssistantClient
from hatools import HASS_CLI
from homeassistant_api import AsyncClient

from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.testing import make_host, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

CONFIG = """\
gatehouse:
  control_socket: false
  latitude: 48.2
  longitude: 16.37
  time_zone: Europe/Vienna
http:
  server_host: 127.0.0.1
  server_port: 0
recorder:
  commit_interval: 0.05
demo:
  name: Demo
"""


async def _cli(base: str, token: str, *args: str) -> str:
    env = {**os.environ, "HASS_SERVER": base, "HASS_TOKEN": token}
    with anyio.fail_after(60):
        done = await anyio.run_process([str(HASS_CLI), "--no-headers", "-o", "yaml", *args],
                                       env=env, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout.decode()


async def test_three_clients_against_a_running_host(config_dir: Path) -> None:
    (config_dir / "configuration.yaml").write_text(CONFIG, encoding="utf-8")
    host = make_host(config_dir)
    async with host.running():
        server = host.data.get(HTTP_SERVER)
        assert server is not None
        base = f"http://127.0.0.1:{server.port}"
        auth = server.runtime.auth
        admin = await auth.create_user("ha_admin", "a good password", role="admin")
        token = (await auth.create_token(admin, "clients"))[1]
        start = datetime.now(UTC) - timedelta(minutes=5)

        # hass-cli: registries and areas, a service call, a template (REST + WebSocket)
        await _cli(base, token, "area", "create", "Plant room")
        assert "Plant room" in await _cli(base, token, "area", "list")
        assert "switch.demo_switch" in await _cli(base, token, "entity", "list")
        assert "Demo" in await _cli(base, token, "device", "list")
        await _cli(base, token, "service", "call", "switch.turn_on",
                   "--arguments", "entity_id=switch.demo_switch")
        assert host.states.get("switch.demo_switch").state == "on"  # type: ignore[union-attr]
        await _cli(base, token, "service", "call", "switch.turn_off",
                   "--arguments", "entity_id=switch.demo_switch")

        # hass-client: config, states, and the live template subscription
        events: list[dict[str, Any]] = []
        async with HomeAssistantClient(base + "/api/websocket", token) as ha:
            config = await ha.get_config()
            assert config["time_zone"] == "Europe/Vienna"  # type: ignore[call-overload]
            assert "recorder" in config["components"]  # type: ignore[call-overload]
            states = await ha.get_states()
            assert any(s["entity_id"] == "sensor.demo_sine" for s in states)
            await ha.subscribe(lambda m: events.append(m["event"]), "render_template",
                               template="{{ is_state('switch.demo_switch', 'on') }}")
            await wait_until(lambda: events)
            assert events[-1]["result"] is False
            await ha.call_service("switch", "turn_on", target={"entity_id": "switch.demo_switch"})
            await wait_until(lambda: events[-1]["result"] is True)

        # homeassistant-api: history and logbook of what the calls above did
        async with AsyncClient(base + "/api", token) as api:
            switch = await api.get_entity(entity_id="switch.demo_switch")
            assert switch is not None

            async def history() -> list[str]:
                found = [h async for h in api.get_entity_histories(
                    entities=(switch,), start_timestamp=start,
                    end_timestamp=datetime.now(UTC) + timedelta(minutes=1))]
                return [s.state for h in found for s in h.states]

            # The last change (off → on by hass-client's call) is in the history once the
            # recorder committed it (every 50 ms): polled, there is no event for it.
            with anyio.fail_after(20):
                while (await history())[-2:] != ["off", "on"]:  # noqa: ASYNC110
                    await anyio.sleep(0.05)  # no event says "committed": polled
            entries = [e async for e in api.get_logbook_entries(
                filter_entities="switch.demo_switch", start_timestamp=start)]
            assert [e.state for e in entries][-2:] == ["off", "on"]
