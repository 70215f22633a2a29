"""Home Assistant's registry commands over the WebSocket (what ``hass-cli entity list``,
``device list``, ``area list`` and their ``assign``/``rename`` send).

* ``config/entity_registry/list`` → HA's partial entries;
  ``config/entity_registry/list_for_display`` → HA's compact form (what the overview
  loads: ``{"entity_categories", "entities": [{"ei", "pl", "lb", "di"?, "ai"?,
  "en"?}]}``, enabled entries only, as HA); ``config/entity_registry/get``
  ``{"entity_id"}`` → the extended entry (``get_entries`` ``{"entity_ids"}``: a map of
  them, null for unknown); ``config/entity_registry/update`` (admin)
  ``{"entity_id", "name"?, "new_entity_id"?, "area_id"?, "disabled_by"?}`` →
  ``{"entity_entry": ...}``
* ``config/device_registry/list``; ``config/device_registry/update`` (admin)
  ``{"device_id", "area_id"?, "name_by_user"?, "disabled_by"?}`` → the device
* ``config/area_registry/list``; ``create`` ``{"name", "icon"?, "picture"?, "aliases"?}``,
  ``update`` ``{"area_id", ...}``, ``delete`` ``{"area_id"}`` (admin; delete answers
  ``"success"`` as HA does)

The shapes are HA's (2024/2025): fields HA has and Gatehouse does not model (labels,
categories, floors, translation keys) are there, empty, so clients that index them do
not fail. Lists for a non-admin hold only the entities it may read, and devices and
areas (names are not secret, as services are not). Each entry's JSON is made once and
reused while the entry is unchanged (``registry_json``). An ``area_id`` given to an
update must name an area of the registry (``not_found`` otherwise); ``null`` clears it.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from ..area_registry import AreaEntry, UnknownArea, area_registry
from ..entity_registry import DISABLED_USER, RegistryEntry
from ..states import valid_entity_id
from ..util import UNSET
from .errors import HttpError
from .registry_json import device_dict, entity_partial
from .websocket import Connection
from .ws_commands import command

#: HA's index of entity categories in ``list_for_display`` (``ec`` holds the index).
_ENTITY_CATEGORIES = b'{"0":"config","1":"diagnostic"}'


def entity_extended(conn: Connection, entry: RegistryEntry) -> dict[str, Any]:
    """The ``config/entity_registry/get`` shape: the partial one and what the state says."""
    state = conn.host.states.get(entry.entity_id)
    attributes = state.attributes if state is not None else {}
    return {
        **entity_partial(entry),
        "aliases": [],
        "capabilities": None,
        "device_class": None,
        "original_device_class": attributes.get("device_class"),
        "original_icon": attributes.get("icon"),
    }


def area_dict(area: AreaEntry) -> dict[str, Any]:
    return area.as_dict()


async def _known_area(conn: Connection, area_id: str | None) -> None:
    if area_id is not None and (await area_registry(conn.host)).get(area_id) is None:
        raise UnknownArea(f"no area {area_id!r}")


def _entry_or_404(conn: Connection, entity_id: str) -> RegistryEntry:
    """The registry entry, or ``not_found`` (also for an entity the user may not read:
    a refusal must not tell which ids exist)."""
    entry = conn.host.entity_registry.get(entity_id)
    if entry is None or not conn.permissions.can_read(entity_id):
        raise HttpError(404, "Entity not found")
    return entry


# -- entities --------------------------------------------------------------------------


def _readable_entries(conn: Connection) -> list[tuple[str, RegistryEntry]]:
    """(entity id, entry) of every registry entry the user may read."""
    entries = conn.host.entity_registry.entities()
    permissions = conn.permissions
    if permissions.is_admin:
        return [(e.entity_id, e) for e in entries]
    can_read = permissions.can_read
    return [(e.entity_id, e) for e in entries if can_read(e.entity_id)]


@command("config/entity_registry/list")
async def entity_list(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    pieces = conn.runtime.registry_json.entity_partial
    conn.send_raw_result(
        msg_id, pieces.array(_readable_entries(conn), len(conn.host.entity_registry))
    )


@command("config/entity_registry/list_for_display")
async def entity_list_for_display(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    """HA's compact list for a dashboard: ``{"entity_categories": {...}, "entities":
    [...]}`` (see ``registry_json.entity_display``); about a quarter of ``list``."""
    pieces = conn.runtime.registry_json.entity_display
    enabled = [(k, e) for k, e in _readable_entries(conn) if e.disabled_by is None]
    entities = pieces.array(enabled, len(conn.host.entity_registry))
    conn.send_raw_result(msg_id, b'{"entity_categories":%b,"entities":%b}' % (
        _ENTITY_CATEGORIES, entities))


@command("config/entity_registry/get", {vol.Required("entity_id"): str})
async def entity_get(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    conn.send_result(msg_id, entity_extended(conn, _entry_or_404(conn, args["entity_id"])))


@command("config/entity_registry/get_entries",
         {vol.Required("entity_ids"): vol.All([str], vol.Length(max=1000))})
async def entity_get_entries(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    """HA's batch ``get``: ``{entity_id: extended entry or null}`` (null also for an
    entity the user may not read)."""
    registry, permissions = conn.host.entity_registry, conn.permissions
    out: dict[str, Any] = {}
    for entity_id in args["entity_ids"]:
        entry = registry.get(entity_id)
        readable = entry is not None and permissions.can_read(entity_id)
        out[entity_id] = entity_extended(conn, entry) if entry is not None and readable else None
    conn.send_result(msg_id, out)


@command("config/entity_registry/update", {
    vol.Required("entity_id"): str,
    vol.Optional("name"): vol.Any(None, vol.All(str, vol.Length(max=255))),
    vol.Optional("new_entity_id"): vol.All(str, vol.Length(max=255)),
    vol.Optional("area_id"): vol.Any(None, str),
    vol.Optional("disabled_by"): vol.Any(None, DISABLED_USER),
    # HA has more (icon, hidden_by, aliases, options...): Gatehouse does not keep them,
    # so they are refused by name (invalid_format) rather than dropped in silence.
}, admin=True)
async def entity_update(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    entry = _entry_or_404(conn, args["entity_id"])
    if "new_entity_id" in args and not valid_entity_id(args["new_entity_id"]):
        raise HttpError(400, f"invalid entity id {args['new_entity_id']!r}")
    if "area_id" in args:
        await _known_area(conn, args["area_id"])
    updated = conn.host.entity_registry.update(
        entry.entity_id,
        new_entity_id=args.get("new_entity_id"),
        name=args.get("name", UNSET),
        disabled_by=args.get("disabled_by", UNSET),
        area_id=args.get("area_id", UNSET),
    )
    conn.send_result(msg_id, {"entity_entry": entity_extended(conn, updated)})


# -- devices ---------------------------------------------------------------------------


@command("config/device_registry/list")
async def device_list(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    devices = conn.host.device_registry.devices()
    conn.send_raw_result(msg_id, conn.runtime.registry_json.device.array(
        [(d.id, d) for d in devices], len(devices)))


@command("config/device_registry/update", {
    vol.Required("device_id"): str,
    vol.Optional("area_id"): vol.Any(None, str),
    vol.Optional("name_by_user"): vol.Any(None, vol.All(str, vol.Length(max=255))),
    vol.Optional("disabled_by"): vol.Any(None, DISABLED_USER),
}, admin=True)
async def device_update(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    registry = conn.host.device_registry
    if registry.get(args["device_id"]) is None:
        raise HttpError(404, "Device not found")
    if "area_id" in args:
        await _known_area(conn, args["area_id"])
    updated = registry.update(
        args["device_id"],
        name_by_user=args.get("name_by_user", UNSET),
        disabled_by=args.get("disabled_by", UNSET),
        area_id=args.get("area_id", UNSET),
    )
    conn.send_result(msg_id, device_dict(updated))


# -- areas -----------------------------------------------------------------------------

_AREA_FIELDS = {
    vol.Optional("icon"): vol.Any(None, vol.All(str, vol.Length(max=100))),
    vol.Optional("picture"): vol.Any(None, vol.All(str, vol.Length(max=1000))),
    vol.Optional("aliases"): vol.All([vol.All(str, vol.Length(max=100))], vol.Length(max=50)),
}


@command("config/area_registry/list")
async def area_list(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    registry = await area_registry(conn.host)
    conn.send_result(msg_id, [area_dict(a) for a in registry.areas()])


@command("config/area_registry/create", {vol.Required("name"): str, **_AREA_FIELDS},
         admin=True)
async def area_create(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    registry = await area_registry(conn.host)
    area = registry.create(
        args["name"], icon=args.get("icon"), picture=args.get("picture"),
        aliases=args.get("aliases"),
    )
    conn.send_result(msg_id, area_dict(area))


@command("config/area_registry/update",
         {vol.Required("area_id"): str, vol.Optional("name"): str, **_AREA_FIELDS},
         admin=True)
async def area_update(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    registry = await area_registry(conn.host)
    area = registry.update(
        args["area_id"],
        name=args.get("name", UNSET),
        icon=args.get("icon", UNSET),
        picture=args.get("picture", UNSET),
        aliases=args.get("aliases", UNSET),
    )
    conn.send_result(msg_id, area_dict(area))


@command("config/area_registry/delete", {vol.Required("area_id"): str}, admin=True)
async def area_delete(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    (await area_registry(conn.host)).delete(args["area_id"])
    conn.send_result(msg_id, "success")
