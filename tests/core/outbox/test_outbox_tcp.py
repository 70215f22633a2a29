"""Delivery to a real TCP peer: order, deletion on ack, broken links, restarts."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from outbox_tcp_peer import LineSink, TcpLineSender

from gatehouse.core.outbox import Backoff, Outbox

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

FAST = Backoff(initial=0.001, maximum=0.01, jitter=0.0)


async def enqueue_in_order(outbox: Outbox, destination: str, payloads: list[bytes]) -> None:
    """Enqueue concurrently (one task each, started in order), like many producers."""
    async with anyio.create_task_group() as task_group:
        for payload in payloads:
            task_group.start_soon(outbox.enqueue, destination, payload)


async def test_order_kept_and_acked_rows_deleted(db_path: Path) -> None:
    payloads = [b"m%05d" % i for i in range(3000)]
    async with LineSink.serve() as sink, Outbox.open(db_path) as outbox:
        sender = TcpLineSender(sink.port)
        outbox.register_destination("sink", sender, batch_size=250)
        await enqueue_in_order(outbox, "sink", payloads)
        with anyio.fail_after(10):
            await outbox.wait_drained("sink")
        await sender.aclose()
        stats = outbox.stats("sink")
        assert sink.received == payloads
        assert stats.depth == 0
        assert stats.oldest_age is None
        assert stats.enqueued == stats.delivered == len(payloads)
        assert stats.redeliveries == stats.retries == 0
        assert max(sender.batches) <= 250
        assert len(sender.batches) < len(payloads) / 10  # batching happened

    # Acked means gone from disk: a fresh process finds nothing to send.
    async with Outbox.open(db_path) as outbox:
        assert outbox.destinations() == []


async def test_broken_link_retries_rest_in_order(db_path: Path) -> None:
    payloads = [b"m%04d" % i for i in range(500)]
    # The sink drops the first connection after 30 lines without acking the 30th.
    async with LineSink.serve(cut_after=30) as sink, Outbox.open(db_path) as outbox:
        sender = TcpLineSender(sink.port)
        outbox.register_destination("sink", sender, batch_size=100, backoff=FAST)
        await enqueue_in_order(outbox, "sink", payloads)
        with anyio.fail_after(10):
            await outbox.wait_drained("sink")
        await sender.aclose()
        stats = outbox.stats("sink")

    assert sink.connections >= 2
    # Every message arrived; anything that arrived twice is a resend of an unacked one,
    # and the first arrivals are in order.
    assert set(sink.received) == set(payloads)
    first_seen = list(dict.fromkeys(sink.received))
    assert first_seen == payloads
    duplicates = len(sink.received) - len(payloads)
    assert duplicates >= 1
    assert stats.redeliveries >= duplicates
    assert stats.retries >= 1
    assert stats.delivered == len(payloads)


async def test_restart_delivers_unacked_in_order(db_path: Path) -> None:
    payloads = [b"r%04d" % i for i in range(400)]
    # First life: the peer takes 120 lines and then stops acknowledging.
    async with LineSink.serve(gate_after=120) as sink:
        async with Outbox.open(db_path) as outbox:
            sender = TcpLineSender(sink.port, timeout=30)
            outbox.register_destination("sink", sender, batch_size=50)
            await enqueue_in_order(outbox, "sink", payloads)
            with anyio.fail_after(10):
                await sink.wait_for(120)
            # Leaving the block stops the dispatcher mid-batch, like a shutdown.
        await sender.aclose()
        first_life = list(sink.received)

    assert 120 <= len(first_life) < len(payloads)
    async with LineSink.serve() as sink, Outbox.open(db_path) as outbox:
        assert outbox.stats("sink").depth == len(payloads) - 100  # two batches acked
        sender = TcpLineSender(sink.port)
        outbox.register_destination("sink", sender, batch_size=50)
        with anyio.fail_after(10):
            await outbox.wait_drained("sink")
        await sender.aclose()
        stats = outbox.stats("sink")
        second_life = list(sink.received)

    # The unacked batch comes again first, then the rest, all in order.
    assert second_life == payloads[100:]
    assert stats.redeliveries == 50  # the batch in flight when the first life ended
    assert stats.delivered == len(payloads) - 100
