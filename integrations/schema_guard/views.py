"""The quarantine's REST API, for admins only (``gatehouse_http_routes``).

Admin-only because a quarantine holds what devices sent (masked for PII, but still
their data) and replay feeds messages back into the house. The routes:

* ``GET /api/schema_guard/quarantine?topic=&rule=&path=&since=&until=&replayed=
  &limit=&before=``: a page of messages, newest first, without payloads
  (``{"messages", "next_before"}``; pass ``next_before`` as ``before`` for the next);
* ``GET /api/schema_guard/quarantine/{id}``: one message with its errors and payload;
* ``GET /api/schema_guard/paths?<filters>&limit=``: the error paths that fail most;
* ``GET /api/schema_guard/export?<filters>``: JSON lines, oldest first, streamed a
  batch at a time (a download: ``Content-Disposition: attachment``);
* ``POST /api/schema_guard/replay`` ``{"dry_run": true, "filters": {...}}``: the
  replay's counts (``ReplayResult``); a dry run unless ``dry_run`` is false;
* ``GET /api/schema_guard/problems``: ``{"problems": {file or rule: reason},
  "schemas": {name: [versions]}}`` — a broken schema file keeps the previous version
  in force, and this is where the UI says so (beside the log and the problem entity).

``topic`` takes MQTT wildcards; ``since``/``until`` seconds since 1970 or ISO 8601.
A bad parameter is a 400 naming it; with no schema_guard entry loaded every route
answers 404 saying so (the routes exist from the start of the web server).
"""

from __future__ import annotations

import time
from typing import Final

from aiohttp import web

from gatehouse.core import Host
from gatehouse.core.http import RouteDef, read_json

from . import browse
from .api import guard_for
from .errors import GuardUnavailable
from .services import LOADED

PREFIX: Final = "/api/schema_guard"
#: The largest replay request body read (filters only).
BODY_MAX: Final = 16 * 1024


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


def _not_loaded() -> web.Response:
    return _error(404, browse.NOT_LOADED)


def routes(host: Host) -> list[RouteDef]:
    """The routes above, bound to ``host``."""

    async def quarantine(request: web.Request) -> web.Response:
        writer = browse.writer_of(host)
        if writer is None:
            return _not_loaded()
        try:
            own, rest = browse.split_query(request.query, ("limit", "before"))
            limit = browse.parse_int("limit", own.get("limit", browse.PAGE_DEFAULT),
                                     low=1, high=browse.PAGE_MAX)
            before = (None if own.get("before") in (None, "") else
                      browse.parse_int("before", own["before"], low=1, high=2**62))
            filters = browse.parse_filters(rest)
        except ValueError as err:
            return _error(400, str(err))
        found = await browse.page(writer, filters, limit=limit, before=before)
        return web.json_response(found.as_dict())

    async def one(request: web.Request) -> web.Response:
        writer = browse.writer_of(host)
        if writer is None:
            return _not_loaded()
        try:
            message_id = browse.parse_int("id", request.match_info["message_id"],
                                          low=1, high=2**62)
        except ValueError as err:
            return _error(400, str(err))
        found = await browse.message(writer, message_id)
        if found is None:
            return _error(404, f"no quarantined message {message_id}")
        return web.json_response(found)

    async def paths(request: web.Request) -> web.Response:
        writer = browse.writer_of(host)
        if writer is None:
            return _not_loaded()
        try:
            own, rest = browse.split_query(request.query, ("limit",))
            limit = browse.parse_int("limit", own.get("limit", browse.PATHS_DEFAULT),
                                     low=1, high=browse.PATHS_MAX)
            filters = browse.parse_filters(rest)
        except ValueError as err:
            return _error(400, str(err))
        return web.json_response({"paths": await browse.paths(writer, filters, limit)})

    async def export(request: web.Request) -> web.StreamResponse:
        writer = browse.writer_of(host)
        if writer is None:
            return _not_loaded()
        try:
            filters = browse.parse_filters(request.query)
        except ValueError as err:
            return _error(400, str(err))
        name = time.strftime("quarantine-%Y%m%d-%H%M%S.jsonl", time.gmtime())
        response = web.StreamResponse(headers={
            "Content-Type": "application/x-ndjson; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        })
        await response.prepare(request)
        if request.method != "HEAD":
            async for chunk in browse.export_lines(writer, filters):
                await response.write(chunk)
        await response.write_eof()
        return response

    async def replay(request: web.Request) -> web.Response:
        if browse.writer_of(host) is None:
            return _not_loaded()
        try:
            body = await read_json(request, limit=BODY_MAX)
            dry_run, filters = browse.replay_args(body)
        except ValueError as err:
            return _error(400, str(err))
        try:
            result = await guard_for(host).replay(
                dry_run=dry_run, rule=filters.rule, topic=filters.topic, path=filters.path,
                since=filters.since, until=filters.until)
        except GuardUnavailable as err:
            return _error(404, str(err))
        return web.json_response(result.as_dict())

    async def problems(request: web.Request) -> web.Response:
        runtimes = LOADED.runtimes(host)
        if not runtimes:
            return _not_loaded()
        runtime = next(iter(runtimes.values()))
        return web.json_response({
            "problems": dict(sorted(runtime.problems().items())),
            "schemas": {name: runtime.catalog.available(name)
                        for name in sorted(runtime.catalog.versions)},
        })

    return [
        RouteDef("GET", f"{PREFIX}/problems", problems, require_admin=True),
        RouteDef("GET", f"{PREFIX}/quarantine", quarantine, require_admin=True),
        RouteDef("GET", f"{PREFIX}/quarantine/{{message_id}}", one, require_admin=True),
        RouteDef("GET", f"{PREFIX}/paths", paths, require_admin=True),
        RouteDef("GET", f"{PREFIX}/export", export, require_admin=True),
        RouteDef("POST", f"{PREFIX}/replay", replay, require_admin=True),
    ]
