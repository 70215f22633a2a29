"""The route walk with roles: every REST route and every WebSocket command, as every kind
of caller (issue 9, finding 4).

The expectations are written here, independently of the markers in the code: each
route (plugin routes included) and each command is listed with the least role that may
use it, for one or more concrete requests. Every caller then tries every request:

* anonymous → 401 (the UI's files: a redirect to the login page; the WebSocket:
  ``auth_invalid``);
* ``read_only`` < ``user`` < ``admin`` < ``owner`` → allowed exactly from the listed
  role up, refused with 403 (WebSocket: ``unauthorized``) below it. "Allowed" means
  not a permission refusal (no 401/403) and no server error: a 400 or 404 for the
  made-up ids used here is fine;
* a token with the ``metrics`` scope → ``/metrics`` only, 403 everywhere else, and no
  WebSocket.

A route or command missing from the tables fails the walk, so a new one forces a
decision; so does one listed here that no longer exists. The users have default
policies (everything their role allows): narrowed policies are tested in
``test_permissions_http.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientSession, ClientWebSocketResponse, DummyCookieJar, WSMsgType, web
from aiohttp.test_utils import TestClient

from gatehouse.core import Host, hookimpl
from gatehouse.core.http import PERMISSIONS_KEY, RouteDef
from gatehouse.core.http.app import create_app
from gatehouse.core.http.auth import Access, access_of
from gatehouse.core.http.runtime import HttpRuntime
from gatehouse.core.http.ws_commands import COMMANDS

pytestmark = pytest.mark.anyio

Client = TestClient[Any, Any]
TIMEOUT = 5

ROLES = ("read_only", "user", "admin", "owner")
RANK = {role: rank for rank, role in enumerate(ROLES)}
PUBLIC = "public"
#: The UI's catch-all: like "read_only", but anonymous browsers are redirected.
UI = "ui"


@dataclass(frozen=True)
class Case:
    """One concrete request of a route and the least role allowed to make it."""

    path: str
    least: str
    body: Any = None


def c(path: str, least: str, body: Any = None) -> Case:
    return Case(path, least, body)


#: Every REST route: (method, route as aiohttp spells it) → concrete requests.
REST: dict[tuple[str, str], list[Case]] = {
    # public
    ("GET", "/api/health"): [c("/api/health", PUBLIC)],
    ("GET", "/api/onboarding"): [c("/api/onboarding", PUBLIC)],
    ("POST", "/api/onboarding/users"): [c("/api/onboarding/users", PUBLIC)],
    ("POST", "/auth/login"): [c("/auth/login", PUBLIC)],
    # webhooks: the id is the credential (views_webhook.py; automation's webhook trigger)
    ("*", "/api/webhook/{webhook_id}"): [c("/api/webhook/an-unknown-id", PUBLIC)],
    # core reads
    ("GET", "/api/"): [c("/api/", "read_only")],
    ("GET", "/api/config"): [c("/api/config", "read_only")],
    ("GET", "/api/states"): [c("/api/states", "read_only")],
    ("GET", "/api/states/{entity_id}"): [c("/api/states/sensor.demo_sine", "read_only")],
    ("GET", "/api/services"): [c("/api/services", "read_only")],
    ("GET", "/api/events"): [c("/api/events", "read_only")],
    ("GET", "/api/panels"): [c("/api/panels", "read_only")],
    ("GET", "/api/components"): [c("/api/components", "read_only")],
    # Home Assistant's admin-only reads: a template reads every state, the log anything
    ("POST", "/api/template"): [c("/api/template", "admin", {"template": "{{ 1 }}"})],
    ("GET", "/api/error_log"): [c("/api/error_log", "admin")],
    # backups (views_backup.py): the archive holds every secret of the box
    ("POST", "/api/backup"): [c("/api/backup", "admin", {})],
    ("POST", "/api/backup/restore-check"): [c("/api/backup/restore-check", "admin", {})],
    # writing states and firing events: admins, as in Home Assistant
    ("POST", "/api/states/{entity_id}"): [
        c("/api/states/sensor.walk_probe", "admin", {"state": "1"})],
    ("DELETE", "/api/states/{entity_id}"): [c("/api/states/sensor.walk_missing", "admin")],
    ("POST", "/api/events/{event_type}"): [c("/api/events/walk_event", "admin", {})],
    # service calls: the registry decides (read-only users call nothing, admin-only
    # services are for admins)
    ("POST", "/api/services/{domain}/{service}"): [
        c("/api/services/demo/reset_counter", "user", {}),
        c("/api/services/walk/raw", "admin", {}),
    ],
    # /metrics: admins (and metrics tokens, see the walk)
    ("GET", "/metrics"): [c("/metrics", "admin")],
    # one's own account
    ("POST", "/auth/logout"): [c("/auth/logout", "read_only")],
    ("GET", "/api/auth/current_user"): [c("/api/auth/current_user", "read_only")],
    ("POST", "/api/auth/password"): [c("/api/auth/password", "read_only", {})],
    ("GET", "/api/auth/tokens"): [c("/api/auth/tokens", "read_only")],
    ("POST", "/api/auth/tokens"): [
        c("/api/auth/tokens", "read_only", {}),
        c("/api/auth/tokens", "admin", {"name": "walk scrape", "scope": "metrics"}),
    ],
    ("DELETE", "/api/auth/tokens/{token_id}"): [c("/api/auth/tokens/nope", "read_only")],
    # users and other users' tokens
    ("GET", "/api/auth/users"): [c("/api/auth/users", "admin")],
    ("POST", "/api/auth/users"): [c("/api/auth/users", "admin", {})],
    ("POST", "/api/auth/users/{user_id}"): [c("/api/auth/users/nope", "admin", {})],
    ("DELETE", "/api/auth/users/{user_id}"): [c("/api/auth/users/nope", "admin")],
    ("POST", "/api/auth/users/{user_id}/policy"): [
        c("/api/auth/users/nope/policy", "admin", {})],
    ("GET", "/api/auth/users/{user_id}/tokens"): [c("/api/auth/users/nope/tokens", "admin")],
    ("DELETE", "/api/auth/users/{user_id}/tokens/{token_id}"): [
        c("/api/auth/users/nope/tokens/nope", "admin")],
    # configuration: admins, reading included
    ("GET", "/api/config/config_entries/entry"): [
        c("/api/config/config_entries/entry", "admin")],
    ("GET", "/api/config/config_entries/entry/{entry_id}"): [
        c("/api/config/config_entries/entry/nope", "admin")],
    ("DELETE", "/api/config/config_entries/entry/{entry_id}"): [
        c("/api/config/config_entries/entry/nope", "admin")],
    ("POST", "/api/config/config_entries/entry/{entry_id}/reload"): [
        c("/api/config/config_entries/entry/nope/reload", "admin")],
    ("POST", "/api/config/config_entries/entry/{entry_id}/disable"): [
        c("/api/config/config_entries/entry/nope/disable", "admin")],
    ("POST", "/api/config/config_entries/entry/{entry_id}/enable"): [
        c("/api/config/config_entries/entry/nope/enable", "admin")],
    ("GET", "/api/config/config_entries/flow_handlers"): [
        c("/api/config/config_entries/flow_handlers", "admin")],
    ("GET", "/api/config/config_entries/flow"): [c("/api/config/config_entries/flow", "admin")],
    ("POST", "/api/config/config_entries/flow"): [
        c("/api/config/config_entries/flow", "admin", {"handler": "walk_none"})],
    ("POST", "/api/config/config_entries/flow/{flow_id}"): [
        c("/api/config/config_entries/flow/nope", "admin", {})],
    ("DELETE", "/api/config/config_entries/flow/{flow_id}"): [
        c("/api/config/config_entries/flow/nope", "admin")],
    ("POST", "/api/config/config_entries/options/flow"): [
        c("/api/config/config_entries/options/flow", "admin", {"handler": "nope"})],
    ("POST", "/api/config/config_entries/options/flow/{flow_id}"): [
        c("/api/config/config_entries/options/flow/nope", "admin", {})],
    ("DELETE", "/api/config/config_entries/options/flow/{flow_id}"): [
        c("/api/config/config_entries/options/flow/nope", "admin")],
    ("GET", "/api/config/entity_registry"): [c("/api/config/entity_registry", "admin")],
    ("POST", "/api/config/entity_registry/{entity_id}"): [
        c("/api/config/entity_registry/sensor.walk_missing", "admin", {})],
    ("GET", "/api/config/device_registry"): [c("/api/config/device_registry", "admin")],
    ("POST", "/api/config/device_registry/{device_id}"): [
        c("/api/config/device_registry/nope", "admin", {})],
    ("POST", "/api/config/core/check_config"): [c("/api/config/core/check_config", "admin")],
    # plugins: echo's route is for users; this module's plugin adds one of each kind
    ("GET", "/api/echo/last"): [c("/api/echo/last", "read_only")],
    ("GET", "/api/walk/mine"): [c("/api/walk/mine", "read_only")],
    ("GET", "/api/walk/admin"): [c("/api/walk/admin", "admin")],
    # schema_guard's quarantine (loaded as a plugin, no entry: admins get 404/400)
    ("GET", "/api/schema_guard/quarantine"): [
        c("/api/schema_guard/quarantine?limit=5", "admin")],
    ("GET", "/api/schema_guard/quarantine/{message_id}"): [
        c("/api/schema_guard/quarantine/1", "admin")],
    ("GET", "/api/schema_guard/paths"): [c("/api/schema_guard/paths", "admin")],
    ("GET", "/api/schema_guard/problems"): [c("/api/schema_guard/problems", "admin")],
    ("GET", "/api/schema_guard/export"): [c("/api/schema_guard/export", "admin")],
    ("POST", "/api/schema_guard/replay"): [
        c("/api/schema_guard/replay", "admin", {"dry_run": False})],
    # the audit log (loaded as a plugin, no entry: admins get 404)
    ("GET", "/api/audit/records"): [c("/api/audit/records?actor=x&limit=5", "admin")],
    ("GET", "/api/audit/status"): [c("/api/audit/status", "admin")],
    ("GET", "/api/audit/verify"): [c("/api/audit/verify", "admin")],
    # the recorder (loaded as a plugin, no entry: 404): every user, filtered per entity
    ("GET", "/api/history/period"): [c("/api/history/period?filter_entity_id=sensor.x",
                                       "read_only")],
    ("GET", "/api/history/period/{start}"): [
        c("/api/history/period/2024-01-01T00:00:00?filter_entity_id=sensor.x", "read_only")],
    ("GET", "/api/logbook"): [c("/api/logbook", "read_only")],
    ("GET", "/api/logbook/{start}"): [c("/api/logbook/2024-01-01T00:00:00", "read_only")],
    # files
    ("GET", "/panels/{name}/{path}"): [c("/panels/echo/index.html", "read_only")],
    ("GET", "/{path}"): [c("/index.html", UI)],
    # the WebSocket authenticates in its protocol: walked command by command below
    ("GET", "/api/websocket"): [],
}

#: Every WebSocket command → (its fields, the least role) for each message tried.
WS: dict[str, list[tuple[dict[str, Any], str]]] = {
    "ping": [({}, "read_only")],
    "supported_features": [({"features": {}}, "read_only")],
    "auth/current_user": [({}, "read_only")],
    "get_config": [({}, "read_only")],
    "get_panels": [({}, "read_only")],
    "get_states": [({}, "read_only")],
    "get_services": [({}, "read_only")],
    "subscribe_entities": [({}, "read_only")],
    "subscribe_events": [
        ({"event_type": "state_changed"}, "read_only"),
        ({"event_type": "entity_registry_updated"}, "read_only"),
        ({"event_type": "area_registry_updated"}, "read_only"),
        ({"event_type": "call_service"}, "admin"),
        ({"event_type": "walk_custom"}, "admin"),
        ({}, "admin"),  # every event
    ],
    "unsubscribe_events": [({"subscription": 10**9}, "read_only")],
    "call_service": [
        ({"domain": "demo", "service": "reset_counter"}, "user"),
        ({"domain": "walk", "service": "raw"}, "admin"),
    ],
    "fire_event": [({"event_type": "walk_event"}, "admin")],
    "config_entries/get": [({}, "admin")],
    "config_entries/flow/handlers": [({}, "admin")],
    "config_entries/flow/progress": [({}, "admin")],
    "config_entries/flow/init": [({"handler": "walk_none"}, "admin")],
    "config_entries/flow/configure": [({"flow_id": "nope"}, "admin")],
    "config_entries/flow/abort": [({"flow_id": "nope"}, "admin")],
    "config_entries/options/init": [({"entry_id": "nope"}, "admin")],
    "config_entries/options/configure": [({"flow_id": "nope"}, "admin")],
    "config_entries/reload": [({"entry_id": "nope"}, "admin")],
    "config_entries/disable": [({"entry_id": "nope", "disabled": True}, "admin")],
    "config_entries/remove": [({"entry_id": "nope"}, "admin")],
    # plugins (gatehouse_ws_commands): echo's is for every user, schema_guard's for admins
    "echo/last": [({}, "read_only")],
    "schema_guard/quarantine/list": [({"limit": 5}, "admin")],
    "schema_guard/quarantine/get": [({"message_id": 1}, "admin")],
    "schema_guard/paths": [({}, "admin")],
    "schema_guard/replay": [({"dry_run": False}, "admin")],
    "audit/records": [({"limit": 5}, "admin")],
    "audit/status": [({}, "admin")],
    # the recorder's: every user (answers hold only the entities the user may read)
    "history/history_during_period": [
        ({"start_time": "2024-01-01T00:00:00", "entity_ids": ["sensor.x"]}, "read_only")],
    "history/stream": [
        ({"start_time": "2024-01-01T00:00:00", "entity_ids": ["sensor.x"]}, "read_only")],
    "logbook/event_stream": [({"start_time": "2024-01-01T00:00:00"}, "read_only")],
    "logbook/get_events": [({"start_time": "2024-01-01T00:00:00"}, "read_only")],
    "recorder/statistics_during_period": [
        ({"start_time": "2024-01-01T00:00:00", "period": "hour"}, "read_only")],
    "audit/verify": [({}, "admin")],
    "template/preview": [({"state": "{{ 1 }}"}, "admin")],  # reads any state
    # Home Assistant's registries (ws_registry): lists for every user (entities
    # filtered), changes for admins; render_template reads any state (admin, as in HA)
    "config/entity_registry/list": [({}, "read_only")],
    "config/entity_registry/list_for_display": [({}, "read_only")],
    "config/entity_registry/get": [({"entity_id": "sensor.demo_sine"}, "read_only")],
    "config/entity_registry/get_entries": [({"entity_ids": ["sensor.demo_sine"]}, "read_only")],
    "config/entity_registry/update": [({"entity_id": "sensor.walk_none"}, "admin")],
    "config/device_registry/list": [({}, "read_only")],
    "config/device_registry/update": [({"device_id": "nope"}, "admin")],
    "config/area_registry/list": [({}, "read_only")],
    "config/area_registry/create": [({"name": "Walk"}, "admin")],
    "config/area_registry/update": [({"area_id": "nope"}, "admin")],
    "config/area_registry/delete": [({"area_id": "nope"}, "admin")],
    "render_template": [({"template": "{{ 1 }}"}, "admin")],
}


class WalkPlugin:
    """A plugin route for any user (which filters by the user's permissions) and one
    for admins."""

    @hookimpl
    def gatehouse_http_routes(self, host: Host) -> list[RouteDef]:
        async def mine(request: web.Request) -> web.Response:
            permissions = request[PERMISSIONS_KEY]
            return web.json_response(
                sorted(s.entity_id for s in host.states.all()
                       if permissions.can_read(s.entity_id))
            )

        async def admin(request: web.Request) -> web.Response:
            return web.json_response({"ok": True})

        return [RouteDef("GET", "/api/walk/mine", mine),
                RouteDef("GET", "/api/walk/admin", admin, require_admin=True)]


@pytest.fixture
async def app(host: Host, http_config: dict[str, Any]) -> web.Application:
    host.plugins.register(WalkPlugin(), "walk_plugin")
    host.plugins.load("schema_guard")  # its routes (and WebSocket commands), no entry
    host.plugins.load("audit")  # the same
    host.plugins.load("recorder")  # the same
    for domain in ("mqtt", "script", "template"):  # template/preview (and its dependencies)
        host.plugins.add_package(domain, f"gatehouse.integrations.{domain}")
    host.plugins.load("template")
    host.services.register("walk", "raw", lambda call: None, admin_only=True)
    return await create_app(host, http_config)


@pytest.fixture
async def tokens(owner: Client, runtime: HttpRuntime) -> dict[str, str]:
    """A long-lived token of a user of each role, and the owner's metrics token."""
    auth = runtime.auth
    (owner_user,) = auth.users()
    users = {"owner": owner_user}
    for role in ("admin", "user", "read_only"):
        users[role] = await auth.create_user(f"walk_{role}", "walk password", role=role)
    values = {role: (await auth.create_token(user, "walk"))[1] for role, user in users.items()}
    values["metrics"] = (await auth.create_token(owner_user, "scrape", scope="metrics"))[1]
    return values


@pytest.fixture
async def bare(owner: Client) -> AsyncIterator[ClientSession]:
    """A session without cookies: every caller below is told apart by its header only."""
    async with ClientSession(
        base_url=str(owner.make_url("/")), cookie_jar=DummyCookieJar()
    ) as session:
        yield session


def _routes(app: web.Application) -> dict[tuple[str, str], Access]:
    return {
        (route.method, route.resource.canonical): access_of(route.handler)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }


def _expected(route: str, least: str, caller: str) -> str:
    """What ``caller`` should get: "allowed", "401", "403" or "redirect"."""
    if caller == "anonymous":
        return "redirect" if least == UI else "401"
    if caller == "metrics":
        return "allowed" if route == "/metrics" else "403"
    if least == UI:
        return "allowed"
    return "allowed" if RANK[caller] >= RANK[least] else "403"


def _outcome(status: int) -> str:
    if status in (401, 403):
        return str(status)
    if status == 302:
        return "redirect"
    assert status < 500, status  # a server error is never "allowed"
    return "allowed"


async def test_every_route_is_in_the_table(app: web.Application) -> None:
    found = _routes(app)
    missing = sorted(set(found) - set(REST))
    gone = sorted(set(REST) - set(found))
    assert missing == [], f"decide who may call these routes and add them to REST: {missing}"
    assert gone == [], f"these routes no longer exist: {gone}"
    # The public ones, and only they, are marked public in the code.
    marked_public = {key for key, access in found.items() if access is Access.PUBLIC}
    assert marked_public == {k for k, cases in REST.items()
                             if any(case.least == PUBLIC for case in cases)}


async def test_every_command_is_in_the_table(runtime: HttpRuntime) -> None:
    commands = set(COMMANDS) | set(runtime.plugin_commands)
    missing = sorted(commands - set(WS))
    gone = sorted(set(WS) - commands)
    assert missing == [], f"decide who may send these commands and add them to WS: {missing}"
    assert gone == []


async def test_rest_walk(app: web.Application, bare: ClientSession, tokens: dict[str, str]
                         ) -> None:
    callers = ["anonymous", *ROLES, "metrics"]
    wrong: list[str] = []
    walked = 0
    for (method, route), cases in sorted(REST.items()):
        for case in cases:
            if case.least == PUBLIC:
                continue
            for caller in callers:
                headers = {} if caller == "anonymous" else {
                    "Authorization": f"Bearer {tokens[caller]}"}
                for verb in (method, "HEAD") if method == "GET" else (method,):
                    response = await bare.request(
                        verb, case.path, json=case.body, headers=headers,
                        allow_redirects=False)
                    got = _outcome(response.status)
                    want = _expected(route, case.least, caller)
                    walked += 1
                    if got != want:
                        text = "" if verb == "HEAD" else (await response.text())[:120]
                        wrong.append(f"{verb} {case.path} as {caller}: {response.status} "
                                     f"({want} expected) {text}")
    assert wrong == []
    assert walked > 400


async def _receive_answer(ws: ClientWebSocketResponse, msg_id: int) -> dict[str, Any]:
    """The answer to ``msg_id``, skipping events of the socket's subscriptions."""
    while True:
        message = await ws.receive_json(timeout=TIMEOUT)
        if message.get("id") == msg_id and message["type"] in ("result", "pong"):
            assert isinstance(message, dict)
            return message


async def _open(client: ClientSession, token: str | None) -> ClientWebSocketResponse:
    ws = await client.ws_connect("/api/websocket")
    assert (await ws.receive_json(timeout=TIMEOUT))["type"] == "auth_required"
    if token is not None:
        await ws.send_json({"type": "auth", "access_token": token})
    return ws


async def test_websocket_walk(bare: ClientSession, tokens: dict[str, str]) -> None:
    wrong: list[str] = []
    # Anonymous: each command sent instead of the auth message is refused.
    for name, cases in sorted(WS.items()):
        for fields, _least in cases:
            ws = await _open(bare, None)
            await ws.send_json({"id": 1, "type": name, **fields})
            answer = await ws.receive_json(timeout=TIMEOUT)
            if answer["type"] != "auth_invalid":
                wrong.append(f"{name} as anonymous: {answer}")
            assert (await ws.receive(timeout=TIMEOUT)).type is WSMsgType.CLOSE
    # A metrics token opens no socket at all.
    ws = await _open(bare, tokens["metrics"])
    assert await ws.receive_json(timeout=TIMEOUT) == {
        "type": "auth_invalid", "message": "this token may only read /metrics"}
    await ws.close()

    for role in ROLES:
        ws = await _open(bare, tokens[role])
        assert (await ws.receive_json(timeout=TIMEOUT))["type"] == "auth_ok"
        msg_id = 0
        for name, cases in sorted(WS.items()):
            for fields, least in cases:
                msg_id += 1
                await ws.send_json({"id": msg_id, "type": name, **fields})
                answer = await _receive_answer(ws, msg_id)
                error = answer.get("error") or {}
                assert error.get("code") != "unknown_error", (name, role, answer)
                refused = error.get("code") == "unauthorized"
                if refused != (RANK[role] < RANK[least]):
                    wrong.append(f"{name} {fields} as {role}: {answer}")
        await ws.close()
    assert wrong == []
