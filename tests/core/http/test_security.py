"""The route walk (nothing answers without credentials unless meant to), headers, files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer

from gatehouse.core import Host, hookimpl
from gatehouse.core.http import Panel, RouteDef
from gatehouse.core.http.app import create_app
from gatehouse.core.http.auth import Access, access_of
from gatehouse.core.http.runtime import RUNTIME_KEY
from httpkit import OWNER

pytestmark = pytest.mark.anyio

Client = TestClient[Any, Any]

#: The only routes anyone may use without logging in. A new entry here is a decision.
PUBLIC = {
    ("GET", "/api/health"),
    ("GET", "/api/onboarding"),
    ("POST", "/api/onboarding/users"),
    ("POST", "/auth/login"),
    # Home Assistant's webhooks: the unguessable id is the credential (an unknown id
    # gets the same empty 200 as a refused one, so probing learns nothing; local_only
    # by default), see core/http/views_webhook.py.
    ("*", "/api/webhook/{webhook_id}"),
}
#: Authenticates inside its protocol (the first message), not with the upgrade request.
IN_BAND = {("GET", "/api/websocket")}
#: UI files: public ones for the login page, a redirect to it for the rest.
FRONTEND = {("GET", "/{path}")}

_PLACEHOLDER = re.compile(r"\{([^}:]+)(:[^}]*)?\}")
_EXAMPLES = {"entity_id": "sensor.demo_sine", "path": "index.html", "name": "echo"}


def _concrete(canonical: str) -> str:
    return _PLACEHOLDER.sub(lambda m: _EXAMPLES.get(m.group(1), "x"), canonical)


def _routes(app: web.Application) -> list[tuple[str, str, Any]]:
    return [
        (route.method, route.resource.canonical, route.handler)
        for route in app.router.routes()
        if route.resource is not None
    ]


async def test_route_walk_every_route_refuses_anonymous_callers(
    app: web.Application, anon: ClientSession
) -> None:
    walked: list[tuple[str, str]] = []
    for method, canonical, handler in _routes(app):
        key = (method if method != "HEAD" else "GET", canonical)
        access = access_of(handler)
        if key in PUBLIC:
            assert access is Access.PUBLIC, key
            if "webhook" in canonical:  # no webhook registered: nothing to reach
                response = await anon.post("/api/webhook/guessed-id", json={})
                assert (response.status, await response.json()) == (200, {}), key
            continue
        if key in IN_BAND:
            assert access is Access.IN_BAND, key
            continue
        if key in FRONTEND:
            assert access is Access.FRONTEND, key
            response = await anon.request(method, "/index.html", allow_redirects=False)
            assert response.status == 302, key
            assert response.headers["Location"].startswith("/login.html?next=")
            continue
        assert access not in (Access.PUBLIC, Access.IN_BAND, Access.FRONTEND), key
        response = await anon.request(method, _concrete(canonical), json={},
                                      allow_redirects=False)
        assert response.status == 401, (method, canonical, response.status)
        if method != "HEAD":
            assert await response.json() == {"message": "authentication required"}
        walked.append((method, canonical))
    # Everything that should be there was walked, the plugin's route included.
    assert len(walked) > 40
    assert ("GET", "/api/echo/last") in walked
    assert ("GET", "/metrics") in walked
    assert ("POST", "/api/config/config_entries/flow") in walked
    # and every declared public route still exists
    keys = {(m if m != "HEAD" else "GET", c) for m, c, _ in _routes(app)}
    assert keys >= PUBLIC | IN_BAND | FRONTEND


async def test_unknown_paths_answer_401_not_404_without_credentials(anon: ClientSession
                                                                    ) -> None:
    for method, path in (("GET", "/api/secret/thing"), ("POST", "/api/x"),
                         ("DELETE", "/metrics"), ("PUT", "/auth/other")):
        response = await anon.request(method, path)
        assert response.status == 401, (method, path)


async def test_plugin_route_needs_auth_and_works_with_it(
    anon: ClientSession, bearer: dict[str, str], host: Host
) -> None:
    assert (await anon.get("/api/echo/last")).status == 401
    await host.services.call("echo", "say", {"text": "plugged"})
    response = await anon.get("/api/echo/last", headers=bearer)
    assert response.status == 200
    assert await response.json() == {"text": "> plugged"}


async def test_panel_files_need_auth(anon: ClientSession, bearer: dict[str, str]) -> None:
    assert (await anon.get("/panels/echo/index.html")).status == 401
    assert (await anon.get("/api/panels")).status == 401
    listed = await (await anon.get("/api/panels", headers=bearer)).json()
    assert [p["name"] for p in listed] == ["echo"]


async def test_security_headers_everywhere(owner: Client, anon: ClientSession) -> None:
    responses = [
        await anon.get("/api/health"),
        await anon.get("/api/states"),  # a 401
        await anon.get("/", allow_redirects=False),  # a redirect
        await anon.get("/login.html"),
        await owner.get("/"),
    ]
    for response in responses:
        headers = response.headers
        assert "default-src 'self'" in headers["Content-Security-Policy"], response.url
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in headers  # plain HTTP: meaningless
    assert responses[1].headers["Cache-Control"] == "no-store"


async def test_ui_files(owner: Client, anon: ClientSession) -> None:
    index = await owner.get("/")  # the real frontend/ (its content is the UI's business)
    assert index.status == 200
    assert index.headers["Content-Type"].startswith("text/html")
    assert index.headers["Cache-Control"] == "no-cache"
    assert (await anon.get("/login.js")).status == 200  # the login page's own script
    assert (await anon.get("/index.html", allow_redirects=False)).status == 302
    traversal = await owner.get("/..%2f..%2fconfiguration.yaml")
    assert traversal.status == 404
    assert (await owner.get("/no-such-file.js")).status == 404
    api_miss = await owner.get("/api/unknown")
    assert api_miss.status == 404 and (await api_miss.json()) == {"message": "not found"}


async def test_frontend_dir_is_configurable(host: Host, tmp_path: Path) -> None:
    ui = tmp_path / "ui"
    (ui / "public").mkdir(parents=True)
    (ui / "login.html").write_text("custom login")
    (ui / "index.html").write_text("custom index")
    (ui / "public" / "style.css").write_text("body{}")
    (tmp_path / "outside.txt").write_text("private")
    app = await create_app(host, {"frontend_dir": str(ui)})
    async with TestClient(TestServer(app)) as client:
        assert await (await client.get("/login.html")).text() == "custom login"
        await client.post("/api/onboarding/users", json=OWNER)
        assert await (await client.get("/")).text() == "custom index"
        assert (await client.get("/public/style.css")).status == 200
        escape = await client.get("/public/..%2f..%2foutside.txt", allow_redirects=False)
        assert escape.status in (302, 404)
        assert "private" not in await escape.text()


class _Probe:
    """A hook-only plugin adding good and bad routes and panels."""

    def __init__(self, static: Path) -> None:
        self.static = static

    @hookimpl
    def gatehouse_http_routes(self, host: Host) -> list[RouteDef]:
        from gatehouse.core.http import USER_KEY

        async def whoami(request: web.Request) -> web.Response:
            return web.json_response({"user": request[USER_KEY].username})

        return [
            RouteDef("GET", "/api/probe/whoami", whoami, require_admin=True),
            RouteDef("GET", "/outside/api", whoami),  # not under /api/: refused
            RouteDef("GET", "/api/states", whoami),  # a core route: refused
        ]

    @hookimpl
    def gatehouse_panels(self, host: Host) -> list[Panel]:
        return [
            Panel("probe", "Probe", self.static, "panel.js", require_admin=True),
            Panel("ghost", "Ghost", self.static, "missing.js"),  # no such file: refused
            Panel("echo", "Second echo", self.static, "panel.js"),  # name taken: refused
        ]


async def test_plugin_routes_and_panels_are_checked(
    host: Host, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "panel.js").write_text("export {};")
    host.plugins.register(_Probe(tmp_path), "probe")
    app = await create_app(host, {})
    async with TestClient(TestServer(app)) as client:
        await client.post("/api/onboarding/users", json=OWNER)
        assert await (await client.get("/api/probe/whoami")).json() == {"user": "owner"}
        assert (await client.get("/outside/api", allow_redirects=False)).status == 404
        states = await client.get("/api/states")
        assert isinstance(await states.json(), list)  # still the core's handler
        panels = {p["name"]: p for p in await (await client.get("/api/panels")).json()}
        assert set(panels) == {"echo", "probe"}
        assert panels["echo"]["title"] == "Echo"
        assert panels["probe"]["kind"] == "module"
        module = await client.get(panels["probe"]["url"])
        assert module.status == 200 and await module.text() == "export {};"

        runtime = app[RUNTIME_KEY]
        guest = await runtime.auth.create_user("guest", "guest password")
        _, value = await runtime.auth.create_token(guest, "g")
        as_guest = {"Authorization": f"Bearer {value}"}
        refused = await client.get("/api/probe/whoami", headers=as_guest)
        assert refused.status == 403
        guest_panels = await (await client.get("/api/panels", headers=as_guest)).json()
        assert [p["name"] for p in guest_panels] == ["echo"]
        assert (await client.get("/panels/probe/panel.js", headers=as_guest)).status == 404
    assert "must start with /api/" in caplog.text
    assert "/api/states" in caplog.text
    assert "missing.js does not exist" in caplog.text
    assert "'echo' is already used" in caplog.text
