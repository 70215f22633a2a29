"""The quarantine's REST API on a running host with its web server (``views.py``).

A real host from ``configuration.yaml`` (web server on a loopback port, schema_guard
with a real schema file and a real SQLite quarantine), messages quarantined through
the guard, and plain HTTP requests with bearer tokens of an admin, a user and a
read-only user.
"""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from sgtools import GOOD, TELEMETRY, dumps, write_schema

from gatehouse.core import Host
from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.testing import body_in_pieces, make_host, state_of, wait_until
from gatehouse.integrations.schema_guard import browse
from gatehouse.integrations.schema_guard.api import EVENT_REPLAYED, guard_for
from gatehouse.integrations.schema_guard.views import BODY_MAX

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

CONFIG = """\
gatehouse:
  control_socket: false
http:
  server_host: 127.0.0.1
  server_port: 0
schema_guard:
  name: Guard
  reload_interval: 0.05
  stats_interval: 0.05
  unmatched: quarantine
  pii: [owner.email]
  rules:
    - topic: site/+/device/{source}/telemetry
      name: telemetry
      schema: telemetry
"""
TOPIC = "site/north/device/pump-1/telemetry"
OTHER = "site/south/device/fan-2/telemetry"
API = "/api/schema_guard"


@dataclass
class Rig:
    host: Host
    base: str
    tokens: dict[str, str]
    config_dir: Path

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture
async def rig(config_dir: Path) -> AsyncIterator[Rig]:
    write_schema(config_dir / "schemas", "telemetry", 1, TELEMETRY)
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


@pytest.fixture
async def http(rig: Rig) -> AsyncIterator[ClientSession]:
    async with ClientSession(base_url=rig.base) as session:
        yield session


def bad_temp(n: int) -> bytes:
    return dumps({**GOOD, "temp": 200 + n, "owner": {"email": "x@example.com"}})


async def quarantine(rig: Rig) -> None:
    """Seven messages: four too hot (/temp), two bad devices (/device), one not JSON."""
    guard = guard_for(rig.host)
    for n in range(4):
        assert not guard.check(TOPIC, bad_temp(n)).accepted
    for name in ("Bad Name", "x" * 40):
        assert not guard.check(OTHER, dumps({**GOOD, "device": name})).accepted
    assert not guard.check(TOPIC, b"not json").accepted
    await wait_until(lambda: state_of(rig.host, "sensor.guard_quarantine_messages") == "7")


async def get(http: ClientSession, rig: Rig, url: str, role: str = "admin", /,
              **params: Any) -> tuple[int, Any]:
    async with http.get(url, params=params, headers=rig.headers(role)) as response:
        return response.status, await response.json()


async def test_pages_newest_first_with_filters(rig: Rig, http: ClientSession) -> None:
    await quarantine(rig)
    status, body = await get(http, rig, f"{API}/quarantine", limit=3)
    assert status == 200
    first = body["messages"]
    assert [m["topic"] for m in first] == [TOPIC, OTHER, OTHER]
    assert first[0]["errors"][0]["keyword"] == "json"
    assert "payload" not in first[0]  # pages carry no payloads
    assert body["next_before"] == first[-1]["id"]
    # the next pages, until the end
    seen = [m["id"] for m in first]
    before = body["next_before"]
    while before is not None:
        status, body = await get(http, rig, f"{API}/quarantine", limit=3, before=before)
        seen += [m["id"] for m in body["messages"]]
        before = body["next_before"]
    assert len(seen) == 7 and seen == sorted(seen, reverse=True)

    status, body = await get(http, rig, f"{API}/quarantine", path="/temp")
    hot = body["messages"]
    assert len(hot) == 4 and body["next_before"] is None
    assert {(m["rule"], m["version"], m["source"]) for m in hot} == {("telemetry", 1, "pump-1")}
    assert {m["errors"][0]["path"] for m in hot} == {"/temp"}
    status, body = await get(http, rig, f"{API}/quarantine", topic="site/south/#")
    assert [m["topic"] for m in body["messages"]] == [OTHER, OTHER]
    status, body = await get(http, rig, f"{API}/quarantine", topic=OTHER, path="/device")
    assert len(body["messages"]) == 2
    status, body = await get(http, rig, f"{API}/quarantine", rule="nope")
    assert body == {"messages": [], "next_before": None}


