"""Per-message outcomes: retries with backoff, dead letters, the circuit breaker."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest
from outbox_fakes import ScriptedSender

from gatehouse.core.outbox import (
    Backoff,
    BreakerPolicy,
    BreakerState,
    DeliveryOutcome,
    Outbox,
    OutboxMessage,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from gatehouse.core.testing import wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

ACK = DeliveryOutcome.ACKED
RETRY = DeliveryOutcome.RETRY


async def fill(outbox: Outbox, destination: str, count: int, prefix: bytes = b"m") -> list[bytes]:
    payloads = [prefix + b"%03d" % i for i in range(count)]
    for payload in payloads:
        await outbox.enqueue(destination, payload)
    return payloads


async def test_transient_failures_retry_in_order_with_backoff(db_path: Path) -> None:
    backoff = Backoff(initial=0.02, maximum=0.05, multiplier=2.0, jitter=0.0)
    release = anyio.Event()

    async def react(batch: Sequence[OutboxMessage], call: int) -> Sequence[DeliveryOutcome]:
        if call == 1:
            await release.wait()  # hold the first batch until all messages are queued
            raise TransientDeliveryError("broker down")
        if call == 2:
            raise TransientDeliveryError("still down")
        if call == 3:
            # 0-2 acked, 3 must be retried; the ack for 4 must be ignored (order!).
            return [ACK, ACK, ACK, RETRY, ACK] + [ACK] * (len(batch) - 5)
        return [ACK] * len(batch)

    sender = ScriptedSender(react)
    async with Outbox.open(db_path) as outbox:
        outbox.register_destination("d", sender, batch_size=10, backoff=backoff)
        payloads = await fill(outbox, "d", 10)
        release.set()
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
        stats = outbox.stats("d")

    sent = [[m.payload for m in call] for call in sender.calls]
    assert sent[0][0] == payloads[0]
    assert sent[1] == payloads[: len(sent[1])]  # whole batch again, from the start
    assert sent[2] == payloads[: len(sent[2])]
    assert sent[3][0] == payloads[3]  # resumes at the first message not acked
    # What the destination acted on, in order: the prefix up to the retry, then the rest.
    delivered = [p for c in sent[3:] for p in c]
    assert payloads[:3] + delivered == payloads
    # Backoff: 0.04 s after the second consecutive failure (no jitter), and the first
    # step (0.02 s) after the partial success of the third attempt.
    gaps = [b - a for a, b in zip(sender.call_times, sender.call_times[1:], strict=False)]
    assert gaps[1] >= 0.039
    assert gaps[2] >= 0.019
    assert stats.retries == 3
    assert stats.delivered == 10
    seen: set[bytes] = set()
    resent = 0
    for call in sent:
        resent += sum(1 for p in call if p in seen)
        seen.update(call)
    assert stats.redeliveries == resent
    assert stats.breaker_state is BreakerState.CLOSED


async def test_rejections_are_dead_lettered_and_can_be_requeued(db_path: Path) -> None:
    fixed = False

    async def react(batch: Sequence[OutboxMessage], call: int) -> Sequence[DeliveryOutcome]:
        if fixed:
            return [ACK] * len(batch)
        if any(m.payload == b"whole-batch-bad" for m in batch):
            raise PermanentDeliveryError("HTTP 400: unparseable body")
        return [
            DeliveryOutcome.rejected("HTTP 400: bad field") if m.payload.startswith(b"bad") else ACK
            for m in batch
        ]

    sender = ScriptedSender(react)
    async with Outbox.open(db_path) as outbox:
        outbox.register_destination("influx", sender, batch_size=5)
        for payload in (b"ok1", b"bad1", b"ok2", b"bad2", b"ok3"):
            await outbox.enqueue("influx", payload, headers={"bucket": "b1"})
        with anyio.fail_after(5):
            await outbox.wait_drained("influx")
        await outbox.enqueue("influx", b"whole-batch-bad")
        with anyio.fail_after(5):
            await outbox.wait_drained("influx")

        stats = outbox.stats("influx")
        assert stats.delivered == 3
        assert stats.dead_lettered == 3
        assert stats.dead_letter_depth == 3
        assert stats.depth == 0
        dead = await outbox.dead_letters("influx")
        assert [d.payload for d in dead] == [b"bad1", b"bad2", b"whole-batch-bad"]
        assert [d.reason for d in dead] == ["HTTP 400: bad field"] * 2 + [
            "HTTP 400: unparseable body"
        ]
        assert all(d.destination == "influx" and d.attempts == 1 for d in dead)
        assert dead[0].headers == {"bucket": "b1"}
        assert all(d.dead_at >= d.created for d in dead)

        # The destination was fixed: requeue one, purge one, requeue the rest.
        fixed = True
        assert await outbox.requeue_dead_letters([dead[0].id]) == 1
        with anyio.fail_after(5):
            await outbox.wait_drained("influx")
        assert sender.accepted[-1] == b"bad1"
        assert await outbox.purge_dead_letters([dead[1].id]) == 1
        assert await outbox.requeue_dead_letters(destination="influx") == 1
        with anyio.fail_after(5):
            await outbox.wait_drained("influx")
        assert sender.accepted[-1] == b"whole-batch-bad"
        assert await outbox.dead_letters() == []
        stats = outbox.stats("influx")
        assert stats.dead_letter_depth == 0
        assert stats.delivered == 5
        assert stats.redeliveries == 2  # requeued messages had been sent before

    async with Outbox.open(db_path) as outbox:
        assert await outbox.dead_letters() == []


async def test_purge_by_age_and_dead_letters_survive_restart(db_path: Path) -> None:
    async def reject(batch: Sequence[OutboxMessage], call: int) -> Sequence[DeliveryOutcome]:
        return [DeliveryOutcome.rejected("no") for _ in batch]

    async with Outbox.open(db_path) as outbox:
        outbox.register_destination("d", ScriptedSender(reject))
        await fill(outbox, "d", 4)
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
    async with Outbox.open(db_path) as outbox:
        assert outbox.stats("d").dead_letter_depth == 4
        dead = await outbox.dead_letters("d", limit=2)
        assert len(dead) == 2
        assert await outbox.purge_dead_letters(older_than=0.0) == 0
        assert await outbox.purge_dead_letters(older_than=dead[-1].dead_at + 1) == 4
        assert outbox.stats("d").dead_letter_depth == 0


async def test_breaker_opens_then_half_open_probe(db_path: Path) -> None:
    healthy = False
    observed: list[tuple[int, BreakerState]] = []
    outbox_ref: list[Outbox] = []

    async def react(batch: Sequence[OutboxMessage], call: int) -> Sequence[DeliveryOutcome]:
        observed.append((len(batch), outbox_ref[0].stats("d").breaker_state))
        if not healthy:
            raise TransientDeliveryError("connection refused")
        return [ACK] * len(batch)

    sender = ScriptedSender(react)
    breaker = BreakerPolicy(failure_threshold=3, reset_timeout=0.2)
    async with Outbox.open(db_path) as outbox:
        outbox_ref.append(outbox)
        outbox.register_destination(
            "d",
            sender,
            batch_size=20,
            backoff=Backoff(initial=0.001, maximum=0.001, jitter=0.0),
            breaker=breaker,
        )
        payloads = await fill(outbox, "d", 20)
        with anyio.fail_after(5):
            await sender.wait_calls(3)
        # The third consecutive failure opened the breaker.
        await wait_until(lambda: outbox.stats("d").breaker_state is BreakerState.OPEN)
        stats = outbox.stats("d")
        assert stats.consecutive_failures == 3

        # After the cool-down a single-message probe is sent; it fails: open again.
        with anyio.fail_after(5):
            await sender.wait_calls(4)
        # Measured from the failure that opened it (not from when this task noticed,
        # which a loaded machine can delay): the cool-down really was waited out.
        assert sender.call_times[3] - sender.call_times[2] >= 0.19
        assert observed[3] == (1, BreakerState.HALF_OPEN)
        await wait_until(lambda: outbox.stats("d").breaker_state is BreakerState.OPEN)

        # Next probe succeeds: closed, and the rest follows in full batches.
        healthy = True
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
        stats = outbox.stats("d")
        assert observed[4] == (1, BreakerState.HALF_OPEN)
        assert observed[5][1] is BreakerState.CLOSED
        assert observed[5][0] == 19
        assert stats.breaker_state is BreakerState.CLOSED
        assert stats.consecutive_failures == 0
        assert sender.accepted == payloads
        assert stats.retries == 4


async def test_sender_bug_is_treated_as_transient(db_path: Path) -> None:
    async def react(batch: Sequence[OutboxMessage], call: int) -> Sequence[DeliveryOutcome]:
        if call == 1:
            raise ValueError("bug in the integration")
        if call == 2:
            return [ACK]  # too few outcomes: the rest are retried
        return [ACK] * len(batch)

    sender = ScriptedSender(react)
    async with Outbox.open(db_path) as outbox:
        outbox.register_destination(
            "d", sender, backoff=Backoff(initial=0.001, maximum=0.001, jitter=0.0)
        )
        payloads = await fill(outbox, "d", 3)
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
        stats = outbox.stats("d")
    assert sender.accepted == payloads
    assert stats.delivered == 3
    assert stats.retries >= 2


async def test_hung_sender_times_out_and_is_retried(db_path: Path) -> None:
    async def react(batch: Sequence[OutboxMessage], call: int) -> Sequence[DeliveryOutcome]:
        if call == 1:
            await anyio.sleep_forever()  # a half-open TCP connection, say
        return [ACK] * len(batch)

    sender = ScriptedSender(react)
    async with Outbox.open(db_path) as outbox:
        outbox.register_destination(
            "d",
            sender,
            send_timeout=0.05,
            backoff=Backoff(initial=0.001, maximum=0.001, jitter=0.0),
        )
        payloads = await fill(outbox, "d", 3)
        with anyio.fail_after(5):
            await outbox.wait_drained("d")
        stats = outbox.stats("d")
    assert sender.accepted == payloads
    assert stats.retries == 1
    assert stats.redeliveries >= 1
