"""The Home Assistant calls' edges: what non-admins see, the error log's bounds and
masking, the ``gatehouse:`` location keys (validated, reported), one version pair,
404 for unknown paths whatever the method."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hass_client import HomeAssistantClient
from hass_client.exceptions import FailedCommand
from hatools import base_url

from gatehouse.core import Host
from gatehouse.core.area_registry import MAX_AREA_NAME, AreaError, area_registry
from gatehouse.core.bootstrap import CORE_SCHEMA
from gatehouse.core.config import check_config
from gatehouse.core.http.core_config import HA_PROTOCOL_VERSION
from gatehouse.core.http.runtime import HttpRuntime
from gatehouse.core.logging_setup import REDACTOR, RingHandler
from gatehouse.core.permissions import Policy

pytestmark = pytest.mark.anyio

Client = TestClient[Any, Any]


async def _token(runtime: HttpRuntime, name: str, policy: dict[str, Any]) -> str:
    user = await runtime.auth.create_user(name, "a good password", role="user")
    await runtime.auth.update_user(user.id, by=None, policy=Policy.from_dict(policy))
    _, value = await runtime.auth.create_token(user, "tests")
    return value


async def test_a_user_sees_only_readable_entities_and_changes_nothing(
    owner: Client, runtime: HttpRuntime, host: Host
) -> None:
    token = await _token(runtime, "uma", {"read": ["sensor.*"]})
    async with HomeAssistantClient(base_url(owner) + "/api/websocket", token) as ha:
        listed = {e["entity_id"] for e in await ha.get_entity_registry()}
        assert listed and all(e.startswith("sensor.") for e in listed)
        with pytest.raises(FailedCommand, match="Entity not found"):  # exists, unreadable
            await ha.get_entity_registry_entry("switch.demo_switch")
        both = await ha.send_command("config/entity_registry/get_entries",
                                     entity_ids=["switch.demo_switch", "sensor.demo_sine"])
        assert both["switch.demo_switch"] is None  # type: ignore[index]
        assert both["sensor.demo_sine"]["entity_id"] == "sensor.demo_sine"  # type: ignore[index]
        with pytest.raises(FailedCommand, match="admin"):
            await ha.send_command("config/area_registry/create", name="Attic")
        with pytest.raises(FailedCommand, match="admin"):
            await ha.send_command("config/entity_registry/update",
                                  entity_id=sorted(listed)[0], name="mine")
        assert await ha.get_area_registry() == []
    headers = {"Authorization": f"Bearer {token}"}
    assert (await owner.get("/api/error_log", headers=headers)).status == 403
    assert (await owner.post("/api/template", headers=headers,
                             json={"template": "{{ 1 }}"})).status == 403


async def test_error_log_masks_secrets_and_is_bounded(owner: Client, token: str) -> None:
    REDACTOR.add(["hunter2-very-secret"])
    logging.getLogger("gatehouse.test_ha").warning("password is hunter2-very-secret")
    response = await owner.get("/api/error_log", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200 and response.content_type == "text/plain"
    text = await response.text()
    assert "password is ***" in text and "hunter2-very-secret" not in text
    ring = RingHandler(capacity=3, max_entry=100)
    log = logging.getLogger("gatehouse.test_ring")
    log.addHandler(ring)
    log.propagate = False
    try:
        for n in range(10):
            log.warning("line %d %s", n, "x" * 200)
    finally:
        log.removeHandler(ring)
        log.propagate = True
    lines = ring.text().splitlines()
    assert len(lines) == 3 and all(len(line) <= 100 for line in lines)
    assert "line 9" in lines[-1] and lines[-1].endswith("(truncated)")


def test_location_keys_are_validated(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text(
        "gatehouse:\n  time_zone: Mars/Olympus\n  latitude: 123\n"
        "  unit_system: imperial\n  allowlist_external_dirs: [relative/dir]\n",
        encoding="utf-8")
    result = check_config(tmp_path, {}, core_schema=CORE_SCHEMA)
    problems = " | ".join(str(issue) for issue in result.issues)
    for expected in ("Mars/Olympus", "latitude", "unit_system", "relative/dir"):
        assert expected in problems, problems


async def test_location_and_versions_reported(config_dir: Path, tmp_path: Path) -> None:
    from gatehouse.core.http.app import create_app
    from gatehouse.core.testing import make_host

    (config_dir / "configuration.yaml").write_text(
        "gatehouse:\n  control_socket: false\n  latitude: 52.37\n  longitude: 4.89\n"
        "  elevation: 2\n  time_zone: Europe/Amsterdam\n  unit_system: us_customary\n"
        "  allowlist_external_dirs: [/srv/exports]\n"
        "  allowlist_external_urls: ['https://example.com/']\n", encoding="utf-8")
    host = make_host(config_dir)
    async with host.running():
        from aiohttp.test_utils import TestServer

        from httpkit import OWNER

        async with TestClient(TestServer(await create_app(host))) as client:
            assert (await client.post("/api/onboarding/users", json=OWNER)).status == 200
            rest = await (await client.get("/api/config")).json()
            ws = await client.ws_connect("/api/websocket")
            hello = await ws.receive_json(timeout=5)
            await ws.close()
    assert (rest["latitude"], rest["longitude"], rest["elevation"]) == (52.37, 4.89, 2)
    assert rest["time_zone"] == "Europe/Amsterdam"
    assert rest["unit_system"]["temperature"] == "°F"
    assert rest["allowlist_external_dirs"] == ["/srv/exports"]
    assert rest["allowlist_external_urls"] == ["https://example.com/"]
    assert rest["version"] == hello["ha_version"] == HA_PROTOCOL_VERSION


async def test_get_config_over_the_socket_matches_rest(owner: Client, token: str) -> None:
    rest = await (await owner.get("/api/config")).json()
    async with HomeAssistantClient(base_url(owner) + "/api/websocket", token) as ha:
        ws = await ha.get_config()
        assert ha.version == HA_PROTOCOL_VERSION == ws["version"]  # type: ignore[call-overload]
    assert {k: v for k, v in rest.items() if k not in ("https", "user")} == ws


async def test_unknown_paths_are_404_whatever_the_method(owner: Client, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response = await owner.request(method, "/api/no/such/thing", headers=headers)
        assert response.status == 404, method
    # A known path with another method is still 405 (as in HA), with Allow.
    wrong = await owner.put("/api/states", headers=headers)
    assert wrong.status == 405 and "GET" in wrong.headers["Allow"]


async def test_area_names_are_bounded(host: Host) -> None:
    areas = await area_registry(host)
    with pytest.raises(AreaError, match="longer than"):
        areas.create("x" * (MAX_AREA_NAME + 1))
    with pytest.raises(AreaError, match="no letters or digits"):
        areas.create("!!!")
    first = areas.create("Pump house")
    with pytest.raises(AreaError, match="already in use"):
        areas.create("pump HOUSE")
    second = areas.update(first.area_id, name="Pumps")
    again = areas.create("Pump house")
    assert (second.area_id, again.area_id) == ("pump_house", "pump_house_2")


async def test_area_events_cannot_be_faked(owner: Client, token: str) -> None:
    response = await owner.post("/api/events/area_registry_updated", json={},
                                headers={"Authorization": f"Bearer {token}"})
    assert response.status == 400
    assert "fired by the core only" in (await response.json())["message"]
