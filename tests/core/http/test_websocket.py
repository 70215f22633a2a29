"""The WebSocket API: HA's auth phase and message shapes, subscriptions, back-pressure."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType, WSServerHandshakeError
from aiohttp.test_utils import TestClient

from gatehouse.core import Host
from gatehouse.core.http.runtime import HttpRuntime
from gatehouse.core.http.websocket import HA_PROTOCOL_VERSION, Connection
from httpkit import OWNER

pytestmark = pytest.mark.anyio

Client = TestClient[Any, Any]
WS = ClientWebSocketResponse
TIMEOUT = 5


async def receive(ws: WS) -> Any:
    return await ws.receive_json(timeout=TIMEOUT)


async def connect(client: Client, token: str) -> WS:
    ws = await client.ws_connect("/api/websocket")
    assert await receive(ws) == {"type": "auth_required", "ha_version": HA_PROTOCOL_VERSION}
    await ws.send_json({"type": "auth", "access_token": token})
    assert await receive(ws) == {"type": "auth_ok", "ha_version": HA_PROTOCOL_VERSION}
    return ws


async def command(ws: WS, msg_id: int, kind: str, **fields: Any) -> Any:
    await ws.send_json({"id": msg_id, "type": kind, **fields})
    return await receive(ws)


async def ended(runtime: HttpRuntime) -> Connection:
    """The one open connection, to wait on its ``done`` after the client closes."""
    (connection,) = runtime.connections
    return connection


async def wait_done(connection: Connection) -> None:
    with anyio.fail_after(TIMEOUT):
        await connection.done.wait()


def ok(msg_id: int, result: Any = None) -> dict[str, Any]:
    return {"id": msg_id, "type": "result", "success": True, "result": result}


# -- auth phase ------------------------------------------------------------------------


async def test_auth_with_a_token(client: Client, token: str) -> None:
    ws = await connect(client, token)
    assert await command(ws, 1, "ping") == {"id": 1, "type": "pong"}
    me = await command(ws, 2, "auth/current_user")
    assert me["result"]["username"] == "owner"
    await ws.close()


async def test_invalid_token_is_refused_and_closed(client: Client, owner: Client) -> None:
    ws = await client.ws_connect("/api/websocket")
    await receive(ws)
    await ws.send_json({"type": "auth", "access_token": "guessed"})
    assert await receive(ws) == {"type": "auth_invalid",
                                 "message": "Invalid access token or password"}
    closing = await ws.receive(timeout=TIMEOUT)
    assert closing.type is WSMsgType.CLOSE


async def test_commands_before_auth_are_refused(client: Client, owner: Client) -> None:
    ws = await client.ws_connect("/api/websocket")
    await receive(ws)
    await ws.send_json({"id": 1, "type": "get_states"})
    reply = await receive(ws)
    assert reply["type"] == "auth_invalid"


async def test_session_cookie_auth_needs_this_servers_origin(
    owner: Client, origin: dict[str, str]
) -> None:
    ws = await owner.ws_connect("/api/websocket", headers=origin)
    await receive(ws)
    await ws.send_json({"type": "auth", "session": True})
    assert (await receive(ws))["type"] == "auth_ok"
    assert (await command(ws, 1, "auth/current_user"))["result"]["username"] == "owner"
    await ws.close()

    # Without an Origin (not a browser on this site) the cookie is not accepted.
    bare = await owner.ws_connect("/api/websocket")
    await receive(bare)
    await bare.send_json({"type": "auth", "session": True})
    refused = await receive(bare)
    assert refused["type"] == "auth_invalid" and "Origin" in refused["message"]


async def test_upgrade_from_a_foreign_origin_is_refused(owner: Client) -> None:
    with pytest.raises(WSServerHandshakeError) as caught:
        await owner.ws_connect("/api/websocket", headers={"Origin": "https://evil.example"})
    assert caught.value.status == 403


# -- protocol errors -------------------------------------------------------------------


async def test_ids_must_increase_and_commands_exist(client: Client, token: str) -> None:
    ws = await connect(client, token)
    assert await command(ws, 5, "ping") == {"id": 5, "type": "pong"}
    reuse = await command(ws, 5, "ping")
    assert reuse["success"] is False and reuse["error"]["code"] == "id_reuse"
    unknown = await command(ws, 6, "make_coffee")
    assert unknown["error"] == {"code": "unknown_command",
                                "message": "Unknown command 'make_coffee'."}
    bad = await command(ws, 7, "call_service", domain="echo")
    assert bad["error"]["code"] == "invalid_format"
    assert "service" in bad["error"]["message"]
    await ws.send_str("not json")
    assert (await receive(ws))["error"]["code"] == "invalid_format"
    await ws.close()


async def test_non_admin_cannot_configure(client: Client, owner: Client,
                                          runtime: HttpRuntime) -> None:
    guest = await runtime.auth.create_user("guest", "guest password")
    _, value = await runtime.auth.create_token(guest, "guest")
    ws = await connect(client, value)
    refused = await command(ws, 1, "config_entries/get")
    assert refused["error"] == {"code": "unauthorized", "message": "admin rights required"}
    assert (await command(ws, 2, "get_states"))["success"] is True
    await ws.close()


# -- events ----------------------------------------------------------------------------


async def test_subscribe_and_unsubscribe_events(client: Client, token: str, host: Host,
                                                runtime: HttpRuntime) -> None:
    baseline = host.bus.listener_count("doorbell")
    ws = await connect(client, token)
    connection = await ended(runtime)
    assert await command(ws, 1, "subscribe_events", event_type="doorbell") == ok(1)
    assert host.bus.listener_count("doorbell") == baseline + 1
    host.bus.fire("doorbell", {"door": "front"})
    event = await receive(ws)
    assert event["id"] == 1 and event["type"] == "event"
    body = event["event"]
    assert body["event_type"] == "doorbell" and body["data"] == {"door": "front"}
    assert body["origin"] == "LOCAL"
    assert body["time_fired"].endswith("+00:00")
    assert set(body["context"]) == {"id", "user_id", "parent_id"}

    assert await command(ws, 2, "unsubscribe_events", subscription=1) == ok(2)
    assert host.bus.listener_count("doorbell") == baseline
    host.bus.fire("doorbell", {"door": "back"})
    assert await command(ws, 3, "ping") == {"id": 3, "type": "pong"}  # no event came first
    missing = await command(ws, 4, "unsubscribe_events", subscription=1)
    assert missing["error"]["code"] == "not_found"

    assert await command(ws, 5, "subscribe_events", event_type="doorbell") == ok(5)
    await ws.close()
    await wait_done(connection)
    assert host.bus.listener_count("doorbell") == baseline


async def test_state_changed_events_carry_full_states(client: Client, token: str,
                                                      host: Host) -> None:
    ws = await connect(client, token)
    await command(ws, 1, "subscribe_events", event_type="state_changed")
    host.states.set("sensor.porch", "on", {"battery": 90})
    host.states.set("sensor.porch", "off", {"battery": 90})
    first, second = await receive(ws), await receive(ws)
    assert first["event"]["data"]["old_state"] is None
    assert first["event"]["data"]["new_state"]["state"] == "on"
    data = second["event"]["data"]
    assert data["entity_id"] == "sensor.porch"
    assert (data["old_state"]["state"], data["new_state"]["state"]) == ("on", "off")
    assert data["new_state"]["attributes"] == {"battery": 90}
    await ws.close()


async def test_fire_event_over_the_socket(client: Client, token: str, host: Host) -> None:
    seen: list[Any] = []
    host.bus.listen("chime", seen.append)
    ws = await connect(client, token)
    reply = await command(ws, 1, "fire_event", event_type="chime", event_data={"n": 1})
    assert reply["success"] is True and reply["result"]["context"]["user_id"]
    assert [dict(e.data) for e in seen] == [{"n": 1}]
    protected = await command(ws, 2, "fire_event", event_type="state_changed")
    assert protected["success"] is False
    await ws.close()


# -- entities --------------------------------------------------------------------------


async def test_subscribe_entities_snapshot_diff_and_remove(client: Client, token: str,
                                                           host: Host) -> None:
    host.states.set("sensor.probe", "1", {"unit": "C", "extra": True})
    ws = await connect(client, token)
    assert await command(ws, 1, "subscribe_entities") == ok(1)
    snapshot = await receive(ws)
    assert snapshot["id"] == 1 and snapshot["type"] == "event"
    added = snapshot["event"]["a"]
    assert set(added) == set(host.states.entity_ids())
    probe = added["sensor.probe"]
    state = host.states.get("sensor.probe")
    assert state is not None
    assert probe == {"s": "1", "a": {"unit": "C", "extra": True}, "c": state.context.id,
                     "lc": state.last_changed}

    host.states.set("sensor.probe", "2", {"unit": "C"})
    change = (await receive(ws))["event"]["c"]["sensor.probe"]
    new = host.states.get("sensor.probe")
    assert new is not None
    assert change == {"+": {"s": "2", "lc": new.last_changed, "c": new.context.id},
                      "-": {"a": ["extra"]}}

    host.states.set("sensor.probe", "2", {"unit": "F"})
    attrs_only = (await receive(ws))["event"]["c"]["sensor.probe"]["+"]
    assert set(attrs_only) == {"lu", "a", "c"} and attrs_only["a"] == {"unit": "F"}

    host.states.set("sensor.newcomer", "hello")
    newcomer = (await receive(ws))["event"]["a"]["sensor.newcomer"]
    assert newcomer["s"] == "hello" and "lu" not in newcomer

    host.states.remove("sensor.probe")
    assert (await receive(ws))["event"] == {"r": ["sensor.probe"]}
    await ws.close()


async def test_subscribe_entities_filtered(client: Client, token: str, host: Host) -> None:
    host.states.set("sensor.wanted", "1")
    ws = await connect(client, token)
    await command(ws, 1, "subscribe_entities", entity_ids=["sensor.wanted"])
    assert set((await receive(ws))["event"]["a"]) == {"sensor.wanted"}
    host.states.set("sensor.other", "x")
    host.states.set("sensor.wanted", "2")
    assert set((await receive(ws))["event"]["c"]) == {"sensor.wanted"}
    await ws.close()


async def test_context_of_a_user_is_sent_in_full(client: Client, token: str,
                                                 host: Host) -> None:
    ws = await connect(client, token)
    await command(ws, 1, "subscribe_entities", entity_ids=["sensor.echo_last_message"])
    await receive(ws)
    await ws.send_json({"id": 2, "type": "call_service", "domain": "echo", "service": "say",
                        "service_data": {"text": "hi"}, "return_response": True})
    # The state changes during the call, so its event comes before the call's result.
    event, reply = await receive(ws), await receive(ws)
    assert reply["success"] is True
    context = reply["result"]["context"]
    assert reply["result"]["response"] == {"text": "> hi", "user_id": context["user_id"]}
    change = event["event"]["c"]["sensor.echo_last_message"]["+"]
    assert change["s"] == "> hi"
    assert change["c"] == {"user_id": context["user_id"], "id": context["id"]}
    await ws.close()


async def test_get_states_services_config_panels(client: Client, token: str,
                                                 host: Host) -> None:
    ws = await connect(client, token)
    states = (await command(ws, 1, "get_states"))["result"]
    assert {s["entity_id"] for s in states} == set(host.states.entity_ids())
    services = (await command(ws, 2, "get_services"))["result"]
    assert services["echo"]["say"]["form"][0]["name"] == "text"
    assert services["echo"]["say"]["fields"]["text"]["required"] is True
    config = (await command(ws, 3, "get_config"))["result"]
    assert config["state"] == "RUNNING"
    panels = (await command(ws, 4, "get_panels"))["result"]
    assert panels["echo"]["url"] == "/panels/echo/index.html"
    await ws.close()


async def test_call_service_errors(client: Client, token: str) -> None:
    ws = await connect(client, token)
    missing = await command(ws, 1, "call_service", domain="echo", service="nope")
    assert missing["error"]["code"] == "not_found"
    invalid = await command(ws, 2, "call_service", domain="echo", service="say",
                            service_data={"text": 3})
    assert invalid["error"]["code"] == "invalid_format"
    assert "text" in invalid["error"]["message"]
    await ws.close()


# -- config flow over the socket -------------------------------------------------------


async def test_config_flow_over_the_socket(client: Client, token: str, host: Host) -> None:
    ws = await connect(client, token)
    handlers = (await command(ws, 1, "config_entries/flow/handlers"))["result"]
    assert {"domain": "demo", "name": "Demo"} in handlers
    form = (await command(ws, 2, "config_entries/flow/init", handler="demo"))["result"]
    assert form["type"] == "form"
    done = (await command(ws, 3, "config_entries/flow/configure", flow_id=form["flow_id"],
                          user_input={"name": "Porch"}))["result"]
    assert done["type"] == "create_entry" and done["entry_state"] == "loaded"
    entries = (await command(ws, 4, "config_entries/get", domain="demo"))["result"]
    assert {e["title"] for e in entries} == {"Demo", "Porch"}
    disabled = await command(ws, 5, "config_entries/disable", entry_id=done["entry_id"],
                             disabled=True)
    assert disabled["result"]["state"] == "not_loaded"
    removed = await command(ws, 6, "config_entries/remove", entry_id=done["entry_id"])
    assert removed["success"] is True
    gone = await command(ws, 7, "config_entries/reload", entry_id=done["entry_id"])
    assert gone["error"]["code"] == "not_found"
    await ws.close()


# -- back-pressure and fan-out ---------------------------------------------------------


@pytest.mark.parametrize("http_config", [{"ws_max_pending": 4}])
async def test_a_slow_client_is_disconnected_with_a_reason(
    client: Client, token: str, host: Host, runtime: HttpRuntime,
    caplog: pytest.LogCaptureFixture, http_config: dict[str, Any],
) -> None:
    ws = await connect(client, token)
    connection = await ended(runtime)
    before = host.bus.listener_count("state_changed")
    await command(ws, 1, "subscribe_entities", entity_ids=["sensor.flood"])
    await receive(ws)  # the (empty) snapshot
    # Ten changes in one go: the writer gets no turn, so the queue of four overflows.
    for value in range(10):
        host.states.set("sensor.flood", str(value))
    while True:
        msg = await ws.receive(timeout=TIMEOUT)
        if msg.type is not WSMsgType.TEXT:
            break
    assert msg.type is WSMsgType.CLOSE
    assert msg.data == 1013
    assert msg.extra == "too slow: more than 4 messages waiting"
    assert "fell behind" in caplog.text
    await wait_done(connection)
    # Its subscription is gone with it.
    assert host.bus.listener_count("state_changed") == before
    assert not runtime.connections


async def test_coalesced_messages_arrive_as_one_array(client: Client, token: str,
                                                      host: Host) -> None:
    ws = await connect(client, token)
    assert await command(ws, 1, "supported_features",
                         features={"coalesce_messages": 1}) == ok(1)
    # The result and the snapshot are queued together, so they come as one array.
    result, snapshot = await command(ws, 2, "subscribe_entities", entity_ids=["sensor.batch"])
    assert result == ok(2) and snapshot["event"] == {"a": {}}
    for value in ("a", "b", "c"):
        host.states.set("sensor.batch", value)
    frame = await ws.receive(timeout=TIMEOUT)
    batch = json.loads(frame.data)
    assert isinstance(batch, list) and len(batch) == 3
    assert [m["id"] for m in batch] == [2, 2, 2]
    assert "a" in batch[0]["event"]
    assert [m["event"]["c"]["sensor.batch"]["+"]["s"] for m in batch[1:]] == ["b", "c"]
    await ws.close()


async def test_each_state_is_serialised_once_for_all_subscribers(
    client: Client, token: str, host: Host, runtime: HttpRuntime
) -> None:
    clients = [await connect(client, token) for _ in range(3)]
    for ws in clients:
        assert await command(ws, 1, "subscribe_entities", entity_ids=["sensor.shared"]) == ok(1)
        assert (await receive(ws))["event"] == {"a": {}}
        assert await command(ws, 2, "subscribe_events", event_type="doorbell") == ok(2)
    before = runtime.cache.serialisations

    host.states.set("sensor.shared", "1")
    added = [await ws.receive_str(timeout=TIMEOUT) for ws in clients]
    assert runtime.cache.serialisations == before + 1
    host.states.set("sensor.shared", "2")
    changed = [await ws.receive_str(timeout=TIMEOUT) for ws in clients]
    assert runtime.cache.serialisations == before + 2
    host.bus.fire("doorbell", {"door": "side"})
    events = [await ws.receive_str(timeout=TIMEOUT) for ws in clients]
    assert runtime.cache.serialisations == before + 3
    # Every subscriber got the very same bytes.
    for received in (added, changed, events):
        assert len(set(received)) == 1
    assert json.loads(changed[0])["event"]["c"]["sensor.shared"]["+"]["s"] == "2"
    for ws in clients:
        await ws.close()


async def test_closing_unsubscribes_everything(client: Client, token: str, host: Host,
                                               runtime: HttpRuntime) -> None:
    before = host.bus.listener_count()
    ws = await connect(client, token)
    connection = await ended(runtime)
    await command(ws, 1, "subscribe_entities")
    await receive(ws)
    await command(ws, 2, "subscribe_events")
    assert host.bus.listener_count() == before + 2
    assert len(runtime.connections) == 1
    await ws.close()
    await wait_done(connection)
    assert host.bus.listener_count() == before
    assert not runtime.connections


async def test_binary_frames_close_the_socket(client: Client, token: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ws = await connect(client, token)
    await ws.send_bytes(b"\x00\x01")
    msg = await ws.receive(timeout=TIMEOUT)
    assert msg.type is WSMsgType.CLOSE and msg.data == 1003


async def test_failed_socket_auth_does_not_lock_out_the_login(client: Client, owner: Client
                                                              ) -> None:

    for _ in range(6):
        ws = await client.ws_connect("/api/websocket")
        await receive(ws)
        await ws.send_json({"type": "auth", "session": True})  # an expired session, say
        assert (await receive(ws))["type"] == "auth_invalid"
        await ws.close()
    login = await client.post("/auth/login", json={"username": "owner",
                                                   "password": OWNER["password"]})
    assert login.status == 200
