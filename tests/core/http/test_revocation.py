"""Issue 9, finding 2: revoked credentials lose their open WebSockets at once.

The attack: after a token was deleted, its user removed, its session logged out or the
password changed, an already open WebSocket kept calling services, and
``auth/current_user`` still named the user (the user was fixed at auth time). Each of
those actions now closes the sockets it affects (close code 1008 with a reason) and the
commands sent on them afterwards run nothing.
"""

from __future__ import annotations

import contextlib
from http.cookies import SimpleCookie
from typing import Any

import anyio
import pytest
from aiohttp import ClientConnectionResetError, ClientSession, ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient

from gatehouse.core import Host
from gatehouse.core.http.auth import SESSION_COOKIE
from gatehouse.core.http.runtime import HttpRuntime
from gatehouse.core.testing import wait_until
from httpkit import OWNER

pytestmark = pytest.mark.anyio

Client = TestClient[Any, Any]
WS = ClientWebSocketResponse
TIMEOUT = 5
GUEST = {"username": "guest", "password": "guest password"}
LOGIN = {"username": OWNER["username"], "password": OWNER["password"]}


async def _auth(ws: WS, auth: dict[str, Any]) -> WS:
    assert (await ws.receive_json(timeout=TIMEOUT))["type"] == "auth_required"
    await ws.send_json({"type": "auth", **auth})
    assert (await ws.receive_json(timeout=TIMEOUT))["type"] == "auth_ok"
    return ws


async def token_socket(client: Client, token: str) -> WS:
    return await _auth(await client.ws_connect("/api/websocket"),
                       {"access_token": token})


async def session_socket(anon: ClientSession, cookie: str, origin: str) -> WS:
    """A browser's socket: the session cookie and this server's Origin on the upgrade."""
    ws = await anon.ws_connect("/api/websocket", headers={
        "Origin": origin, "Cookie": f"{SESSION_COOKIE}={cookie}"})
    return await _auth(ws, {"session": True})


def owner_cookie(owner: Client) -> str:
    return owner.session.cookie_jar.filter_cookies(owner.make_url("/"))[SESSION_COOKIE].value


def _cookie(response: Any) -> str:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie"):
        jar.load(header)
    return jar[SESSION_COOKIE].value


async def alive(ws: WS, msg_id: int, username: str) -> None:
    """The socket answers, and still names ``username``."""
    await ws.send_json({"id": msg_id, "type": "auth/current_user"})
    reply = await ws.receive_json(timeout=TIMEOUT)
    assert reply["result"]["username"] == username


async def assert_revoked(ws: WS, host: Host, msg_id: int) -> None:
    """Closed with 1008 and a reason; a service call sent afterwards runs nothing."""
    # The close may be through already, so that the call cannot even be written.
    with contextlib.suppress(ClientConnectionResetError):
        await ws.send_json({"id": msg_id, "type": "call_service", "domain": "echo",
                            "service": "say", "service_data": {"text": f"ghost {msg_id}"}})
    msg = await ws.receive(timeout=TIMEOUT)
    assert msg.type is WSMsgType.CLOSE, (msg.type, msg.data)
    assert msg.data == 1008
    assert "revoked" in msg.extra or "ended" in msg.extra, msg.extra
    state = host.states.get("sensor.echo_last_message")
    assert state is None or "ghost" not in state.state


async def wait_closed(runtime: HttpRuntime, count: int) -> None:
    await wait_until(lambda: len(runtime.connections) == count,
                     message=f"{count} open connections")


async def test_deleting_a_token_closes_its_sockets_only(
    owner: Client, origin: dict[str, str], token: str, runtime: HttpRuntime, host: Host
) -> None:
    made = await owner.post("/api/auth/tokens", json={"name": "doomed"}, headers=origin)
    doomed = await made.json()
    victim = await token_socket(owner, doomed["token"])
    bystander = await token_socket(owner, token)
    await alive(victim, 1, "owner")

    deleted = await owner.delete(f"/api/auth/tokens/{doomed['id']}", headers=origin)
    assert deleted.status == 200
    await assert_revoked(victim, host, 2)
    await alive(bystander, 1, "owner")
    await wait_closed(runtime, 1)
    await bystander.close()