async def test_time_range_in_seconds_or_iso(rig: Rig, http: ClientSession) -> None:
    start = time.time() - 1
    await quarantine(rig)
    later = datetime.fromtimestamp(time.time() + 60, UTC).isoformat()
    status, body = await get(http, rig, f"{API}/quarantine", since=str(start))
    assert len(body["messages"]) == 7
    status, body = await get(http, rig, f"{API}/quarantine", since=later)
    assert body["messages"] == []
    status, body = await get(http, rig, f"{API}/quarantine", until=later.replace("+00:00", "Z"))
    assert status == 200 and len(body["messages"]) == 7


@pytest.mark.parametrize(("params", "named"), [
    ({"limit": "0"}, "limit"),
    ({"limit": "many"}, "limit"),
    ({"before": "-1"}, "before"),
    ({"since": "yesterday"}, "since"),
    ({"until": "nan"}, "until"),
    ({"colour": "red"}, "colour"),
    ({"replayed": "maybe"}, "replayed"),
])
async def test_bad_parameters_are_named(rig: Rig, http: ClientSession, params: dict[str, str],
                                        named: str) -> None:
    status, body = await get(http, rig, f"{API}/quarantine", **params)
    assert status == 400 and named in body["message"]


async def test_one_message_in_full_with_the_masked_payload(rig: Rig, http: ClientSession
                                                           ) -> None:
    await quarantine(rig)
    _, body = await get(http, rig, f"{API}/quarantine", path="/temp", limit=1)
    message_id = body["messages"][0]["id"]
    status, one = await get(http, rig, f"{API}/quarantine/{message_id}")
    assert status == 200
    assert one["errors"] == [{"path": "/temp", "keyword": "maximum", "message": one["errors"][0]
                              ["message"]}]
    payload = json.loads(one["payload"])
    assert payload["temp"] == 203 and payload["owner"]["email"] == "***"
    assert one["payload_cut"] is False
    status, missing = await get(http, rig, f"{API}/quarantine/999999")
    assert status == 404 and "999999" in missing["message"]
    status, wrong = await get(http, rig, f"{API}/quarantine/abc")
    assert status == 400 and "id" in wrong["message"]


async def test_per_error_path_counts(rig: Rig, http: ClientSession) -> None:
    await quarantine(rig)
    status, body = await get(http, rig, f"{API}/paths")
    assert status == 200
    assert [(p["path"], p["keyword"], p["count"]) for p in body["paths"]] == [
        ("/temp", "maximum", 4), ("/device", "pattern", 2), ("", "json", 1)]
    _, body = await get(http, rig, f"{API}/paths", topic=OTHER)
    assert [(p["path"], p["count"]) for p in body["paths"]] == [("/device", 2)]
    _, body = await get(http, rig, f"{API}/paths", limit=1)
    assert len(body["paths"]) == 1


async def test_export_streams_json_lines(rig: Rig, http: ClientSession) -> None:
    await quarantine(rig)
    async with http.get(f"{API}/export", params={"path": "/temp"},
                        headers=rig.headers()) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/x-ndjson")
        assert response.headers["Content-Disposition"].startswith("attachment; filename=")
        text = await response.text()
    rows = [json.loads(line) for line in text.splitlines()]
    assert [json.loads(r["payload"])["temp"] for r in rows] == [200, 201, 202, 203]
    assert "x@example.com" not in text
    async with http.get(f"{API}/export", headers=rig.headers()) as response:
        everything = (await response.text()).splitlines()
    assert len(everything) == 7
    # not JSON, so PII masking cannot be applied: the payload was never stored
    last = json.loads(everything[-1])
    assert "payload" not in last and last["note"].startswith("withheld")


