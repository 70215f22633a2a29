"""The core REST API: states, services, events, config, panels, health and metrics.

Shapes follow Home Assistant's REST API where one exists (``GET /api/states`` returns
HA's state objects, a service call returns the states it changed), so existing HA
tooling mostly just works. Every call made through the API carries a ``Context`` with
the caller's user id, so the audit trail can say who switched what, and so the service
registry checks the call against the caller's permissions.

What a user sees is filtered by its policy: states it may not read are left out of
``GET /api/states`` (and of a service call's changed states) and refused (403) one by
one, whether they exist or not (a refusal must not tell which ids exist). Setting or
deleting a state and firing an event are for admins, as in Home Assistant. The service
list shows every service (names are not secret), each marked ``admin_only`` or not.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from aiohttp import web

from ..context import Context
from ..host import HostState
from ..permissions import Unauthorized
from ..schema_json import serialize_schema
from ..services import Service, SupportsResponse
from ..states import EVENT_STATE_CHANGED, State, valid_entity_id
from .auth import admin_only, any_user, metrics_access, public
from .body import read_body, read_json
from .core_config import core_config as describe_core
from .errors import HttpError, json_response, raw_json_response
from .extensions import collect_panels
from .jsonutil import dumpb
from .runtime import current_permissions, current_user, rt
from .security_events import AUDIT_EVENTS
from .targets import expand_target

routes = web.RouteTableDef()

#: Core events whose data hold live objects (faking them through the API would hand
#: listeners plain dicts where they expect ``State`` objects), and the events the audit
#: log records as facts (faked, they would forge its records).
PROTECTED_EVENTS = frozenset({
    str(EVENT_STATE_CHANGED), "call_service", "service_registered", "service_removed",
    "host_started", "host_stopping", "config_entry_changed", "entity_registry_updated",
    "device_registry_updated", "area_registry_updated", *AUDIT_EVENTS,
})


def _context(request: web.Request) -> Context:
    return Context(user_id=current_user(request).id)


@routes.get("/api/health")
@public
async def health(request: web.Request) -> web.Response:
    """Liveness for load balancers and watchdogs: no auth, no details, no secrets."""
    runtime = rt(request)
    state = runtime.host.state
    if runtime.stopping or state in (HostState.STOPPING, HostState.STOPPED):
        return json_response({"status": "stopping"}, status=503)
    if state is not HostState.RUNNING:
        return json_response({"status": "starting"}, status=503)
    from ..disk import disk_problems

    # Running but impaired (a full disk): still 200, the host is alive; the reason shows.
    problems = disk_problems(runtime.host)
    if problems:
        return json_response({"status": "degraded", "problems": problems})
    return json_response({"status": "ok"})


@routes.get("/api/")
@any_user
async def api_running(request: web.Request) -> web.Response:
    return json_response({"message": "API running."})


@routes.get("/api/config")
@any_user
async def core_config(request: web.Request) -> web.Response:
    """Home Assistant's config (``core_config``), with whether we serve HTTPS and who
    is asking."""
    runtime = rt(request)
    return json_response({
        **describe_core(runtime.host),
        "https": runtime.https,
        "user": current_user(request).public(),
    })


# -- states ----------------------------------------------------------------------------


@routes.get("/api/states")
@any_user
async def get_states(request: web.Request) -> web.Response:
    runtime = rt(request)
    cache = runtime.cache
    permissions = current_permissions(request)
    readable = runtime.host.states.all()
    if not permissions.is_admin:
        readable = [s for s in readable if permissions.can_read(s.entity_id)]
    body = b"[" + b",".join(cache.full(s) for s in readable) + b"]"
    states = runtime.host.states
    cache.prune(states.get, above=2 * len(states) + 64)
    return raw_json_response(body)


def _state_or_404(request: web.Request) -> State:
    entity_id = request.match_info["entity_id"]
    if not current_permissions(request).can_read(entity_id):
        raise Unauthorized(f"reading {entity_id}", current_user(request).id)
    state = rt(request).host.states.get(entity_id)
    if state is None:
        raise HttpError(404, f"entity {entity_id} not found")
    return state


@routes.get("/api/states/{entity_id}")
@any_user
async def get_state(request: web.Request) -> web.Response:
    return raw_json_response(rt(request).cache.full(_state_or_404(request)))


_SET_STATE = vol.Schema({
    vol.Required("state"): vol.Any(str, int, float, bool),
    vol.Optional("attributes", default=dict): dict,
    vol.Optional("force_update", default=False): bool,
})


@routes.post("/api/states/{entity_id}")
@admin_only
async def set_state(request: web.Request) -> web.Response:
    """Set a state as HA does: 201 and ``Location`` when new, 200 when updated."""
    entity_id = request.match_info["entity_id"]
    if not valid_entity_id(entity_id):
        raise HttpError(400, f"invalid entity id {entity_id!r}")
    body = await read_body(request, _SET_STATE)
    states = rt(request).host.states
    existed = entity_id in states
    state = states.set(
        entity_id, body["state"], body["attributes"], force_update=body["force_update"],
        context=_context(request),
    )
    response = raw_json_response(rt(request).cache.full(state), status=200 if existed else 201)
    response.headers["Location"] = f"/api/states/{entity_id}"
    return response


@routes.delete("/api/states/{entity_id}")
@admin_only
async def delete_state(request: web.Request) -> web.Response:
    state = _state_or_404(request)
    rt(request).host.states.remove(state.entity_id, context=_context(request))
    return json_response({"message": f"{state.entity_id} removed"})


# -- services --------------------------------------------------------------------------


def describe_service(host: Any, svc: Service) -> dict[str, Any]:
    """One service for the UI: its form (schema_json), description and response kind."""
    describe = getattr(host.services, "description", None)
    description: Any = describe(svc.domain, svc.name) if describe is not None else {}
    description = description or svc.description or {}
    try:
        fields = serialize_schema(svc.schema)
    except TypeError:  # a schema that is not a dict cannot be drawn as a form
        fields = []
    documented = description.get("fields") or {}
    for field in fields:
        extra = documented.get(field["name"]) if isinstance(documented, dict) else None
        if isinstance(extra, dict):
            # ``selector``: services.yaml's own (HA's config_entry, number ranges...)
            # wins over the one guessed from the schema, as Home Assistant serves it.
            for key in ("name", "description", "example", "selector"):
                if key in extra and key not in field:
                    field[key] = extra[key]
    target = _ha_target(svc, description, fields)
    out: dict[str, Any] = {
        "name": description.get("name", svc.name.replace("_", " ")),
        "description": description.get("description", ""),
        # Home Assistant's shape (an object keyed by field, with selectors), so clients
        # written for HA read it; ``form`` is the same schema as our form renderer wants.
        # A service that targets entities has HA's ``target`` instead of an entity_id
        # field (callers pass ``target`` or ``entity_id`` in the data, both work).
        # A deprecated spelling (``entry`` for ``entry_id``) is accepted, not offered.
        "fields": {
            field["name"]: _ha_field(field) for field in fields
            if (target is None or field["name"] not in _TARGET_KEYS)
            and not field.get("deprecated")
        },
        "form": fields,
        "supports_response": str(svc.supports_response),
        # Refused to non-admins whatever their policy (the UI says so next to its name).
        "admin_only": svc.admin_only,
    }
    if target is not None:
        out["target"] = target
    if svc.supports_response is not SupportsResponse.NONE:
        out["response"] = {"optional": svc.supports_response is SupportsResponse.OPTIONAL}
    return out


#: Service data keys that HA's ``target`` carries.
_TARGET_KEYS = frozenset({"entity_id", "device_id", "area_id"})


def _ha_target(svc: Service, description: Any, fields: list[dict[str, Any]]
               ) -> dict[str, Any] | None:
    """HA's ``target`` selector: from services.yaml (its ``entity`` filter as HA's list
    form), else ``{"entity": [{"domain": [<domain>]}]}`` for a service whose schema has
    an ``entity_id`` field; None for a service that targets nothing."""
    declared = description.get("target") if isinstance(description, dict) else None
    if isinstance(declared, dict):
        target = dict(declared)
        entity = target.get("entity")
        if isinstance(entity, dict):
            target["entity"] = [entity]
        elif entity is None and "entity" in target:
            target["entity"] = [{}]
        return target
    if any(field["name"] == "entity_id" for field in fields):
        return {"entity": [{"domain": [svc.domain]}]}
    return None


def _ha_field(field: dict[str, Any]) -> dict[str, Any]:
    """A ``schema_json`` field as Home Assistant describes service fields."""
    kind = field.get("type")
    selector: dict[str, Any]
    if isinstance(field.get("selector"), dict):
        selector = field["selector"]
    elif field["name"] == "entity_id":
        selector = {"entity": {"multiple": True}}
    elif kind in ("integer", "float"):
        selector = {"number": {k: field[k] for k in ("min", "max") if k in field}}
        selector["number"]["mode"] = "box"
    elif kind == "boolean":
        selector = {"boolean": {}}
    elif kind == "select":
        selector = {"select": {"options": list(field.get("options", []))}}
    elif kind in ("list", "object"):
        selector = {"object": {}}
    elif field.get("secret"):
        selector = {"text": {"type": "password"}}
    else:
        selector = {"text": {}}
    out: dict[str, Any] = {"required": bool(field.get("required")), "selector": selector}
    for key in ("description", "example", "default"):
        if key in field:
            out[key] = field[key]
    return out


def describe_services(host: Any) -> list[dict[str, Any]]:
    return [
        {
            "domain": domain,
            "services": {
                name: describe_service(host, svc) for name, svc in sorted(services.items())
            },
        }
        for domain, services in sorted(host.services.services().items())
    ]


@routes.get("/api/services")
@any_user
async def list_services(request: web.Request) -> web.Response:
    return json_response(describe_services(rt(request).host))


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name)
    return value is not None and value.lower() not in ("0", "false", "no")


@routes.post("/api/services/{domain}/{service}")
@any_user
async def call_service(request: web.Request) -> web.Response:
    """Call a service; answers the states it changed (and its response if asked).

    The registry checks the call against the caller's permissions (``Unauthorized``:
    403); of the states it changed, only those the caller may read are answered.
    """
    host = rt(request).host
    domain, service = request.match_info["domain"], request.match_info["service"]
    data = await read_json(request)
    if data is not None and not isinstance(data, dict):
        raise HttpError(400, "service data must be a JSON object")
    host.services.get(domain, service)  # 400 (HA's) before anything else
    # HA's target: area_id / device_id in the data name entities (``targets``).
    data = expand_target(host, domain, service, data or {})
    want_response = _flag(request, "return_response")
    context = _context(request)
    permissions = current_permissions(request)
    changed: list[State] = []

    def collect(event: Any) -> None:
        new = event.data.get("new_state")
        if (isinstance(new, State) and event.context == context
                and permissions.can_read(new.entity_id)):
            changed.append(new)

    undo = host.bus.listen(EVENT_STATE_CHANGED, collect)
    try:
        response = await host.services.call(
            domain, service, data or {}, context=context, return_response=want_response
        )
    finally:
        undo()
    cache = rt(request).cache
    states = b"[" + b",".join(cache.full(s) for s in changed) + b"]"
    if not want_response:
        return raw_json_response(states)
    return raw_json_response(
        b'{"changed_states":' + states + b',"service_response":' + dumpb(response) + b"}"
    )


# -- events ----------------------------------------------------------------------------


@routes.get("/api/events")
@any_user
async def list_events(request: web.Request) -> web.Response:
    listeners = rt(request).host.bus.listeners()
    return json_response(
        [{"event": name, "listener_count": count} for name, count in sorted(listeners.items())]
    )


@routes.post("/api/events/{event_type}")
@admin_only
async def fire_event(request: web.Request) -> web.Response:
    event_type = request.match_info["event_type"]
    if event_type in PROTECTED_EVENTS or event_type == "*":
        raise HttpError(400, f"event_type: {event_type!r} is fired by the core only")
    data = await read_json(request)
    if data is not None and not isinstance(data, dict):
        raise HttpError(400, "event data must be a JSON object")
    rt(request).host.bus.fire(event_type, data or {}, _context(request))
    return json_response({"message": f"Event {event_type} fired."})


# -- panels and metrics ----------------------------------------------------------------


@routes.get("/api/panels")
@any_user
async def list_panels(request: web.Request) -> web.Response:
    user = current_user(request)
    panels = collect_panels(rt(request).host)
    return json_response([
        p.as_dict() for name, p in sorted(panels.items()) if user.is_admin or not p.require_admin
    ])


@routes.get("/metrics")
@metrics_access
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text: for admins, and for tokens made with the ``metrics`` scope."""
    body, content_type = rt(request).metrics.render()
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response
