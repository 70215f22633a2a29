"""Issue 9, finding 6: what one WebSocket client can make the host hold is bounded.

The attack: a client that never reads sent 300 frames whose command name was 1 MB; each
error echoed the name, the send queue (bounded by count, 4096, not bytes) held them all
and the host grew from 85 to 377 MB. Now: error messages quote a short prefix of what
the client sent, the send queue is bounded in bytes (a client that lets it fill is
closed), a message has a size limit, and a client's commands in flight are bounded.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient

from gatehouse.core import Host
from gatehouse.core.exceptions import ServiceValidationError
from gatehouse.core.http.config import DEFAULT_WS_MAX_PENDING_BYTES
from gatehouse.core.http.runtime import HttpRuntime
from gatehouse.core.http.websocket import MAX_ERROR_TEXT, MAX_IN_FLIGHT, MAX_MESSAGE
from gatehouse.core.services import ServiceCall
from gatehouse.core.testing import wait_until

pytestmark = pytest.mark.anyio

Client = TestClient[Any, Any]
WS = ClientWebSocketResponse
TIMEOUT = 5


async def connect(client: Client, token: str) -> WS:
    ws = await client.ws_connect("/api/websocket")
    await ws.receive_json(timeout=TIMEOUT)
    await ws.send_json({"type": "auth", "access_token": token})
    assert (await ws.receive_json(timeout=TIMEOUT))["type"] == "auth_ok"
    return ws


async def test_errors_quote_a_short_prefix_of_what_the_client_sent(
    client: Client, token: str
) -> None:
    ws = await connect(client, token)
    huge = "x" * 1_000_000
    await ws.send_json({"id": 1, "type": huge})
    unknown = await ws.receive_json(timeout=TIMEOUT)
    assert unknown["error"]["code"] == "unknown_command"
    assert len(unknown["error"]["message"]) <= MAX_ERROR_TEXT
    assert unknown["error"]["message"].startswith("Unknown command 'xxxx")
    # A message made from the input elsewhere (the service registry's) is cut too.
    half = huge[: MAX_MESSAGE // 3]
    await ws.send_json({"id": 2, "type": "call_service", "domain": half, "service": half})
    missing = await ws.receive_json(timeout=TIMEOUT)
    assert missing["error"]["code"] == "not_found"
    assert len(missing["error"]["message"]) <= MAX_ERROR_TEXT
    await ws.close()


async def test_a_server_written_list_of_choices_is_not_cut(
    client: Client, token: str, host: Host
) -> None:
    """Regression: errors were cut at 200 characters, so a refusal that lists the entries
    to choose from ("several entries are loaded: 'North broker' (01J...), ...") lost the
    choices after the second. The bound (what an echo of client input can cost) is now
    long enough for such a list and still cuts a huge one."""
    choices = ", ".join(f"'Broker number {n}' (01JEXAMPLE{n:016d})" for n in range(8))
    assert len(choices) > 200

    async def refuse(call: ServiceCall) -> None:
        raise ServiceValidationError("probe", "refuse", f"several entries: {choices}")

    host.services.register("probe", "refuse", refuse)
    ws = await connect(client, token)
    await ws.send_json({"id": 1, "type": "call_service", "domain": "probe",
                        "service": "refuse"})
    answer = await ws.receive_json(timeout=TIMEOUT)
    assert answer["success"] is False
    assert answer["error"]["message"].endswith(choices)
    await ws.close()


async def test_the_send_queue_is_bounded_in_bytes_and_a_slow_client_is_closed(
    client: Client, token: str, host: Host, runtime: HttpRuntime
) -> None:
    ws = await connect(client, token)
    (connection,) = runtime.connections
    await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": "bulky"})
    assert (await ws.receive_json(timeout=TIMEOUT))["success"] is True
    # 10 MB of events at once (the writer gets no turn): far fewer than 4096 messages,
    # far more bytes than the queue may hold.
    blob = "y" * 10_000
    peak = 0
    for _ in range(1000):
        host.bus.fire("bulky", {"blob": blob})
        peak = max(peak, connection.queued_bytes)
    # The bound is checked before a message is queued: at most one message over it.
    assert peak <= DEFAULT_WS_MAX_PENDING_BYTES + 11_000
    while True:
        msg = await ws.receive(timeout=TIMEOUT)
        if msg.type is not WSMsgType.TEXT:
            break
    assert msg.type is WSMsgType.CLOSE and msg.data == 1013
    assert "too slow" in msg.extra
    await wait_until(lambda: not runtime.connections, message="the connection to end")
    assert connection.queued_bytes == 0


async def test_a_client_that_never_reads_is_closed(
    client: Client, token: str, host: Host, runtime: HttpRuntime
) -> None:
    """The writer blocks on the full socket; the queue behind it fills; the host closes."""
    ws = await connect(client, token)
    (connection,) = runtime.connections
    await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": "bulky"})
    assert (await ws.receive_json(timeout=TIMEOUT))["success"] is True
    blob = "z" * 100_000
    # The client reads nothing from here on; events come one loop turn apart, so the
    # writer sends what it can until the socket's buffers are full and it blocks.
    with anyio.fail_after(30):
        while not connection.closing:
            host.bus.fire("bulky", {"blob": blob})
            assert connection.queued_bytes <= DEFAULT_WS_MAX_PENDING_BYTES
            await anyio.lowlevel.checkpoint()
    # Closed within the close timeout, even though the client never reads the close.
    await wait_until(connection.done.is_set, message="the connection to end")
    assert not runtime.connections


async def test_a_message_over_the_size_limit_closes_the_socket(
    client: Client, token: str
) -> None:
    ws = await connect(client, token)
    await ws.send_str(json.dumps({"id": 1, "type": "ping", "pad": "p" * MAX_MESSAGE}))
    msg = await ws.receive(timeout=TIMEOUT)
    assert msg.type is WSMsgType.CLOSE and msg.data == 1009


async def test_commands_in_flight_per_client_are_bounded(
    client: Client, token: str, host: Host
) -> None:
    running = 0
    peak = 0
    release = anyio.Event()

    async def slow(call: ServiceCall) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1

    host.services.register("probe", "slow", slow)
    ws = await connect(client, token)
    total = MAX_IN_FLIGHT * 3
    for msg_id in range(1, total + 1):
        await ws.send_json({"id": msg_id, "type": "call_service", "domain": "probe",
                            "service": "slow"})
    await ws.send_json({"id": total + 1, "type": "ping"})
    await wait_until(lambda: running == MAX_IN_FLIGHT, message="the first commands to run")
    release.set()
    replies = [await ws.receive_json(timeout=TIMEOUT) for _ in range(total + 1)]
    assert peak <= MAX_IN_FLIGHT
    assert sum(r.get("success") is True for r in replies) == total
    assert replies[-1] == {"id": total + 1, "type": "pong"}  # read after the backlog
    await ws.close()
