"""The logbook: state changes and a few events as Home Assistant's logbook entries.

Entries as HA's ``/api/logbook`` gives them: a state change is ``{"when", "state",
"entity_id", "name"}`` (``name`` the friendly name then); ``logbook_entry`` events are
``{"when", "name", "message", "domain", "entity_id"}``; ``automation_triggered`` and
``script_started`` are ``{"when", "name", "message": "triggered by ..." /
"started", "domain", "entity_id", "source"?}``. The REST API dates them in ISO 8601,
the WebSocket stream in POSIX seconds.

Left out as HA does: attribute-only updates, and sensors with a unit or a state class
(continuous values belong to history graphs, not a log).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .queries import LogRow

EVENT_TYPES = ("logbook_entry", "automation_triggered", "script_started")


def continuous(entity_id: str, attributes: dict[str, Any]) -> bool:
    return entity_id.startswith("sensor.") and (
        "unit_of_measurement" in attributes or "state_class" in attributes)


def entries(rows: Iterable[LogRow], *, can_read: Callable[[str], bool],
            when: Callable[[float], Any], unbound: bool = False) -> list[dict[str, Any]]:
    """Rows → entries the caller may see: those of entities it may read, and with
    ``unbound`` (admins) also events about no entity."""
    out: list[dict[str, Any]] = []
    for row in rows:
        entity_id = row.entity_id
        if entity_id is None and not unbound:
            continue
        if entity_id is not None and not can_read(entity_id):
            continue
        if row.event_type is None:
            assert entity_id is not None
            if continuous(entity_id, row.attributes):
                continue
            item: dict[str, Any] = {
                "when": when(row.when), "state": row.state, "entity_id": entity_id,
                "name": row.attributes.get("friendly_name") or entity_id,
            }
            if row.attributes.get("encrypted"):
                item["encrypted"] = True
        else:
            data = row.data
            if entity_id is None and row.event_type != "logbook_entry":
                continue
            domain = data.get("domain") or (entity_id.split(".", 1)[0] if entity_id else None)
            if row.event_type == "logbook_entry":
                message = str(data.get("message", ""))
            elif row.event_type == "automation_triggered":
                source = data.get("source")
                message = f"triggered by {source}" if source else "triggered"
            else:
                message = "started"
            item = {"when": when(row.when), "name": data.get("name") or entity_id,
                    "message": message, "domain": domain, "entity_id": entity_id}
            if row.user_id is not None:
                item["context_user_id"] = row.user_id
        out.append(item)
    return out
