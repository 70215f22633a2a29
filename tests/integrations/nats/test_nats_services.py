"""``nats.publish`` and ``nats.request`` against a real server."""

from __future__ import annotations

import json

import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from natstools import add_nats, assert_loaded, raw_client

from gatehouse.core import GatehouseError, Host, ServiceValidationError
from gatehouse.core.testing import NatsServer
from gatehouse.integrations.nats.client import flush_in_order

pytestmark = pytest.mark.anyio


async def test_publish_reaches_subscribers_with_headers(
    nats_server: NatsServer, host: Host
) -> None:
    async with raw_client(nats_server.url) as nc:
        assert_loaded(await add_nats(host, servers=[nats_server.url]))
        sub = await nc.subscribe("cmd.>")
        await flush_in_order(nc, 5)
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
        await flush_in_order(nc, 5)

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


class _WireLog:
    """What a nats-py connection hands to its socket, in order (the client's own
    transport wrapper, so the real writes are kept and only recorded)."""

    def __init__(self, nc: NATS) -> None:
        self.chunks: list[bytes] = []
        transport = nc._transport
        assert transport is not None
        write, writelines = transport.write, transport.writelines

        def record(payload: bytes) -> None:
            self.chunks.append(bytes(payload))
            write(payload)

        def record_lines(payload: list[bytes]) -> None:
            self.chunks.extend(bytes(part) for part in payload)
            writelines(payload)

        transport.write = record  # type: ignore[method-assign]
        transport.writelines = record_lines  # type: ignore[method-assign]

    def ping_after(self, command: bytes) -> bool:
        """Whether a PING was written after the last chunk starting with ``command``."""
        last = max(i for i, chunk in enumerate(self.chunks) if chunk.startswith(command))
        return any(chunk.startswith(b"PING") for chunk in self.chunks[last + 1 :])


@pytest.mark.parametrize("command", [b"SUB", b"PUB"])
async def test_flush_in_order_follows_pending_commands_on_the_wire(
    nats_server: NatsServer, command: bytes
) -> None:
    """Regression: the CI run failed with "no responders" for a subscription the test had
    flushed. nats-py writes flush()'s PING ahead of commands still in its pending buffer,
    so a plain ``nc.flush()`` leaves no PING after the SUB (checked: this assertion fails
    with it on nats-py 2.16), and the PONG proves nothing about the SUB."""
    async with raw_client(nats_server.url) as nc:
        wire = _WireLog(nc)
        if command == b"SUB":
            await nc.subscribe("tank.level")
        else:
            await nc.publish("tank.level", b"1")
        await flush_in_order(nc, 5)
        assert wire.ping_after(command), wire.chunks
