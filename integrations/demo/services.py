"""``demo.reset_counter``: a domain service with response data.

Registered when the first demo entry loads and removed with the last (``LOADED``), so
it acts on whichever entries are loaded, all of them or the one named.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from gatehouse.core import Host, LoadedEntries, ServiceCall, SupportsResponse, Unsubscribe

from .const import DOMAIN
from .runtime import DemoRuntime

RESET_SCHEMA = vol.Schema({vol.Optional("entry_id"): str, **LoadedEntries.TARGET_FIELDS})


def _register_services(host: Host) -> list[Unsubscribe]:
    async def reset_counter(call: ServiceCall) -> dict[str, Any]:
        # An entry id, or the entries of the targeted entities, or every entry.
        given = call.data.get("entry_id")
        wanted = [given] if given is not None else LOADED.target_entries(host, call)
        previous = {
            entry_id: runtime.counter.reset(call.context)
            for entry_id, runtime in LOADED.runtimes(host).items()
            if not wanted or entry_id in wanted
        }
        return {"previous": previous}

    return [
        host.services.register(
            DOMAIN, "reset_counter", reset_counter, RESET_SCHEMA,
            supports_response=SupportsResponse.OPTIONAL,
        )
    ]


#: Loaded demo entries by entry id; the domain's services act on them.
LOADED: LoadedEntries[DemoRuntime] = LoadedEntries(DOMAIN, _register_services)
