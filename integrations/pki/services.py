"""``pki.refresh``: read the certificates again now (after renewing a watched file by
hand, say), rather than waiting for the next poll. Reads only: not admin-only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol

from gatehouse.core import Host, LoadedEntries, ServiceCall, SupportsResponse, Unsubscribe

from .const import DOMAIN

if TYPE_CHECKING:
    from .runtime import PkiRuntime


def _register_services(host: Host) -> list[Unsubscribe]:
    async def refresh(call: ServiceCall) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for entry_id, runtime in LOADED.runtimes(host).items():
            await runtime.refresh()
            counts[entry_id] = len(runtime.sensors)
        return {"sensors": counts}

    return [
        host.services.register(
            DOMAIN, "refresh", refresh, vol.Schema({}),
            supports_response=SupportsResponse.OPTIONAL,
        )
    ]


#: The loaded pki entry (one per host) by entry id.
LOADED: LoadedEntries[PkiRuntime] = LoadedEntries(DOMAIN, _register_services)
