"""Home Assistant's service ``target``: ``area_id`` and ``device_id`` become entity ids.

HA clients call ``{"target": {"area_id": "boiler_room"}}`` (WebSocket) or put
``area_id``/``device_id`` in the service data (REST). Gatehouse's services take
``entity_id``; this expands the others into it, as HA does: an area holds the entities
assigned to it and those of its devices that name no area of their own; a device holds
its entities; of those, the ones the service's target selector allows (its domain for
``switch.turn_on``, the filters of services.yaml), as HA skips the others. Done only
for a service whose own schema has no such field (a service may mean something else by
``device_id``), and before the call, so the service registry checks the caller's rights
on every entity it ends up with. A target that holds no entity is refused: an empty
``entity_id`` must never reach a service that reads "none given" as "all of them".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..exceptions import ServiceValidationError
from ..schema_json import serialize_schema

_KEYS = ("area_id", "device_id")


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def _service_shape(host: Any, domain: str, service: str
                   ) -> tuple[set[str], list[dict[str, Any]]]:
    """The service's own field names and its target's entity filters (HA's
    ``target.entity`` list: ``{"domain": [...], "integration": ...}`` each)."""
    from .views_api import _ha_target

    try:
        svc = host.services.get(domain, service)
        fields = serialize_schema(svc.schema)
    except Exception:  # noqa: BLE001 -- unknown service or a schema that is not a form
        return set(), []
    describe = getattr(host.services, "description", None)
    description = (describe(domain, service) if describe is not None else None) or {}
    target = _ha_target(svc, description or svc.description or {}, fields) or {}
    filters = target.get("entity") or []
    return {field["name"] for field in fields}, [f for f in filters if isinstance(f, dict)]


def _fits(entry: Any, filters: list[dict[str, Any]]) -> bool:
    """Whether a registry entry passes one of the target's filters (none: every one),
    as HA applies a service only to the entities its target selector allows."""
    if not filters:
        return True
    for spec in filters:
        domains = spec.get("domain")
        if domains is not None and entry.domain not in _as_list(domains):
            continue
        integration = spec.get("integration")
        if integration is not None and entry.platform != integration:
            continue
        return True
    return False


def expand_target(host: Any, domain: str, service: str, data: Mapping[str, Any]
                  ) -> dict[str, Any]:
    """``data`` with ``area_id``/``device_id`` turned into ``entity_id`` (a list)."""
    present = [key for key in _KEYS if key in data]
    if not present:
        return dict(data)
    own, filters = _service_shape(host, domain, service)
    wanted = [key for key in present if key not in own]
    if not wanted:
        return dict(data)
    out = {k: v for k, v in data.items() if k not in wanted}
    areas = set(_as_list(data.get("area_id"))) if "area_id" in wanted else set()
    target_devices = set(_as_list(data.get("device_id"))) if "device_id" in wanted else set()
    area_devices = (
        {d.id for d in host.device_registry.devices() if d.area_id in areas} if areas else set()
    )
    entity_ids = _as_list(out.get("entity_id"))
    for entry in host.entity_registry.entities():
        if entry.disabled or entry.entity_id in entity_ids or not _fits(entry, filters):
            continue
        if entry.area_id is not None:
            hit = entry.area_id in areas
        else:  # in its device's area
            hit = entry.device_id in area_devices
        if hit or entry.device_id in target_devices:
            entity_ids.append(entry.entity_id)
    if not entity_ids:
        # Never an empty entity_id: some services read "none given" as "all of them".
        named = ", ".join(f"{k}={data[k]!r}" for k in wanted)
        raise ServiceValidationError(domain, service, f"the target ({named}) holds no entity")
    out["entity_id"] = entity_ids
    return out
