"""Provisioning and the live traffic monitor over the WebSocket, for admins only.

Home Assistant's protocol (``{"id", "type", ...fields}`` → ``result``):

* ``mqtt/provisioning/entries`` → ``{"entries": [{entry_id, title}]}``: the mqtt
  entries with a ``provisioning:`` block, by title;
* ``mqtt/provisioning/info`` ``{entry_id?}`` → the entry, the choices (``entries``),
  templates, broker, enforcement, devices;
* ``mqtt/provisioning/provision`` ``{name, device_type, site, auth?, entry_id?}``
  (not ``type``: that field names the command) → the
  result with credentials, QR code and bundle (once);
* ``mqtt/provisioning/revoke`` / ``mqtt/provisioning/delete`` ``{name, entry_id?}``;
* ``mqtt/traffic/start`` ``{topic_filter, rate?, qos?, entry_id?}`` → the first poll
  (``session_id`` in it); ``mqtt/traffic/poll`` ``{session_id, after}`` → what arrived
  after sequence number ``after``, counters and per-topic rates;
  ``mqtt/traffic/pause`` ``{session_id, paused}``; ``mqtt/traffic/stop``
  ``{session_id}``. See ``traffic.py`` for the limits.

``entry_id`` is read as ``mqtt.provision_device`` reads it (``pick_provisioner``): an
id or a title; left out, the only entry with a block; with several, or a name that is
none of them, ``home_assistant_error`` naming the choices as 'Title' (id) (the socket
clips error texts at 200 characters: ``entries`` lists them all), never the first.
``mqtt/traffic/start`` reads ``entry_id`` by the same rule among every loaded mqtt entry
(an id or a title); left out, it watches every loaded broker (each message says which:
``entry_id``), which is no guess.

A bad field answers ``invalid_format``; a refusal (``ProvisioningError``,
``TrafficError``, the CA's ``PkiError``) answers ``home_assistant_error`` with the reason.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from gatehouse.core import Context, Host, ServiceCall, ServiceValidationError
from gatehouse.core.http import WsCommand

from ..const import DOMAIN
from ..services import LOADED
from . import Provisioner, provisioner_for, provisioning_entries
from .errors import EntryNotChosen, TrafficError
from .services import PROVISION_FIELDS
from .traffic import DEFAULT_RATE, MAX_RATE, POLL_LIMIT, traffic_monitor

ENTRY: dict[Any, Any] = {vol.Optional("entry_id"): vol.Any(None, str)}
DEVICE: dict[Any, Any] = {vol.Required("name"): str, **ENTRY}
SESSION: dict[Any, Any] = {vol.Required("session_id"): str}
START: dict[Any, Any] = {
    vol.Required("topic_filter"): str,
    vol.Optional("rate", default=DEFAULT_RATE): vol.All(
        vol.Coerce(float), vol.Range(min=0.1, max=MAX_RATE)),
    vol.Optional("qos", default=0): vol.In([0, 1, 2]),
    **ENTRY,
}
POLL: dict[Any, Any] = {
    **SESSION,
    vol.Optional("after", default=0): vol.All(int, vol.Range(min=0)),
    vol.Optional("limit", default=POLL_LIMIT): vol.All(int, vol.Range(min=1, max=POLL_LIMIT)),
}
PAUSE: dict[Any, Any] = {**SESSION, vol.Required("paused"): bool}


def commands(host: Host) -> list[WsCommand]:
    """The commands above, bound to ``host``."""

    def named(args: dict[str, Any]) -> Provisioner:
        try:
            return provisioner_for(host, args.get("entry_id"))
        except ServiceValidationError as err:
            # The reason without "invalid data for mqtt.provisioning: ": the socket clips
            # error texts at 200 characters, and the choices come at the end.
            raise EntryNotChosen(err.detail) from None

    async def entries(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        return {"entries": provisioning_entries(host)}

    async def info(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        provisioner = named(args)
        return {**provisioner.describe(), "entries": provisioning_entries(host),
                "devices": [d.as_dict() for d in provisioner.registry.all()]}

    async def provision(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        return await named(args).provision(
            args["name"], args["device_type"], args["site"], args["auth"])

    async def revoke(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        return await named(args).revoke(args["name"])

    async def delete(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        await named(args).delete(args["name"])
        return {"deleted": args["name"]}

    def broker(wanted: str | None) -> str | None:
        """The mqtt entry ``wanted`` names (id or title, the domain's rule); None: all."""
        if wanted is None or not wanted.strip():
            return None
        call = ServiceCall(DOMAIN, "traffic/start", {"entry_id": wanted}, Context())
        try:
            return LOADED.pick_entry_id(host, call)
        except ServiceValidationError as err:
            raise TrafficError(err.detail) from None

    async def start(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        session = traffic_monitor(host).start(args["topic_filter"], rate=args["rate"],
                                              qos=args["qos"],
                                              entry_id=broker(args.get("entry_id")))
        return session.poll(0)

    async def poll(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        return traffic_monitor(host).get(args["session_id"]).poll(args["after"],
                                                                   args["limit"])

    async def pause(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        session = traffic_monitor(host).get(args["session_id"])
        session.paused = args["paused"]
        return {"paused": session.paused}

    async def stop(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        traffic_monitor(host).stop(args["session_id"])
        return {"stopped": args["session_id"]}

    return [
        WsCommand(f"{DOMAIN}/provisioning/entries", entries, require_admin=True),
        WsCommand(f"{DOMAIN}/provisioning/info", info, ENTRY, require_admin=True),
        WsCommand(f"{DOMAIN}/provisioning/provision", provision, PROVISION_FIELDS,
                  require_admin=True),
        WsCommand(f"{DOMAIN}/provisioning/revoke", revoke, DEVICE, require_admin=True),
        WsCommand(f"{DOMAIN}/provisioning/delete", delete, DEVICE, require_admin=True),
        WsCommand(f"{DOMAIN}/traffic/start", start, START, require_admin=True),
        WsCommand(f"{DOMAIN}/traffic/poll", poll, POLL, require_admin=True),
        WsCommand(f"{DOMAIN}/traffic/pause", pause, PAUSE, require_admin=True),
        WsCommand(f"{DOMAIN}/traffic/stop", stop, SESSION, require_admin=True),
    ]
