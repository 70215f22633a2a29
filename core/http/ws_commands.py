"""The commands of the WebSocket API (protocol: see ``websocket``).

Home Assistant's commands, same names and shapes:

* ``ping`` → ``{"id", "type": "pong"}``
* ``supported_features`` ``{"features": {"coalesce_messages": 1}}``
* ``subscribe_events`` ``{"event_type"?}`` (all events when left out); each event as
  ``{"id", "type": "event", "event": {"event_type", "data", "origin", "time_fired",
  "context"}}``. Non-admins: only the types in ``USER_EVENTS`` (``call_service``
  carries every caller's data), and events about an entity they may not read are left
  out
* ``subscribe_entities`` ``{"entity_ids"?}``: first ``{"a": {entity_id: compressed}}``
  with every (wanted) entity, then ``{"a": ...}`` for new entities, ``{"c": {entity_id:
  {"+": {...}, "-": {"a": [names]}}}}`` for changes and ``{"r": [entity_id]}`` for
  removals; compressed states use HA's keys ``s``, ``a``, ``c``, ``lc``, ``lu``
* ``unsubscribe_events`` ``{"subscription": id}`` (ends either kind of subscription)
* ``get_states``, ``get_services``, ``get_config``, ``get_panels`` (states and entity
  subscriptions hold only the entities the user may read; every service is listed,
  marked ``admin_only`` or not)
* ``call_service`` ``{"domain", "service", "service_data"?, "target"?,
  "return_response"?}`` → ``{"context", "response"}`` (checked by the service registry
  against the user's permissions)
* ``fire_event`` ``{"event_type", "event_data"?}`` (admin)

Gatehouse's own (admin only), the config flows of the UI over the socket:

* ``config_entries/get`` ``{"domain"?}`` → entry summaries
* ``config_entries/flow/handlers`` → integrations with a config flow
* ``config_entries/flow/init`` ``{"handler"}`` → a flow result (a form to show,
  ``create_entry`` or ``abort``)
* ``config_entries/flow/configure`` ``{"flow_id", "user_input"?}`` → the next result
* ``config_entries/flow/abort`` ``{"flow_id"}``, ``config_entries/flow/progress``
* ``config_entries/options/init`` ``{"entry_id"}``,
  ``config_entries/options/configure`` ``{"flow_id", "user_input"?}``
* ``config_entries/reload``, ``config_entries/remove`` ``{"entry_id"}``;
  ``config_entries/disable`` ``{"entry_id", "disabled": bool}``
* ``auth/current_user``

Plugins add theirs with the ``gatehouse_ws_commands`` hook (``WsCommand``, named
``<domain>/<command>``): ``plugin_commands`` turns them into ``CommandDef`` once, when
the app is made; the socket looks a type up in ``COMMANDS`` first, then in those. A
``WsCommand`` with ``subscribe`` is a subscription: its events flow only after its
result, and ``unsubscribe_events`` (or the socket closing) runs its undo. A handler
that returns ``RawJson`` (or an event sent as ``RawJson``) is spliced into the frame
as the plugin encoded it: a large answer is encoded in the plugin's worker thread, not
by ``dumpb`` on the loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import voluptuous as vol

from ..bus import MATCH_ALL, Event
from ..context import Context
from ..permissions import Unauthorized
from ..states import EVENT_STATE_CHANGED, State
from .extensions import WsCommand, collect_panels, collect_ws_commands
from .jsonutil import dumpb
from .raw import RawJson
from .views_api import describe_services
from .views_config import entry_json, flow_json
from .websocket import Connection

Handler = Callable[[Connection, int, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CommandDef:
    name: str
    handler: Handler
    schema: vol.Schema
    admin: bool


COMMANDS: dict[str, CommandDef] = {}


def command(
    name: str, schema: Mapping[Any, Any] | None = None, *, admin: bool = False
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        COMMANDS[name] = CommandDef(name, handler, vol.Schema(dict(schema or {})), admin)
        return handler

    return register


def plugin_commands(host: Any) -> dict[str, CommandDef]:
    """The plugins' WebSocket commands (``gatehouse_ws_commands``) as ``CommandDef``;
    a name the core uses is never taken from it (``WsCommand.problem`` reserves them)."""
    found: dict[str, CommandDef] = {}
    for name, plugin_command in collect_ws_commands(host).items():
        if name in COMMANDS:
            continue
        schema = plugin_command.schema
        if schema is None:
            schema = {}
        if not isinstance(schema, vol.Schema):
            schema = vol.Schema(dict(schema))
        found[name] = CommandDef(name, _plugin_handler(plugin_command), schema,
                                 plugin_command.require_admin)
    return found


def _plugin_handler(plugin_command: WsCommand) -> Handler:
    subscribe = plugin_command.subscribe
    if subscribe is not None:
        async def subscription(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
            def send(event: Any) -> None:
                if msg_id in conn.subscriptions:
                    if isinstance(event, RawJson):  # encoded by the plugin: as is
                        conn.send_raw_event(msg_id, event.parts)
                    else:
                        conn.send_event(msg_id, dumpb(event))

            undo = await subscribe(conn.permissions, args, send)
            if conn.closing:
                undo()
                return
            conn.subscriptions[msg_id] = undo
            conn.send_result(msg_id)

        return subscription
    run = plugin_command.handler

    async def handler(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
        result = await run(conn.permissions, args)
        if isinstance(result, RawJson):  # encoded by the plugin (off the loop): as is
            conn.send_raw_parts(msg_id, result.parts)
        else:
            conn.send_result(msg_id, result)

    return handler


# -- basics ----------------------------------------------------------------------------


@command("ping")
async def ping(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    conn.send(b'{"id":%d,"type":"pong"}' % msg_id)


@command("supported_features", {vol.Required("features"): {str: vol.Any(int, bool)}})
async def supported_features(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    conn.coalesce = bool(args["features"].get("coalesce_messages"))
    conn.send_result(msg_id)


@command("auth/current_user")
async def current_user(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    conn.send_result(msg_id, conn.user.public())


@command("get_config")
async def get_config(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    from .core_config import core_config

    conn.send_result(msg_id, core_config(conn.host))


@command("get_panels")
async def get_panels(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    panels = collect_panels(conn.host)
    conn.send_result(msg_id, {
        name: p.as_dict() for name, p in sorted(panels.items())
        if conn.user.is_admin or not p.require_admin
    })


# -- events and states -----------------------------------------------------------------


def _readable(conn: Connection) -> Callable[[Mapping[str, Any]], bool]:
    """An event filter: the event is about no entity, or one the user may read now."""

    def readable(data: Mapping[str, Any]) -> bool:
        user = conn.user  # asked per event: it runs for every state change and client
        if user.is_admin:
            return True
        entity_id = data.get("entity_id")
        return not isinstance(entity_id, str) or user.permissions.can_read(entity_id)

    return readable


@command("subscribe_events", {vol.Optional("event_type", default=MATCH_ALL): str})
async def subscribe_events(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    cache = conn.runtime.cache
    event_type = args["event_type"]
    if not conn.permissions.can_subscribe(None if event_type == MATCH_ALL else event_type):
        what = "every event" if event_type == MATCH_ALL else f"{event_type} events"
        raise Unauthorized(f"subscribing to {what}", conn.user.id)

    def forward(event: Event[Any]) -> None:
        conn.send_event(msg_id, cache.event(event))

    stop_listening = conn.host.bus.listen(event_type, forward, _readable(conn))
    # Counted as a client's listener: it must not add a label to /metrics (see metrics).
    uncount = conn.runtime.metrics.client_listening(args["event_type"])

    def unsubscribe() -> None:
        stop_listening()
        uncount()

    conn.subscriptions[msg_id] = unsubscribe
    conn.send_result(msg_id)


@command("subscribe_entities", {vol.Optional("entity_ids"): [str]})
async def subscribe_entities(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    cache = conn.runtime.cache
    wanted = set(args["entity_ids"]) if args.get("entity_ids") else None

    def forward(event: Event[Any]) -> None:
        data = event.data
        old: State | None = data["old_state"]
        new: State | None = data["new_state"]
        if new is None:
            if old is None:
                return
            payload = cache.removed(old)
        elif old is None:
            payload = cache.added(new)
        else:
            payload = cache.changed(old, new)
        conn.send_event(msg_id, payload)

    readable = _readable(conn)

    def event_filter(data: Mapping[str, Any]) -> bool:
        return (wanted is None or data["entity_id"] in wanted) and readable(data)

    # Listen, answer and snapshot in one step: no change can fall between them.
    conn.subscriptions[msg_id] = conn.host.bus.listen(
        EVENT_STATE_CHANGED, forward, event_filter
    )
    conn.send_result(msg_id)
    states = _readable_states(conn)
    if wanted is not None:
        states = [s for s in states if s.entity_id in wanted]
    conn.send_event(msg_id, cache.snapshot(states))


def _readable_states(conn: Connection) -> list[State]:
    states = conn.host.states.all()
    permissions = conn.permissions
    if permissions.is_admin:
        return states
    return [s for s in states if permissions.can_read(s.entity_id)]


@command("unsubscribe_events", {vol.Required("subscription"): int})
async def unsubscribe_events(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    undo = conn.subscriptions.pop(args["subscription"], None)
    if undo is None:
        conn.send_error(msg_id, "not_found", "Subscription not found.")
        return
    undo()
    conn.send_result(msg_id)


@command("get_states")
async def get_states(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    cache = conn.runtime.cache
    conn.send_raw_result(
        msg_id, b"[" + b",".join(cache.full(s) for s in _readable_states(conn)) + b"]"
    )


@command("get_services")
async def get_services(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    conn.send_result(msg_id, {
        item["domain"]: item["services"] for item in describe_services(conn.host)
    })


@command("call_service", {
    vol.Required("domain"): str,
    vol.Required("service"): str,
    vol.Optional("service_data", default=dict): dict,
    vol.Optional("target"): dict,
    vol.Optional("return_response", default=False): bool,
})
async def call_service(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    from .targets import expand_target

    context = Context(user_id=conn.user.id)
    data = expand_target(conn.host, args["domain"], args["service"],
                         {**args["service_data"], **(args.get("target") or {})})
    response = await conn.host.services.call(
        args["domain"], args["service"], data, context=context,
        return_response=args["return_response"],
    )
    conn.send_result(msg_id, {"context": context.as_dict(), "response": response})


@command("fire_event", {vol.Required("event_type"): str, vol.Optional("event_data"): dict},
         admin=True)
async def fire_event(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    from .errors import HttpError
    from .views_api import PROTECTED_EVENTS

    event_type = args["event_type"]
    if event_type in PROTECTED_EVENTS or event_type == MATCH_ALL:
        raise HttpError(400, f"event_type: {event_type!r} is fired by the core only")
    context = Context(user_id=conn.user.id)
    conn.host.bus.fire(event_type, args.get("event_data") or {}, context)
    conn.send_result(msg_id, {"context": context.as_dict()})


# -- config entries and flows (admin) --------------------------------------------------


@command("config_entries/get", {vol.Optional("domain"): str}, admin=True)
async def entries_get(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    host = conn.host
    conn.send_result(
        msg_id, [entry_json(host, e) for e in host.config_entries.entries(args.get("domain"))]
    )


@command("config_entries/flow/handlers", admin=True)
async def flow_handlers(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    available = conn.host.plugins.available()
    conn.send_result(msg_id, [
        {"domain": d, "name": info.manifest.name}
        for d, info in sorted(available.items()) if info.manifest.config_flow
    ])


@command("config_entries/flow/progress", admin=True)
async def flow_progress(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    conn.send_result(msg_id, conn.host.config_entries.flow.progress())


@command("config_entries/flow/init", {vol.Required("handler"): str}, admin=True)
async def flow_init(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    result = await conn.host.config_entries.flow.init(args["handler"])
    conn.send_result(msg_id, flow_json(conn.host, result, args["handler"]))


def _handler_of(manager: Any, flow_id: str) -> str | None:
    for flow in manager.progress():
        if flow["flow_id"] == flow_id:
            return str(flow["handler"])
    return None


@command("config_entries/flow/configure",
         {vol.Required("flow_id"): str, vol.Optional("user_input"): vol.Any(None, dict)},
         admin=True)
async def flow_configure(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    manager = conn.host.config_entries.flow
    domain = _handler_of(manager, args["flow_id"])
    result = await manager.configure(args["flow_id"], args.get("user_input"))
    conn.send_result(msg_id, flow_json(conn.host, result, domain))


@command("config_entries/flow/abort", {vol.Required("flow_id"): str}, admin=True)
async def flow_abort(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    conn.host.config_entries.flow.abort(args["flow_id"])
    conn.send_result(msg_id)


@command("config_entries/options/init", {vol.Required("entry_id"): str}, admin=True)
async def options_init(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    entry = conn.host.config_entries.get(args["entry_id"])
    result = await conn.host.config_entries.options.init(entry.entry_id)
    conn.send_result(msg_id, flow_json(conn.host, result, entry.domain))


@command("config_entries/options/configure",
         {vol.Required("flow_id"): str, vol.Optional("user_input"): vol.Any(None, dict)},
         admin=True)
async def options_configure(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    host = conn.host
    manager = host.config_entries.options
    entry_id = _handler_of(manager, args["flow_id"])
    domain = host.config_entries.get(entry_id).domain if entry_id else None
    result = await manager.configure(args["flow_id"], args.get("user_input"))
    conn.send_result(msg_id, flow_json(host, result, domain))


@command("config_entries/reload", {vol.Required("entry_id"): str}, admin=True)
async def entry_reload(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    host = conn.host
    ok = await host.config_entries.reload(args["entry_id"])
    conn.send_result(msg_id, {
        "ok": ok, "entry": entry_json(host, host.config_entries.get(args["entry_id"]))
    })


@command("config_entries/disable",
         {vol.Required("entry_id"): str, vol.Required("disabled"): bool}, admin=True)
async def entry_disable(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    host = conn.host
    await host.config_entries.set_disabled(args["entry_id"], args["disabled"])
    conn.send_result(msg_id, entry_json(host, host.config_entries.get(args["entry_id"])))


@command("config_entries/remove", {vol.Required("entry_id"): str}, admin=True)
async def entry_remove(conn: Connection, msg_id: int, args: dict[str, Any]) -> None:
    host = conn.host
    host.config_entries.get(args["entry_id"])
    await host.config_entries.remove(args["entry_id"])
    conn.send_result(msg_id, {"removed": args["entry_id"]})


# The Home Assistant command groups in their own modules register on import (they use
# ``command`` above, so they are imported last).
from . import ws_registry, ws_template  # noqa: E402, F401
