"""Plugin WebSocket commands (``gatehouse_ws_commands``, ``WsCommand``).

A plugin's command is answered like a core one (schema first, then the handler with
the caller's permissions, its return value as the result); names are
``<domain>/<command>`` and never shadow the core's; a duplicate or a bad name is logged
and skipped; ``require_admin`` refuses other users with ``unauthorized``.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import voluptuous as vol
from aiohttp import ClientWebSocketResponse, web
from aiohttp.test_utils import TestClient

from gatehouse.core import Host, hookimpl
from gatehouse.core.http import WsCommand, extensions
from gatehouse.core.http.app import create_app
from gatehouse.core.http.extensions import collect_ws_commands
from gatehouse.core.http.runtime import HttpRuntime
from gatehouse.core.http.ws_commands import COMMANDS

pytestmark = pytest.mark.anyio

Client = TestClient[Any, Any]
TIMEOUT = 5


class Plugin:
    @hookimpl
    def gatehouse_ws_commands(self, host: Host) -> list[Any]:
        async def double(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
            return {"twice": args["n"] * 2, "admin": permissions.is_admin}

        async def secret(permissions: Any, args: dict[str, Any]) -> str:
            return "admins only"

        async def broken(permissions: Any, args: dict[str, Any]) -> None:
            raise vol.Invalid("n: too odd")

        async def never(permissions: Any, args: dict[str, Any]) -> None:
            raise AssertionError("a refused command ran")

        return [
            WsCommand("plug/double", double, {vol.Required("n"): int}),
            WsCommand("plug/secret", secret, require_admin=True),
            WsCommand("plug/broken", broken),
            WsCommand("plug/double", never),            # a duplicate: skipped
            WsCommand("ping", never),                   # no domain: skipped
            WsCommand("config_entries/get", never),     # the core's: skipped
            "not a command",
        ]


@pytest.fixture
async def app(host: Host, http_config: dict[str, Any]) -> web.Application:
    host.plugins.register(Plugin(), "ws_plugin")
    return await create_app(host, http_config)


async def _socket(client: Client, token: str) -> ClientWebSocketResponse:
    ws = await client.ws_connect("/api/websocket")
    assert (await ws.receive_json(timeout=TIMEOUT))["type"] == "auth_required"
    await ws.send_json({"type": "auth", "access_token": token})
    assert (await ws.receive_json(timeout=TIMEOUT))["type"] == "auth_ok"
    return ws


async def _call(ws: ClientWebSocketResponse, msg_id: int, kind: str, **fields: Any) -> Any:
    await ws.send_json({"id": msg_id, "type": kind, **fields})
    return await ws.receive_json(timeout=TIMEOUT)


def test_names_are_domain_slash_command() -> None:
    async def handler(permissions: Any, args: dict[str, Any]) -> None:
        return None

    assert WsCommand("schema_guard/quarantine/list", handler).problem() is None
    assert "must be <domain>/<command>" in (WsCommand("ping", handler).problem() or "")
    assert "must be" in (WsCommand("Plug/X", handler).problem() or "")
    assert "reserves" in (WsCommand("auth/sign_path", handler).problem() or "")


async def test_a_plugin_command_is_answered(owner: Client, token: str, runtime: HttpRuntime,
                                            host: Host, caplog: pytest.LogCaptureFixture
                                            ) -> None:
    assert set(runtime.plugin_commands) == {"echo/last", "plug/double", "plug/secret",
                                            "plug/broken"}
    assert runtime.plugin_commands.keys().isdisjoint(COMMANDS)
    ws = await _socket(owner, token)
    answer = await _call(ws, 1, "plug/double", n=21)
    assert answer == {"id": 1, "type": "result", "success": True,
                      "result": {"twice": 42, "admin": True}}
    bad = await _call(ws, 2, "plug/double", n="x")
    assert bad["success"] is False and bad["error"]["code"] == "invalid_format"
    assert "n" in bad["error"]["message"]
    extra = await _call(ws, 3, "plug/double", n=1, m=2)
    assert extra["error"]["code"] == "invalid_format"
    raised = await _call(ws, 4, "plug/broken")
    assert raised["error"]["code"] == "invalid_format" and "too odd" in raised["error"]["message"]
    # the skipped ones: the core's commands are the core's
    ping = await _call(ws, 5, "ping")
    assert ping["type"] == "pong"
    await ws.close()
    # what was skipped is logged (once per process: the set of reported problems is
    # emptied so that this test sees its lines whatever ran before)
    extensions._REPORTED.clear()
    collect_ws_commands(host)
    logged = caplog.text
    assert "'plug/double' is already used" in logged
    assert "'ping' must be <domain>/<command>" in logged
    assert "not a WsCommand" in logged


async def test_require_admin_refuses_other_users(owner: Client, runtime: HttpRuntime) -> None:
    user = await runtime.auth.create_user("ws_plain", "plain password", role="user")
    _, token = await runtime.auth.create_token(user, "tests")
    ws = await _socket(owner, token)
    refused = await _call(ws, 1, "plug/secret")
    assert refused["error"]["code"] == "unauthorized"
    allowed = await _call(ws, 2, "plug/double", n=1)
    assert allowed["result"] == {"twice": 2, "admin": False}
    await ws.close()


@pytest.fixture(autouse=True)
def _log_level(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="gatehouse.core.http.extensions")
