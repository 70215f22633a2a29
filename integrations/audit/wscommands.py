"""The audit log over the WebSocket API, for admins only (``gatehouse_ws_commands``).

The same queries as the REST routes (``views.py``), for clients that hold a socket:

* ``audit/records`` ``{actor?, action?, since?, until?, text?, limit?, before?,
  decrypt?}`` → ``{"records", "next_before"}`` (newest first);
* ``audit/status`` → origin, seq, the newest checkpoint;
* ``audit/verify`` → the verifier's outcome over the log as it is now.

A bad field answers ``invalid_format`` naming it; no loaded entry answers with the
reason (an ``AuditError``).
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from gatehouse.core import Host
from gatehouse.core.http import WsCommand

from . import browse
from .const import DOMAIN

_FILTERS: dict[Any, Any] = {
    vol.Optional(name): vol.Any(None, str, int, float) for name in browse.FILTER_NAMES
}
RECORDS_SCHEMA: dict[Any, Any] = {
    **_FILTERS,
    vol.Optional("limit", default=browse.PAGE_DEFAULT): vol.All(
        int, vol.Range(min=1, max=browse.PAGE_MAX)),
    vol.Optional("before"): vol.Any(None, vol.All(int, vol.Range(min=1))),
    vol.Optional("decrypt", default=False): bool,
}


def commands(host: Host) -> list[WsCommand]:
    """The commands above, bound to ``host``."""

    async def records(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        try:
            filters = browse.parse_filters(
                {k: v for k, v in args.items() if k in browse.FILTER_NAMES})
        except ValueError as err:
            raise vol.Invalid(str(err)) from None
        return await browse.page(host, filters, limit=args["limit"],
                                 before=args.get("before"), decrypt=args["decrypt"])

    async def status(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        return await browse.status(host)

    async def verify(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
        return await browse.verify_now(host)

    return [
        WsCommand(f"{DOMAIN}/records", records, RECORDS_SCHEMA, require_admin=True),
        WsCommand(f"{DOMAIN}/status", status, None, require_admin=True),
        WsCommand(f"{DOMAIN}/verify", verify, None, require_admin=True),
    ]
