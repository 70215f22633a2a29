"""The recorder's services, admin-only (they delete or hold the database):

* ``recorder.purge`` ``{keep_days?}``: delete states and events older than
  ``keep_days`` (default ``purge_keep_days``) now; returns ``{"deleted"}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol

from gatehouse.core import Host, LoadedEntries, ServiceCall, SupportsResponse, Unsubscribe

from .const import DOMAIN

if TYPE_CHECKING:
    from .runtime import RecorderRuntime

PURGE_SCHEMA = vol.Schema({
    vol.Optional("keep_days"): vol.All(vol.Coerce(float), vol.Range(min=0, max=36500)),
})


def _register_services(host: Host) -> list[Unsubscribe]:
    async def purge(call: ServiceCall) -> dict[str, Any]:
        deleted = 0
        for runtime in LOADED.runtimes(host).values():
            deleted += await runtime.purge(call.data.get("keep_days"))
        return {"deleted": deleted}

    return [host.services.register(DOMAIN, "purge", purge, PURGE_SCHEMA,
                                   supports_response=SupportsResponse.OPTIONAL,
                                   admin_only=True)]


#: The loaded recorder entry (one per host) by entry id.
LOADED: LoadedEntries[RecorderRuntime] = LoadedEntries(DOMAIN, _register_services)
