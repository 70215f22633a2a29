"""The REST API, as Home Assistant's (``gatehouse_http_routes``):

* ``GET /api/history/period[/<start>]?filter_entity_id=a,b&end_time=&minimal_response
  &no_attributes&significant_changes_only=0|1&skip_initial_state``: a list per entity
  of its states (``history.rest_history``'s shape, sent as
  ``history.rest_history_json`` encodes it, in chunks); ``filter_entity_id`` is required (HA since
  2023.2: 400 without); a start in the future answers ``[]``;
* ``GET /api/logbook[/<start>]?entity=&end_time=``: logbook entries, oldest first.

Every logged-in user may call them; answers hold only the entities the user may read.
A bad time or parameter is a 400 naming it; with no recorder loaded, 404 saying so.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
import anyio.lowlevel
from aiohttp import web

from gatehouse.core import Host
from gatehouse.core.http import PERMISSIONS_KEY, RouteDef

from . import access, history, logbook
from .errors import RecorderUnavailableError
from .queries import Found


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


def _history_body(found: Found, minimal: bool, no_attributes: bool) -> web.Response:
    """The history answer, the text ``json_response`` sent before, encoded piece by
    piece while it is sent (``history.rest_history_json``; a piece is ~1 ms of
    encoding), with chunked transfer encoding.

    WHY: a day at 1 Hz is ~23 MB of JSON; built as dicts and ``json.dumps``-ed it held
    the loop ~250 ms, and a 23 MB body is copied again into the transport's buffer.
    Here the loop is held one piece at most, sending overlaps encoding, and each
    piece waits for the client to take the one before (memory bounded by a piece
    and the socket buffers). A ``Response`` with an async-iterable body rather than a
    prepared ``StreamResponse``: core/http's ``headers_middleware`` adds the security
    headers to unprepared responses only."""

    async def pieces() -> AsyncIterator[bytes]:
        for piece in history.rest_history_json(found, minimal=minimal,
                                               no_attributes=no_attributes):
            yield piece.encode()
            await anyio.lowlevel.checkpoint()

    return web.Response(body=pieces(), content_type="application/json", charset="utf-8")


def routes(host: Host) -> list[RouteDef]:
    """The routes above, bound to ``host``."""

    async def history_period(request: web.Request) -> web.Response:
        query = request.query
        try:
            start, end = access.period(request.match_info.get("start"), query.get("end_time"))
            wanted = query.get("filter_entity_id")
            if not wanted:
                return _error(400, "filter_entity_id is missing")
            entity_ids = access.entity_list(wanted, "filter_entity_id")
        except ValueError as err:
            return _error(400, str(err))
        entity_ids = access.readable(request[PERMISSIONS_KEY], entity_ids)
        minimal = access.flag(query.get("minimal_response"))
        no_attributes = access.flag(query.get("no_attributes"))
        significant = query.get("significant_changes_only", "1") != "0"
        try:
            runtime = access.runtime_of(host)
        except RecorderUnavailableError as err:
            return _error(404, str(err))
        if start > time.time():
            return web.json_response([])
        found = await runtime.states_during(
            entity_ids, start, end, significant_only=significant or minimal,
            no_attributes=no_attributes,
            include_start_state="skip_initial_state" not in query)
        return _history_body(found, minimal, no_attributes)

    async def logbook_view(request: web.Request) -> web.Response:
        query = request.query
        try:
            start, end = access.period(request.match_info.get("start"), query.get("end_time"))
            wanted = query.get("entity")
            entity_ids = access.entity_list(wanted, "entity") if wanted else None
        except ValueError as err:
            return _error(400, str(err))
        permissions = request[PERMISSIONS_KEY]
        try:
            runtime = access.runtime_of(host)
        except RecorderUnavailableError as err:
            return _error(404, str(err))
        rows = await runtime.logbook(start, end, entity_ids, logbook.EVENT_TYPES)
        return web.json_response(logbook.entries(rows, can_read=permissions.can_read,
                                                 when=history.iso,
                                                 unbound=permissions.is_admin))

    return [
        RouteDef("GET", "/api/history/period", history_period),
        RouteDef("GET", "/api/history/period/{start}", history_period),
        RouteDef("GET", "/api/logbook", logbook_view),
        RouteDef("GET", "/api/logbook/{start}", logbook_view),
    ]
