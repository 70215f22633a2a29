"""Home Assistant's registry commands as the PyPI clients call them: ``hass-cli entity
list``, ``device list``, ``area list|create|rename|delete``, ``device assign``, ``entity
assign``/``rename`` and ``hass-client``'s registry getters, against a running host."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hass_client import HomeAssistantClient
from hass_client.exceptions import FailedCommand
from hatools import base_url, hass_cli

from gatehouse.core import Host
from gatehouse.core.testing import wait_until

pytestmark = pytest.mark.anyio

Client = TestClient[Any, Any]


async def test_hass_cli_lists_entities_devices_and_areas(
    owner: Client, token: str, host: Host
) -> None:
    entities = await hass_cli(owner, token, "entity", "list")
    ids = {e["entity_id"] for e in entities}
    assert ids == {e.entity_id for e in host.entity_registry.entities()}
    assert ids  # the demo made some
    first = entities[0]
    for key in ("id", "unique_id", "platform", "device_id", "area_id", "name",
                "original_name", "disabled_by", "config_entry_id"):
        assert key in first
    devices = await hass_cli(owner, token, "device", "list")
    assert {d["id"] for d in devices} == {d.id for d in host.device_registry.devices()}
    assert all("name_by_user" in d and "identifiers" in d for d in devices)
    assert await hass_cli(owner, token, "area", "list") == []


async def test_hass_cli_area_life_and_assignment(owner: Client, token: str, host: Host) -> None:
    await hass_cli(owner, token, "area", "create", "Boiler room")
    areas = await hass_cli(owner, token, "area", "list")
    assert [(a["area_id"], a["name"]) for a in areas] == [("boiler_room", "Boiler room")]
    device = host.device_registry.devices()[0]
    await hass_cli(owner, token, "device", "assign", "Boiler room", device.id, output="yaml")
    assert host.device_registry.get(device.id).area_id == "boiler_room"  # type: ignore[union-attr]
    entity_id = host.entity_registry.entities()[0].entity_id
    await hass_cli(owner, token, "entity", "assign", "Boiler room", entity_id, output="yaml")
    assert host.entity_registry.get(entity_id).area_id == "boiler_room"  # type: ignore[union-attr]
    await hass_cli(owner, token, "area", "rename", "Boiler room", "Plant room", output="yaml")
    areas = await hass_cli(owner, token, "area", "list")
    assert [(a["area_id"], a["name"]) for a in areas] == [("boiler_room", "Plant room")]
    await hass_cli(owner, token, "area", "delete", "Plant room", output="yaml")
    assert await hass_cli(owner, token, "area", "list") == []
    # Deleting an area takes its devices and entities out of it, as in HA.
    assert host.device_registry.get(device.id).area_id is None  # type: ignore[union-attr]
    assert host.entity_registry.get(entity_id).area_id is None  # type: ignore[union-attr]


async def test_hass_client_registry_getters(owner: Client, token: str, host: Host) -> None:
    seen: list[Any] = []
    host.bus.listen("area_registry_updated", seen.append)
    async with HomeAssistantClient(base_url(owner) + "/api/websocket", token) as ha:
        area = await ha.send_command("config/area_registry/create", name="Hall")
        assert area["area_id"] == "hall" and area["aliases"] == []
        await wait_until(lambda: len(seen) == 1)
        assert seen[0].data == {"action": "create", "area_id": "hall"}
        assert [a["name"] for a in await ha.get_area_registry()] == ["Hall"]
        devices = await ha.get_device_registry()
        assert devices and devices[0]["id"]
        entities = await ha.get_entity_registry()
        entity_id = entities[0]["entity_id"]
        entry = await ha.get_entity_registry_entry(entity_id)
        assert entry["entity_id"] == entity_id and "original_device_class" in entry
        updated = await ha.send_command(
            "config/entity_registry/update", entity_id=entity_id, name="Renamed",
            area_id="hall",
        )
        assert updated["entity_entry"]["name"] == "Renamed"
        assert updated["entity_entry"]["area_id"] == "hall"
        with pytest.raises(FailedCommand) as missing:
            await ha.get_entity_registry_entry("sensor.nothing_here")
        assert str(missing.value) == "Entity not found"
        with pytest.raises(FailedCommand) as no_area:
            await ha.send_command("config/entity_registry/update", entity_id=entity_id,
                                  area_id="attic")
        assert "attic" in str(no_area.value)
        with pytest.raises(FailedCommand) as duplicate:
            await ha.send_command("config/area_registry/create", name="hall")
        assert "already in use" in str(duplicate.value)


async def test_area_registry_survives_a_restart(config_dir: Any) -> None:
    from gatehouse.core.area_registry import area_registry
    from gatehouse.core.testing import make_host

    (config_dir / "configuration.yaml").write_text("gatehouse:\n  control_socket: false\n")
    first = make_host(config_dir)
    async with first.running():
        (await area_registry(first)).create("Cellar", aliases=["basement"])
    second = make_host(config_dir)
    async with second.running():
        areas = (await area_registry(second)).areas()
    assert [(a.area_id, a.name, a.aliases) for a in areas] == [
        ("cellar", "Cellar", ("basement",))]


async def test_service_target_by_area_and_device(owner: Client, token: str, host: Host) -> None:
    """HA's ``target: {area_id}`` / ``{device_id}`` reach the entities in the area (own
    area, or their device's) and of the device; an empty target is refused, never
    "every entity"."""
    from gatehouse.core.area_registry import area_registry

    areas = await area_registry(host)
    areas.create("Plant")
    switch = host.entity_registry.get("switch.demo_switch")
    assert switch is not None and switch.device_id is not None
    host.device_registry.update(switch.device_id, area_id="plant")
    # An entity with its own area elsewhere is not in its device's area.
    areas.create("Office")
    host.entity_registry.update("sensor.demo_counter", area_id="office")
    calls: list[Any] = []
    host.bus.listen("call_service", calls.append)
    async with HomeAssistantClient(base_url(owner) + "/api/websocket", token) as ha:
        before = host.states.get("switch.demo_switch").state  # type: ignore[union-attr]
        await ha.call_service("switch", "toggle", target={"area_id": "plant"})
        assert host.states.get("switch.demo_switch").state != before  # type: ignore[union-attr]
        await ha.call_service("switch", "toggle", target={"device_id": switch.device_id})
        assert host.states.get("switch.demo_switch").state == before  # type: ignore[union-attr]
        with pytest.raises(FailedCommand, match="holds no entity"):
            await ha.call_service("switch", "toggle", target={"area_id": "office"})
    await wait_until(lambda: len(calls) >= 2)
    targeted = calls[0].data["service_data"]["entity_id"]
    assert "switch.demo_switch" in targeted and "sensor.demo_counter" not in targeted
    # REST: area_id in the data, as HA's REST API takes it.
    response = await owner.post("/api/services/switch/toggle", json={"area_id": "plant"},
                                headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
    assert [s["entity_id"] for s in await response.json()] == ["switch.demo_switch"]


async def test_renames_and_unknown_fields(owner: Client, token: str, host: Host) -> None:
    device = host.device_registry.devices()[0]
    await hass_cli(owner, token, "device", "rename", device.id, "Boiler 1", output="yaml")
    assert host.device_registry.get(device.id).name_by_user == "Boiler 1"  # type: ignore[union-attr]
    await hass_cli(owner, token, "entity", "rename", "sensor.demo_sine",
                   "sensor.boiler_wave", "--name", "Boiler wave", output="yaml")
    renamed = host.entity_registry.get("sensor.boiler_wave")
    assert renamed is not None and renamed.name == "Boiler wave"
    ws = await owner.ws_connect("/api/websocket")
    await ws.send_json({"type": "auth", "access_token": token})
    await ws.receive_json(timeout=5)
    await ws.receive_json(timeout=5)
    # A field Gatehouse does not keep is refused by name, not dropped in silence.
    await ws.send_json({"id": 1, "type": "config/entity_registry/update",
                        "entity_id": "sensor.boiler_wave", "icon": "mdi:fire"})
    answer = await ws.receive_json(timeout=5)
    assert answer["error"]["code"] == "invalid_format" and "icon" in answer["error"]["message"]
    await ws.close()
