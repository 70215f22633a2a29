"""``nats.publish`` and ``nats.request`` against a real server."""

from __future__ import annotations

import json

import pytest
from nats.aio.msg import Msg
from natstools import add_nats, assert_loaded, raw_client

from gatehouse.core import GatehouseError, Host, ServiceValidationError
from gatehouse.core.testing import NatsServer

pytestmark = pytest.mark.anyio


async def test_publish_reaches_subscribers_with_headers(
    nats_server: NatsServer, host: Host
) -> None:
    async with raw_client(nats_server.url) as nc:
        assert_loaded(await add_nats(host, servers=[nats_server.url]))
        sub = await nc.subscribe("cmd.>")
        await nc.flush()
        await host.services.call(
            "nats", "publish",
            {"subject": "cmd.valve", "payload": "open", "headers": {"X-Origin": "test"}},
        )
        await host.services.call("nats", "publish", {"subject": "cmd.count", "payload": 42})
        first = await sub.next_msg(timeout=10)
        second = await sub.next_msg(timeout=10)
        assert (first.subject, first.data, first.headers) == (
            "cmd.valve", b"open", {"X-Origin": "test"},
        )
        assert (second.subject, second.data) == ("cmd.count", b"42")
        with pytest.raises(ServiceValidationError, match="wildcard"):
            await host.services.call("nats", "publish", {"subject": "cmd.*"})


async def test_request_returns_the_reply_and_fails_clearly(
    nats_server: NatsServer, host: Host
) -> None:
    async with raw_client(nats_server.url) as nc:
        assert_loaded(await add_nats(host, servers=[nats_server.url]))

        async def answer(msg: Msg) -> None:
            request = json.loads(msg.data)
            await msg.respond(json.dumps({"level": request["tank"] * 10}).encode())

        async def ignore(msg: Msg) -> None:
            """A responder that never answers."""

        await nc.subscribe("tank.level", cb=answer)
        await nc.subscribe("tank.silent", cb=ignore)
        await nc.flush()

        reply = await host.services.call(
            "nats", "request", {"subject": "tank.level", "payload": '{"tank": 4}'},
            return_response=True,
        )
        assert reply is not None
        assert reply["json"] == {"level": 40}
        assert reply["data"] == '{"level": 40}'

        silent = r"no reply on subject 'tank\.silent' within 0\.2 s"
        with pytest.raises(GatehouseError, match=silent):
            await host.services.call(
                "nats", "request", {"subject": "tank.silent", "timeout": 0.2},
                return_response=True,
            )
        with pytest.raises(GatehouseError, match=r"no responders on subject 'tank\.nobody'"):
            await host.services.call(
                "nats", "request", {"subject": "tank.nobody", "timeout": 2},
                return_response=True,
            )
