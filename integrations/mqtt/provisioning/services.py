"""``mqtt.provision_device``, ``mqtt.revoke_device``, ``mqtt.delete_device``.

Admin-only: they create, stop and remove identities on the broker, which no
per-entity policy can bound. Registered with the mqtt domain's other services
(``mqtt/services.py``), so they exist while an mqtt entry is loaded; a call for an
entry without a ``provisioning:`` block is refused saying so.

``provision_device`` only returns response data (``SupportsResponse.ONLY``): its
answer holds the device's password or key, shown once; a call that did not ask for
the answer would create a device nobody can use. What the audit log records of a
call is its input (name, device type, site), never this answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import voluptuous as vol

from gatehouse.core import (
    Host,
    LoadedEntries,
    ServiceCall,
    ServiceValidationError,
    SupportsResponse,
    Unsubscribe,
)
from gatehouse.core.helpers import PkiError

from ..const import DOMAIN
from . import Provisioner, pick_provisioner
from .config import valid_name
from .errors import ProvisioningError

SERVICE_PROVISION = "provision_device"
SERVICE_REVOKE = "revoke_device"
SERVICE_DELETE = "delete_device"
SERVICES = (SERVICE_PROVISION, SERVICE_REVOKE, SERVICE_DELETE)

#: The fields of a provisioning request (the service, REST and WebSocket alike).
PROVISION_FIELDS: dict[Any, Any] = {
    vol.Required("name"): valid_name,
    vol.Required("device_type"): valid_name,
    vol.Required("site"): valid_name,
    vol.Optional("auth", default="password"): vol.In(["password", "certificate"]),
    vol.Optional("entry_id"): vol.Any(None, str),
}
PROVISION_SCHEMA = vol.Schema(PROVISION_FIELDS)
#: The services' schemas: the entry named by the domain's one rule (``ENTRY_FIELDS``).
PROVISION_SERVICE_SCHEMA = vol.Schema({**PROVISION_FIELDS, **LoadedEntries.ENTRY_FIELDS})
DEVICE_SCHEMA = vol.Schema({vol.Required("name"): valid_name, **LoadedEntries.ENTRY_FIELDS})

Handler = Callable[[ServiceCall], Awaitable[Any]]


def _guarded(service: str, run: Callable[[ServiceCall], Awaitable[Any]]) -> Handler:
    async def handler(call: ServiceCall) -> Any:
        try:
            return await run(call)
        except (ProvisioningError, PkiError) as err:
            raise ServiceValidationError(DOMAIN, service, str(err)) from err

    return handler


def register_services(host: Host, loaded: LoadedEntries[Any]) -> list[Unsubscribe]:
    """The three services, bound to ``host``; returns their undos.

    ``loaded`` is the mqtt domain's ``LOADED``: the entry is chosen by its one rule
    (``entry_id``: id or title; left out, the only entry with a provisioning: block),
    never the first of several.
    """

    def provisioner(call: ServiceCall) -> Provisioner:
        return pick_provisioner(host, loaded, call)

    async def provision(call: ServiceCall) -> dict[str, Any]:
        data = call.data
        return await provisioner(call).provision(
            data["name"], data["device_type"], data["site"], data["auth"])

    async def revoke(call: ServiceCall) -> dict[str, Any]:
        return await provisioner(call).revoke(call.data["name"])

    async def delete(call: ServiceCall) -> None:
        await provisioner(call).delete(call.data["name"])

    register = host.services.register
    return [
        register(DOMAIN, SERVICE_PROVISION, _guarded(SERVICE_PROVISION, provision),
                 PROVISION_SERVICE_SCHEMA, supports_response=SupportsResponse.ONLY,
                 admin_only=True),
        register(DOMAIN, SERVICE_REVOKE, _guarded(SERVICE_REVOKE, revoke), DEVICE_SCHEMA,
                 supports_response=SupportsResponse.OPTIONAL, admin_only=True),
        register(DOMAIN, SERVICE_DELETE, _guarded(SERVICE_DELETE, delete), DEVICE_SCHEMA,
                 admin_only=True),
    ]
