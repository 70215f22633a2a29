"""Onboarding, login/logout, sessions, tokens, lockout, Origin checks, users, storage."""

from __future__ import annotations

import json
import stat
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient

from gatehouse.core import Host
from gatehouse.core.http.auth import SESSION_COOKIE
from gatehouse.core.http.runtime import HttpRuntime
from httpkit import OWNER

pytestmark = pytest.mark.anyio

Client = TestClient[Any, Any]


def _set_cookie(response: Any) -> SimpleCookie:
    cookie: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie"):
        cookie.load(header)
    return cookie


# -- onboarding ------------------------------------------------------------------------


async def test_onboarding_creates_the_owner_once(client: Client) -> None:
    assert (await (await client.get("/api/onboarding")).json()) == {"done": False}
    first = await client.post("/api/onboarding/users", json=OWNER)
    assert first.status == 200
    user = (await first.json())["user"]
    assert user["is_owner"] is True and user["is_admin"] is True
    assert "password" not in json.dumps(user)
    assert (await (await client.get("/api/onboarding")).json()) == {"done": True}

    again = await client.post(
        "/api/onboarding/users", json={"username": "mallory", "password": "x" * 12}
    )
    assert again.status == 403
    assert "onboarding is done" in (await again.json())["message"]


async def test_concurrent_onboarding_makes_exactly_one_owner(
    client: Client, runtime: HttpRuntime
) -> None:
    statuses: list[int] = []

    async def onboard(name: str) -> None:
        response = await client.post(
            "/api/onboarding/users", json={"username": name, "password": "long enough!"}
        )
        statuses.append(response.status)

    async with anyio.create_task_group() as tg:
        for name in ("alice", "bob", "carol"):
            tg.start_soon(onboard, name)
    assert sorted(statuses) == [200, 403, 403]
    assert len(runtime.auth.users()) == 1


async def test_onboarding_validates_the_fields(client: Client) -> None:
    short = await client.post("/api/onboarding/users", json={"username": "o", "password": "1"})
    assert short.status == 400
    assert "password" in (await short.json())["message"]
    missing = await client.post("/api/onboarding/users", json={"password": "long enough!"})
    assert missing.status == 400
    body = await missing.json()
    assert "username" in body["message"] and "username" in body["errors"]


async def test_onboarding_session_is_usable(client: Client) -> None:
    response = await client.post("/api/onboarding/users", json=OWNER)
    assert SESSION_COOKIE in _set_cookie(response)
    me = await client.get("/api/auth/current_user")
    assert me.status == 200
    assert (await me.json())["username"] == "owner"


# -- login and logout ------------------------------------------------------------------


async def test_login_sets_a_strict_httponly_cookie_and_logout_ends_it(
    owner: Client, origin: dict[str, str], runtime: HttpRuntime
) -> None:
    owner.session.cookie_jar.clear()
    assert (await owner.get("/api/states")).status == 401
    login = await owner.post("/auth/login", json={"username": "OWNER",
                                                  "password": OWNER["password"]})
    assert login.status == 200
    morsel = _set_cookie(login)[SESSION_COOKIE]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Strict"
    assert morsel["path"] == "/"
    assert not morsel["secure"]  # plain HTTP here; the HTTPS test sees Secure
    value = morsel.value
    assert value not in (Path(runtime.host.storage_dir) / "auth").read_text()

    assert (await owner.get("/api/states")).status == 200
    sessions = runtime.auth.session_count()
    logout = await owner.post("/auth/logout", headers=origin)
    assert logout.status == 200
    assert runtime.auth.session_count() == sessions - 1
    # The cookie is gone from the browser, and the old value is dead on the server.
    assert (await owner.get("/api/states")).status == 401
    replay = await owner.get("/api/states", cookies={SESSION_COOKIE: value})
    assert replay.status == 401


async def test_wrong_password_and_unknown_user_look_the_same(anon: ClientSession) -> None:
    wrong = await anon.post("/auth/login", json={"username": "owner", "password": "nope nope"})
    nobody = await anon.post("/auth/login", json={"username": "ghost", "password": "nope nope"})
    assert wrong.status == nobody.status == 401
    assert (await wrong.json()) == (await nobody.json()) == {
        "message": "invalid username or password"
    }


async def test_session_expires(owner: Client, runtime: HttpRuntime) -> None:
    assert (await owner.get("/api/states")).status == 200
    now = runtime.auth.clock()
    runtime.auth.clock = lambda: now + runtime.auth.session_lifetime + 1
    assert (await owner.get("/api/states")).status == 401


async def test_a_session_has_an_absolute_maximum_age(owner: Client, runtime: HttpRuntime
                                                     ) -> None:
    """Used every day, a session still ends ``session_max_age`` after the login."""
    auth = runtime.auth
    start = auth.clock()
    day = 86400.0
    assert auth.session_max_age == 30 * day  # the default
    used = 0
    while used * day < auth.session_max_age - day:
        used += 1
        auth.clock = lambda t=start + used * day: t
        assert (await owner.get("/api/states")).status == 200, used
    auth.clock = lambda: start + auth.session_max_age + 1
    assert (await owner.get("/api/states")).status == 401


