"""Provisioning's REST and WebSocket API and the traffic monitor, on a running host.

A host from ``configuration.yaml`` (web server on a loopback port, an mqtt entry as the
dynamic security admin with a ``provisioning:`` block) on a real Mosquitto with the
plugin; requests carry bearer tokens of an admin and of a user, who is refused.
"""

from __future__ import annotations

import io
import json
import zipfile
from base64 import b64decode
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import ClientSession
from provisiontools import Client, DynsecBroker, Socket, dynsec_broker, have_dynsec, login

from gatehouse.core import Host
from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.testing import body_in_pieces, make_host, wait_until
from gatehouse.integrations.mqtt.provisioning.traffic import traffic_monitor

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.timeout(60),
    pytest.mark.skipif(not have_dynsec(), reason="needs Mosquitto's dynamic security plugin"),
]

API = "/api/mqtt/provisioning"


@dataclass
class Rig:
    host: Host
    base: str
    tokens: dict[str, str]
    broker: DynsecBroker

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture
async def rig(config_dir: Path, tmp_path: Path) -> AsyncIterator[Rig]:
    with dynsec_broker(tmp_path / "dynsec") as broker:
        broker.write_host_config(config_dir, "Plant broker")
        host = make_host(config_dir)
        async with host.running():
            server = host.data.get(HTTP_SERVER)
            assert server is not None
            tokens = {}
            for role in ("admin", "user"):
                user = await server.runtime.auth.create_user(f"api_{role}", "api password",
                                                             role=role)
                tokens[role] = (await server.runtime.auth.create_token(user, "tests"))[1]
            yield Rig(host, f"http://127.0.0.1:{server.port}", tokens, broker)


@pytest.fixture
async def http(rig: Rig) -> AsyncIterator[ClientSession]:
    async with ClientSession(base_url=rig.base) as session:
        yield session


async def test_rest_provision_show_revoke_delete(rig: Rig, http: ClientSession) -> None:
    async with http.get(API, headers=rig.headers()) as response:
        assert response.status == 200
        overview = await response.json()
    assert {t["name"] for t in overview["device_types"]} == {"sensor", "actuator"}
    assert overview["enforcement"]["not_enforced_by_plugin"] == ["max_qos", "retain"]
    assert overview["devices"] == []

    body = {"name": "t9", "device_type": "sensor", "site": "east"}
    async with http.post(f"{API}/devices", json=body, headers=rig.headers()) as response:
        assert response.status == 201
        assert response.headers["Cache-Control"] == "no-store"
        result = await response.json()
    bundle = zipfile.ZipFile(io.BytesIO(b64decode(result["bundle"]["base64"])))
    assert json.loads(bundle.read("config.json"))["password"] == result["password"]
    assert result["bundle"]["filename"] == "t9.zip"

    async with http.get(f"{API}/devices/t9", headers=rig.headers()) as response:
        view = await response.json()
    assert view["broker_client"]["roles"] == [{"rolename": "gatehouse-dev-t9"}]
    assert result["password"] not in json.dumps(view)  # the secret is never shown again

    async with http.post(f"{API}/devices", json={**body, "name": "bad/name"},
                         headers=rig.headers()) as response:
        assert response.status == 400
        assert "name" in (await response.json())["message"]

    async with http.post(f"{API}/devices/t9/revoke", headers=rig.headers()) as response:
        assert response.status == 200 and (await response.json())["status"] == "revoked"
    async with http.delete(f"{API}/devices/t9", headers=rig.headers()) as response:
        assert response.status == 204
    async with http.get(f"{API}/devices/t9", headers=rig.headers()) as response:
        assert response.status == 404

    for method, url in (("GET", API), ("POST", f"{API}/devices")):
        async with http.request(method, url, json=body, headers=rig.headers("user")) as response:
            assert response.status == 403, (method, url)


