"""Home Assistant's own JS client library against ``/api/websocket`` (issue 5).

``tests/js_client/client.mjs`` connects with the npm package
``home-assistant-js-websocket`` (the versions are pinned in ``package-lock.json``;
``scripts/_setup.sh`` installs them) to a real host with a demo device, and prints what
it saw as one JSON line: the commands, ``subscribeEntities``, ``subscribeEvents``,
``callService``. The host keeps running in this test's event loop while Node runs.

The library chooses its code paths by the ``ha_version`` of ``auth_ok``: for versions
before 2022.4 it builds ``subscribeEntities`` out of ``get_states`` and
``subscribe_events``, later ones use ``subscribe_entities``, and from 2022.9 on it asks
for ``coalesce_messages``. The server announces the HA release whose protocol it
follows, so the library runs its modern code; a second run pretends an old HA version to
prove the legacy paths work against us too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiohttp import ClientSession, CookieJar

from gatehouse.core import __version__
from gatehouse.core.http.websocket import HA_PROTOCOL_VERSION

pytestmark = pytest.mark.anyio

#: ``conftest.Server`` (not imported: several conftest modules exist in the tree).
Server = Any

CLIENT_DIR = Path(__file__).resolve().parents[1] / "js_client"
CLIENT = CLIENT_DIR / "client.mjs"
SWITCH = "switch.demo_switch"
COUNTER = "sensor.demo_counter"
#: Node's own limit is 15 s (``--timeout``); this one only catches a hung process.
NODE_TIMEOUT = 25


def _node() -> str:
    node = shutil.which("node")
    assert node is not None, "Node.js is missing: run scripts/test (its set-up installs it)"
    library = CLIENT_DIR / "node_modules" / "home-assistant-js-websocket"
    assert library.is_dir(), (
        "the npm packages are missing: run scripts/test, or "
        "npm ci --prefix tests/js_client"
    )
    return node


async def _token(server: Server, owner: dict[str, str]) -> str:
    """Onboard the owner (session cookie) and make a long-lived access token."""
    headers = {"Origin": server.base_url}
    async with ClientSession(
        base_url=server.base_url, cookie_jar=CookieJar(unsafe=True)
    ) as session:
        async with session.post("/api/onboarding/users", json=owner, headers=headers) as r:
            assert r.status == 200, await r.text()
        async with session.post(
            "/api/auth/tokens", json={"name": "ha-js-websocket"}, headers=headers
        ) as r:
            assert r.status == 201, await r.text()
            value: str = (await r.json())["token"]
    return value


async def node_client(server: Server, token: str, *args: str) -> tuple[int, str, str]:
    with anyio.fail_after(NODE_TIMEOUT):
        done = await anyio.run_process(
            [_node(), str(CLIENT), server.base_url, token, "--timeout=15000", *args],
            check=False,
            stdin=subprocess.DEVNULL,
        )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


async def run_client(server: Server, token: str, *args: str) -> dict[str, Any]:
    returncode, stdout, stderr = await node_client(server, token, *args)
    assert returncode == 0, f"client.mjs failed ({returncode}):\n{stderr}\n{stdout}"
    lines = stdout.strip().splitlines()
    assert len(lines) == 1, stdout
    result: dict[str, Any] = json.loads(lines[0])
    return result


def check_common(result: dict[str, Any], server: Server) -> None:
    assert result["ping"] is True
    assert result["user"] == {"name": "Olive Owner", "is_owner": True, "is_admin": True}

    # getStates: HA's full state objects, the demo's entities among them.
    states = result["states"]
    assert {SWITCH, COUNTER, "sensor.demo_sine"} <= set(states["entity_ids"])
    assert states["count"] == len(server.host.states.all())
    assert states["keys"] == [
        "attributes", "context", "entity_id", "last_changed", "last_updated", "state"
    ]

    # getServices: {domain: {service: description}}.
    services = result["services"]
    assert "reset_counter" in services["demo"]
    assert {"toggle", "turn_off", "turn_on"} <= set(services["switch"])
    assert "demo" in result["collections"]["services"]

    # getConfig, and the library's config collection built on it.
    config = result["config"]
    # One version pair (issue 14): HA's protocol version where clients compare it, ours
    # beside it.
    assert config["version"] == HA_PROTOCOL_VERSION
    assert config["gatehouse_version"] == __version__
    assert "demo" in config["components"]
    assert result["collections"]["config_components"] == config["components"]

    # subscribeEntities: the initial map, then a change the client only watched.
    initial = result["entities_initial"]
    assert initial["count"] == states["count"]
    assert initial["switch"] == "on"
    assert initial["counter_attributes"]["icon"] == "mdi:counter"
    changed = result["counter_changed"]
    assert int(changed["to"]) > int(changed["from"])

    # callService(switch.toggle): the state change came back through subscribeEntities
    # and subscribeEvents, with the context of the call.
    toggle = result["toggle"]
    assert (toggle["from"], toggle["to"]) == ("on", "off")
    assert toggle["result"]["context"]["id"] == toggle["entity_context_id"]
    assert toggle["same_context"] is True
    assert toggle["result"]["context"]["user_id"] is not None
    assert isinstance(toggle["last_switched"], float)
    # An ISO time either way: ours (get_states) or the library's (from "lc" seconds).
    last_changed = datetime.fromisoformat(toggle["last_changed"].replace("Z", "+00:00"))
    expected = server.host.states.get(SWITCH).last_changed
    assert abs(last_changed.timestamp() - expected) < 0.002
    event = toggle["event"]
    assert event["event_type"] == "state_changed"
    assert (event["old_state"], event["new_state"]) == ("on", "off")
    assert event["origin"] == "LOCAL"
    assert event["context_id"] == toggle["entity_context_id"]
    assert event["keys"] == ["context", "data", "event_type", "origin", "time_fired"]
    assert server.host.states.get(SWITCH).state == "off"

    # callService with return_response: the response, and the counter back to 0.
    reset = result["reset"]
    assert str(reset["counter"]) == "0"
    assert reset["result"]["context"]["id"]
    (previous,) = reset["result"]["response"]["previous"].values()
    assert previous >= int(changed["to"])
    assert server.host.states.get(COUNTER).state == "0"

    # An error reaches the caller as HA's {code, message}.
    assert result["unknown_service"]["code"] == "not_found"
    assert result["unknown_service"]["message"]

    assert result["state_changed_events"] > 0
    assert result["entity_updates"] > 2
    assert result["connected"] is True


async def test_ha_js_client_as_it_sees_gatehouse(server: Server, owner: dict[str, str]) -> None:
    """The library as is: our ha_version puts it on its modern code paths."""
    token = await _token(server, owner)
    result = await run_client(server, token)
    assert result["mode"] == "native"
    assert result["ha_version"] == HA_PROTOCOL_VERSION
    check_common(result, server)
    assert "subscribe_entities" in result["commands_sent"]
    assert result["features_sent"] == [{"coalesce_messages": 1}]
    # Whether the server had several messages waiting at once (a JSON array frame) is
    # timing; either way, every answer and event above reached the library.
    assert result["frames"]["total"] >= result["frames"]["arrays"]


async def test_ha_js_client_legacy_code_paths(server: Server, owner: dict[str, str]) -> None:
    """Told an HA older than 2022.4, the library builds entities from get_states + events."""
    token = await _token(server, owner)
    result = await run_client(server, token, "--pretend-ha-version=2022.3.0")
    assert result["mode"] == "pretend 2022.3.0"
    assert result["ha_version"] == "2022.3.0"
    check_common(result, server)
    assert "subscribe_entities" not in result["commands_sent"]
    assert result["features_sent"] == []
    assert result["frames"]["arrays"] == 0


async def test_ha_js_client_refused_token(server: Server, owner: dict[str, str]) -> None:
    """auth_invalid is what the library understands as a refused token (no retrying)."""
    await _token(server, owner)
    returncode, stdout, stderr = await node_client(server, "not-a-token")
    assert returncode == 1
    assert stdout == ""
    assert "ERR_INVALID_AUTH" in stderr
