"""The audit services, both admin-only because they write to the log.

* ``audit.checkpoint``: sign a checkpoint now, e.g. before a backup; returns the tree
  size per loaded entry.
* ``audit.record``: append one security record, ``audit_security``'s data
  (``api.py``), for the host's own processes only: the CLI through the control socket
  (``gatehouse certs``/``gatehouse keys`` while a host runs; with none running they use
  ``append_offline``). A call on behalf of any user, admins included, is refused: a
  person must not be able to write records that look like the system's (the refused
  attempt is itself recorded as that user's ``service.call``, result ``invalid``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol

from gatehouse.core import (
    Host,
    LoadedEntries,
    ServiceCall,
    ServiceValidationError,
    SupportsResponse,
    Unsubscribe,
)

from .const import DOMAIN
from .listeners import security_record

RECORD_SCHEMA = vol.Schema({
    vol.Required("action"): vol.All(str, vol.Length(min=1, max=64)),
    vol.Optional("result", default="ok"): vol.All(str, vol.Length(max=32)),
    vol.Optional("user_id"): vol.Any(None, str),
    vol.Optional("name"): vol.Any(None, str),
    vol.Optional("ip"): vol.Any(None, str),
    vol.Optional("target"): vol.Any(None, str),
    vol.Optional("details"): dict,
})

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

    async def record(call: ServiceCall) -> dict[str, Any]:
        if call.context.user_id is not None:
            raise ServiceValidationError(
                DOMAIN, "record", "only the host's own processes may write audit records")
        action, actor, target, result, details = security_record(call.data, by=None)
        accepted = False
        for runtime in LOADED.runtimes(host).values():
            accepted = runtime.log.append(action, actor=actor, target=target, result=result,
                                          details={**details, "via": "control"})
            if accepted:
                await runtime.log.flush()
        return {"accepted": accepted}

    return [
        host.services.register(
            DOMAIN, "checkpoint", checkpoint, vol.Schema({}),
            supports_response=SupportsResponse.OPTIONAL, admin_only=True,
        ),
        host.services.register(
            DOMAIN, "record", record, RECORD_SCHEMA,
            supports_response=SupportsResponse.OPTIONAL, admin_only=True,
        ),
    ]


#: The loaded audit entry (one per host) by entry id.
LOADED: LoadedEntries[AuditRuntime] = LoadedEntries(DOMAIN, _register_services)
