"""The web server's security events (``audit_security``): what the audit log records of
logins, lockouts, users, roles, policies and tokens — and that nobody can fake them."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient

from gatehouse.core import Event, Host
from httpkit import OWNER

pytestmark = pytest.mark.anyio

Client = TestClient[Any, Any]


@pytest.fixture
def events(host: Host) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def record(event: Event[dict[str, Any]]) -> None:
        seen.append({**event.data, "context_user": event.context.user_id})

    host.bus.listen("audit_security", record)
    return seen


def actions(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["action"], e["result"]) for e in events]


async def test_logins_failures_and_the_lockout_are_events(
    events: list[dict[str, Any]], anon: ClientSession
) -> None:
    ok = await anon.post("/auth/login", json={"username": "owner",
                                              "password": OWNER["password"]})
    assert ok.status == 200
    for _ in range(6):  # the budget is 5: the 5th failure starts the lockout
        await anon.post("/auth/login", json={"username": "owner", "password": "nope"})
    seen = actions(events)
    assert seen[:2] == [("user.create", "ok"), ("auth.login", "ok")]  # onboarding, login
    assert seen[2:] == [("auth.login", "failed")] * 5 + [("auth.lockout", "locked")]
    failed = events[2]
    assert failed["name"] == "owner" and failed["ip"] and failed["user_id"] is None
    assert "nope" not in repr(events)  # never a password


async def test_user_role_policy_and_token_changes_name_who_and_whom(
    events: list[dict[str, Any]], owner: Client, origin: dict[str, str]
) -> None:
    made = await owner.post("/api/auth/users", headers=origin, json={
        "username": "bob", "password": "a long password 1", "role": "user"})
    assert made.status == 201
    bob = (await made.json())["id"]
    assert (await owner.post(f"/api/auth/users/{bob}", headers=origin,
                             json={"role": "read_only"})).status == 200
    assert (await owner.post(f"/api/auth/users/{bob}/policy", headers=origin,
                             json={"read": ["sensor.*"]})).status == 200
    token = await owner.post("/api/auth/tokens", headers=origin, json={"name": "ci"})
    value = (await token.json())["token"]
    token_id = (await token.json())["id"]
    assert (await owner.delete(f"/api/auth/tokens/{token_id}", headers=origin)).status == 200
    assert (await owner.delete(f"/api/auth/users/{bob}", headers=origin)).status == 200

    mine = [e for e in events if e["target"] != "user:owner"]  # not the onboarding
    assert actions(mine)[-6:] == [
        ("user.create", "ok"), ("permission.change", "ok"), ("permission.change", "ok"),
        ("token.create", "ok"), ("token.revoke", "ok"), ("user.remove", "ok"),
    ]
    owner_id = events[0]["user_id"]
    assert all(e["user_id"] == owner_id == e["context_user"] for e in mine[-6:])
    assert [e["target"] for e in mine[-6:]] == [
        "user:bob", "user:bob", "user:bob", None, None, "user:bob"]
    assert mine[-5]["details"] == {"changed": ["role"], "role": "read_only"}
    assert value not in repr(events)  # never a token value


@pytest.mark.parametrize("event_type", ["audit_security", "service_call_result",
                                        "audit_checkpoint"])
async def test_audit_events_cannot_be_fired_through_the_api(
    owner: Client, origin: dict[str, str], event_type: str, host: Host
) -> None:
    access_token = await _token(owner, origin)
    fired: list[Any] = []
    host.bus.listen(event_type, fired.append)
    response = await owner.post(f"/api/events/{event_type}", headers=origin,
                                json={"action": "auth.login", "result": "ok"})
    assert response.status == 400
    assert "fired by the core only" in (await response.json())["message"]
    async with owner.ws_connect("/api/websocket") as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": access_token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        await ws.send_json({"id": 1, "type": "fire_event", "event_type": event_type})
        answer = await ws.receive_json()
    assert answer["success"] is False and "fired by the core only" in repr(answer)
    assert fired == []  # the bus runs listeners inline: a fired event would be here


async def _token(owner: Client, origin: dict[str, str]) -> str:
    made = await owner.post("/api/auth/tokens", headers=origin, json={"name": "ws"})
    value: str = (await made.json())["token"]
    return value
