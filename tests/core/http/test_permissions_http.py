"""The permission model through the web API (issue 9, finding 4), role by role.

What the route walk (``test_permission_walk.py``) cannot see: users managed by admins
with the owner's account protected, policies validated field by field and stored
(a version 1 store migrated), states and subscriptions filtered per entity, service calls
checked for the user who made them, the regression where a non-admin read the owner's
``call_service`` payloads, sockets closed when rights change, and ``/metrics`` for
admins and scrape tokens.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, ClientWebSocketResponse, WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

from gatehouse.core import Context, Host, hookimpl
from gatehouse.core.http import PERMISSIONS_KEY, RouteDef
from gatehouse.core.http.app import create_app
from gatehouse.core.http.auth_store import AuthError, AuthStore, User
from gatehouse.core.http.passwords import hash_password
from gatehouse.core.http.runtime import RUNTIME_KEY, HttpRuntime
from gatehouse.core.permissions import Policy, Role, Unauthorized

pytestmark = pytest.mark.anyio

Client = TestClient[Any, Any]
WS = ClientWebSocketResponse
TIMEOUT = 5
PASSWORD = "a good password"


async def make_user(
    runtime: HttpRuntime, username: str, role: str = "user",
    policy: dict[str, Any] | None = None,
) -> tuple[User, dict[str, str]]:
    """A user of ``role`` (with ``policy``) and the headers of a token of theirs."""
    user = await runtime.auth.create_user(username, PASSWORD, role=role)
    if policy is not None:
        await runtime.auth.update_user(user.id, by=None, policy=Policy.from_dict(policy))
    _, value = await runtime.auth.create_token(user, "tests")
    return user, {"Authorization": f"Bearer {value}"}


async def socket(client: ClientSession | Client, headers: dict[str, str]) -> WS:
    ws = await client.ws_connect("/api/websocket")
    assert (await ws.receive_json(timeout=TIMEOUT))["type"] == "auth_required"
    token = headers["Authorization"].removeprefix("Bearer ")
    await ws.send_json({"type": "auth", "access_token": token})
    assert (await ws.receive_json(timeout=TIMEOUT))["type"] == "auth_ok"
    return ws


async def answer(ws: WS, msg_id: int, kind: str, **fields: Any) -> dict[str, Any]:
    """Send a command; its answer (events of other subscriptions are skipped)."""
    await ws.send_json({"id": msg_id, "type": kind, **fields})
    while True:
        message = await ws.receive_json(timeout=TIMEOUT)
        if message.get("id") == msg_id and message["type"] in ("result", "pong"):
            assert isinstance(message, dict)
            return message


async def next_event(ws: WS, sub_id: int) -> Any:
    while True:
        message = await ws.receive_json(timeout=TIMEOUT)
        if message.get("id") == sub_id and message["type"] == "event":
            return message["event"]


# -- storage ---------------------------------------------------------------------------


def _v1_file(storage: Path, token_value: str) -> None:
    record = hash_password("old password")
    users = [
        {"id": "u1", "username": "olive", "name": "Olive", "password": record,
         "is_owner": True, "is_admin": True, "created_at": 1.0},
        {"id": "u2", "username": "adam", "name": "Adam", "password": record,
         "is_owner": False, "is_admin": True, "created_at": 2.0},
        {"id": "u3", "username": "uma", "name": "Uma", "password": record,
         "is_owner": False, "is_admin": False, "created_at": 3.0},
    ]
    tokens = [{"id": "t1", "user_id": "u3", "name": "script",
               "hash": hashlib.sha256(token_value.encode()).hexdigest(),
               "created_at": 4.0, "last_used_at": None}]
    storage.mkdir(mode=0o700)
    (storage / "auth").write_text(json.dumps({
        "version": 1, "minor_version": 1, "key": "auth",
        "data": {"users": users, "tokens": tokens, "sessions": []},
    }))


async def test_a_version_1_store_is_migrated(tmp_path: Path) -> None:
    storage = tmp_path / ".storage"
    _v1_file(storage, "old token value")
    store = AuthStore(storage, session_lifetime=60)
    await store.load()

    assert {u.username: u.role for u in store.users()} == {
        "olive": Role.OWNER, "adam": Role.ADMIN, "uma": Role.USER}
    olive, adam, uma = store.users()
    assert (olive.is_owner, olive.is_admin) == (True, True)
    assert (adam.is_owner, adam.is_admin) == (False, True)
    assert uma.public() | {"created_at": 0} == {
        "id": "u3", "username": "uma", "name": "Uma", "role": "user",
        "policy": {"read": ["*"], "services": ["*"]}, "is_owner": False, "is_admin": False,
        "created_at": 0}
    found = store.token_for("old token value")
    assert found is not None and found[1] is uma and found[0].scope is None
    assert await store.authenticate("adam", "old password") is adam

    # Written back as version 2: roles instead of flags.
    written = json.loads((storage / "auth").read_text())
    assert written["version"] == 2
    assert [(u["username"], u["role"]) for u in written["data"]["users"]] == [
        ("olive", "owner"), ("adam", "admin"), ("uma", "user")]
    assert all("is_admin" not in u and "is_owner" not in u for u in written["data"]["users"])
    again = AuthStore(storage, session_lifetime=60)
    await again.load()
    assert [u.role for u in again.users()] == [Role.OWNER, Role.ADMIN, Role.USER]


async def test_a_stored_user_with_a_bad_policy_is_named(tmp_path: Path) -> None:
    store = AuthStore(tmp_path, session_lifetime=60)
    user = await store.create_user("uma", PASSWORD)
    await store.flush()
    data = json.loads((tmp_path / "auth").read_text())
    data["data"]["users"][0]["policy"] = {"read": ["Not A Glob"]}
    (tmp_path / "auth").write_text(json.dumps(data))
    with pytest.raises(AuthError, match=r"stored user 'uma' has an invalid role or policy"):
        await AuthStore(tmp_path, session_lifetime=60).load()
    assert user.role is Role.USER


async def test_one_owner_who_has_no_policy(tmp_path: Path) -> None:
    store = AuthStore(tmp_path, session_lifetime=60)
    owner = await store.create_user("olive", PASSWORD, role="owner")
    other = await store.create_user("uma", PASSWORD)
    with pytest.raises(AuthError, match="one owner"):
        await store.create_user("second", PASSWORD, role="owner")
    with pytest.raises(AuthError, match="one owner"):
        await store.update_user(other.id, by=None, role="owner")
    with pytest.raises(AuthError, match="the owner has no policy"):
        await store.update_user(owner.id, by=None, policy=Policy(read=("sensor.*",)))
    with pytest.raises(AuthError, match="role cannot change"):
        await store.update_user(owner.id, by=None, role="admin")
    assert (owner.role, owner.policy, other.role) == (Role.OWNER, Policy(), Role.USER)


# -- managing users ----------------------------------------------------------------------


async def test_admins_manage_users_but_not_the_owner_nor_themselves(
    anon: ClientSession, bearer: dict[str, str], runtime: HttpRuntime
) -> None:
    admin, as_admin = await make_user(runtime, "adam", "admin")
    owner_id = next(u.id for u in runtime.auth.users() if u.is_owner)

    made = await anon.post("/api/auth/users", headers=as_admin, json={
        "username": "viewer", "password": PASSWORD, "name": "Vi", "role": "read_only"})
    assert made.status == 201, await made.text()
    viewer = await made.json()
    assert (viewer["role"], viewer["is_admin"], viewer["is_owner"]) == (
        "read_only", False, False)
    assert viewer["policy"] == {"read": ["*"], "services": ["*"]}

    second_owner = await anon.post("/api/auth/users", headers=as_admin, json={
        "username": "boss", "password": PASSWORD, "role": "owner"})
    assert second_owner.status == 400
    assert "owner is made at onboarding" in (await second_owner.json())["errors"]["role"]
    both = await anon.post("/api/auth/users", headers=as_admin, json={
        "username": "boss", "password": PASSWORD, "role": "user", "is_admin": True})
    assert both.status == 400
    legacy = await anon.post("/api/auth/users", headers=as_admin, json={
        "username": "old_client", "password": PASSWORD, "is_admin": True})
    assert (await legacy.json())["role"] == "admin"

    promoted = await anon.post(f"/api/auth/users/{viewer['id']}", headers=as_admin,
                               json={"role": "user", "name": "Vivian"})
    assert promoted.status == 200
    assert {k: (await promoted.json())[k] for k in ("role", "name")} == {
        "role": "user", "name": "Vivian"}

    async def refused(method: str, path: str, body: Any, headers: dict[str, str]) -> str:
        response = await anon.request(method, path, json=body, headers=headers)
        assert response.status == 403, (path, await response.text())
        message: str = (await response.json())["message"]
        return message

    # An admin cannot change the owner, nor its own role; nobody can.
    assert "of the owner" in await refused(
        "POST", f"/api/auth/users/{owner_id}", {"name": "Mallory"}, as_admin)
    assert "of the owner" in await refused(
        "POST", f"/api/auth/users/{owner_id}/policy", {"read": ["sensor.*"]}, as_admin)
    assert "your own role" in await refused(
        "POST", f"/api/auth/users/{admin.id}", {"role": "user"}, as_admin)
    assert "your own role" in await refused(
        "POST", f"/api/auth/users/{owner_id}", {"role": "admin"}, bearer)
    assert "your own account" in await refused(
        "DELETE", f"/api/auth/users/{admin.id}", None, as_admin)
    gone_owner = await anon.delete(f"/api/auth/users/{owner_id}", headers=as_admin)
    assert gone_owner.status == 400
    assert (await gone_owner.json())["message"] == "the owner cannot be removed"
    owner_user = runtime.auth.get_user(owner_id)
    assert owner_user is not None and owner_user.name == "Owner" and owner_user.is_owner

    # The owner may change its own name, and demote the admin.
    renamed = await anon.post(f"/api/auth/users/{owner_id}", headers=bearer,
                              json={"name": "Olive", "role": "owner"})
    assert renamed.status == 200 and (await renamed.json())["name"] == "Olive"
    crowned = await anon.post(f"/api/auth/users/{admin.id}", headers=bearer,
                              json={"role": "owner"})
    assert crowned.status == 400 and "one owner" in (await crowned.json())["message"]
    demoted = await anon.post(f"/api/auth/users/{admin.id}", headers=bearer,
                              json={"role": "read_only"})
    assert (await demoted.json())["is_admin"] is False
    assert (await anon.get("/api/auth/users", headers=as_admin)).status == 403
    missing = await anon.post("/api/auth/users/nobody", headers=bearer, json={"name": "x"})
    assert missing.status == 404
    assert (await anon.delete(f"/api/auth/users/{admin.id}", headers=bearer)).status == 200
    assert runtime.auth.get_user(admin.id) is None


async def test_policies_are_validated_per_field_and_stored(
    anon: ClientSession, bearer: dict[str, str], runtime: HttpRuntime, host: Host
) -> None:
    user, _ = await make_user(runtime, "uma")
    path = f"/api/auth/users/{user.id}/policy"
    bad = await anon.post(path, headers=bearer, json={
        "read": ["sensor.*", "Sensor Tank"], "control": ["switch.*", "x", "NOPE"],
        "services": ["switch.*"]})
    assert bad.status == 400
    body = await bad.json()
    glob = "expected a glob of lower-case ids, like 'sensor.*' or 'switch.pump'"
    assert body["errors"] == {"read": f"line 2: {glob}", "control": f"line 3: {glob}"}
    assert body["message"].startswith("invalid policy: read: line 2:")
    assert user.policy == Policy()
    unknown = await anon.post(path, headers=bearer, json={"bogus": []})
    assert (await unknown.json())["errors"] == {"bogus": "extra keys not allowed"}

    good = await anon.post(path, headers=bearer, json={
        "read": ["sensor.*", "switch.pump"], "control": ["switch.pump"],
        "services": ["switch.*"]})
    assert good.status == 200
    assert (await good.json())["policy"] == {
        "read": ["sensor.*", "switch.pump"], "control": ["switch.pump"],
        "services": ["switch.*"]}
    await runtime.auth.flush()
    store = AuthStore(host.storage_dir, session_lifetime=60)
    await store.load()
    reloaded = store.get_user(user.id)
    assert reloaded is not None and reloaded.policy == user.policy
    assert reloaded.permissions.can_control("switch.pump")
    assert not reloaded.permissions.can_control("sensor.tank")


async def test_admins_see_and_revoke_other_users_tokens(
    anon: ClientSession, bearer: dict[str, str], runtime: HttpRuntime
) -> None:
    uma, as_uma = await make_user(runtime, "uma")
    _, as_admin = await make_user(runtime, "adam", "admin")
    (token,) = runtime.auth.tokens(uma.id)
    listed = await anon.get(f"/api/auth/users/{uma.id}/tokens", headers=as_admin)
    assert await listed.json() == [token.public()]
    assert "token" not in (await listed.json())[0] and "hash" not in (await listed.json())[0]
    revoked = await anon.delete(f"/api/auth/users/{uma.id}/tokens/{token.id}",
                                headers=as_admin)
    assert revoked.status == 200
    assert (await anon.get("/api/", headers=as_uma)).status == 401

    owner_id = next(u.id for u in runtime.auth.users() if u.is_owner)
    (owner_token,) = runtime.auth.tokens(owner_id)
    refused = await anon.delete(f"/api/auth/users/{owner_id}/tokens/{owner_token.id}",
                                headers=as_admin)
    assert refused.status == 403
    assert (await anon.get("/api/", headers=bearer)).status == 200


# -- what users see ----------------------------------------------------------------------


async def test_states_are_filtered_and_refused_per_entity(
    anon: ClientSession, bearer: dict[str, str], runtime: HttpRuntime
) -> None:
    _, as_uma = await make_user(runtime, "uma", policy={"read": ["sensor.demo_*"]})
    everything = {s["entity_id"] for s in await (await anon.get(
        "/api/states", headers=bearer)).json()}
    assert "switch.demo_switch" in everything and "sensor.echo_last_message" in everything
    seen = {s["entity_id"] for s in await (await anon.get(
        "/api/states", headers=as_uma)).json()}
    assert seen == {"sensor.demo_sine", "sensor.demo_counter"}

    assert (await anon.get("/api/states/sensor.demo_sine", headers=as_uma)).status == 200
    refused = await anon.get("/api/states/switch.demo_switch", headers=as_uma)
    assert refused.status == 403
    assert await refused.json() == {"message": "not allowed: reading switch.demo_switch"}
    # Refused whether or not it exists, so refusals do not tell which ids exist.
    assert (await anon.get("/api/states/switch.nowhere", headers=as_uma)).status == 403
    assert (await anon.get("/api/states/sensor.demo_nowhere", headers=as_uma)).status == 404


async def test_service_calls_are_checked_for_the_caller(
    anon: ClientSession, bearer: dict[str, str], runtime: HttpRuntime, host: Host
) -> None:
    calls: list[str | None] = []
    host.services.register("probe", "raw", lambda call: calls.append(call.context.user_id),
                           admin_only=True)
    uma, as_uma = await make_user(runtime, "uma", policy={
        "read": ["switch.*"], "services": ["demo.*"]})
    _, as_viewer = await make_user(runtime, "vi", "read_only")

    off = await anon.post("/api/services/switch/turn_off", headers=as_uma,
                          json={"entity_id": "switch.demo_switch"})
    assert off.status == 403
    assert await off.json() == {"message": "not allowed: switch.turn_off"}
    assert host.states.get("switch.demo_switch").state == "on"  # type: ignore[union-attr]
    raw = await anon.post("/api/services/probe/raw", headers=as_uma, json={})
    assert raw.status == 403 and "admin only" in (await raw.json())["message"]
    viewer = await anon.post("/api/services/demo/reset_counter", headers=as_viewer, json={})
    assert viewer.status == 403 and "read-only" in (await viewer.json())["message"]
    assert calls == []

    # Allowed, and the answer holds only the changed states the caller may read.
    host.states.set("sensor.demo_counter", "7")
    by_uma = await anon.post("/api/services/demo/reset_counter", headers=as_uma, json={})
    assert by_uma.status == 200 and await by_uma.json() == []
    assert host.states.get("sensor.demo_counter").state == "0"  # type: ignore[union-attr]
    host.states.set("sensor.demo_counter", "7")
    by_owner = await anon.post("/api/services/demo/reset_counter", headers=bearer, json={})
    assert [s["entity_id"] for s in await by_owner.json()] == ["sensor.demo_counter"]
    assert (await anon.post("/api/services/probe/raw", headers=bearer, json={})).status == 200
    assert calls == [next(u.id for u in runtime.auth.users() if u.is_owner)]
    assert uma.id not in calls


async def test_a_service_called_for_a_user_calls_on_as_that_user(
    anon: ClientSession, bearer: dict[str, str], runtime: HttpRuntime, host: Host
) -> None:
    """A handler passing its call's context on (as a plugin publishing through
    ``mqtt.publish`` does) cannot lend its caller an admin-only service."""
    raw: list[str | None] = []
    host.services.register("probe", "raw", lambda call: raw.append(call.context.user_id),
                           admin_only=True)

    async def relay(call: Any) -> None:
        await host.services.call("probe", "raw", context=call.context)

    host.services.register("probe", "relay", relay)
    _, as_uma = await make_user(runtime, "uma")
    refused = await anon.post("/api/services/probe/relay", headers=as_uma, json={})
    assert refused.status == 403 and "probe.raw (admin only)" in (await refused.json())["message"]
    assert raw == []
    assert (await anon.post("/api/services/probe/relay", headers=bearer, json={})).status == 200
    assert len(raw) == 1


async def test_admin_only_services_are_listed_and_marked(
    client: Client, anon: ClientSession, runtime: HttpRuntime, host: Host
) -> None:
    host.services.register("probe", "raw", lambda call: None, admin_only=True)
    _, as_uma = await make_user(runtime, "uma", "read_only")
    domains = {d["domain"]: d["services"] for d in await (await anon.get(
        "/api/services", headers=as_uma)).json()}
    assert domains["probe"]["raw"]["admin_only"] is True
    assert domains["demo"]["reset_counter"]["admin_only"] is False
    ws = await socket(client, as_uma)
    listed = (await answer(ws, 1, "get_services"))["result"]
    assert listed["probe"]["raw"]["admin_only"] is True
    await ws.close()


class _MinePlugin:
    @hookimpl
    def gatehouse_http_routes(self, host: Host) -> list[RouteDef]:
        async def mine(request: web.Request) -> web.Response:
            permissions = request[PERMISSIONS_KEY]
            return web.json_response(sorted(
                s.entity_id for s in host.states.all() if permissions.can_read(s.entity_id)))

        return [RouteDef("GET", "/api/mine/states", mine)]


async def test_plugin_routes_get_the_users_permissions(host: Host) -> None:
    host.plugins.register(_MinePlugin(), "mine")
    app = await create_app(host, {})
    async with TestClient(TestServer(app)) as client:
        _, as_uma = await make_user(app[RUNTIME_KEY], "uma", policy={"read": ["switch.*"]})
        mine = await client.get("/api/mine/states", headers=as_uma)
        assert await mine.json() == ["switch.demo_switch"]


async def test_the_service_registry_is_guarded_while_the_app_runs(host: Host) -> None:
    assert host.services.permissions is None
    app = await create_app(host, {})
    async with TestClient(TestServer(app)):
        assert host.services.permissions is not None
        with pytest.raises(Unauthorized, match="unknown user"):
            await host.services.call("demo", "reset_counter",
                                     context=Context(user_id="deleted"))
    assert host.services.permissions is None


# -- the WebSocket -----------------------------------------------------------------------


async def test_a_non_admin_does_not_see_other_users_service_calls(
    client: Client, bearer: dict[str, str], runtime: HttpRuntime, host: Host
) -> None:
    """The attack: a non-admin subscribed to every event and read the owner's
    ``call_service`` payloads."""
    _, as_uma = await make_user(runtime, "uma", policy={"read": ["sensor.demo_*"]})
    spy = await socket(client, as_uma)
    for msg_id, fields in ((1, {"event_type": "call_service"}), (2, {})):
        refused = await answer(spy, msg_id, "subscribe_events", **fields)
        assert refused["success"] is False
        assert refused["error"]["code"] == "unauthorized"
    assert (await answer(spy, 3, "subscribe_events", event_type="state_changed"))["success"]

    admin = await socket(client, bearer)
    assert (await answer(admin, 1, "subscribe_events", event_type="call_service"))["success"]
    owner = await socket(client, bearer)
    said = await answer(owner, 1, "call_service", domain="echo", service="say",
                        service_data={"text": "the owner's secret"})
    assert said["success"], said
    seen = await next_event(admin, 1)
    assert seen["data"]["service_data"] == {"text": "the owner's secret"}

    # The spy's next event is the marker set afterwards: nothing about the call (nor
    # the echo sensor it changed) came before it.
    host.states.set("sensor.demo_marker", "after")
    event = await next_event(spy, 3)
    assert event["data"]["entity_id"] == "sensor.demo_marker"
    assert "secret" not in json.dumps(event)
    for ws in (spy, admin, owner):
        await ws.close()


async def test_states_and_entity_subscriptions_are_filtered(
    client: Client, runtime: HttpRuntime, host: Host
) -> None:
    _, as_uma = await make_user(runtime, "uma", policy={"read": ["sensor.*"]})
    ws = await socket(client, as_uma)
    states = (await answer(ws, 1, "get_states"))["result"]
    assert {s["entity_id"] for s in states} == {
        "sensor.demo_sine", "sensor.demo_counter", "sensor.echo_last_message"}
    assert (await answer(ws, 2, "subscribe_entities"))["success"]
    snapshot = await next_event(ws, 2)
    assert set(snapshot["a"]) == {s["entity_id"] for s in states}
    await answer(ws, 3, "subscribe_events", event_type="state_changed")

    host.states.set("switch.demo_switch", "off")
    host.states.set("sensor.demo_marker", "1")
    assert list((await next_event(ws, 2))["a"]) == ["sensor.demo_marker"]
    assert (await next_event(ws, 3))["data"]["entity_id"] == "sensor.demo_marker"
    await ws.close()


async def test_a_change_of_rights_closes_the_users_sockets(
    client: Client, anon: ClientSession, bearer: dict[str, str], runtime: HttpRuntime
) -> None:
    uma, as_uma = await make_user(runtime, "uma")
    ws = await socket(client, as_uma)
    assert (await answer(ws, 1, "call_service", domain="demo",
                         service="reset_counter"))["success"]
    changed = await anon.post(f"/api/auth/users/{uma.id}", headers=bearer,
                              json={"role": "read_only"})
    assert changed.status == 200
    closing = await ws.receive(timeout=TIMEOUT)
    assert closing.type is WSMsgType.CLOSE
    assert (closing.data, closing.extra) == (1008, "permissions changed: reconnect")

    again = await socket(client, as_uma)
    refused = await answer(again, 1, "call_service", domain="demo", service="reset_counter")
    assert refused["error"]["code"] == "unauthorized"
    policy = await anon.post(f"/api/auth/users/{uma.id}/policy", headers=bearer,
                             json={"read": ["sensor.*"]})
    assert policy.status == 200
    assert (await again.receive(timeout=TIMEOUT)).type is WSMsgType.CLOSE


# -- /metrics ------------------------------------------------------------------------------


async def test_metrics_for_admins_and_scrape_tokens(
    client: Client, anon: ClientSession, bearer: dict[str, str], runtime: HttpRuntime
) -> None:
    _, as_uma = await make_user(runtime, "uma")
    assert (await anon.get("/metrics", headers=bearer)).status == 200
    refused = await anon.get("/metrics", headers=as_uma)
    assert refused.status == 403
    no_scope = await anon.post("/api/auth/tokens", headers=as_uma,
                               json={"name": "scrape", "scope": "metrics"})
    assert no_scope.status == 403
    bad_scope = await anon.post("/api/auth/tokens", headers=bearer,
                                json={"name": "scrape", "scope": "everything"})
    assert bad_scope.status == 400

    made = await anon.post("/api/auth/tokens", headers=bearer,
                           json={"name": "prometheus", "scope": "metrics"})
    assert made.status == 201
    created = await made.json()
    assert created["scope"] == "metrics"
    scrape = {"Authorization": f"Bearer {created['token']}"}
    metrics = await anon.get("/metrics", headers=scrape)
    assert metrics.status == 200 and "gatehouse_states" in await metrics.text()
    for method, path in (("GET", "/api/states"), ("GET", "/api/"), ("GET", "/index.html"),
                         ("POST", "/api/services/demo/reset_counter"),
                         ("GET", "/api/auth/tokens")):
        response = await anon.request(method, path, headers=scrape, json={},
                                      allow_redirects=False)
        assert response.status == 403, (path, response.status)
        assert (await response.json()) == {"message": "this token may only read /metrics"}

    # A scrape token reads /metrics only while its user is an admin.
    adam, as_adam = await make_user(runtime, "adam", "admin")
    adams = await anon.post("/api/auth/tokens", headers=as_adam,
                            json={"name": "scrape", "scope": "metrics"})
    adam_scrape = {"Authorization": f"Bearer {(await adams.json())['token']}"}
    assert (await anon.get("/metrics", headers=adam_scrape)).status == 200
    await anon.post(f"/api/auth/users/{adam.id}", headers=bearer, json={"role": "user"})
    assert (await anon.get("/metrics", headers=adam_scrape)).status == 403


async def test_influxdb_write_is_admin_only_over_rest(
    anon: ClientSession, bearer: dict[str, str], runtime: HttpRuntime, host: Host
) -> None:
    """``influxdb.write`` (issue 10) writes anything to the database, past every entity
    a policy names: a user whose policy lists it is still refused."""
    from gatehouse.integrations.influxdb.services import LOADED

    undos = LOADED.register_services(host)
    try:
        _, as_uma = await make_user(runtime, "uma", policy={"services": ["influxdb.*"]})
        refused = await anon.post("/api/services/influxdb/write", headers=as_uma,
                                  json={"measurement": "m", "fields": {"f": 1}})
        assert refused.status == 403
        assert "influxdb.write (admin only)" in (await refused.json())["message"]
    finally:
        for undo in undos:
            undo()


async def test_schema_guard_services_are_admin_only_over_rest(
    anon: ClientSession, bearer: dict[str, str], runtime: HttpRuntime, host: Host
) -> None:
    """schema_guard (issue 11): replay and purge change what the house ingests and
    holds, query and export hand out quarantined device payloads; a user whose policy
    lists them is still refused."""
    from gatehouse.integrations.schema_guard.services import LOADED

    undos = LOADED.register_services(host)
    try:
        _, as_uma = await make_user(runtime, "uma", policy={"services": ["schema_guard.*"]})
        for service, data in (("replay", {}), ("purge", {"all": True}), ("query", {}),
                              ("export", {})):
            refused = await anon.post(f"/api/services/schema_guard/{service}",
                                      headers=as_uma, json=data)
            assert refused.status == 403, service
            assert f"schema_guard.{service} (admin only)" in (await refused.json())["message"]
    finally:
        for undo in undos:
            undo()


async def test_aws_iot_publish_is_admin_only_over_rest(
    anon: ClientSession, bearer: dict[str, str], runtime: HttpRuntime, host: Host
) -> None:
    """``aws_iot.publish`` (issue 10) sends anything to AWS IoT Core, past every entity a
    policy names: a user whose policy lists it is still refused."""
    from gatehouse.integrations.aws_iot.services import LOADED

    undos = LOADED.register_services(host)
    try:
        _, as_uma = await make_user(runtime, "uma", policy={"services": ["aws_iot.*"]})
        refused = await anon.post("/api/services/aws_iot/publish", headers=as_uma,
                                  json={"topic": "gatehouse/x", "payload": "y"})
        assert refused.status == 403
        assert "aws_iot.publish (admin only)" in (await refused.json())["message"]
    finally:
        for undo in undos:
            undo()
