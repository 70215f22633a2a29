"""The WebSocket subscriptions: ``history/stream`` and ``logbook/event_stream``.

Both as Home Assistant's: the result (null) comes first, then one event with what is
stored for the period (``{"states": {...}, "start_time", "end_time"}`` /
``{"events": [...], "start_time", "end_time"}``, times in POSIX seconds), then, when
the period reaches into the present, one event per live change. The live listener is
attached *before* the stored part is read (after a flush of the writer), and changes
that arrive meanwhile are held and sent after it, dropping those already in it, so
nothing falls between the two. A period wholly in the past sends the stored part only.
Entities the user may not read are never sent.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import voluptuous as vol

from gatehouse.core import EVENT_STATE_CHANGED, Event, Host, State
from gatehouse.core.http import RawJson

from . import access, history, logbook, wstext
from .errors import AnswerTooLargeError
from .queries import HistoryPages, LogRow, Row

_LOGGER = logging.getLogger(__name__)

#: Live changes held while the stored part is read; more and the stream is ended.
MAX_HELD = 10_000

HISTORY_STREAM_SCHEMA: dict[Any, Any] = {
    vol.Required("start_time"): str,
    vol.Optional("end_time"): vol.Any(None, str),
    vol.Required("entity_ids"): [str],
    vol.Optional("include_start_time_state", default=True): bool,
    vol.Optional("significant_changes_only", default=True): bool,
    vol.Optional("minimal_response", default=False): bool,
    vol.Optional("no_attributes", default=False): bool,
}
LOGBOOK_STREAM_SCHEMA: dict[Any, Any] = {
    vol.Required("start_time"): str,
    vol.Optional("end_time"): vol.Any(None, str),
    vol.Optional("entity_ids"): [str],
    vol.Optional("device_ids"): [str],
}


def _period(args: dict[str, Any]) -> tuple[float, float | None]:
    try:
        start, end = access.period(args["start_time"], args.get("end_time"))
    except ValueError as err:
        raise vol.Invalid(str(err)) from None
    return start, end if args.get("end_time") else None


class _Stream:
    """One subscription: a live listener, a backlog task, the undo of both."""

    def __init__(self, host: Host, send: Callable[[Any], None]) -> None:
        self.host = host
        self.send = send
        self.held: list[State] | None = []
        self.unlisten: Callable[[], None] | None = None
        self.task: asyncio.Task[None] | None = None
        self.stopped = False

    def listen(self, wanted: Callable[[State], bool],
               live: Callable[[list[State]], None]) -> None:
        self._live = live

        def changed(event: Event[Any]) -> None:
            new = event.data["new_state"]
            if new is None or not wanted(new):
                return
            if self.held is not None:
                if len(self.held) >= MAX_HELD:
                    self.stop()
                    return
                self.held.append(new)
                return
            live([new])

        self.unlisten = self.host.bus.listen(EVENT_STATE_CHANGED, changed)

    def release(self, after: float) -> None:
        held, self.held = self.held or [], None
        newer = [s for s in held if s.last_updated > after]
        if newer:
            self._live(newer)

    def start(self, backlog: Callable[[], Any]) -> None:
        async def run() -> None:
            try:
                await backlog()
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("Recorder: a stream's stored part failed")
                self.stop()

        self.task = asyncio.get_running_loop().create_task(run())

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.unlisten is not None:
            self.unlisten()
        if self.task is not None and not self.task.done() \
                and self.task is not asyncio.current_task():
            self.task.cancel()


def history_stream(host: Host) -> Callable[..., Any]:
    async def subscribe(permissions: Any, args: dict[str, Any],
                        send: Callable[[Any], None]) -> Callable[[], None]:
        start, end = _period(args)
        try:
            entity_ids = access.readable(
                permissions, access.entity_list(args["entity_ids"], "entity_ids"))
        except ValueError as err:
            raise vol.Invalid(str(err)) from None
        runtime = access.runtime_of(host)
        minimal, no_attrs = args["minimal_response"], args["no_attributes"]
        significant = args["significant_changes_only"] or minimal
        stream = _Stream(host, send)
        wanted_ids = set(entity_ids)
        ongoing = end is None or end > time.time()

        def wanted(state: State) -> bool:
            if state.entity_id not in wanted_ids:
                return False
            return not (significant and state.last_changed != state.last_updated
                        and state.domain not in _ALL_CHANGES)

        def live(states: list[State]) -> None:
            grouped: dict[str, list[Row]] = {}
            attributes: dict[Any, Any] = {}
            for state in states:
                key = len(attributes)
                attributes[key] = state.attributes
                grouped.setdefault(state.entity_id, []).append(
                    (state.state, key, state.last_changed, state.last_updated))
            send({"states": {eid: history.compressed(rows, attributes, minimal=False,
                                                     no_attributes=no_attrs, entity_id=eid)
                             for eid, rows in grouped.items()}})

        if ongoing:
            stream.listen(wanted, live)

        # The stored part is read and encoded (in a worker thread, ``wstext``: as dicts a
        # day at 1 Hz was ~130 ms of encoding on the loop) before the subscription is
        # confirmed, so that one over ``wstext.MAX_ANSWER_BYTES`` is refused with a
        # reason instead of a confirmed stream that never sends it. Changes meanwhile are
        # held (``listen``) and sent after it.
        await runtime.flush()
        until = time.time() if end is None else min(end, time.time()) if ongoing else end
        pages = HistoryPages(
            runtime.path, entity_ids, start, until, cipher=runtime.reader_cipher,
            significant_only=significant, no_attributes=no_attrs,
            include_start_state=args["include_start_time_state"], minimal=minimal,
            encode=wstext.compact)
        try:
            stored = RawJson(await anyio.to_thread.run_sync(functools.partial(
                wstext.answer, pages, minimal=minimal, no_attributes=no_attrs,
                period=(start, until))))
        except BaseException:
            stream.stop()
            raise

        async def backlog() -> None:
            send(stored)
            if ongoing:
                stream.release(until)

        stream.start(backlog)
        return stream.stop

    return subscribe


def logbook_text(rows: list[LogRow], can_read: Callable[[str], bool],
                  unbound: bool) -> list[bytes]:
    """The entries the caller may see as one JSON array, in parts, for ``RawJson``.

    Run in a worker thread: a day of a busy host is tens of thousands of entries,
    whose building and encoding would hold the loop as the history's did. The answer
    is one message held whole, so it has the WebSocket history's bound."""
    bound = wstext.MAX_ANSWER_BYTES  # read per call: tests lower it
    parts: list[bytes] = []
    size = 2
    for entry in logbook.entries(rows, can_read=can_read, when=float, unbound=unbound):
        part = ("," if parts else "").encode() + wstext.compact(entry).encode()
        size += len(part)
        if size > bound:
            raise AnswerTooLargeError(
                f"the logbook answer is larger than {bound >> 20} MiB: ask for a "
                "shorter period or fewer entities, or use GET /api/logbook")
        parts.append(part)
    return [b"[", *parts, b"]"]


