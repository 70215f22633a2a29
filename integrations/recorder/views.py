"""The REST API, as Home Assistant's (``gatehouse_http_routes``):

* ``GET /api/history/period[/<start>]?filter_entity_id=a,b&end_time=&minimal_response
  &no_attributes&significant_changes_only=0|1&skip_initial_state``: a list per entity
  of its states (``history.rest_history``'s shape, sent as ``resttext.rest_text``
  makes it from the database, in chunks); ``filter_entity_id`` is required (HA since
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

from . import access, history, logbook, resttext
from .errors import RecorderUnavailableError
from .queries import HistoryPages


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


async def _history_body(pages: HistoryPages, minimal: bool,
                        no_attributes: bool) -> web.Response:
    """The history answer, the text ``json_response`` sent before, read from the
    database and encoded page by page in a worker thread while it is sent
    (``resttext.rest_text`` over ``queries.HistoryPages``), with chunked transfer
    encoding. The first page is read before answering, so a database that cannot be
    read is a 500, not a cut answer.

    WHY: a day at 1 Hz is ~23 MB of JSON; built as dicts and ``json.dumps``-ed it held
    the loop ~250 ms. Here the loop only hands pieces to the transport; each page is
    read when the client has taken the one before (memory: a page and the socket
    buffers, and no read transaction left open between pages: a slow client holds
    no WAL snapshot). A ``Response`` with an async-iterable body rather than a
    prepared ``StreamResponse``: core/http's ``headers_middleware`` adds the security
    headers to unprepared responses only."""
    text = resttext.rest_text(pages, minimal=minimal, no_attributes=no_attributes)

    def next_piece() -> bytes | None:
        piece = next(text, None)
        return None if piece is None else piece.encode()

    def close() -> None:
        text.close()
        pages.close()

    try:
        first = await anyio.to_thread.run_sync(next_piece)
    except BaseException:
        close()  # at once: an await here would not run when cancelled
        raise

    async def pieces() -> AsyncIterator[bytes]:
        try:
            piece = first
            while piece is not None:
                yield piece
                piece = await anyio.to_thread.run_sync(next_piece)
        finally:
            close()  # not reading: a thread call runs to its end even when cancelled

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
        pages = HistoryPages(
            runtime.path, entity_ids, start, end, cipher=runtime.reader_cipher,
            significant_only=significant or minimal, no_attributes=no_attributes,
            include_start_state="skip_initial_state" not in query, minimal=minimal)
        return await _history_body(pages, minimal, no_attributes)

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
