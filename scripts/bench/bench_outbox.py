#!/usr/bin/env python
"""Benchmark the durable outbox: enqueue rates, a raw SQLite baseline, drain rate.

Plain script, prints figures::

    .venv/bin/python scripts/bench/bench_outbox.py [--messages 20000] [--dir /path]

* raw SQLite: one INSERT + COMMIT per row, WAL + synchronous=FULL, the rate a naive
  "fsync every message" outbox would get on this disk;
* durable ``enqueue()`` with 1, 10 and 100 concurrent producers (group commit), with
  delivery parked so only the enqueue path is measured;
* ``enqueue_nowait()`` for comparison;
* drain: a pre-filled queue delivered to an in-process TCP sink that acks every line;
* mixed: 100 producers enqueueing while the same outbox drains to the sink;
* priorities (issue 10): durable enqueue and drain with mixed priorities (every 10th
  message an alarm, priority 10, every 10th low, -10, the rest 0), the same enqueues
  into a full ``drop_oldest`` queue (every commit evicts), where the alarms arrived in
  the drain, and the latency of one alarm enqueued behind a backlog.

The database lives in a temporary directory on the same file system as ``--dir``
(default: the system temp dir), so all figures share one disk.

The script runs against whichever ``gatehouse`` its interpreter imports, and an outbox
without priorities gets the same workload with every message at the one priority it
has, so the previous commit can be measured as the baseline::

    git worktree add /work/baseline-outbox <commit>   # plus a venv there
    .venv/bin/python scripts/bench/bench_outbox.py \
        --baseline-python /work/baseline-outbox/.venv/bin/python --rounds 3

runs the two alternately (each in a fresh process, who goes first swapping every round)
and prints every figure's range for both and the ratio of the medians (new / baseline).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

from gatehouse.core.outbox import DeliveryOutcome, Outbox, OutboxMessage, TransientDeliveryError

PAYLOAD = b"x" * 200  # a typical JSON telemetry message
ALARM = b"A" + b"x" * 199
LOW = b"L" + b"x" * 199
PRIORITIES = "priority" in inspect.signature(Outbox.enqueue).parameters
"""False when this interpreter imports an outbox from before priorities (the baseline)."""


def mixed(i: int) -> tuple[bytes, int]:
    """The i-th message of the mixed workload: 10 % alarms, 10 % low, 80 % normal."""
    if i % 10 == 0:
        return ALARM, 10
    if i % 10 == 1:
        return LOW, -10
    return PAYLOAD, 0


async def enqueue(outbox: Outbox, destination: str, payload: bytes, priority: int) -> None:
    """``enqueue`` with the priority where the outbox has priorities."""
    if PRIORITIES:
        await outbox.enqueue(destination, payload, priority=priority)
    else:
        await outbox.enqueue(destination, payload)


def enqueue_nowait(outbox: Outbox, destination: str, payload: bytes, priority: int) -> None:
    if PRIORITIES:
        outbox.enqueue_nowait(destination, payload, priority=priority)
    else:
        outbox.enqueue_nowait(destination, payload)


class ParkedSender:
    """Never finishes a send, so the dispatcher does no disk work during enqueue runs."""

    async def send(self, batch: Sequence[OutboxMessage]) -> Sequence[DeliveryOutcome]:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


class TcpSender:
    """Pipelines a batch as lines over one TCP connection and counts the acks."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.stream: anyio.abc.SocketStream | None = None

    async def send(self, batch: Sequence[OutboxMessage]) -> Sequence[DeliveryOutcome]:
        try:
            if self.stream is None:
                self.stream = await anyio.connect_tcp("127.0.0.1", self.port)
            await self.stream.send(b"".join(m.payload + b"\n" for m in batch))
            acked = 0
            while acked < len(batch):
                acked += (await self.stream.receive()).count(b"\n")
        except (OSError, anyio.EndOfStream, anyio.BrokenResourceError) as exc:
            self.stream = None
            raise TransientDeliveryError(str(exc)) from exc
        return [DeliveryOutcome.ACKED] * len(batch)

    async def aclose(self) -> None:
        if self.stream is not None:
            await self.stream.aclose()
            self.stream = None


class Sink:
    """TCP server that acks every line; counts what it received.

    With ``watch`` it also notes, for every line starting with ``A`` (an alarm), how
    many lines had arrived before it, and when the first one arrived.
    """

    def __init__(self, watch: bool = False) -> None:
        self.received = 0
        self.watch = watch
        self.alarm_positions: list[int] = []
        self.first_alarm_at: float | None = None
        self.alarm_seen = anyio.Event()
        self._tail = b""
        self._lines = 0

    async def handle(self, stream: anyio.abc.SocketStream) -> None:
        reader = BufferedByteReceiveStream(stream)
        async with stream:
            try:
                while True:
                    data = await reader.receive()
                    lines = data.count(b"\n")
                    if self.watch:
                        self._watch(data)
                    self.received += lines
                    await stream.send(b"+\n" * lines)
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return

    def _watch(self, data: bytes) -> None:
        *lines, self._tail = (self._tail + data).split(b"\n")
        for line in lines:
            if line.startswith(b"A"):
                self.alarm_positions.append(self._lines)
                if self.first_alarm_at is None:
                    self.first_alarm_at = time.perf_counter()
                    self.alarm_seen.set()
            self._lines += 1


