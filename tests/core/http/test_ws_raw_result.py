"""``RawJson``: a plugin's WebSocket result or event already encoded, sent as it is.

A plugin that encodes a large answer in a worker thread (the recorder's history) must
not have the core decode or re-encode it on the loop: the bytes arrive byte for byte
in the frame, count towards the socket's byte bound like any message, and go into a
``coalesce_messages`` array frame like any message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType, web
from aiohttp.test_utils import TestClient

from gatehouse.core import Host, hookimpl
from gatehouse.core.http import RawJson, WsCommand
from gatehouse.core.http.app import create_app
from gatehouse.core.http.raw import OFF_LOOP_BYTES
from gatehouse.core.http.runtime import HttpRuntime
from gatehouse.core.http.websocket import ALONE_BYTES
from gatehouse.core.testing import wait_until

pytestmark = pytest.mark.anyio

Client = TestClient[Any, Any]
TIMEOUT = 5

#: Spacing, key order and a float spelling that ``json.dumps`` would each change: a
#: decode and re-encode anywhere on the way would show.
ODD = b'{"z" : 1.50, "a":[ "\\u00e9", 1e2 ],"n":null}'


class Plugin:
    def __init__(self) -> None:
        #: The ``send`` of each ``raw/feed`` subscription, for the test to push events.
        self.sends: list[Callable[[Any], None]] = []

    @hookimpl
    def gatehouse_ws_commands(self, host: Host) -> list[Any]:
        async def odd(permissions: Any, args: dict[str, Any]) -> RawJson:
            return RawJson(ODD)

        async def sized(permissions: Any, args: dict[str, Any]) -> RawJson:
            return RawJson(b'"' + b"x" * args["size"] + b'"')

        async def parted(permissions: Any, args: dict[str, Any]) -> RawJson:
            # A large value in parts: joined with its frame off the loop, in order.
            return RawJson([b"[", *(b'"%d",' % n for n in range(args["count"])), b"0]"])

        async def plain(permissions: Any, args: dict[str, Any]) -> dict[str, Any]:
            return {"z": 1.50}

        async def feed(permissions: Any, args: dict[str, Any],
                       send: Callable[[Any], None]) -> Callable[[], None]:
            self.sends.append(send)
            return lambda: None

        async def unused(permissions: Any, args: dict[str, Any]) -> None:
            return None

        return [
            WsCommand("raw/odd", odd),
            WsCommand("raw/sized", sized, {"size": int}),
            WsCommand("raw/parted", parted, {"count": int}),
            WsCommand("raw/plain", plain),
            WsCommand("raw/feed", unused, subscribe=feed),
        ]


@pytest.fixture
def plugin() -> Plugin:
    return Plugin()


@pytest.fixture
async def app(host: Host, http_config: dict[str, Any], plugin: Plugin) -> web.Application:
    host.plugins.register(plugin, "raw_plugin")
    return await create_app(host, http_config)


async def _socket(client: Client, token: str, **options: Any) -> ClientWebSocketResponse:
    ws = await client.ws_connect("/api/websocket", **options)
    assert (await ws.receive_json(timeout=TIMEOUT))["type"] == "auth_required"
    await ws.send_json({"type": "auth", "access_token": token})
    assert (await ws.receive_json(timeout=TIMEOUT))["type"] == "auth_ok"
    return ws


def _result(msg_id: int, encoded: bytes) -> str:
    return (b'{"id":%d,"type":"result","success":true,"result":%b}'
            % (msg_id, encoded)).decode()


def _event(msg_id: int, encoded: bytes) -> str:
    return (b'{"id":%d,"type":"event","event":%b}' % (msg_id, encoded)).decode()


async def test_a_raw_result_arrives_byte_for_byte(client: Client, token: str) -> None:
    ws = await _socket(client, token)
    await ws.send_json({"id": 1, "type": "raw/odd"})
    assert await ws.receive_str(timeout=TIMEOUT) == _result(1, ODD)
    # A plain result is still encoded by the core (compact): the two paths differ.
    await ws.send_json({"id": 2, "type": "raw/plain"})
    assert await ws.receive_str(timeout=TIMEOUT) == _result(2, b'{"z":1.5}')
    await ws.close()


async def test_raw_events_arrive_byte_for_byte_and_coalesce(
    client: Client, token: str, plugin: Plugin
) -> None:
    ws = await _socket(client, token)
    await ws.send_json({"id": 1, "type": "raw/feed"})
    assert json.loads(await ws.receive_str(timeout=TIMEOUT))["success"] is True
    (send,) = plugin.sends
    send(RawJson(ODD))
    assert await ws.receive_str(timeout=TIMEOUT) == _event(1, ODD)
    await ws.send_json({"id": 2, "type": "supported_features",
                        "features": {"coalesce_messages": 1}})
    assert json.loads(await ws.receive_str(timeout=TIMEOUT))["success"] is True
    # Three at once (the writer gets no turn between them): one array frame, the raw
    # ones spliced in as they are, beside one the core encoded.
    send(RawJson(ODD))
    send({"plain": 1.50})
    send(RawJson(b"[1.0 ,2]"))
    frame = await ws.receive_str(timeout=TIMEOUT)
    assert frame == "[" + ",".join([
        _event(1, ODD), _event(1, b'{"plain":1.5}'), _event(1, b"[1.0 ,2]")]) + "]"
    assert len(json.loads(frame)) == 3
    await ws.close()


async def test_a_raw_result_goes_into_a_coalesced_frame(
    client: Client, token: str, plugin: Plugin, runtime: HttpRuntime
) -> None:
    ws = await _socket(client, token)
    await ws.send_json({"id": 1, "type": "supported_features",
                        "features": {"coalesce_messages": 1}})
    assert json.loads(await ws.receive_str(timeout=TIMEOUT))["success"] is True
    (connection,) = runtime.connections
    # The raw result and an event queued in one go, as a command's answer and a
    # subscription's event that meet in the queue.
    connection.send_raw_result(7, ODD)
    connection.send_event(8, b"[]")
    frame = await ws.receive_str(timeout=TIMEOUT)
    assert frame == "[" + _result(7, ODD) + "," + _event(8, b"[]") + "]"
    await ws.close()


async def test_a_large_raw_result_is_not_copied_into_an_array(
    client: Client, token: str, runtime: HttpRuntime
) -> None:
    """With coalescing, what waits before a large message goes as one array, the
    large one in a frame of its own (byte for byte), then the rest: the large one is
    never joined into an array on the loop."""
    ws = await _socket(client, token)
    await ws.send_json({"id": 1, "type": "supported_features",
                        "features": {"coalesce_messages": 1}})
    assert json.loads(await ws.receive_str(timeout=TIMEOUT))["success"] is True
    (connection,) = runtime.connections
    large = b'"' + b"L" * ALONE_BYTES + b'"'
    connection.send_event(5, b"1")
    connection.send_event(5, b"2")
    connection.send_raw_result(6, large)
    connection.send_event(5, b"3")
    connection.send_raw_result(7, large)
    assert connection.queued_bytes == sum(
        len(m) for m in (_event(5, b"1"), _event(5, b"2"), _result(6, large),
                         _event(5, b"3"), _result(7, large)))
    frames = [await ws.receive_str(timeout=TIMEOUT) for _ in range(4)]
    assert frames == ["[" + _event(5, b"1") + "," + _event(5, b"2") + "]",
                      _result(6, large), _event(5, b"3"), _result(7, large)]
    assert connection.queued_bytes == 0
    await ws.close()


async def test_large_parts_are_joined_by_the_writer_in_order(
    client: Client, token: str, runtime: HttpRuntime
) -> None:
    """A large message in parts waits in the queue as parts (its size counted), and
    the writer sends it, joined, between the messages queued before and after it."""
    ws = await _socket(client, token)
    await ws.send_json({"id": 1, "type": "supported_features",
                        "features": {"coalesce_messages": 1}})
    assert json.loads(await ws.receive_str(timeout=TIMEOUT))["success"] is True
    (connection,) = runtime.connections
    parts = [b"[", *([b'"' + b"p" * 1000 + b'",'] * (ALONE_BYTES // 1000)), b"0]"]
    value = b"".join(parts)
    connection.send_event(5, b"1")
    connection.send_event(5, b"2")
    connection.send_raw_event(5, parts)
    connection.send_raw_parts(6, parts)
    connection.send_event(5, b"3")
    connection.send_raw_event(5, [b"[4", b"]"])  # small: joined at once
    assert connection.queued_bytes == sum(
        len(m) for m in (_event(5, b"1"), _event(5, b"2"), _event(5, value),
                         _result(6, value), _event(5, b"3"), _event(5, b"[4]")))
    frames = [await ws.receive_str(timeout=TIMEOUT) for _ in range(4)]
    assert frames == ["[" + _event(5, b"1") + "," + _event(5, b"2") + "]",
                      _event(5, value), _result(6, value),
                      "[" + _event(5, b"3") + "," + _event(5, b"[4]") + "]"]
    assert connection.queued_bytes == 0
    await ws.close()


async def test_raw_bytes_count_towards_the_byte_bound(
    client: Client, token: str, plugin: Plugin, runtime: HttpRuntime
) -> None:
    ws = await _socket(client, token)
    await ws.send_json({"id": 1, "type": "raw/feed"})
    assert json.loads(await ws.receive_str(timeout=TIMEOUT))["success"] is True
    (connection,) = runtime.connections
    (send,) = plugin.sends
    blob = b'"' + b"r" * 100_000 + b'"'
    frame_size = len(_event(1, blob))
    send(RawJson(blob))
    assert connection.queued_bytes == frame_size  # the writer has had no turn yet
    bound = connection.max_pending_bytes
    for _ in range(bound // frame_size + 1):  # more raw bytes than the queue may hold
        send(RawJson(blob))
    assert connection.closing
    while True:
        msg = await ws.receive(timeout=TIMEOUT)
        if msg.type is not WSMsgType.TEXT:
            break
    assert msg.type is WSMsgType.CLOSE and msg.data == 1013
    assert msg.extra == f"too slow: more than {bound} bytes waiting"
    await wait_until(lambda: not runtime.connections, message="the connection to end")


async def test_a_large_raw_result_alone_still_goes_out(client: Client, token: str,
                                                       runtime: HttpRuntime) -> None:
    """As any message: one bigger than the bound on its own is sent (the history of a
    day is larger than the default 4 MiB)."""
    ws = await _socket(client, token, max_msg_size=0)  # the client's own 4 MiB limit off
    (connection,) = runtime.connections
    size = connection.max_pending_bytes + 1000
    await ws.send_json({"id": 1, "type": "raw/sized", "size": size})
    msg = await ws.receive(timeout=TIMEOUT)
    assert msg.type is WSMsgType.TEXT
    assert msg.data == _result(1, b'"' + b"x" * size + b'"')
    await ws.close()


async def test_a_raw_result_in_parts_arrives_joined_in_order(
    client: Client, token: str, plugin: Plugin
) -> None:
    ws = await _socket(client, token)
    for msg_id, count in ((1, 3), (2, 100_000)):  # below and above OFF_LOOP_BYTES
        await ws.send_json({"id": msg_id, "type": "raw/parted", "count": count})
        expected = b"[" + b"".join(b'"%d",' % n for n in range(count)) + b"0]"
        assert len(expected) < OFF_LOOP_BYTES or count > 3
        assert await ws.receive_str(timeout=TIMEOUT) == _result(msg_id, expected)
    assert len(expected) > OFF_LOOP_BYTES
    await ws.send_json({"id": 3, "type": "raw/feed"})
    assert json.loads(await ws.receive_str(timeout=TIMEOUT))["success"] is True
    plugin.sends[0](RawJson([b'{"a":', b"[1,", b"2]}"]))
    assert await ws.receive_str(timeout=TIMEOUT) == _event(3, b'{"a":[1,2]}')
    await ws.close()


def test_raw_json_takes_bytes_only() -> None:
    with pytest.raises(TypeError, match="as bytes"):
        RawJson("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="as bytes"):
        RawJson([b"[", "1", b"]"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="non-empty"):
        RawJson(b"")
    with pytest.raises(TypeError, match="non-empty"):
        RawJson([b"", b""])
    assert RawJson(b"1").data == b"1"
    parted = RawJson(iter([b"[1", b",2]"]))
    assert (parted.data, parted.size, parted.parts) == (b"[1,2]", 5, (b"[1", b",2]"))
