"""Which broker provisioning's REST and WebSocket APIs act on (issue 14, point 5).

Regression: with no ``entry_id`` the API took the first mqtt entry with a
``provisioning:`` block, whichever that was, and the Provision devices page never sent
one, so with two such brokers everything silently went to the first. Now the mqtt
domain's one rule (``LoadedEntries.pick_entry_id``, as ``mqtt.provision_device`` uses)
among the entries with a block: an id, or a title in any case; left out, the only one;
with two, refused naming both (REST: 400 with the choices; WebSocket: an error naming
them). Two real Mosquitto brokers with the dynamic security plugin and a plain one; what
a call did is read back from each broker's own dynamic security client list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import ClientSession
from provisiontools import DynsecBroker, Socket, dynsec_broker, have_dynsec, login

from gatehouse.core import ConfigEntryState, Host
from gatehouse.core.http.server import HTTP_SERVER
from gatehouse.core.testing import Mosquitto, add_entry, make_host
from gatehouse.integrations.mqtt.provisioning import provisioner_for

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.timeout(60),
    pytest.mark.skipif(not have_dynsec(), reason="needs Mosquitto's dynamic security plugin"),
]

API = "/api/mqtt/provisioning"
DEVICE = {"device_type": "sensor", "site": "north"}


@dataclass
class TwoBrokers:
    host: Host
    base: str
    token: str
    north: str
    south: str
    plain: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def listed(self) -> str:
        """How refusals name the choices: by title, then id, sorted by title."""
        return f"'North broker' ({self.north}), 'South broker' ({self.south})"

    async def clients(self, entry_id: str) -> list[str]:
        """The broker's own list of dynamic security clients (the admin among them)."""
        return [str(c) for c in await provisioner_for(self.host, entry_id).dynsec.list_clients()]


@pytest.fixture
async def two(config_dir: Path, tmp_path: Path, mosquitto: Mosquitto
              ) -> AsyncIterator[TwoBrokers]:
    """North from configuration.yaml (so the web server has the mqtt routes), South and
    a plain broker without a provisioning block added as UI entries."""
    with dynsec_broker(tmp_path / "north") as north, dynsec_broker(tmp_path / "south") as south:
        north.write_host_config(config_dir, "North broker")
        host = make_host(config_dir)
        async with host.running():
            server = host.data.get(HTTP_SERVER)
            assert server is not None
            (north_entry,) = host.config_entries.entries("mqtt")
            south_id = await _add(host, "South broker", south)
            plain_id = await _add(host, "Plain broker", None, mosquitto)
            auth = server.runtime.auth
            admin = await auth.create_user("api_admin", "api password", role="admin")
            token = (await auth.create_token(admin, "tests"))[1]
            yield TwoBrokers(host, f"http://127.0.0.1:{server.port}", token,
                             north_entry.entry_id, south_id, plain_id)


async def _add(host: Host, title: str, broker: DynsecBroker | None,
               plain: Mosquitto | None = None) -> str:
    if broker is not None:
        data = broker.entry_data()
    else:
        assert plain is not None
        data = {"broker": "127.0.0.1", "port": plain.port, "discovery": False}
    entry = await add_entry(host, "mqtt", data, title=title, unique_id=title.lower())
    assert entry.state is ConfigEntryState.LOADED, entry.reason
    return entry.entry_id


@pytest.fixture
async def http(two: TwoBrokers) -> AsyncIterator[ClientSession]:
    async with ClientSession(base_url=two.base) as session:
        yield session


async def test_rest_without_an_entry_refuses_instead_of_using_the_first(
    two: TwoBrokers, http: ClientSession
) -> None:
    """The defect: GET and POST without entry_id worked on North (the first) silently."""
    choices = [{"entry_id": two.north, "title": "North broker"},
               {"entry_id": two.south, "title": "South broker"}]
    async with http.get(API, headers=two.headers) as response:
        answer = await response.json()
        assert response.status == 400, answer
    assert answer["message"] == ("several mqtt entries with a provisioning: block are "
                                 "loaded; pass entry_id (an entry id or title) with one of: "
                                 + two.listed)
    assert answer["entries"] == choices  # the plain broker is no choice

    async with http.post(f"{API}/devices", json={"name": "d1", **DEVICE},
                         headers=two.headers) as response:
        assert response.status == 400
        assert two.listed in (await response.json())["message"]
    for url in (f"{API}/devices/d1", f"{API}/devices/d1/revoke"):
        method = "GET" if url.endswith("d1") else "POST"
        async with http.request(method, url, headers=two.headers) as response:
            assert response.status == 400, url
    async with http.delete(f"{API}/devices/d1", headers=two.headers) as response:
        assert response.status == 400
    assert "d1" not in await two.clients(two.north) + await two.clients(two.south)

    async with http.get(f"{API}/entries", headers=two.headers) as response:
        assert response.status == 200
        assert (await response.json()) == {"entries": choices}