def logbook_ids(host: Host, args: dict[str, Any]) -> list[str] | None:
    """The entities asked for, as HA: ``entity_ids`` and the entities of
    ``device_ids`` (from the entity registry), together; None when neither is given
    or both are empty (every entity); ``[]`` when they name no entity."""
    wanted = list(args.get("entity_ids") or ())
    devices = set(args.get("device_ids") or ())
    if not wanted and not devices:
        return None
    if devices:
        wanted += [e.entity_id for e in host.entity_registry.entities()
                   if e.device_id in devices]
    try:
        return access.entity_list(wanted, "device_ids" if devices else "entity_ids")
    except ValueError as err:
        raise vol.Invalid(str(err)) from None


def logbook_stream(host: Host) -> Callable[..., Any]:
    async def subscribe(permissions: Any, args: dict[str, Any],
                        send: Callable[[Any], None]) -> Callable[[], None]:
        start, end = _period(args)
        entity_ids = logbook_ids(host, args)  # entity_ids and device_ids, as get_events
        runtime = access.runtime_of(host)
        stream = _Stream(host, send)
        ongoing = end is None or end > time.time()
        can_read = permissions.can_read

        def wanted(state: State) -> bool:
            if entity_ids is not None and state.entity_id not in entity_ids:
                return False
            return state.last_changed == state.last_updated and can_read(state.entity_id) \
                and not logbook.continuous(state.entity_id, dict(state.attributes))

        def live(states: list[State]) -> None:
            send({"events": [{
                "when": s.last_updated, "state": s.state, "entity_id": s.entity_id,
                "name": s.attributes.get("friendly_name") or s.entity_id}
                for s in states]})

        if ongoing:
            stream.listen(wanted, live)

        # The stored part is built and encoded in a worker thread (a busy day is tens of
        # thousands of entries) before the subscription is confirmed, so that one over
        # the answer bound is refused with a reason; changes meanwhile are held.
        await runtime.flush()
        until = time.time() if end is None else min(end, time.time()) if ongoing else end
        rows = [] if entity_ids == [] else await runtime.logbook(
            start, until, entity_ids, logbook.EVENT_TYPES)
        try:
            events = await anyio.to_thread.run_sync(
                logbook_text, rows, can_read, permissions.is_admin)
        except BaseException:
            stream.stop()
            raise
        stored = RawJson([b'{"events":', *events,
                          f',"start_time":{wstext.number(start)},'
                          f'"end_time":{wstext.number(until)}}}'.encode()])

        async def backlog() -> None:
            send(stored)
            if ongoing:
                stream.release(until)

        stream.start(backlog)
        return stream.stop

    return subscribe


_ALL_CHANGES = frozenset({"climate", "device_tracker", "humidifier", "thermostat",
                          "water_heater"})