def fresh_db(base: Path, name: str) -> Path:
    path = base / name
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return path


def raw_sqlite_rate(base: Path, count: int) -> float:
    """Single-row commits, WAL + synchronous=FULL: one fsync per message."""
    path = fresh_db(base, "raw.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, destination TEXT, payload BLOB)")
    start = time.perf_counter()
    for _ in range(count):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO m (destination, payload) VALUES (?, ?)", ("d", PAYLOAD))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return count / elapsed


async def enqueue_rate(base: Path, producers: int, count: int) -> tuple[float, float]:
    """Durable enqueues/s and average messages per commit with ``producers`` tasks."""
    path = fresh_db(base, f"enqueue-{producers}.db")
    per_producer = max(1, count // producers)
    async with Outbox.open(path) as outbox:
        outbox.register_destination("bench", ParkedSender(), max_messages=None, max_bytes=None)

        async def produce() -> None:
            for _ in range(per_producer):
                await outbox.enqueue("bench", PAYLOAD)

        start = time.perf_counter()
        async with anyio.create_task_group() as task_group:
            for _ in range(producers):
                task_group.start_soon(produce)
        elapsed = time.perf_counter() - start
        store = outbox.store_stats()
    total = per_producer * producers
    return total / elapsed, store.enqueued_rows / max(1, store.enqueue_transactions)


async def nowait_rate(base: Path, count: int) -> float:
    """enqueue_nowait() until all are accepted *and* committed (close flushes)."""
    path = fresh_db(base, "nowait.db")
    start = time.perf_counter()
    async with Outbox.open(path) as outbox:
        outbox.register_destination("bench", ParkedSender(), max_messages=None, max_bytes=None)
        for _ in range(count):
            outbox.enqueue_nowait("bench", PAYLOAD)
    return count / (time.perf_counter() - start)


async def drain_rate(base: Path, count: int, batch_size: int) -> float:
    """Deliver a pre-filled queue to the TCP sink; messages/s."""
    path = fresh_db(base, f"drain-{batch_size}.db")
    async with Outbox.open(path) as outbox:
        outbox.register_destination("bench", ParkedSender(), max_messages=None, max_bytes=None)
        for _ in range(count):
            outbox.enqueue_nowait("bench", PAYLOAD)
    sink = Sink()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as servers:
        servers.start_soon(listener.serve, sink.handle)
        sender = TcpSender(port)
        async with Outbox.open(path) as outbox:
            start = time.perf_counter()
            outbox.register_destination(
                "bench", sender, max_messages=None, max_bytes=None, batch_size=batch_size
            )
            await outbox.wait_drained("bench")
            elapsed = time.perf_counter() - start
            assert outbox.stats("bench").delivered == count
        await sender.aclose()
        servers.cancel_scope.cancel()
    return count / elapsed


async def mixed_rate(base: Path, producers: int, count: int) -> tuple[float, float]:
    """Enqueue with ``producers`` tasks while delivering; (enqueue/s, end-to-end/s)."""
    path = fresh_db(base, "mixed.db")
    per_producer = count // producers
    sink = Sink()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as servers:
        servers.start_soon(listener.serve, sink.handle)
        sender = TcpSender(port)
        async with Outbox.open(path) as outbox:
            outbox.register_destination(
                "bench", sender, max_messages=None, max_bytes=None, batch_size=500
            )

            async def produce() -> None:
                for _ in range(per_producer):
                    await outbox.enqueue("bench", PAYLOAD)

            start = time.perf_counter()
            async with anyio.create_task_group() as task_group:
                for _ in range(producers):
                    task_group.start_soon(produce)
            enqueued = time.perf_counter() - start
            await outbox.wait_drained("bench")
            drained = time.perf_counter() - start
        await sender.aclose()
        servers.cancel_scope.cancel()
    total = per_producer * producers
    return total / enqueued, total / drained


async def mixed_enqueue_rate(base: Path, producers: int, count: int) -> float:
    """Durable enqueues/s of the mixed-priority workload (delivery parked)."""
    path = fresh_db(base, "mixed-enqueue.db")
    per_producer = max(1, count // producers)
    async with Outbox.open(path) as outbox:
        outbox.register_destination("bench", ParkedSender(), max_messages=None, max_bytes=None)

        async def produce(k: int) -> None:
            for i in range(per_producer):
                await enqueue(outbox, "bench", *mixed(k * per_producer + i))

        start = time.perf_counter()
        async with anyio.create_task_group() as task_group:
            for k in range(producers):
                task_group.start_soon(produce, k)
        elapsed = time.perf_counter() - start
    return per_producer * producers / elapsed


async def bounded_enqueue_rate(base: Path, producers: int, count: int, bound: int) -> float:
    """Durable mixed-priority enqueues/s into a full ``drop_oldest`` queue: every commit
    evicts (lowest priority first where the outbox has priorities)."""
    path = fresh_db(base, "bounded.db")
    per_producer = max(1, count // producers)
    async with Outbox.open(path) as outbox:
        outbox.register_destination("bench", ParkedSender(), max_messages=bound, max_bytes=None)
        for i in range(bound):
            enqueue_nowait(outbox, "bench", *mixed(i))

        async def produce(k: int) -> None:
            for i in range(per_producer):
                await enqueue(outbox, "bench", *mixed(k * per_producer + i))

        start = time.perf_counter()
        async with anyio.create_task_group() as task_group:
            for k in range(producers):
                task_group.start_soon(produce, k)
        elapsed = time.perf_counter() - start
        assert outbox.stats("bench").dropped >= per_producer * producers
    return per_producer * producers / elapsed


async def serve_sink(sink: Sink) -> tuple[anyio.abc.Listener[Any], int]:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    return listener, listener.extra(anyio.abc.SocketAttribute.local_port)


async def mixed_drain(base: Path, count: int, batch_size: int) -> tuple[float, float]:
    """Drain a pre-filled mixed-priority queue; (messages/s, share of the drain that had
    passed when the last alarm arrived)."""
    path = fresh_db(base, "mixed-drain.db")
    async with Outbox.open(path) as outbox:
        outbox.register_destination("bench", ParkedSender(), max_messages=None, max_bytes=None)
        for i in range(count):
            enqueue_nowait(outbox, "bench", *mixed(i))
    sink = Sink(watch=True)
    listener, port = await serve_sink(sink)
    async with listener, anyio.create_task_group() as servers:
        servers.start_soon(listener.serve, sink.handle)
        sender = TcpSender(port)
        async with Outbox.open(path) as outbox:
            start = time.perf_counter()
            outbox.register_destination(
                "bench", sender, max_messages=None, max_bytes=None, batch_size=batch_size
            )
            await outbox.wait_drained("bench")
            elapsed = time.perf_counter() - start
        await sender.aclose()
        servers.cancel_scope.cancel()
    alarms = sink.alarm_positions
    assert len(alarms) == len(range(0, count, 10)), len(alarms)
    return count / elapsed, (alarms[-1] + 1) / count


async def alarm_latency(base: Path, backlog: int, batch_size: int) -> tuple[float, float]:
    """One alarm enqueued once a backlog of ``backlog`` telemetry messages started to
    drain: (seconds until the sink had it, seconds the whole drain took)."""
    path = fresh_db(base, "alarm.db")
    async with Outbox.open(path) as outbox:
        outbox.register_destination("bench", ParkedSender(), max_messages=None, max_bytes=None)
        for _ in range(backlog):
            outbox.enqueue_nowait("bench", PAYLOAD)
    sink = Sink(watch=True)
    listener, port = await serve_sink(sink)
    async with listener, anyio.create_task_group() as servers:
        servers.start_soon(listener.serve, sink.handle)
        sender = TcpSender(port)
        async with Outbox.open(path) as outbox:
            start = time.perf_counter()
            outbox.register_destination(
                "bench", sender, max_messages=None, max_bytes=None, batch_size=batch_size
            )
            await enqueue(outbox, "bench", ALARM, 10)
            enqueued = time.perf_counter()
            await sink.alarm_seen.wait()
            assert sink.first_alarm_at is not None
            latency = sink.first_alarm_at - enqueued
            await outbox.wait_drained("bench")
            drained = time.perf_counter() - start
        await sender.aclose()
        servers.cancel_scope.cancel()
    return latency, drained


def fetch_plan(base: Path) -> str:
    """The query plan of the per-batch fetch on a database this outbox made."""
    from gatehouse.core.outbox.store import HOT_QUERIES  # only where priorities exist

    conn = sqlite3.connect(base / "mixed-drain.db")
    try:
        sql = HOT_QUERIES["fetch"]
        rows = conn.execute("EXPLAIN QUERY PLAN " + sql, ("bench", 500)).fetchall()
    finally:
        conn.close()
    return " | ".join(row[3] for row in rows)


async def measure(args: argparse.Namespace) -> dict[str, float]:
    """Every figure, printed as it comes; returned for ``--json``."""
    figures: dict[str, float] = {}

    def show(key: str, label: str, value: float, unit: str, extra: str = "") -> None:
        figures[key] = value
        print(f"  {label:<46}{value:12,.{3 if unit == 's' else 0}f} {unit}{extra}", flush=True)

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-outbox-") as tmp:
        base = Path(tmp)
        n = args.messages
        print(f"outbox benchmark: {n} messages of {len(PAYLOAD)} bytes, db in {base}")
        print(f"  gatehouse from {Path(inspect.getfile(Outbox)).parent}, "
              f"priorities: {'yes' if PRIORITIES else 'no (same workload, one priority)'}")
        print(f"  cpus: {os.cpu_count()}, sqlite {sqlite3.sqlite_version}")
        # fsync latency on virtualised disks wanders; take the better of two runs so
        # the comparison flatters the baseline rather than the outbox.
        raw = max(
            [await anyio.to_thread.run_sync(raw_sqlite_rate, base, min(n, 3000)) for _ in "ab"]
        )
        show("raw", "raw SQLite, 1 row per commit (best of 2)", raw, "rows/s")
        for producers, count in ((1, min(n, 3000)), (10, n), (100, n)):
            rate, per_commit = await enqueue_rate(base, producers, count)
            show(f"enqueue_{producers}", f"durable enqueue(), {producers} producers", rate,
                 "msg/s", f"  ({per_commit:.1f} msg per commit, {rate / raw:.1f}x raw)")
        show("nowait", "enqueue_nowait() + final commit", await nowait_rate(base, n), "msg/s")
        for batch_size in (100, 500):
            show(f"drain_{batch_size}", f"drain to TCP sink, batch {batch_size}",
                 await drain_rate(base, n, batch_size), "msg/s")
        enq, e2e = await mixed_rate(base, 100, n)
        show("mixed_enqueue", "100 producers while draining: enqueue", enq, "msg/s")
        show("mixed_e2e", "100 producers while draining: end-to-end", e2e, "msg/s")
        show("prio_enqueue_100", "mixed priorities, durable enqueue, 100 prod.",
             await mixed_enqueue_rate(base, 100, n), "msg/s")
        show("prio_bounded_100", "mixed priorities at a 10,000 bound, 100 prod.",
             await bounded_enqueue_rate(base, 100, n, 10_000), "msg/s")
        rate, last_alarm = await mixed_drain(base, n, 500)
        show("prio_drain_500", "mixed priorities, drain, batch 500", rate, "msg/s")
        show("prio_last_alarm_pct", "  ... share of the drain before the last alarm",
             100 * last_alarm, "%")
        latency, drained = await alarm_latency(base, n, 500)
        show("alarm_latency", f"one alarm behind {n} queued: latency", latency, "s")
        show("alarm_backlog_drain", "  ... while the whole backlog took", drained, "s")
        if PRIORITIES:
            print(f"  fetch query plan: {fetch_plan(base)}")
    return figures


def compare(args: argparse.Namespace) -> None:
    """Run baseline and this tree alternately, ``--rounds`` times, in fresh processes."""
    command = [__file__, "--messages", str(args.messages), "--json", "-"]
    if args.dir:
        command += ["--dir", args.dir]
    runs: dict[str, list[dict[str, float]]] = {"baseline": [], "new": []}
    pair = [("baseline", args.baseline_python), ("new", sys.executable)]
    for round_no in range(1, args.rounds + 1):
        # Who goes first swaps every round, so a drift (disk cache, another process)
        # does not always land on the same side.
        for label, python in pair if round_no % 2 else pair[::-1]:
            print(f"round {round_no}: {label} ({python})", flush=True)
            done = subprocess.run(
                [python, *command], check=True, capture_output=True, text=True
            )
            runs[label].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"\n{'figure':<22}{'baseline (min-max)':>26}{'new (min-max)':>26}{'new/old':>9}")
    for key in runs["new"][0]:
        old = [r[key] for r in runs["baseline"]]
        new = [r[key] for r in runs["new"]]
        ratio = statistics.median(new) / statistics.median(old)
        print(f"{key:<22}{min(old):>12,.3f} - {max(old):>11,.3f}"
              f"{min(new):>12,.3f} - {max(new):>11,.3f}{ratio:>9.2f}")


async def main(args: argparse.Namespace) -> None:
    figures = await measure(args)
    if args.json == "-":
        print(json.dumps(figures))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--dir", default=None, help="directory for the temporary databases")
    parser.add_argument("--json", default=None, help="'-': print the figures as JSON last")
    parser.add_argument("--baseline-python", default=None,
                        help="an interpreter importing the baseline gatehouse: compare")
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    if arguments.baseline_python:
        compare(arguments)
    else:
        anyio.run(main, arguments)
