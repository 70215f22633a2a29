"""The WebSocket commands, as Home Assistant's (``gatehouse_ws_commands``):

* ``history/history_during_period`` ``{start_time, end_time?, entity_ids,
  include_start_time_state?, significant_changes_only?, minimal_response?,
  no_attributes?}`` → compressed states per entity (``history.ws_history``'s shape,
  read and encoded in a worker thread by ``wstext`` and sent as ``RawJson``);
* ``recorder/statistics_during_period`` ``{start_time, end_time?, statistic_ids,
  period: 5minute|hour|day|week|month, types?}`` → ``{statistic_id: [{start, end,
  mean, min, max}]}`` (ms);
* ``logbook/get_events`` ``{start_time, end_time?, entity_ids?, device_ids?,
  context_id?}`` → the logbook entries of the period, oldest first: the entries of
  ``GET /api/logbook`` and ``logbook/event_stream`` (``logbook.entries``), ``when`` in
  POSIX seconds as HA's WebSocket gives it; built and encoded in a worker thread and
  bounded like the history answer (``wstext.MAX_ANSWER_BYTES``);
* ``history/stream`` and ``logbook/event_stream``: subscriptions (``streams.py``).

Every user may send them; answers hold only entities the user may read. A bad field
answers ``invalid_format`` naming it.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import anyio.to_thread
import voluptuous as vol

from gatehouse.core import Host
from gatehouse.core.http import RawJson, WsCommand

from . import access, history, logbook, queries, streams, wstext
from .queries import HistoryPages

HISTORY_SCHEMA: dict[Any, Any] = {
    vol.Required("start_time"): str,
    vol.Optional("end_time"): vol.Any(None, str),
    vol.Required("entity_ids"): [str],
    vol.Optional("include_start_time_state", default=True): bool,
    vol.Optional("significant_changes_only", default=True): bool,
    vol.Optional("minimal_response", default=False): bool,
    vol.Optional("no_attributes", default=False): bool,
}
STATISTICS_SCHEMA: dict[Any, Any] = {
    vol.Required("start_time"): str,
    vol.Optional("end_time"): vol.Any(None, str),
    vol.Optional("statistic_ids"): vol.Any(None, [str]),
    vol.Required("period"): vol.In(history.PERIODS),
    vol.Optional("types", default=list): [str],
    vol.Optional("units"): dict,
}
LOGBOOK_SCHEMA: dict[Any, Any] = {
    vol.Required("start_time"): str,
    vol.Optional("end_time"): vol.Any(None, str),
    vol.Optional("entity_ids"): [str],
    vol.Optional("device_ids"): [str],
    vol.Optional("context_id"): str,
}


def _times(args: dict[str, Any]) -> tuple[float, float]:
    """HA's WebSocket default end is now (REST's is a day after the start)."""
    try:
        start, end = access.period(args["start_time"], args.get("end_time"))
        if not args.get("end_time"):
            end = max(start, time.time())
        return start, end
    except ValueError as err:
        raise vol.Invalid(str(err)) from None


def commands(host: Host) -> list[WsCommand]:
    """The commands above, bound to ``host``."""

    async def history_during_period(permissions: Any, args: dict[str, Any]) -> Any:
        start, end = _times(args)
        try:
            entity_ids = access.entity_list(args["entity_ids"], "entity_ids")
        except ValueError as err:
            raise vol.Invalid(str(err)) from None
        runtime = access.runtime_of(host)
        if start > time.time():
            return {}  # as HA: nothing yet
        minimal, no_attributes = args["minimal_response"], args["no_attributes"]
        pages = HistoryPages(
            runtime.path, access.readable(permissions, entity_ids), start, end,
            cipher=runtime.reader_cipher,
            significant_only=args["significant_changes_only"] or minimal,
            no_attributes=no_attributes, include_start_state=args["include_start_time_state"],
            minimal=minimal, encode=wstext.compact)
        # Read and encoded in a worker thread, sent by the core as it is: returned as
        # dicts, a day at 1 Hz was ~130 ms of encoding on the loop, which any user
        # could cause.
        return RawJson(await anyio.to_thread.run_sync(functools.partial(
            wstext.answer, pages, minimal=minimal, no_attributes=no_attributes)))

    async def statistics_during_period(permissions: Any, args: dict[str, Any]) -> Any:
        start, end = _times(args)
        runtime = access.runtime_of(host)
        ids = args.get("statistic_ids")
        if ids is None:
            ids = list(await anyio.to_thread.run_sync(queries.statistic_units, runtime.path))
        found = await runtime.statistics(access.readable(permissions, ids), start, end,
                                         args["period"])
        return history.statistics_json(found, args["period"], args["types"])

    async def get_events(permissions: Any, args: dict[str, Any]) -> Any:
        if "context_id" in args:
            # Our entries carry no context id for a client to ask back with, and the
            # database keeps none: an answer of [] would claim the context is empty.
            raise vol.Invalid("context_id: not supported (the recorder keeps no "
                              "context ids)")
        start, end = _times(args)
        entity_ids = streams.logbook_ids(host, args)
        runtime = access.runtime_of(host)
        if start > time.time() or entity_ids == []:
            return []  # as HA: nothing yet / nothing asked for that exists
        rows = await runtime.logbook(start, end, entity_ids, logbook.EVENT_TYPES)
        return RawJson(await anyio.to_thread.run_sync(
            streams.logbook_text, rows, permissions.can_read, permissions.is_admin))

    async def unused(permissions: Any, args: dict[str, Any]) -> None:  # subscriptions
        return None

    return [
        WsCommand("history/history_during_period", history_during_period, HISTORY_SCHEMA),
        WsCommand("history/stream", unused, streams.HISTORY_STREAM_SCHEMA,
                  subscribe=streams.history_stream(host)),
        WsCommand("logbook/get_events", get_events, LOGBOOK_SCHEMA),
        WsCommand("logbook/event_stream", unused, streams.LOGBOOK_STREAM_SCHEMA,
                  subscribe=streams.logbook_stream(host)),
        WsCommand("recorder/statistics_during_period", statistics_during_period,
                  STATISTICS_SCHEMA),
    ]