async def test_rest_by_id_or_title_reaches_that_broker_only(
    two: TwoBrokers, http: ClientSession
) -> None:
    async with http.get(API, params={"entry_id": "south BROKER"},
                        headers=two.headers) as response:
        overview = await response.json()
        assert response.status == 200, overview
    assert (overview["entry_id"], overview["title"]) == (two.south, "South broker")
    assert overview["entries"][1] == {"entry_id": two.south, "title": "South broker"}

    body = {"name": "s1", **DEVICE, "entry_id": "South broker"}
    async with http.post(f"{API}/devices", json=body, headers=two.headers) as response:
        made = await response.json()
        assert response.status == 201, made
    assert "s1" in await two.clients(two.south)
    assert "s1" not in await two.clients(two.north)

    by_id = {"entry_id": two.south}
    async with http.get(f"{API}/devices/s1", params=by_id, headers=two.headers) as response:
        assert response.status == 200
        assert (await response.json())["broker_client"]["username"] == "s1"
    async with http.get(f"{API}/devices/s1", params={"entry_id": two.north},
                        headers=two.headers) as response:
        assert response.status == 404  # North has no such device
    async with http.post(f"{API}/devices/s1/revoke", params={"entry_id": "south broker"},
                         headers=two.headers) as response:
        assert response.status == 200 and (await response.json())["status"] == "revoked"
    async with http.delete(f"{API}/devices/s1", params=by_id, headers=two.headers) as response:
        assert response.status == 204
    assert "s1" not in await two.clients(two.south)

    for wanted, why in (("Garage", "no loaded mqtt entry with a provisioning: block has the "
                                   "id or title 'Garage'; choose one of: "),
                        (two.plain, "mqtt entry 'Plain broker' is not one with a "
                                    "provisioning: block; choose one of: ")):
        async with http.get(API, params={"entry_id": wanted}, headers=two.headers) as response:
            assert response.status == 400
            assert (await response.json())["message"] == why + two.listed


async def test_websocket_by_id_or_title_and_ambiguity_named(
    two: TwoBrokers, http: ClientSession
) -> None:
    socket = Socket(await login(http, two.token))
    try:
        for type_, fields in (("mqtt/provisioning/info", {}),
                              ("mqtt/provisioning/provision", {"name": "w1", **DEVICE}),
                              ("mqtt/provisioning/revoke", {"name": "w1"}),
                              ("mqtt/provisioning/delete", {"name": "w1"})):
            refused = await socket.call(type_, **fields)
            assert refused["error"]["code"] == "home_assistant_error", (type_, refused)
            message = refused["error"]["message"]
            assert "several mqtt entries with a provisioning: block are loaded" in message
            assert message.endswith(two.listed), message
        assert "w1" not in await two.clients(two.north) + await two.clients(two.south)

        listed = await socket.call("mqtt/provisioning/entries")
        assert [e["title"] for e in listed["result"]["entries"]] == ["North broker",
                                                                     "South broker"]
        info = await socket.call("mqtt/provisioning/info", entry_id="SOUTH broker")
        assert info["result"]["entry_id"] == two.south
        made = await socket.call("mqtt/provisioning/provision", name="w1", **DEVICE,
                                 entry_id=two.south)
        assert made["success"], made
        assert "w1" in await two.clients(two.south)
        assert "w1" not in await two.clients(two.north)
        revoked = await socket.call("mqtt/provisioning/revoke", name="w1",
                                    entry_id="South broker")
        assert revoked["result"]["status"] == "revoked"
        deleted = await socket.call("mqtt/provisioning/delete", name="w1", entry_id=two.south)
        assert deleted["result"] == {"deleted": "w1"}
        assert "w1" not in await two.clients(two.south)

        plain = await socket.call("mqtt/provisioning/info", entry_id=two.plain)
        assert "is not one with a provisioning: block" in plain["error"]["message"]
    finally:
        await socket.ws.close()


async def test_traffic_monitor_names_its_broker_by_id_or_title(
    two: TwoBrokers, http: ClientSession
) -> None:
    """The traffic monitor reads entry_id by the same rule among every mqtt entry (the
    plain broker too); left out it watches every broker, which is no guess."""
    socket = Socket(await login(http, two.token))
    try:
        south = await socket.call("mqtt/traffic/start", topic_filter="#",
                                  entry_id="SOUTH broker")
        assert south["result"]["entry_id"] == two.south
        plain = await socket.call("mqtt/traffic/start", topic_filter="#", entry_id=two.plain)
        assert plain["result"]["entry_id"] == two.plain
        every = await socket.call("mqtt/traffic/start", topic_filter="#")
        assert every["result"]["entry_id"] is None
        unknown = await socket.call("mqtt/traffic/start", topic_filter="#", entry_id="Garage")
        assert unknown["error"]["code"] == "home_assistant_error"
        assert unknown["error"]["message"].startswith(
            "no loaded mqtt entry has the id or title 'Garage'; choose one of: 'North broker'")
        assert "'Plain broker'" in unknown["error"]["message"]
    finally:
        await socket.ws.close()