async def test_export_of_many_messages_is_complete(rig: Rig, http: ClientSession) -> None:
    """More than one batch (500) of the store: every message once, in order."""
    guard = guard_for(rig.host)
    for n in range(1203):
        guard.check(TOPIC, bad_temp(n % 50))
    await wait_until(lambda: state_of(rig.host, "sensor.guard_quarantine_messages") == "1203",
                     timeout=30)
    async with http.get(f"{API}/export", headers=rig.headers()) as response:
        lines = (await response.text()).splitlines()
    ids = [json.loads(line)["id"] for line in lines]
    assert len(ids) == 1203 and ids == sorted(set(ids))


async def test_replay_dry_run_then_for_real(rig: Rig, http: ClientSession) -> None:
    await quarantine(rig)
    replayed: list[dict[str, Any]] = []
    rig.host.bus.listen(EVENT_REPLAYED, lambda event: replayed.append(event.data))

    async def replay(body: Any) -> tuple[int, Any]:
        async with http.post(f"{API}/replay", json=body, headers=rig.headers()) as response:
            return response.status, await response.json()

    status, dry = await replay({"filters": {"path": "/temp"}})
    assert status == 200
    assert (dry["dry_run"], dry["examined"], dry["passing"], dry["failing"]) == (True, 4, 0, 4)
    # the schema fix: v2 allows up to 300 degrees
    fixed = dict(TELEMETRY, properties=dict(TELEMETRY["properties"], temp={
        "type": "number", "maximum": 300}))
    write_schema(rig.config_dir / "schemas", "telemetry", 2, fixed)
    await wait_until(lambda: guard_for(rig.host).check(TOPIC, bad_temp(0), store=False).accepted)
    _, dry = await replay({"dry_run": True, "filters": {"path": "/temp"}})
    assert (dry["passing"], dry["failing"], dry["replayed"]) == (4, 0, 0)
    assert replayed == []
    status, done = await replay({"dry_run": False, "filters": {"path": "/temp"}})
    assert status == 200 and done["replayed"] == 4
    assert [r["value"]["temp"] for r in replayed] == [200, 201, 202, 203]
    _, body = await get(http, rig, f"{API}/quarantine", replayed="true")
    assert {m["errors"][0]["path"] for m in body["messages"]} == {"/temp"}
    assert all(m["replayed"] for m in body["messages"])
    # a second replay finds nothing left to deliver
    _, again = await replay({"dry_run": False})
    assert again["replayed"] == 0 and again["examined"] == 3


@pytest.mark.parametrize(("body", "named"), [
    ([], "JSON object"),
    ({"dry_run": "no"}, "dry_run"),
    ({"filters": {"since": "soon"}}, "since"),
    ({"filters": {"replayed": True}}, "replayed"),
    ({"filter": {}}, "filter"),
])
async def test_bad_replay_requests_are_named(rig: Rig, http: ClientSession, body: Any,
                                             named: str) -> None:
    async with http.post(f"{API}/replay", json=body, headers=rig.headers()) as response:
        assert response.status == 400
        assert named in (await response.json())["message"]


async def test_admins_only(rig: Rig, http: ClientSession) -> None:
    await quarantine(rig)
    for role in ("user", "read_only"):
        for path in ("quarantine", "quarantine/1", "paths", "export"):
            async with http.get(f"{API}/{path}", headers=rig.headers(role)) as response:
                assert response.status == 403, (role, path)
        async with http.post(f"{API}/replay", json={"dry_run": False},
                             headers=rig.headers(role)) as response:
            assert response.status == 403, role
    async with http.get(f"{API}/quarantine") as response:
        assert response.status == 401


async def test_without_a_loaded_entry_the_routes_say_so(rig: Rig, http: ClientSession) -> None:
    (entry,) = rig.host.config_entries.entries("schema_guard")
    await rig.host.config_entries.unload(entry.entry_id)
    status, body = await get(http, rig, f"{API}/quarantine")
    assert status == 404 and "no schema_guard entry" in body["message"]
    async with http.post(f"{API}/replay", json={}, headers=rig.headers()) as response:
        assert response.status == 404