@pytest.mark.parametrize("http_config", [{"session_max_age": 3600}])
async def test_the_cookie_lives_no_longer_than_the_session_may(
    client: Client, http_config: dict[str, Any]
) -> None:
    response = await client.post("/api/onboarding/users", json=OWNER)
    assert _set_cookie(response)[SESSION_COOKIE]["max-age"] == "3600"


async def test_browser_without_session_is_sent_to_login(anon: ClientSession) -> None:
    response = await anon.get("/config/entries?tab=1&x=2", allow_redirects=False)
    assert response.status == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login.html"
    assert parse_qs(location.query) == {"next": ["/config/entries?tab=1&x=2"]}
    login_page = await anon.get("/login.html")
    assert login_page.status == 200
    assert '<script type="module" src="/login.js">' in await login_page.text()
    # ... and what the page needs is public too (it builds its form with the app's modules)
    for path in ("/login.js", "/public/js/api.js", "/public/js/dom.js", "/public/js/submit.js"):
        assert (await anon.get(path)).status == 200, path


# -- lockout ---------------------------------------------------------------------------


async def test_failed_logins_lock_the_address_out(
    anon: ClientSession, runtime: HttpRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    clock = [1000.0]
    runtime.limiter.clock = lambda: clock[0]
    bad = {"username": "owner", "password": "wrong password"}
    statuses = [(await anon.post("/auth/login", json=bad)).status for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    # Locked: even the right password is refused, with a Retry-After.
    good = {"username": "owner", "password": OWNER["password"]}
    locked = await anon.post("/auth/login", json=good)
    assert locked.status == 429
    assert 1 <= int(locked.headers["Retry-After"]) <= 300
    assert "too many failed logins" in (await locked.json())["message"]
    assert "wrong password" not in caplog.text  # never log a tried password

    clock[0] += 301  # the window passes
    assert (await anon.post("/auth/login", json=good)).status == 200
    # A success clears the count: one new failure is a plain 401 again.
    assert (await anon.post("/auth/login", json=bad)).status == 401


# -- Origin ----------------------------------------------------------------------------


async def test_cookie_posts_need_this_servers_origin(owner: Client, origin: dict[str, str]
                                                     ) -> None:
    body = {"name": "x"}
    missing = await owner.post("/api/auth/tokens", json=body)
    assert missing.status == 403
    assert "origin required" in (await missing.json())["message"]
    foreign = await owner.post("/api/auth/tokens", json=body,
                               headers={"Origin": "https://evil.example"})
    assert foreign.status == 403
    assert "evil.example" in (await foreign.json())["message"]
    assert (await owner.post("/api/auth/tokens", json=body, headers=origin)).status == 201
    # Reading needs no Origin.
    assert (await owner.get("/api/auth/tokens")).status == 200


async def test_bearer_clients_need_no_origin(anon: ClientSession, bearer: dict[str, str]) -> None:
    response = await anon.post("/api/events/custom_event", json={"a": 1}, headers=bearer)
    assert response.status == 200


async def test_login_from_a_foreign_page_is_refused(anon: ClientSession) -> None:
    response = await anon.post(
        "/auth/login", json={"username": "owner", "password": OWNER["password"]},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status == 403


@pytest.mark.parametrize("http_config", [{"trusted_origins": ["https://ui.example:8443"]}])
async def test_trusted_origins_are_allowed(owner: Client, http_config: dict[str, Any]) -> None:
    ok = await owner.post("/api/auth/tokens", json={"name": "t"},
                          headers={"Origin": "HTTPS://UI.example:8443"})
    assert ok.status == 201
    other_port = await owner.post("/api/auth/tokens", json={"name": "u"},
                                  headers={"Origin": "https://ui.example:9443"})
    assert other_port.status == 403


# -- tokens ----------------------------------------------------------------------------


async def test_tokens_are_shown_once_listed_without_secret_and_revocable(
    owner: Client, anon: ClientSession, origin: dict[str, str], runtime: HttpRuntime
) -> None:
    made = await owner.post("/api/auth/tokens", json={"name": "grafana"}, headers=origin)
    assert made.status == 201
    created = await made.json()
    value = created["token"]
    assert len(value) >= 40

    listed = await (await owner.get("/api/auth/tokens")).json()
    assert [t["name"] for t in listed] == ["grafana"]
    assert value not in json.dumps(listed) and "hash" not in listed[0]
    stored = (runtime.host.storage_dir / "auth").read_text()
    assert value not in stored

    headers = {"Authorization": f"Bearer {value}"}
    assert (await anon.get("/api/states", headers=headers)).status == 200
    used = await (await owner.get("/api/auth/tokens")).json()
    assert used[0]["last_used_at"] is not None

    duplicate = await owner.post("/api/auth/tokens", json={"name": "grafana"}, headers=origin)
    assert duplicate.status == 400

    revoked = await owner.delete(f"/api/auth/tokens/{created['id']}", headers=origin)
    assert revoked.status == 200
    after = await anon.get("/api/states", headers=headers)
    assert after.status == 401
    assert (await after.json()) == {"message": "invalid access token"}
    assert after.headers["WWW-Authenticate"].startswith("Bearer")
    gone = await owner.delete(f"/api/auth/tokens/{created['id']}", headers=origin)
    assert gone.status == 404


async def test_malformed_authorization_is_refused(anon: ClientSession) -> None:
    basic = await anon.get("/api/states", headers={"Authorization": "Basic b3duZXI6cHc="})
    assert basic.status == 401
    assert "Bearer" in (await basic.json())["message"]


# -- users and passwords ---------------------------------------------------------------


async def test_owner_manages_users_and_users_cannot(
    owner: Client, anon: ClientSession, origin: dict[str, str]
) -> None:
    made = await owner.post("/api/auth/users", headers=origin, json={
        "username": "guest", "password": "guest password", "name": "Guest"})
    assert made.status == 201
    guest = await made.json()
    assert guest["is_admin"] is False and "password" not in guest
    taken = await owner.post("/api/auth/users", headers=origin, json={
        "username": "GUEST", "password": "guest password"})
    assert taken.status == 400
    names = [u["username"] for u in await (await owner.get("/api/auth/users")).json()]
    assert names == ["owner", "guest"]

    login = await anon.post("/auth/login", json={"username": "guest",
                                                  "password": "guest password"})
    cookie = {SESSION_COOKIE: _set_cookie(login)[SESSION_COOKIE].value}
    as_guest = {"cookies": cookie, "headers": origin}
    assert (await anon.get("/api/auth/users", cookies=cookie)).status == 403
    # A user who is not an admin reads states and calls services, but configures nothing.
    assert (await anon.get("/api/states", cookies=cookie)).status == 200
    refused = await anon.get("/api/config/config_entries/entry", cookies=cookie)
    assert refused.status == 403
    assert (await refused.json()) == {"message": "admin rights required"}
    assert (await anon.post("/api/events/x", json={}, **as_guest)).status == 403

    removed = await owner.delete(f"/api/auth/users/{guest['id']}", headers=origin)
    assert removed.status == 200
    assert (await anon.get("/api/states", cookies=cookie)).status == 401
    owner_id = (await (await owner.get("/api/auth/current_user")).json())["id"]
    assert (await owner.delete(f"/api/auth/users/{owner_id}", headers=origin)).status == 400


async def test_changing_the_password_logs_out_other_sessions(
    owner: Client, anon: ClientSession, origin: dict[str, str]
) -> None:
    other = await anon.post("/auth/login", json={"username": "owner",
                                                  "password": OWNER["password"]})
    other_cookie = {SESSION_COOKIE: _set_cookie(other)[SESSION_COOKIE].value}
    assert (await anon.get("/api/states", cookies=other_cookie)).status == 200

    wrong = await owner.post("/api/auth/password", headers=origin, json={
        "current_password": "not it at all", "new_password": "a brand new one"})
    assert wrong.status == 400
    assert "current_password" in (await wrong.json())["message"]
    changed = await owner.post("/api/auth/password", headers=origin, json={
        "current_password": OWNER["password"], "new_password": "a brand new one"})
    assert changed.status == 200
    assert (await owner.get("/api/states")).status == 200  # this session stays
    assert (await anon.get("/api/states", cookies=other_cookie)).status == 401
    old = await anon.post("/auth/login", json={"username": "owner",
                                                "password": OWNER["password"]})
    assert old.status == 401
    new = await anon.post("/auth/login", json={"username": "owner",
                                                "password": "a brand new one"})
    assert new.status == 200


# -- storage ---------------------------------------------------------------------------


async def test_auth_storage_is_private_and_holds_no_secret(
    owner: Client, token: str, host: Host
) -> None:
    path = host.storage_dir / "auth"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert OWNER["password"] not in text
    assert token not in text
    stored = json.loads(text)["data"]
    record = stored["users"][0]["password"]
    assert record["algorithm"] == "scrypt" and record["n"] >= 2**14
    assert len(stored["tokens"]) == 1 and len(stored["sessions"]) == 1


async def test_users_and_tokens_survive_a_restart(config_dir: Path, token: str, host: Host
                                                  ) -> None:
    from gatehouse.core.http.auth_store import AuthStore

    # Users and tokens are saved at once (not delayed), so a new store reads them now.
    store = AuthStore(host.storage_dir, session_lifetime=60)
    await store.load()
    (user,) = store.users()
    assert user.username == "owner"
    assert store.user_for_token(token) is not None
    assert await store.authenticate("owner", OWNER["password"]) is user
    assert await store.authenticate("owner", "wrong password") is None
