"""The audit log's REST API, for admins only (``gatehouse_http_routes``).

Admin-only because the log says who did what, from which address, on which entity:
a map of the plant and its people. The routes:

* ``GET /api/audit/records?actor=&action=&since=&until=&text=&limit=&before=&decrypt=``:
  a page of records, newest first (``{"records", "next_before"}``; pass
  ``next_before`` as ``before`` for the next). ``actor`` is a user id or name (or a
  comma-separated few: any matches),
  ``action`` an action or a prefix ending in ``.`` (``auth.``), ``since``/``until``
  seconds since 1970 or ISO 8601, ``text`` a substring of the values; ``decrypt=true``
  opens sealed values where the tag keyring is at hand;
* ``GET /api/audit/status``: origin, seq, the newest checkpoint (no disk walk);
* ``GET /api/audit/verify``: the offline verifier (public key only) over the log as
  it is now: ``{"ok", "problem", "last_seq", "signed_through", ...}``.

A bad parameter is a 400 naming it; with no audit entry loaded every route answers
404 saying so (the routes exist from the start of the web server).
"""

from __future__ import annotations

from aiohttp import web

from gatehouse.core import Host
from gatehouse.core.http import RouteDef

from . import browse
from .errors import AuditUnavailable

PREFIX = "/api/audit"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


def routes(host: Host) -> list[RouteDef]:
    """The routes above, bound to ``host``."""

    async def records(request: web.Request) -> web.Response:
        try:
            own, rest = browse.split_query(request.query, ("limit", "before", "decrypt"))
            limit = browse.parse_int("limit", own.get("limit", browse.PAGE_DEFAULT),
                                     low=1, high=browse.PAGE_MAX)
            before = (None if own.get("before") in (None, "") else
                      browse.parse_int("before", own["before"], low=1, high=2**62))
            decrypt = browse.parse_bool("decrypt", own.get("decrypt", False))
            filters = browse.parse_filters(rest)
        except ValueError as err:
            return _error(400, str(err))
        try:
            found = await browse.page(host, filters, limit=limit, before=before,
                                      decrypt=decrypt)
        except AuditUnavailable as err:
            return _error(404, str(err))
        return web.json_response(found)

    async def status(request: web.Request) -> web.Response:
        try:
            return web.json_response(await browse.status(host))
        except AuditUnavailable as err:
            return _error(404, str(err))

    async def verify(request: web.Request) -> web.Response:
        try:
            return web.json_response(await browse.verify_now(host))
        except AuditUnavailable as err:
            return _error(404, str(err))

    return [
        RouteDef("GET", f"{PREFIX}/records", records, require_admin=True),
        RouteDef("GET", f"{PREFIX}/status", status, require_admin=True),
        RouteDef("GET", f"{PREFIX}/verify", verify, require_admin=True),
    ]