# -- the WebSocket commands (wscommands.py) ----------------------------------------------


class Socket:
    """One authenticated WebSocket with increasing ids."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0

    async def call(self, type_: str, **fields: Any) -> dict[str, Any]:
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "type": type_, **fields})
        while True:
            answer: dict[str, Any] = await self.ws.receive_json(timeout=10)
            if answer.get("id") == self.next_id and answer["type"] == "result":
                return answer


@pytest.fixture
async def socket(rig: Rig, http: ClientSession) -> AsyncIterator[Socket]:
    async with http.ws_connect("/api/websocket") as ws:
        assert (await ws.receive_json(timeout=10))["type"] == "auth_required"
        await ws.send_json({"type": "auth", "access_token": rig.tokens["admin"]})
        assert (await ws.receive_json(timeout=10))["type"] == "auth_ok"
        yield Socket(ws)


async def test_websocket_list_get_and_paths(rig: Rig, socket: Socket) -> None:
    await quarantine(rig)
    answer = await socket.call("schema_guard/quarantine/list", path="/temp", limit=3)
    assert answer["success"], answer
    page = answer["result"]
    assert len(page["messages"]) == 3
    assert {m["errors"][0]["path"] for m in page["messages"]} == {"/temp"}
    rest = await socket.call("schema_guard/quarantine/list", path="/temp",
                             before=page["next_before"])
    assert len(rest["result"]["messages"]) == 1 and rest["result"]["next_before"] is None

    one = await socket.call("schema_guard/quarantine/get",
                            message_id=page["messages"][0]["id"])
    assert json.loads(one["result"]["payload"])["owner"]["email"] == "***"
    missing = await socket.call("schema_guard/quarantine/get", message_id=999999)
    assert missing["success"] is False and "999999" in missing["error"]["message"]

    counts = await socket.call("schema_guard/paths", topic="site/+/device/+/telemetry")
    assert [(p["path"], p["count"]) for p in counts["result"]["paths"]] == [
        ("/temp", 4), ("/device", 2), ("", 1)]


async def test_websocket_replay_dry_run(rig: Rig, socket: Socket) -> None:
    await quarantine(rig)
    answer = await socket.call("schema_guard/replay", filters={"topic": OTHER})
    assert answer["result"]["dry_run"] is True
    assert (answer["result"]["examined"], answer["result"]["passing"]) == (2, 0)
    assert answer["result"]["still_failing"] == {"/device pattern": 2}


@pytest.mark.parametrize(("type_", "fields", "named"), [
    ("schema_guard/quarantine/list", {"limit": 0}, "limit"),
    ("schema_guard/quarantine/list", {"since": "soon"}, "since"),
    ("schema_guard/quarantine/list", {"colour": "red"}, "colour"),
    ("schema_guard/paths", {"until": "nan"}, "until"),
    ("schema_guard/quarantine/get", {}, "message_id"),
    ("schema_guard/replay", {"dry_run": "no"}, "dry_run"),
    ("schema_guard/replay", {"filters": {"replayed": True}}, "replayed"),
])
async def test_websocket_bad_fields_are_named(rig: Rig, socket: Socket, type_: str,
                                              fields: dict[str, Any], named: str) -> None:
    answer = await socket.call(type_, **fields)
    assert answer["success"] is False
    assert answer["error"]["code"] == "invalid_format" and named in answer["error"]["message"]


async def test_websocket_commands_are_for_admins(rig: Rig, http: ClientSession) -> None:
    for role in ("user", "read_only"):
        async with http.ws_connect("/api/websocket") as ws:
            await ws.receive_json(timeout=10)
            await ws.send_json({"type": "auth", "access_token": rig.tokens[role]})
            assert (await ws.receive_json(timeout=10))["type"] == "auth_ok"
            sock = Socket(ws)
            for type_ in ("schema_guard/quarantine/list", "schema_guard/paths",
                          "schema_guard/replay"):
                answer = await sock.call(type_)
                assert answer["error"]["code"] == "unauthorized", (role, type_)


async def test_export_holds_a_bounded_payload_volume(rig: Rig, http: ClientSession,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Payloads are read in groups of at most EXPORT_CHUNK_BYTES stored bytes (one
    bigger payload alone), so big payloads never pile up a whole batch in memory; the
    export is still every message once, in order."""
    await quarantine(rig)
    sizes = [{"id": i, "stored": s} for i, s in enumerate([60, 60, 60, 500, 10, 0, 90], 1)]
    monkeypatch.setattr(browse, "EXPORT_CHUNK_BYTES", 130)
    assert browse._groups(sizes) == [[1, 2], [3], [4], [5, 6, 7]]
    async with http.get(f"{API}/export", headers=rig.headers()) as response:
        lines = (await response.text()).splitlines()
    ids = [json.loads(line)["id"] for line in lines]
    assert len(ids) == 7 and ids == sorted(ids)


