"""``audit.checkpoint``: sign a checkpoint now (admin only), e.g. before a backup.

Admin-only because it writes to the log and the checkpoints file; it acts on the one
loaded audit entry and returns the new checkpoint's tree size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol

from gatehouse.core import Host, LoadedEntries, ServiceCall, SupportsResponse, Unsubscribe

from .const import DOMAIN

if TYPE_CHECKING:
    from .runtime import AuditRuntime


def _register_services(host: Host) -> list[Unsubscribe]:
    async def checkpoint(call: ServiceCall) -> dict[str, Any]:
        sizes: dict[str, int] = {}
        for entry_id, runtime in LOADED.runtimes(host).items():
            await runtime.log.flush()
            await runtime.log.checkpoint()
            sizes[entry_id] = runtime.log.writer.seq
        return {"seq": sizes}

    return [
        host.services.register(
            DOMAIN, "checkpoint", checkpoint, vol.Schema({}),
            supports_response=SupportsResponse.OPTIONAL, admin_only=True,
        )
    ]


#: The loaded audit entry (one per host) by entry id.
LOADED: LoadedEntries[AuditRuntime] = LoadedEntries(DOMAIN, _register_services)