async def test_websocket_provisioning_and_a_rate_limited_traffic_monitor(
    rig: Rig, http: ClientSession
) -> None:
    ws = await login(http, rig.tokens["admin"])
    socket = Socket(ws)
    try:
        info = await socket.call("mqtt/provisioning/info")
        assert info["result"]["broker"]["host"] == "127.0.0.1"
        made = await socket.call("mqtt/provisioning/provision", name="w1", device_type="sensor",
                                 site="west")
        assert made["success"], made
        password = made["result"]["password"]

        refused = await socket.call("mqtt/traffic/start", topic_filter="$CONTROL/#")
        assert refused["error"]["code"] == "home_assistant_error"
        assert "passwords" in refused["error"]["message"]

        started = await socket.call("mqtt/traffic/start", topic_filter="site/west/#", rate=5)
        session_id = started["result"]["session_id"]
        monitor = traffic_monitor(rig.host)
        session = monitor.sessions[session_id]
        device = Client(rig.broker.port, "w1", password, client_id="w1")
        try:
            assert await device.connect() == "Success"
            for n in range(30):
                await device.publish(f"site/west/sensor/w1/n{n % 3}", f"value {n}".encode())
            await wait_until(lambda: session.received == 30)
            polled = (await socket.call("mqtt/traffic/poll", session_id=session_id))["result"]
            assert 5 <= len(polled["messages"]) < 30  # the burst, maybe a refill: not all
            assert polled["suppressed"] == 30 - len(polled["messages"])
            assert {t["topic"]: t["count"] for t in polled["topics"]} == {
                f"site/west/sensor/w1/n{i}": 10 for i in range(3)}
            assert polled["messages"][0]["payload"] == "value 0"

            paused = await socket.call("mqtt/traffic/pause", session_id=session_id,
                                       paused=True)
            assert paused["result"] == {"paused": True}
            await device.publish("site/west/sensor/w1/late", b"late")
            await wait_until(lambda: session.received == 31)
            after = (await socket.call("mqtt/traffic/poll", session_id=session_id,
                                       after=polled["seq"]))["result"]
            assert after["messages"] == [] and after["missed_while_paused"] == 1
        finally:
            device.close()
        stopped = await socket.call("mqtt/traffic/stop", session_id=session_id)
        assert stopped["success"] and session_id not in monitor.sessions
        gone = await socket.call("mqtt/traffic/poll", session_id=session_id)
        assert "start it again" in gone["error"]["message"]
    finally:
        await ws.close()

    user = Socket(await login(http, rig.tokens["user"]))
    try:
        for type_ in ("mqtt/provisioning/info", "mqtt/traffic/start"):
            answer = await user.call(type_, topic_filter="#")
            assert answer["error"]["code"] == "unauthorized", type_
    finally:
        await user.ws.close()


async def test_websocket_refuses_a_bad_field_by_name(rig: Rig, http: ClientSession) -> None:
    socket = Socket(await login(http, rig.tokens["admin"]))
    try:
        answer = await socket.call("mqtt/provisioning/provision", name="a b",
                                   device_type="sensor", site="x")
        assert answer["error"]["code"] == "invalid_format"
        assert "name" in answer["error"]["message"]
        missing = await socket.call("mqtt/provisioning/revoke", name="nobody")
        assert missing["error"]["code"] == "home_assistant_error"
        assert "no provisioned device named 'nobody'" in missing["error"]["message"]
    finally:
        await socket.ws.close()


async def test_bodies_are_read_whole_and_bad_ones_refused(rig: Rig, http: ClientSession
                                                          ) -> None:
    """Regression: the provisioning view read one network read's worth of its body (a body
    arriving in two pieces was "not JSON") and JSON nested deeply was a 500
    (RecursionError). It now uses the house's ``read_json`` within its 16 KiB bound."""
    body = json.dumps({"name": "split1", "device_type": "sensor", "site": "east"}).encode()

    headers = dict(rig.headers(), **{"Content-Type": "application/json"})
    pieces = body_in_pieces(body, 12)
    async with http.post(f"{API}/devices", data=pieces, headers=headers) as response:
        answer = await response.json()
        assert response.status == 201, answer
        assert answer["bundle"]["filename"] == "split1.zip"
    for raw, status, named in ((b"[" * 10_000, 400, "invalid JSON"),
                               (b" " * (16 * 1024 + 1), 413, "larger than"),
                               (b"{nope", 400, "invalid JSON")):
        async with http.post(f"{API}/devices", data=raw, headers=headers) as response:
            assert response.status == status, raw[:10]
            assert named in (await response.json())["message"]
