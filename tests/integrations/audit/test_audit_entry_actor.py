"""Config entry changes made by a person carry who made them (REST, WebSocket, flows).

Regression: ``config_entry_changed`` was fired without the caller's context, so the
audit log recorded ``config_entry.add/update/remove`` with no actor even when an admin
did it in the UI. The web server now runs each request and WebSocket command with the
acting user (``gatehouse.core.context.ACTING_USER``) and the entries fire with it.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from auditools import records

from gatehouse.core import Host
from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.testing import add_entry, make_host

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

CONFIG = """\
gatehouse:
  control_socket: false
http:
  server_host: 127.0.0.1
  server_port: 0
audit:
"""


@pytest.fixture
async def served(config_dir: Path) -> AsyncIterator[tuple[Host, str, str, str]]:
    (config_dir / "configuration.yaml").write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    host = make_host(config_dir)
    async with host.running():
        server = host.data.get(HTTP_SERVER)
        assert server is not None
        admin = await server.runtime.auth.create_user("entry_admin", "admin password",
                                                      role="admin")
        token = (await server.runtime.auth.create_token(admin, "tests"))[1]
        yield host, f"http://127.0.0.1:{server.port}", token, admin.id


def _entry_records(host: Host, entry_id: str) -> list[dict[str, Any]]:
    return [r for r in records(host.storage_dir / "audit")
            if r["action"].startswith("config_entry.") and r["target"] == entry_id]


async def test_rest_and_websocket_changes_name_the_admin(
    served: tuple[Host, str, str, str],
) -> None:
    host, base, token, admin_id = served
    demo = await add_entry(host, "demo", {"name": "Kitchen"}, unique_id="kitchen")
    headers = {"Authorization": f"Bearer {token}"}
    async with ClientSession() as session:
        async with session.post(f"{base}/api/config/config_entries/entry/"
                                f"{demo.entry_id}/disable", headers=headers) as response:
            assert response.status == 200, await response.text()
        async with session.ws_connect(f"{base}/api/websocket") as ws:
            assert (await ws.receive_json())["type"] == "auth_required"
            await ws.send_json({"type": "auth", "access_token": token})
            assert (await ws.receive_json())["type"] == "auth_ok"
            await ws.send_json({"id": 1, "type": "config_entries/remove",
                                "entry_id": demo.entry_id})
            reply = await ws.receive_json()
            assert reply.get("success"), reply
    await host.config_entries.entries("audit")[0].runtime_data.log.flush()
    found = {r["action"]: r["actor"]["user_id"] for r in _entry_records(host, demo.entry_id)}
    assert found["config_entry.add"] is None  # made by the test itself: the system
    assert found["config_entry.update"] == admin_id  # REST disable
    assert found["config_entry.remove"] == admin_id  # WebSocket remove
