"""Which NATS entry ``nats.publish``/``nats.request`` use, with two (issue 14, point 5).

Two real nats-servers, one entry each: ``entry_id`` names the entry by id or title (any
case); ``entry``, its deprecated spelling, still works; left out, the only loaded entry
is meant, and with two the call is refused naming both, nothing sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nats.aio.msg import Msg
from natstools import add_nats, assert_loaded, raw_client

from gatehouse.core import Host, ServiceValidationError
from gatehouse.core.testing import NatsServer
from gatehouse.integrations.nats.client import flush_in_order

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture
def south_server(tmp_path: Path) -> Iterator[NatsServer]:
    peer = NatsServer(tmp_path / "south-nats")
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()


async def test_publish_and_request_reach_the_entry_named(
    nats_server: NatsServer, south_server: NatsServer, host: Host
) -> None:
    north = await add_nats(host, "North bus", servers=[nats_server.url])
    south = await add_nats(host, "South bus", servers=[south_server.url])
    assert_loaded(north)
    assert_loaded(south)
    async with raw_client(nats_server.url) as north_nc, \
            raw_client(south_server.url) as south_nc:
        north_sub = await north_nc.subscribe("cmd.>")
        south_sub = await south_nc.subscribe("cmd.>")

        async def answer(msg: Msg) -> None:
            await msg.respond(b"south here")

        await south_nc.subscribe("who", cb=answer)
        await flush_in_order(north_nc, 5)
        await flush_in_order(south_nc, 5)

        call = host.services.call
        with pytest.raises(ServiceValidationError) as left_out:
            await call("nats", "publish", {"subject": "cmd.x", "payload": "0"})
        assert "several nats entries are loaded; pass entry_id" in str(left_out.value)
        assert f"'North bus' ({north.entry_id}), 'South bus' ({south.entry_id})" in str(
            left_out.value)
        with pytest.raises(ServiceValidationError,
                           match="no loaded nats entry has the id or title 'West bus'"):
            await call("nats", "publish",
                       {"subject": "cmd.x", "payload": "0", "entry_id": "West bus"})

        await call("nats", "publish",
                   {"subject": "cmd.a", "payload": "by id", "entry_id": south.entry_id})
        await call("nats", "publish",
                   {"subject": "cmd.b", "payload": "by title", "entry_id": "NORTH bus"})
        await call("nats", "publish",
                   {"subject": "cmd.c", "payload": "old field", "entry": "South bus"})
        south_got = [await south_sub.next_msg(timeout=10) for _ in range(2)]
        assert [(m.subject, m.data) for m in south_got] == [
            ("cmd.a", b"by id"), ("cmd.c", b"old field")]
        north_got = await north_sub.next_msg(timeout=10)
        assert (north_got.subject, north_got.data) == ("cmd.b", b"by title")
        await flush_in_order(north_nc, 5)
        assert north_sub.pending_msgs == 0  # nothing else reached the north server

        reply = await call("nats", "request",
                           {"subject": "who", "entry_id": "south bus", "timeout": 5},
                           return_response=True)
        assert reply is not None and reply["data"] == "south here"

        # One left: meant without naming it.
        await host.config_entries.unload(north.entry_id)
        await call("nats", "publish", {"subject": "cmd.d", "payload": "only"})
        last = await south_sub.next_msg(timeout=10)
        assert (last.subject, last.data) == ("cmd.d", b"only")