def test_payload_fields_text_cut_and_binary() -> None:
    assert browse.payload_fields(b'{"a":1}') == {"payload_cut": False, "payload": '{"a":1}'}
    assert browse.payload_fields(None) == {"payload": None}
    # a cut inside a character keeps the text before it
    cut = browse.payload_fields("aé".encode() * 3, limit=4)
    assert cut == {"payload_cut": True, "payload": "aéa"}
    split = browse.payload_fields("aéé".encode(), limit=4)
    assert split == {"payload_cut": True, "payload": "aé"}
    binary = browse.payload_fields(b"\xff\x00\x01")
    assert binary == {"payload_cut": False, "payload": None, "payload_base64": "/wAB"}


async def test_problems_name_a_broken_file_and_the_version_in_force(
    rig: Rig, http: ClientSession,
) -> None:
    """A broken new schema version keeps v1 in force; the UI reads why from here."""
    async with http.get(f"{API}/problems", headers=rig.headers()) as response:
        assert response.status == 200
        assert await response.json() == {"problems": {}, "schemas": {"telemetry": [1]}}
    write_schema(rig.config_dir / "schemas", "telemetry", 2, None, raw=b"{not json")
    runtime = next(iter(browse.LOADED.runtimes(rig.host).values()))
    await wait_until(lambda: bool(runtime.problems()))
    async with http.get(f"{API}/problems", headers=rig.headers()) as response:
        body = await response.json()
    assert list(body["problems"]) == ["telemetry.v2.json"]
    assert "not JSON" in body["problems"]["telemetry.v2.json"]
    assert body["schemas"] == {"telemetry": [1]}  # still v1 only
    async with http.get(f"{API}/problems", headers=rig.headers("user")) as response:
        assert response.status == 403


async def test_replay_body_split_across_reads_is_read_whole(rig: Rig, http: ClientSession
                                                            ) -> None:
    """Regression: the replay view read one network read's worth of the body, so a body
    that arrived in two pieces was "not JSON". It now reads to the end (the house's
    ``read_json``) within its own 16 KiB bound."""
    await quarantine(rig)
    body = json.dumps({"dry_run": True, "filters": {"path": "/temp"}}).encode()

    headers = dict(rig.headers(), **{"Content-Type": "application/json"})
    pieces = body_in_pieces(body, 10)
    async with http.post(f"{API}/replay", data=pieces, headers=headers) as response:
        answer = await response.json()
        assert response.status == 200, answer
        assert (answer["dry_run"], answer["examined"]) == (True, 4)


@pytest.mark.parametrize(("raw", "status", "named"), [
    (b" " * (BODY_MAX + 1), 413, "larger than"),
    (b"[" * 10_000, 400, "invalid JSON"),  # deeper than the house allows
    (b"{nope", 400, "invalid JSON"),
])
async def test_bad_replay_bodies_are_refused_clearly(rig: Rig, http: ClientSession, raw: bytes,
                                                     status: int, named: str) -> None:
    headers = dict(rig.headers(), **{"Content-Type": "application/json"})
    async with http.post(f"{API}/replay", data=raw, headers=headers) as response:
        assert response.status == status
        assert named in (await response.json())["message"]
