"""The UI's live preview over the WebSocket: ``template/preview``.

``{"type": "template/preview", "template_type": "sensor", "state": "{{ ... }}"}`` →
``{"state", "error", "entities", "domains", "all_states"}``: what the entity would show
right now (the state as the entity would write it), the error naming the line if the
template fails, and what it reads (what would make it change). The form calls it as
the operator types. Admins only: a template reads any state, whatever the caller's
entity permissions.
"""

from __future__ import annotations

from typing import Any

from gatehouse.core import Host
from gatehouse.core.helpers import render_info
from gatehouse.core.http import WsCommand

from .config import PREVIEW_SCHEMA
from .const import CONF_STATE, CONF_TEMPLATE_TYPE, CONF_UNIT, DOMAIN
from .entity import as_boolean


def preview(host: Host, args: dict[str, Any]) -> dict[str, Any]:
    """The preview of the form's fields ``args`` (module docstring)."""
    binary = args.get(CONF_TEMPLATE_TYPE) == "binary_sensor"
    info = render_info(host, args[CONF_STATE], native=binary, name="preview")
    state: str | None
    if info.error is not None:
        state = None
    elif binary:
        state = "on" if as_boolean(info.result) else "off"
    else:
        state = str(info.result)[:255]
        if args.get(CONF_UNIT):
            state = f"{state} {args[CONF_UNIT]}"
    return {
        "state": state,
        "error": str(info.error) if info.error is not None else None,
        "entities": sorted(info.entities),
        "domains": sorted(info.domains),
        "all_states": info.all_states,
    }


def commands(host: Host) -> list[WsCommand]:
    async def handle(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        return preview(host, args)

    return [WsCommand(f"{DOMAIN}/preview", handle, PREVIEW_SCHEMA, require_admin=True)]
