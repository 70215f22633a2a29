"""Device provisioning's REST API, for admins only (``gatehouse_http_routes``).

* ``GET /api/mqtt/provisioning/entries``: the mqtt entries with a ``provisioning:``
  block, ``{"entries": [{entry_id, title}]}`` by title (the page's broker chooser);
* ``GET /api/mqtt/provisioning?entry_id=``: the entry (``entry_id``, ``title``), the
  choices (``entries``), broker address, device-type templates, what the broker
  enforces, and the provisioned devices;
* ``POST /api/mqtt/provisioning/devices`` ``{name, device_type, site, auth?, entry_id?}``:
  provision; the answer (201) holds the password or key, the QR code and the bundle,
  once (``Cache-Control: no-store``);
* ``GET /api/mqtt/provisioning/devices/{name}?entry_id=``: the record and the broker's
  view of its client;
* ``POST /api/mqtt/provisioning/devices/{name}/revoke?entry_id=``: the one-click stop;
* ``DELETE /api/mqtt/provisioning/devices/{name}?entry_id=``: revoke if needed, remove,
  forget.

``entry_id`` is read as ``mqtt.provision_device`` reads it (``pick_provisioner``): an
entry id or title; left out, the only entry with a block. With several and none named,
or a name that is no such entry, the answer is 400 with the reason and the choices
(``entries``), never the first broker's.

Errors: 400 with the reason (a bad name, the plugin's own error string...), 404 for
an unknown device or no provisioning entry, 504 when the plugin does not answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

import voluptuous as vol
from aiohttp import web

from gatehouse.core import Host, ServiceValidationError
from gatehouse.core.helpers import PkiError, describe_invalid
from gatehouse.core.http import RouteDef, read_json

from . import PROVISIONERS, provisioner_for, provisioning_entries
from .errors import DeviceNotFound, DynsecTimeout, ProvisioningError
from .services import PROVISION_SCHEMA

PREFIX: Final = "/api/mqtt/provisioning"
BODY_MAX: Final = 16 * 1024
_NO_STORE: Final = {"Cache-Control": "no-store"}


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"message": message, **extra}, status=status,
                             headers=_NO_STORE)


def _guard(host: Host, run: Callable[[web.Request], Awaitable[web.StreamResponse]]
           ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            return await run(request)
        except DeviceNotFound as err:
            return _error(404, str(err))
        except DynsecTimeout as err:
            return _error(504, str(err))
        except ProvisioningError as err:
            # No entry with provisioning at all: the routes exist, the thing does not.
            return _error(400 if host.data.get(PROVISIONERS) else 404, str(err))
        except ServiceValidationError as err:
            # Which entry: none named among several, or a name that is none of them.
            # The reason as the services give it, and the choices for a page to offer.
            if not host.data.get(PROVISIONERS):
                return _error(404, err.detail)
            return _error(400, err.detail, entries=provisioning_entries(host))
        except PkiError as err:
            return _error(400, str(err))

    return handler


async def _json_body(request: web.Request) -> Any:
    """The body as JSON, ``{}`` when empty; read whole within ``BODY_MAX`` (413 beyond),
    invalid or too deeply nested JSON a 400 (the house's reader)."""
    body = await read_json(request, limit=BODY_MAX)
    return {} if body is None else body


def routes(host: Host) -> list[RouteDef]:
    """The routes above, bound to ``host``."""
    def named(request: web.Request) -> str | None:
        return request.query.get("entry_id") or None

    async def entries(request: web.Request) -> web.StreamResponse:
        return web.json_response({"entries": provisioning_entries(host)})

    async def overview(request: web.Request) -> web.StreamResponse:
        provisioner = provisioner_for(host, named(request))
        return web.json_response({
            **provisioner.describe(),
            "entries": provisioning_entries(host),
            "devices": [d.as_dict() for d in provisioner.registry.all()],
        })

    async def provision(request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        try:
            args = PROVISION_SCHEMA(body)
        except vol.Invalid as err:
            return _error(400, describe_invalid(err))
        result = await provisioner_for(host, args.get("entry_id")).provision(
            args["name"], args["device_type"], args["site"], args["auth"])
        return web.json_response(result, status=201, headers=_NO_STORE)

    async def device(request: web.Request) -> web.StreamResponse:
        provisioner = provisioner_for(host, named(request))
        return web.json_response(await provisioner.broker_view(request.match_info["name"]))

    async def revoke(request: web.Request) -> web.StreamResponse:
        provisioner = provisioner_for(host, named(request))
        return web.json_response(await provisioner.revoke(request.match_info["name"]))

    async def delete(request: web.Request) -> web.StreamResponse:
        provisioner = provisioner_for(host, named(request))
        await provisioner.delete(request.match_info["name"])
        return web.Response(status=204)

    return [
        RouteDef("GET", f"{PREFIX}/entries", _guard(host, entries), require_admin=True),
        RouteDef("GET", PREFIX, _guard(host, overview), require_admin=True),
        RouteDef("POST", f"{PREFIX}/devices", _guard(host, provision), require_admin=True),
        RouteDef("GET", f"{PREFIX}/devices/{{name}}", _guard(host, device), require_admin=True),
        RouteDef("POST", f"{PREFIX}/devices/{{name}}/revoke", _guard(host, revoke),
                 require_admin=True),
        RouteDef("DELETE", f"{PREFIX}/devices/{{name}}", _guard(host, delete), require_admin=True),
    ]
