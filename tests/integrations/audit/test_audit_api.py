"""The audit log's REST and WebSocket queries on a running host with its web server.

A real host from ``configuration.yaml`` (web server on a loopback port, an audit entry
writing real files), users of every role made through the auth store (which records
``user.create``), security events fired on the bus, and plain HTTP / WebSocket
requests with bearer tokens.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from gatehouse.core import Host
from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.testing import make_host

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

CONFIG = """\
gatehouse:
  control_socket: false
http:
  server_host: 127.0.0.1
  server_port: 0
audit:
  checkpoint_records: 1000
"""
API = "/api/audit"


@dataclass
class Rig:
    host: Host
    base: str
    tokens: dict[str, str]
    config_dir: Path

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def get(self, path: str, role: str = "admin", **params: Any) -> tuple[int, Any]:
        async with ClientSession() as session, session.get(
            f"{self.base}{path}", params=params, headers=self.headers(role)
        ) as response:
            return response.status, await response.json()


@pytest.fixture
async def rig(config_dir: Path) -> AsyncIterator[Rig]:
    (config_dir / "configuration.yaml").write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    host = make_host(config_dir)
    async with host.running():
        server = host.data.get(HTTP_SERVER)
        assert server is not None
        auth = server.runtime.auth
        tokens = {}
        for role in ("admin", "user", "read_only"):
            user = await auth.create_user(f"api_{role}", "api password", role=role)
            tokens[role] = (await auth.create_token(user, "tests"))[1]
        yield Rig(host, f"http://127.0.0.1:{server.port}", tokens, config_dir)


def _fire_logins(host: Host) -> None:
    for name, action, ip in [("alice", "auth.login", "192.0.2.1"),
                             ("bob", "auth.login", "192.0.2.2"),
                             ("alice", "auth.logout", "192.0.2.1"),
                             ("alice", "token.create", "192.0.2.1"),
                             ("carol", "cert.issue", None)]:
        host.bus.fire("audit_security", {"action": action, "result": "ok", "name": name,
                                         "ip": ip, "target": f"thing:{name}-{action}"})


async def test_records_filter_by_who_what_time_and_text_newest_first(rig: Rig) -> None:
    _fire_logins(rig.host)
    status, page = await rig.get(f"{API}/records", actor="alice")
    assert status == 200
    assert [r["action"] for r in page["records"]] == ["token.create", "auth.logout",
                                                      "auth.login"]
    seqs = [r["seq"] for r in page["records"]]
    assert seqs == sorted(seqs, reverse=True)
    _, page = await rig.get(f"{API}/records", actor="bob, carol")  # any of several
    assert [r["actor"]["name"] for r in page["records"]] == ["carol", "bob"]
    _, page = await rig.get(f"{API}/records", action="auth.")
    assert [r["actor"]["name"] for r in page["records"]] == ["alice", "bob", "alice"]
    _, page = await rig.get(f"{API}/records", text="192.0.2.2")
    assert [r["actor"]["name"] for r in page["records"]] == ["bob"]
    _, page = await rig.get(f"{API}/records", text="CAROL-CERT")  # case-insensitive
    assert [r["action"] for r in page["records"]] == ["cert.issue"]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    _, page = await rig.get(f"{API}/records", since=future)
    assert page == {"records": [], "next_before": None}
    _, page = await rig.get(f"{API}/records", until=future, actor="bob", action="auth.login")
    assert len(page["records"]) == 1
    past = (datetime.now(UTC) - timedelta(hours=1)).timestamp()
    _, page = await rig.get(f"{API}/records", since=str(past), text="thing:")
    assert len(page["records"]) == 5


async def test_pages_go_back_by_seq_until_nothing_is_left(rig: Rig) -> None:
    for n in range(7):
        rig.host.bus.fire("audit_security", {"action": "auth.login", "result": "failed",
                                             "name": f"guess{n}"})
    seen: list[str] = []
    before: int | None = None
    while True:
        params: dict[str, Any] = {"action": "auth.login", "limit": 3}
        if before is not None:
            params["before"] = before
        status, page = await rig.get(f"{API}/records", **params)
        assert status == 200
        seen.extend(r["actor"]["name"] for r in page["records"])
        before = page["next_before"]
        if before is None:
            break
    assert seen == [f"guess{n}" for n in reversed(range(7))]


async def test_bad_parameters_are_a_400_naming_them(rig: Rig) -> None:
    for params, word in [({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"),
                         ({"before": "-1"}, "before"), ({"since": "yesterday"}, "since"),
                         ({"colour": "red"}, "colour"), ({"text": "x" * 201}, "text"),
                         ({"decrypt": "maybe"}, "decrypt"),
                         ({"actor": ",".join(f"u{n}" for n in range(21))}, "actor")]:
        status, body = await rig.get(f"{API}/records", **params)
        assert status == 400, params
        assert word in body["message"], (params, body)


@pytest.mark.parametrize("role", ["user", "read_only"])
async def test_non_admins_are_refused(rig: Rig, role: str) -> None:
    for path in ("records", "status", "verify"):
        status, _ = await rig.get(f"{API}/{path}", role)
        assert status == 403, path
    async with ClientSession() as session, session.ws_connect(
        f"{rig.base}/api/websocket"
    ) as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": rig.tokens[role]})
        assert (await ws.receive_json())["type"] == "auth_ok"
        await ws.send_json({"id": 1, "type": "audit/records"})
        answer = await ws.receive_json()
        assert answer["success"] is False
        assert answer["error"]["code"] == "unauthorized"


async def test_status_and_verify_say_how_far_the_chain_is_intact(rig: Rig) -> None:
    _fire_logins(rig.host)
    await rig.host.services.call("audit", "checkpoint", {})
    status, state = await rig.get(f"{API}/status")
    assert status == 200
    assert state["last_checkpoint"]["seq"] == state["seq"] - 1
    assert state["origin"].startswith("gatehouse-audit/")
    assert state["unsigned"] == 0
    status, report = await rig.get(f"{API}/verify")
    assert status == 200
    assert report["ok"] is True and report["problem"] is None
    assert report["last_seq"] == state["seq"]
    assert report["signed_through"] == state["seq"] - 1

    # One changed byte in the first file: the page names the record.
    path = rig.host.storage_dir / "audit" / "audit-000001.jsonl"
    data = bytearray(path.read_bytes())
    data[data.index(b'"result":"ok"') + 11] = ord("K")
    path.write_bytes(bytes(data))
    _, report = await rig.get(f"{API}/verify")
    assert report["ok"] is False
    assert "audit-000001.jsonl line" in report["problem"]


async def test_websocket_records_status_and_verify(rig: Rig) -> None:
    _fire_logins(rig.host)
    async with ClientSession() as session, session.ws_connect(
        f"{rig.base}/api/websocket"
    ) as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": rig.tokens["admin"]})
        assert (await ws.receive_json())["type"] == "auth_ok"
        await ws.send_json({"id": 1, "type": "audit/records", "actor": "alice", "limit": 2})
        answer = await ws.receive_json()
        assert answer["success"] is True, answer
        assert [r["action"] for r in answer["result"]["records"]] == ["token.create",
                                                                      "auth.logout"]
        before = answer["result"]["next_before"]
        await ws.send_json({"id": 2, "type": "audit/records", "actor": "alice",
                            "before": before})
        answer = await ws.receive_json()
        assert [r["action"] for r in answer["result"]["records"]] == ["auth.login"]
        await ws.send_json({"id": 3, "type": "audit/records", "since": "never"})
        answer = await ws.receive_json()
        assert answer["error"]["code"] == "invalid_format"
        assert "since" in answer["error"]["message"]
        await ws.send_json({"id": 4, "type": "audit/verify"})
        answer = await ws.receive_json()
        assert answer["result"]["ok"] is True
        await ws.send_json({"id": 5, "type": "audit/status"})
        answer = await ws.receive_json()
        assert answer["result"]["seq"] >= 5