async def test_deleting_a_user_closes_their_sockets_and_sessions(
    owner: Client, anon: ClientSession, origin: dict[str, str], runtime: HttpRuntime,
    host: Host,
) -> None:
    made = await owner.post("/api/auth/users", json=GUEST, headers=origin)
    guest_id = (await made.json())["id"]
    login = await anon.post("/auth/login", json=GUEST)
    cookie = _cookie(login)
    made_token = await anon.post("/api/auth/tokens", json={"name": "g"}, headers=origin,
                                 cookies={SESSION_COOKIE: cookie})
    guest_token = (await made_token.json())["token"]
    by_session = await session_socket(anon, cookie, origin["Origin"])
    by_token = await token_socket(owner, guest_token)
    await alive(by_session, 1, "guest")
    await alive(by_token, 1, "guest")

    assert (await owner.delete(f"/api/auth/users/{guest_id}", headers=origin)).status == 200
    await assert_revoked(by_session, host, 2)
    await assert_revoked(by_token, host, 2)
    await wait_closed(runtime, 0)
    assert (await anon.get("/api/states", cookies={SESSION_COOKIE: cookie})).status == 401


async def test_logging_out_closes_the_sockets_of_that_session(
    owner: Client, anon: ClientSession, origin: dict[str, str], runtime: HttpRuntime,
    host: Host,
) -> None:
    other = _cookie(await anon.post("/auth/login", json=LOGIN))
    mine = await session_socket(anon, owner_cookie(owner), origin["Origin"])
    theirs = await session_socket(anon, other, origin["Origin"])
    await alive(theirs, 1, "owner")

    out = await anon.post("/auth/logout", headers=origin, cookies={SESSION_COOKIE: other})
    assert out.status == 200
    await assert_revoked(theirs, host, 2)
    await alive(mine, 1, "owner")  # another session of the same user is not touched
    await wait_closed(runtime, 1)
    await mine.close()


async def test_changing_the_password_closes_the_other_sessions_sockets(
    owner: Client, anon: ClientSession, origin: dict[str, str], token: str,
    runtime: HttpRuntime, host: Host,
) -> None:
    stolen = _cookie(await anon.post("/auth/login", json=LOGIN))
    thief = await session_socket(anon, stolen, origin["Origin"])
    own = await session_socket(anon, owner_cookie(owner), origin["Origin"])
    scripted = await token_socket(owner, token)
    await alive(thief, 1, "owner")

    changed = await owner.post("/api/auth/password", headers=origin, json={
        "current_password": OWNER["password"], "new_password": "a brand new one"})
    assert changed.status == 200
    await assert_revoked(thief, host, 2)
    # The session that changed the password stays, and so do tokens (as in REST).
    await alive(own, 1, "owner")
    await alive(scripted, 1, "owner")
    await wait_closed(runtime, 2)
    await own.close()
    await scripted.close()


async def test_an_expired_session_socket_is_closed(
    owner: Client, anon: ClientSession, origin: dict[str, str], runtime: HttpRuntime
) -> None:
    runtime.ws_recheck_interval = 0.05
    ws = await session_socket(anon, owner_cookie(owner), origin["Origin"])
    await alive(ws, 1, "owner")
    now = runtime.auth.clock()
    runtime.auth.clock = lambda: now + runtime.auth.session_lifetime + 1
    # Nothing is sent on it: the periodic check finds the session gone.
    with anyio.fail_after(TIMEOUT):
        msg = await ws.receive()
    assert msg.type is WSMsgType.CLOSE and msg.data == 1008
    assert "session" in msg.extra
