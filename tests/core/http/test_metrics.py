"""Issue 9, low findings on /metrics: a counter that went down, labels any user could add.

``gatehouse_websocket_messages_sent_total`` was a sum over the open connections, so it
dropped when a client left (Prometheus reads that as a counter reset). And every event
type any user subscribed to became a label of ``gatehouse_bus_listeners``: an unbounded
number of series for the scraper to keep.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientSession, ClientWebSocketResponse
from aiohttp.test_utils import TestClient

from gatehouse.core import Host
from gatehouse.core.http.runtime import HttpRuntime
from gatehouse.core.testing import wait_until

pytestmark = pytest.mark.anyio

Client = TestClient[Any, Any]
TIMEOUT = 5


async def connect(client: Client, token: str) -> ClientWebSocketResponse:
    ws = await client.ws_connect("/api/websocket")
    await ws.receive_json(timeout=TIMEOUT)
    await ws.send_json({"type": "auth", "access_token": token})
    assert (await ws.receive_json(timeout=TIMEOUT))["type"] == "auth_ok"
    return ws


async def scrape(anon: ClientSession, bearer: dict[str, str]) -> dict[str, float]:
    text = await (await anon.get("/metrics", headers=bearer)).text()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


async def test_messages_sent_is_a_counter_that_never_goes_down(
    client: Client, anon: ClientSession, token: str, bearer: dict[str, str],
    runtime: HttpRuntime,
) -> None:
    ws = await connect(client, token)
    for msg_id in range(1, 6):
        await ws.send_json({"id": msg_id, "type": "ping"})
        await ws.receive_json(timeout=TIMEOUT)
    during = (await scrape(anon, bearer))["gatehouse_websocket_messages_sent_total"]
    assert during >= 5
    await ws.close()
    await wait_until(lambda: not runtime.connections, message="the connection to end")
    after = (await scrape(anon, bearer))["gatehouse_websocket_messages_sent_total"]
    assert after >= during


async def test_client_subscriptions_cannot_add_metric_labels(
    client: Client, anon: ClientSession, token: str, bearer: dict[str, str], host: Host,
) -> None:
    host.bus.listen("known_probe", lambda event: None)  # something of the house listens
    ws = await connect(client, token)
    for msg_id in range(1, 51):
        await ws.send_json({"id": msg_id, "type": "subscribe_events",
                            "event_type": f"junk_{msg_id}"})
        assert (await ws.receive_json(timeout=TIMEOUT))["success"] is True
    await ws.send_json({"id": 51, "type": "subscribe_events", "event_type": "known_probe"})
    assert (await ws.receive_json(timeout=TIMEOUT))["success"] is True
    lines = await scrape(anon, bearer)
    assert not [line for line in lines if "junk_" in line]
    assert lines['gatehouse_bus_listeners{event_type="other"}'] == 50
    # A type the house itself listens to keeps its label, clients' listeners counted in.
    assert lines['gatehouse_bus_listeners{event_type="known_probe"}'] == 2
    await ws.close()
