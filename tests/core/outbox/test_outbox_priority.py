"""Priorities (issue 10): a destination's alarms leave before its backlog of telemetry.

Higher ``priority`` is fetched and sent first; within one priority the queue is strict
FIFO, as before. The overflow policy evicts the lowest priority first, dead letters keep
their priority when requeued, and all of it survives a restart (it is a column, not
in-memory state).
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest
from outbox_fakes import ScriptedSender

from gatehouse.core.helpers import OutboxLink
from gatehouse.core.outbox import (
    Backoff,
    BreakerPolicy,
    BreakerState,
    DeliveryOutcome,
    Outbox,
    OutboxFull,
    OutboxMessage,
    TransientDeliveryError,
)
from gatehouse.core.testing import wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

HIGH, NORMAL, LOW = 10, 0, -10
FROZEN = Backoff(initial=3600, maximum=3600, jitter=0.0)
TELEMETRY = [b"t%04d" % i for i in range(1000)]
ALARMS = [b"alarm%d" % i for i in range(5)]


class Switch(ScriptedSender):
    """Fails every attempt while ``healthy`` is False, acknowledges everything after."""

    def __init__(self) -> None:
        self.healthy = False
        super().__init__(self._react)

    async def _react(self, batch: Sequence[OutboxMessage], call: int) -> Sequence[DeliveryOutcome]:
        if not self.healthy:
            raise TransientDeliveryError("uplink down")
        return [DeliveryOutcome.ACKED] * len(batch)


def in_queue_order(batch: Sequence[OutboxMessage]) -> bool:
    """Highest priority first, then by id: the order a batch must have."""
    keys = [(-m.priority, m.id) for m in batch]
    return keys == sorted(keys)


async def enqueue_in_order(
    outbox: Outbox, destination: str, payloads: Sequence[bytes], priority: int
) -> None:
    """Concurrent durable enqueues (shared fsyncs) that keep the call order."""
    async with anyio.create_task_group() as task_group:
        for payload in payloads:
            task_group.start_soon(_enqueue, outbox, destination, payload, priority)


async def _enqueue(outbox: Outbox, destination: str, payload: bytes, priority: int) -> None:
    await outbox.enqueue(destination, payload, priority=priority)


async def test_alarms_overtake_a_telemetry_backlog_when_the_breaker_closes(
    db_path: Path,
) -> None:
    sender = Switch()
    async with Outbox.open(db_path) as outbox:
        outbox.register_destination(
            "cloud",
            sender,
            batch_size=100,
            backoff=Backoff(initial=0.01, maximum=0.01, jitter=0.0),
            breaker=BreakerPolicy(failure_threshold=1, reset_timeout=0.1),
        )
        await outbox.enqueue("cloud", TELEMETRY[0])
        await wait_until(lambda: outbox.stats("cloud").breaker_state is BreakerState.OPEN)
        await enqueue_in_order(outbox, "cloud", TELEMETRY[1:], NORMAL)
        await enqueue_in_order(outbox, "cloud", ALARMS, HIGH)
        stats = outbox.stats("cloud")
        assert stats.depth == 1005
        assert stats.high_priority_depth == 5
        assert sender.accepted == []

        sender.healthy = True
        with anyio.fail_after(10):
            await outbox.wait_drained("cloud")
        assert outbox.stats("cloud").high_priority_depth == 0

    assert sender.accepted == ALARMS + TELEMETRY
    recovered = [call for call in sender.calls if call[0].payload == ALARMS[0]][-1]
    assert len(recovered) == 1  # the half-open probe: the most urgent message
    assert all(in_queue_order(call) for call in sender.calls)
    assert all(m.priority == (HIGH if m.payload in ALARMS else NORMAL)
               for call in sender.calls for m in call)


async def test_priority_survives_close_and_reopen(db_path: Path) -> None:
    async with Outbox.open(db_path) as outbox:
        outbox.register_destination("cloud", Switch(), backoff=FROZEN)
        await enqueue_in_order(outbox, "cloud", TELEMETRY, NORMAL)
        await enqueue_in_order(outbox, "cloud", ALARMS, HIGH)

    conn = sqlite3.connect(db_path)
    try:
        by_priority = dict(
            conn.execute("SELECT priority, count(*) FROM messages GROUP BY priority").fetchall()
        )
    finally:
        conn.close()
    assert by_priority == {NORMAL: 1000, HIGH: 5}

    sender = ScriptedSender()
    async with Outbox.open(db_path) as outbox:
        stats = outbox.stats("cloud")  # from disk, before registration
        assert (stats.depth, stats.high_priority_depth) == (1005, 5)
        outbox.register_destination("cloud", sender, batch_size=64)
        with anyio.fail_after(10):
            await outbox.wait_drained("cloud")
    assert sender.accepted == ALARMS + TELEMETRY
    assert sender.calls[0][:5] == [m for m in sender.calls[0] if m.priority == HIGH]


async def test_a_batch_keeps_fifo_within_each_priority_and_retries_resume_in_order(
    db_path: Path,
) -> None:
    release = anyio.Event()

    async def react(batch: Sequence[OutboxMessage], call: int) -> Sequence[DeliveryOutcome]:
        if call == 1:
            await release.wait()
            raise TransientDeliveryError("not yet")
        if call == 2:
            # a0 acked, a1 rejected for good, t0 and t1 to be retried: the settled
            # prefix spans one priority, the retry resumes at t0 in the next.
            return [
                DeliveryOutcome.ACKED,
                DeliveryOutcome.rejected("bad alarm"),
                DeliveryOutcome.RETRY,
                DeliveryOutcome.RETRY,
            ]
        return [DeliveryOutcome.ACKED] * len(batch)

    sender = ScriptedSender(react)
    async with Outbox.open(db_path) as outbox:
        outbox.register_destination(
            "d", sender, batch_size=4, backoff=Backoff(initial=0.001, maximum=0.001, jitter=0)
        )
        await outbox.enqueue("d", b"t0")  # fetched alone into the held first batch
        with anyio.fail_after(5):
            await sender.wait_calls(1)
        for payload in (b"t1", b"t2"):
            await outbox.enqueue("d", payload)
        await outbox.enqueue("d", b"low0", priority=LOW)
        await outbox.enqueue("d", b"a0", priority=HIGH)
        await outbox.enqueue("d", b"a1", priority=HIGH)
        await outbox.enqueue("d", b"t3")
        release.set()
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
        dead = await outbox.dead_letters("d")

    sent = [[m.payload for m in call] for call in sender.calls]
    assert sent[0] == [b"t0"]
    assert sent[1] == [b"a0", b"a1", b"t0", b"t1"]
    assert sent[2] == [b"t0", b"t1", b"t2", b"t3"]
    assert sent[3] == [b"low0"]
    assert sender.accepted == [b"a0", b"t0", b"t1", b"t2", b"t3", b"low0"]
    assert [(d.payload, d.priority) for d in dead] == [(b"a1", HIGH)]


async def test_drop_oldest_evicts_the_lowest_priority_first(db_path: Path) -> None:
    async with Outbox.open(db_path) as outbox:
        held = Switch()
        unregister = outbox.register_destination(
            "d", held, max_messages=10, overflow="drop_oldest", backoff=FROZEN
        )
        for i in range(3):
            await outbox.enqueue("d", b"a%d" % i, priority=HIGH)
        for i in range(10):
            await outbox.enqueue("d", b"t%d" % i)
        # 13 for 10 places: the three oldest *telemetry* go, never an alarm.
        stats = outbox.stats("d")
        assert (stats.depth, stats.dropped, stats.high_priority_depth) == (10, 3, 3)
        for i in range(3, 5):
            await outbox.enqueue("d", b"a%d" % i, priority=HIGH)
        assert outbox.stats("d").dropped == 5
        assert outbox.stats("d").high_priority_depth == 5
        # Low priority goes before normal, even when it is newer.
        await outbox.enqueue("d", b"low0", priority=LOW)
        await outbox.enqueue("d", b"t10")
        assert outbox.stats("d").dropped == 7

        unregister()
        sender = ScriptedSender()
        outbox.register_destination("d", sender, max_messages=10)
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
    assert sender.accepted == [b"a%d" % i for i in range(5)] + [
        b"t6", b"t7", b"t8", b"t9", b"t10"
    ]


async def test_a_queue_full_of_alarms_drops_new_telemetry_then_the_oldest_alarm(
    db_path: Path,
) -> None:
    async with Outbox.open(db_path) as outbox:
        held = Switch()
        unregister = outbox.register_destination(
            "d", held, max_messages=3, max_bytes=None, overflow="drop_oldest", backoff=FROZEN
        )
        for i in range(3):
            await outbox.enqueue("d", b"a%d" % i, priority=HIGH)
        await outbox.enqueue("d", b"t0")  # the lowest priority queued is its own
        assert outbox.stats("d").dropped == 1
        await outbox.enqueue("d", b"a3", priority=HIGH)
        assert outbox.stats("d").dropped == 2
        # A byte bound evicts the same way: 2-byte payloads, 6 bytes → 3 messages.
        outbox.register_destination(
            "bytes", held, max_messages=None, max_bytes=6, overflow="drop_oldest",
            backoff=FROZEN,
        )
        await outbox.enqueue("bytes", b"t0")
        await outbox.enqueue("bytes", b"a0", priority=HIGH)
        await outbox.enqueue("bytes", b"t1")
        await outbox.enqueue("bytes", b"a1", priority=HIGH)
        assert outbox.stats("bytes").high_priority_depth == 2

        unregister()
        sender = ScriptedSender()
        outbox.register_destination("d", sender)
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
        assert sender.accepted == [b"a1", b"a2", b"a3"]
        assert outbox.stats("bytes").depth == 3
        assert outbox.stats("bytes").dropped == 1
    conn = sqlite3.connect(db_path)
    try:
        left = conn.execute(
            "SELECT payload FROM messages WHERE destination = 'bytes' ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    assert [p for (p,) in left] == [b"a0", b"t1", b"a1"]


async def test_requeued_dead_letters_keep_their_priority(db_path: Path) -> None:
    fixed = False

    async def react(batch: Sequence[OutboxMessage], call: int) -> Sequence[DeliveryOutcome]:
        if fixed:
            return [DeliveryOutcome.ACKED] * len(batch)
        return [DeliveryOutcome.rejected("schema") for _ in batch]

    sender = ScriptedSender(react)
    async with Outbox.open(db_path) as outbox:
        unregister = outbox.register_destination("d", sender)
        await outbox.enqueue("d", b"a0", priority=HIGH)
        await outbox.enqueue("d", b"low0", priority=LOW)
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
        dead = await outbox.dead_letters("d")
        assert [(d.payload, d.priority) for d in dead] == [(b"a0", HIGH), (b"low0", LOW)]
        unregister()
        outbox.register_destination("d", Switch(), backoff=FROZEN)
        for i in range(3):
            await outbox.enqueue("d", b"t%d" % i)
        assert await outbox.requeue_dead_letters(destination="d") == 2
        assert outbox.stats("d").high_priority_depth == 1

    fixed = True
    async with Outbox.open(db_path) as outbox:
        outbox.register_destination("d", sender)
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
    assert sender.accepted == [b"a0", b"t0", b"t1", b"t2", b"low0"]


async def test_link_passes_priority_and_bad_priorities_are_refused(db_path: Path) -> None:
    sender = ScriptedSender()
    async with Outbox.open(db_path) as outbox:
        outbox.register_destination("d", Switch(), backoff=FROZEN)
        link = OutboxLink(outbox, "d", [])
        await link.enqueue(b"t0")
        await link.enqueue(b"a0", priority=HIGH)
        link.enqueue_nowait(b"a1", {"k": "v"}, priority=HIGH)
        assert link.stats().high_priority_depth == 2
        assert link.diagnostics()["high_priority_depth"] == 2
        for bad in ("10", 1.5, None, True):
            with pytest.raises(TypeError, match="priority"):
                await outbox.enqueue("d", b"x", priority=bad)  # type: ignore[arg-type]
        for huge in (2**31, -(2**31) - 1, 2**70):
            with pytest.raises(ValueError, match="priority"):
                outbox.enqueue_nowait("d", b"x", priority=huge)
        assert outbox.stats("d").depth == 3  # nothing refused was counted or stored
        await outbox.enqueue("d", b"edge", priority=2**31 - 1)
    async with Outbox.open(db_path) as outbox:
        outbox.register_destination("d", sender)
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
    assert sender.accepted == [b"edge", b"a0", b"a1", b"t0"]
    assert sender.calls[0][2].headers == {"k": "v"}


async def test_ttl_applies_to_every_priority_and_expiry_keeps_the_counts_exact(
    db_path: Path,
) -> None:
    sender = ScriptedSender()
    async with Outbox.open(db_path) as outbox:
        outbox.register_destination("d", sender)
        # A TTL of a nanosecond has run out by the time the dispatcher fetches (after
        # an fsync): expiry without waiting for a clock.
        await outbox.enqueue("d", b"a0", priority=HIGH, ttl=1e-9)
        await outbox.enqueue("d", b"a1", priority=HIGH)
        await outbox.enqueue("d", b"low0", priority=LOW, ttl=1e-9)
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
        stats = outbox.stats("d")
    assert sender.accepted == [b"a1"]
    assert (stats.expired, stats.delivered) == (2, 1)
    assert (stats.depth, stats.high_priority_depth, stats.bytes) == (0, 0, 0)


async def test_refuse_turns_away_an_alarm_too(db_path: Path) -> None:
    """The bound protects the disk; ``refuse`` never evicts, so it refuses any priority."""
    async with Outbox.open(db_path) as outbox:
        outbox.register_destination(
            "commands", Switch(), max_messages=2, overflow="refuse", backoff=FROZEN
        )
        await outbox.enqueue("commands", b"c0")
        await outbox.enqueue("commands", b"c1")
        with pytest.raises(OutboxFull):
            await outbox.enqueue("commands", b"alarm", priority=HIGH)
        stats = outbox.stats("commands")
        assert (stats.depth, stats.high_priority_depth, stats.refused) == (2, 0, 1)


async def test_counts_kept_in_memory_match_the_disk_after_a_mixed_workload(
    db_path: Path,
) -> None:
    """Evictions, expiry, rejects, retries and requeues at mixed priorities: the
    in-memory figures (depth, bytes, high-priority depth, dead letters) before close
    equal the ones counted from disk after reopening, and FIFO holds per priority."""
    rng = random.Random(10)
    levels = (LOW, NORMAL, NORMAL, NORMAL, 3, HIGH)
    down = False
    seq_of: dict[bytes, int] = {}
    priority_of: dict[bytes, int] = {}
    requeued: set[bytes] = set()
    outcomes = [DeliveryOutcome.ACKED] * 6 + [DeliveryOutcome.RETRY, DeliveryOutcome.rejected("no")]

    settled: list[bytes] = []  # acks the outbox takes: the batch's prefix up to a RETRY

    async def react(batch: Sequence[OutboxMessage], call: int) -> Sequence[DeliveryOutcome]:
        if down:
            raise TransientDeliveryError("down")
        answer = [rng.choice(outcomes) for _ in batch]
        for message, outcome in zip(batch, answer, strict=True):
            if outcome is DeliveryOutcome.RETRY:
                break
            if outcome is DeliveryOutcome.ACKED:
                settled.append(message.payload)
        return answer

    sender = ScriptedSender(react)
    async with Outbox.open(db_path) as outbox:
        outbox.register_destination(
            "d", sender, batch_size=7, max_messages=45, overflow="drop_oldest",
            backoff=Backoff(initial=0.001, maximum=0.001, jitter=0.0),
            breaker=BreakerPolicy(failure_threshold=1000),
        )
        for round_no in range(10):
            down = round_no == 9  # the last burst stays queued
            async with anyio.create_task_group() as task_group:
                for i in range(50):
                    payload = b"m%04d" % (round_no * 50 + i)
                    seq_of[payload] = round_no * 50 + i
                    priority_of[payload] = rng.choice(levels)
                    ttl = 1e-9 if rng.random() < 0.05 else None
                    task_group.start_soon(_enqueue_ttl, outbox, payload, priority_of[payload], ttl)
            if round_no % 3 == 2:
                # Requeue exactly the letters looked at: the sender keeps rejecting while
                # this runs, and a letter made in between must not rejoin unnoticed.
                letters = await outbox.dead_letters("d", limit=10_000)
                requeued |= {d.payload for d in letters}
                await outbox.requeue_dead_letters([d.id for d in letters])
            if not down:
                await wait_until(lambda: outbox.stats("d").depth <= 5)
        # Two failed attempts after the last commit: its expired rows are gone too.
        with anyio.fail_after(5):
            await sender.wait_calls(len(sender.calls) + 2)
        before = outbox.stats("d")
        dead = await outbox.dead_letters("d", limit=10_000)

    async with Outbox.open(db_path) as outbox:
        after = outbox.stats("d")
    assert before.depth > 0 and before.dead_letter_depth > 0 and before.dropped > 0
    assert before.expired > 0 and before.high_priority_depth > 0
    figures = ("depth", "bytes", "high_priority_depth", "dead_letter_depth")
    assert {f: getattr(after, f) for f in figures} == {f: getattr(before, f) for f in figures}
    assert len(dead) == before.dead_letter_depth

    # Per priority, first acknowledgements follow enqueue order (requeued messages
    # rejoin their priority's queue at the tail, so they are left out).
    by_level: dict[int, list[int]] = {}
    assert len(settled) == len(set(settled)) == before.delivered
    for payload in settled:
        if payload not in requeued:
            by_level.setdefault(priority_of[payload], []).append(seq_of[payload])
    assert set(by_level) == set(levels)
    assert all(seqs == sorted(seqs) for seqs in by_level.values()), by_level


async def _enqueue_ttl(outbox: Outbox, payload: bytes, priority: int, ttl: float | None) -> None:
    await outbox.enqueue("d", payload, priority=priority, ttl=ttl)
