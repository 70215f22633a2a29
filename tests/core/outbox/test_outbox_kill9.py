"""Crash safety: SIGKILL a producing, delivering process and check nothing acked is lost.

"Acknowledged" means ``enqueue()`` returned in the child (it prints the key right then).
The sink stops acking after a few thousand lines, so the kill is guaranteed to land
mid-stream: the sink has seen some messages but not all, group commits are in flight.
A second child on the same database enqueues the keys that were *not* acknowledged
(some of which did reach the disk: those become duplicates, which at-least-once
allows) and drains everything. Every acknowledged key must reach the sink, and each
destination's first arrivals must be in enqueue order within each priority (every
``ALARM_EVERY``-th message is an alarm, priority 10, which may overtake telemetry).
"""

from __future__ import annotations

import json
import signal
import sqlite3
import sys
from pathlib import Path

import anyio
import anyio.abc
import pytest
from outbox_tcp_peer import LineSink

from gatehouse.core.testing import ChildOutput, start_child, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

CHILD = Path(__file__).with_name("outbox_kill_child.py")
PER_DESTINATION = 10_000
DESTINATIONS = ("a", "b")
GATE = 3_000
ALARM_EVERY = 7


def child_command(db_path: Path, port: int, skip: Path | None = None) -> list[str]:
    command = [
        sys.executable,
        str(CHILD),
        "--db",
        str(db_path),
        "--port",
        str(port),
        "--count",
        str(PER_DESTINATION),
        "--destinations",
        ",".join(DESTINATIONS),
        "--alarm-every",
        str(ALARM_EVERY),
    ]
    if skip is not None:
        command += ["--skip", str(skip)]
    return command


def queued_alarms(db_path: Path) -> dict[str, list[str]]:
    """Per destination, the alarms a killed child left on disk, in queue order."""
    conn = sqlite3.connect(db_path)
    try:
        rows = conn.execute(
            "SELECT destination, payload FROM messages WHERE priority > 0 ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    found: dict[str, list[str]] = {d: [] for d in DESTINATIONS}
    for destination, payload in rows:
        found[destination].append(payload.decode())
    return found


async def test_sigkill_mid_stream_loses_no_acknowledged_message(
    tmp_path: Path, db_path: Path
) -> None:
    total = PER_DESTINATION * len(DESTINATIONS)
    everything = {f"{d}:{n}" for d in DESTINATIONS for n in range(PER_DESTINATION)}
    first, second = ChildOutput(), ChildOutput()
    # One sink for both lives: what it acked before the kill was legitimately deleted
    # from the outbox, so only the sink's whole history can show nothing was lost.
    async with LineSink.serve(gate_after=GATE) as sink:
        process = await start_child(child_command(db_path, sink.port), [], tmp_path / "child1.err")
        async with process, anyio.create_task_group() as task_group:
            assert process.stdout is not None
            task_group.start_soon(first.read, process.stdout)
            with anyio.fail_after(20):
                await first.wait_ready()
                await sink.wait_for(GATE)
            # Behind the closed gate nothing more is deleted: wait until each destination
            # has an alarm queued, or the check of what the second child sends first has
            # nothing to check (both destinations' alarms overtake their telemetry, so all
            # of one's alarms may have left before the gate closed).
            await wait_until(lambda: all(queued_alarms(db_path).values()), timeout=20,
                             message="an alarm queued behind the gate for each destination")
            process.send_signal(signal.SIGKILL)
            assert await process.wait() == -signal.SIGKILL
        seen_before_kill = len(sink.received)
        first_connections = sink.connections
        backlog_alarms = queued_alarms(db_path)
        sink.open_gate()

        acked_first = set(first.acked)
        assert len(acked_first) == len(first.acked)
        assert GATE <= seen_before_kill < total  # mid-stream: some seen, not all
        assert len(acked_first) >= GATE

        skip = tmp_path / "acked.json"
        skip.write_text(json.dumps(sorted(acked_first)))
        process = await start_child(
            child_command(db_path, sink.port, skip), [], tmp_path / "child2.err"
        )
        async with process, anyio.create_task_group() as task_group:
            assert process.stdout is not None
            task_group.start_soon(second.read, process.stdout)
            with anyio.fail_after(40):
                code = await process.wait()
        assert code == 0, (tmp_path / "child2.err").read_text()
        history = [line.decode() for line in sink.received]
        second_traffic = [
            line.decode()
            for line, origin in zip(sink.received, sink.origins, strict=True)
            if origin > first_connections
        ]

    # The second child enqueued exactly what the first had not acknowledged.
    assert second.enqueued_all
    assert set(second.acked) == everything - acked_first
    assert second.stats is not None

    arrived = set(history)
    missing = acked_first - arrived
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {sorted(missing)[:5]}"
    assert arrived == everything

    for destination in DESTINATIONS:
        numbers = [int(k.split(":")[1]) for k in history if k.startswith(destination + ":")]
        for alarm in (True, False):
            first_arrivals = [
                n for n in dict.fromkeys(numbers) if (n % ALARM_EVERY == 0) is alarm
            ]
            assert first_arrivals == sorted(first_arrivals), (destination, alarm, "order")

    # The alarms the first child left queued are what the second one sends first, in
    # their order: the priority is on disk, not in the dead process's memory.
    for destination in DESTINATIONS:
        alarms = backlog_alarms[destination]
        assert alarms, f"{destination}: the kill left no alarm queued; nothing was checked"
        sent = list(dict.fromkeys(k for k in second_traffic if k.startswith(destination + ":")))
        assert sent[: len(alarms)] == alarms, destination

    duplicates = len(history) - len(arrived)
    redeliveries = sum(s["redeliveries"] for s in second.stats.values())
    assert redeliveries >= 1  # the batches in flight at the kill were sent again
    assert duplicates >= 1
    print(
        f"\nkill -9: first child acknowledged {len(acked_first)}/{total} enqueues "
        f"(all enqueued: {first.enqueued_all}); sink had seen {seen_before_kill}; "
        f"sink total {len(history)} = {len(arrived)} distinct + {duplicates} duplicates; "
        f"outbox-counted redeliveries after restart: {redeliveries}"
    )
