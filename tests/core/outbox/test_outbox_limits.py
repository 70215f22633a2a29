"""Bounds, expiry, group commit, lifecycle and the pure retry policies."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest
from outbox_fakes import ScriptedSender

from gatehouse.core.outbox import (
    Backoff,
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    DeliveryOutcome,
    Outbox,
    OutboxClosed,
    OutboxError,
    OutboxFull,
    OutboxMessage,
    TransientDeliveryError,
    UnknownDestination,
)
from gatehouse.core.outbox.store import OutboxStore

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


class HeldSender(ScriptedSender):
    """Fails every attempt until released, then acknowledges everything.

    With a huge backoff the dispatcher tries once and then stays away, which freezes
    the queue so overflow and expiry can be observed.
    """

    def __init__(self) -> None:
        self.released = anyio.Event()
        super().__init__(self._react)

    async def _react(self, batch: Sequence[OutboxMessage], call: int) -> Sequence[DeliveryOutcome]:
        if not self.released.is_set():
            raise TransientDeliveryError("not yet")
        return [DeliveryOutcome.ACKED] * len(batch)


FROZEN = Backoff(initial=3600, maximum=3600, jitter=0.0)


def stored_rows(db_path: Path) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])
    finally:
        conn.close()


async def test_drop_oldest_evicts_counts_and_logs_once(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gatehouse.core.outbox")
    async with Outbox.open(db_path) as outbox:
        held = HeldSender()
        unregister = outbox.register_destination(
            "telemetry", held, max_messages=100, overflow="drop_oldest", backoff=FROZEN
        )
        for i in range(150):
            await outbox.enqueue("telemetry", b"t%03d" % i)
        stats = outbox.stats("telemetry")
        assert stats.depth == 100
        assert stats.dropped == 50
        assert stats.enqueued == 150
        full_logs = [r for r in caplog.records if "is full" in r.getMessage()]
        assert len(full_logs) == 1  # one line per burst, not per message

        # Byte bound too: 10-byte payloads, at most 500 bytes → 50 messages kept.
        outbox.register_destination(
            "bytes", held, max_messages=None, max_bytes=500, overflow="drop_oldest"
        )
        for i in range(60):
            await outbox.enqueue("bytes", b"b%09d" % i)
        assert outbox.stats("bytes").depth == 50
        assert outbox.stats("bytes").bytes == 500
        assert outbox.stats("bytes").dropped == 10

        # Deliver what is left: the newest 100, still in order.
        unregister()
        sender = ScriptedSender()
        outbox.register_destination("telemetry", sender, max_messages=100)
        with anyio.fail_after(5):
            await outbox.wait_drained("telemetry")
        assert sender.accepted == [b"t%03d" % i for i in range(50, 150)]


async def test_refuse_raises_and_counts(db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="gatehouse.core.outbox")
    async with Outbox.open(db_path) as outbox:
        outbox.register_destination(
            "commands", HeldSender(), max_messages=10, overflow="refuse", backoff=FROZEN
        )
        for i in range(10):
            await outbox.enqueue("commands", b"c%d" % i)
        for _ in range(5):
            with pytest.raises(OutboxFull):
                await outbox.enqueue("commands", b"one too many")
        with pytest.raises(OutboxFull):
            outbox.enqueue_nowait("commands", b"also refused")
        stats = outbox.stats("commands")
        assert stats.depth == 10
        assert stats.refused == 6
        assert stats.dropped == 0
        assert len([r for r in caplog.records if "is full" in r.getMessage()]) == 1

        outbox.register_destination("small", HeldSender(), max_bytes=8, overflow="refuse")
        await outbox.enqueue("small", b"12345")
        with pytest.raises(OutboxFull):
            await outbox.enqueue("small", b"6789")  # 9 bytes in all
        with pytest.raises(OutboxFull):
            await outbox.enqueue("small", b"x" * 9)  # bigger than the bound on its own
        assert outbox.stats("small").refused == 2
    assert stored_rows(db_path) == 11  # nothing refused reached the disk


async def test_ttl_expired_messages_are_dropped_not_delivered(db_path: Path) -> None:
    async with Outbox.open(db_path) as outbox:
        held = HeldSender()
        outbox.register_destination(
            "d", held, ttl=3600, backoff=Backoff(initial=0.05, maximum=0.05, jitter=0.0)
        )
        await outbox.enqueue("d", b"keep-1")
        for i in range(3):
            await outbox.enqueue("d", b"short-%d" % i, ttl=0.01)
        await outbox.enqueue("d", b"keep-2")
        with anyio.fail_after(5):
            await held.wait_calls(1)
        # Let the short TTL run out (the passage of time is the point here), then let
        # the destination accept.
        await anyio.sleep(0.05)
        held.released.set()
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
        stats = outbox.stats("d")
        assert held.accepted == [b"keep-1", b"keep-2"]
        assert stats.expired == 3
        assert stats.delivered == 2
        assert stats.depth == 0


async def test_group_commit_batches_many_producers(db_path: Path) -> None:
    producers, per_producer = 100, 50
    async with Outbox.open(db_path) as outbox:
        outbox.register_destination("d", HeldSender(), backoff=FROZEN)
        before = outbox.store_stats()

        async def produce(n: int) -> None:
            for i in range(per_producer):
                await outbox.enqueue("d", b"%d-%d" % (n, i))

        async with anyio.create_task_group() as task_group:
            for n in range(producers):
                task_group.start_soon(produce, n)
        after = outbox.store_stats()
        total = producers * per_producer
        commits = after.enqueue_transactions - before.enqueue_transactions
        assert after.enqueued_rows - before.enqueued_rows == total
        assert commits <= total / 20, commits
        assert outbox.stats("d").depth == total
    assert stored_rows(db_path) == total


async def test_order_follows_call_order_across_producers(db_path: Path) -> None:
    sender = ScriptedSender()
    async with Outbox.open(db_path) as outbox:
        outbox.register_destination("d", sender, batch_size=64)
        payloads = [b"%04d" % i for i in range(1000)]
        async with anyio.create_task_group() as task_group:
            for payload in payloads:
                task_group.start_soon(outbox.enqueue, "d", payload)
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
    assert sender.accepted == payloads
    assert all(0 < len(call) <= 64 for call in sender.calls)


async def test_close_commits_nowait_enqueues_and_stats_survive(db_path: Path) -> None:
    async with Outbox.open(db_path) as outbox:
        outbox.register_destination("d", HeldSender(), backoff=FROZEN)
        for i in range(500):
            outbox.enqueue_nowait("d", b"n%d" % i, headers={"i": str(i)})
        assert outbox.stats("d").depth == 500
        assert outbox.stats("d").oldest_age is not None
    assert stored_rows(db_path) == 500
    with pytest.raises(OutboxClosed):
        await outbox.enqueue("d", b"late")

    sender = ScriptedSender()
    async with Outbox.open(db_path) as outbox:
        stats = outbox.stats("d")  # known from disk before registration
        assert stats.depth == 500
        assert not stats.registered
        assert stats.oldest_age is not None and stats.oldest_age >= 0
        outbox.register_destination("d", sender, batch_size=500)
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
    assert sender.accepted == [b"n%d" % i for i in range(500)]
    assert sender.calls[0][7].headers == {"i": "7"}


async def test_errors_and_registration_rules(db_path: Path) -> None:
    outbox = Outbox(db_path)
    outbox.register_destination("early", ScriptedSender())  # before start is fine
    with pytest.raises(OutboxError, match="not started"):
        await outbox.enqueue("early", b"too early")
    async with anyio.create_task_group() as task_group:
        await outbox.start(task_group)
        with pytest.raises(UnknownDestination):
            await outbox.enqueue("nowhere", b"x")
        with pytest.raises(ValueError, match="already registered"):
            outbox.register_destination("early", ScriptedSender())
        with pytest.raises(ValueError, match="batch_size"):
            outbox.register_destination("bad", ScriptedSender(), batch_size=0)
        await outbox.enqueue("early", b"x")
        with anyio.fail_after(5):
            await outbox.wait_drained("early")
        assert outbox.stats("early").delivered == 1
        await outbox.close()
        await outbox.close()  # idempotent
    assert outbox.closed


def test_backoff_is_exponential_capped_and_jittered() -> None:
    backoff = Backoff(initial=0.1, maximum=1.0, multiplier=2.0, jitter=0.5)
    no_jitter = [backoff.delay(n, rand=lambda: 0.0) for n in range(7)]
    assert no_jitter == pytest.approx([0.0, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert backoff.delay(3, rand=lambda: 1.0) == pytest.approx(0.2)
    assert all(0.5 <= backoff.delay(10_000) <= 1.0 for _ in range(100))
    with pytest.raises(ValueError):
        Backoff(jitter=2)


def test_circuit_breaker_state_machine() -> None:
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=2, reset_timeout=10))
    assert breaker.state is BreakerState.CLOSED
    assert breaker.record_failure(now=0) is BreakerState.CLOSED
    assert breaker.record_failure(now=1) is BreakerState.OPEN
    assert not breaker.allow(now=5)
    assert breaker.retry_after(now=5) == pytest.approx(6)
    assert breaker.allow(now=11)
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.record_failure(now=11) is BreakerState.OPEN  # failed probe
    assert breaker.allow(now=21)
    assert breaker.record_success() is BreakerState.HALF_OPEN
    assert breaker.state is BreakerState.CLOSED
    assert breaker.consecutive_failures == 0


async def test_failed_commit_fails_its_enqueues_and_leaves_counts_exact(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_insert = OutboxStore.insert
    calls = 0

    def flaky_insert(self: OutboxStore, rows: Any, bounds: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise sqlite3.OperationalError("disk I/O error")
        return real_insert(self, rows, bounds)

    monkeypatch.setattr(OutboxStore, "insert", flaky_insert)
    async with Outbox.open(db_path) as outbox:
        outbox.register_destination("d", HeldSender(), max_messages=5, overflow="refuse")
        with pytest.raises(OutboxError, match="disk I/O error"):
            await outbox.enqueue("d", b"lost")
        assert outbox.stats("d").depth == 0
        for i in range(5):  # the full bound is available again
            await outbox.enqueue("d", b"%d" % i)
        assert outbox.stats("d").depth == 5
    assert stored_rows(db_path) == 5
