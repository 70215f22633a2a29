"""``render_template`` over the WebSocket, as Home Assistant's (admin: a template
reads every state).

``{"template", "variables"?, "strict"?, "report_errors"?, "timeout"?}``: the result
(``null``) first, then an event ``{"result", "listeners": {"all", "domains",
"entities", "time"}}`` now and each time a state the template read changes its result
(``track_template``: one listener per host, rate-limited as HA's: a template that reads
every state at most once a minute, a domain once a second). A first render that fails
is an error (``template_error``, naming the line) unless ``report_errors``, which sends
each error as an event ``{"error", "level": "ERROR"}`` and keeps tracking.
``unsubscribe_events`` (or closing the socket) stops it. ``timeout`` is accepted and
ignored: every render runs under the host's template budget instead.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from ..template.budget import TemplateError
from .jsonutil import dumpb
from .views_ha import MAX_TEMPLATE
from .websocket import Connection
from .ws_commands import command


def _listeners(info: Any) -> dict[str, Any]:
    if info is None:
        return {"all": False, "domains": [], "entities": [], "time": False}
    return {
        "all": bool(info.all_states),
        "domains": sorted(info.domains),
        "entities": sorted(info.entities),
        "time": bool(info.has_time),
    }


def _encoded(event: dict[str, Any]) -> bytes:
    try:
        return dumpb(event)
    except (TypeError, ValueError):  # a native value JSON cannot hold: its text
        return dumpb({**event, "result": str(event.get("result"))})


@command("render_template", {
    vol.Required("template"): vol.All(str, vol.Length(max=MAX_TEMPLATE)),
    vol.Optional("variables"): dict,
    vol.Optional("entity_ids"): vol.Any(str, [str]),  # HA's, superseded by tracking
    vol.Optional("timeout"): vol.Coerce(float),
    vol.Optional("strict", default=False): bool,
    vol.Optional("report_errors", default=False): bool,
}, admin=True)
async def render_template(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    from ..helpers.template import track_template

    report_errors: bool = args["report_errors"]
    tracker: Any = None

    def send(result: Any) -> None:
        if isinstance(result, TemplateError):
            if report_errors:
                conn.send_event(msg_id, dumpb({"error": str(result), "level": "ERROR"}))
            return
        info = tracker.info if tracker is not None else None
        conn.send_event(msg_id, _encoded({"result": result, "listeners": _listeners(info)}))

    def changed(old: Any, new: Any) -> None:
        if conn.subscriptions.get(msg_id) is tracker:  # not before the result, nor after
            send(new)

    tracker = track_template(conn.host, args["template"], args.get("variables"), changed,
                             strict=args["strict"], name="render_template")
    first = tracker.result
    if conn.closing or (isinstance(first, TemplateError) and not report_errors):
        tracker()
        if not conn.closing:
            conn.send_error(msg_id, "template_error", str(first))
        return
    conn.subscriptions[msg_id] = tracker
    conn.send_result(msg_id)
    send(first)
