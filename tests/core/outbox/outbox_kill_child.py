"""Child process for the kill -9 test: enqueue numbered messages and deliver them.

Run as ``python outbox_kill_child.py --db PATH --port PORT --count N --destinations a,b``.
For each destination it enqueues ``<dest>:<n>`` for n in 0..N-1 (minus the keys listed
in ``--skip``, a JSON file), many enqueues in flight at once, and prints
``E <dest>:<n>`` on stdout the moment that message's ``enqueue()`` returned, i.e. when
the outbox acknowledged it to its caller. With ``--alarm-every K`` every K-th message
(n % K == 0) is enqueued with priority 10, the others with 0. Meanwhile the outbox
delivers to the TCP line sink at ``--port``. Once everything is enqueued it prints
``ENQUEUED``; once every queue is drained it prints ``STATS <json>`` and exits. The
test may SIGKILL it at any point.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import anyio
from outbox_tcp_peer import TcpLineSender

from gatehouse.core.outbox import Backoff, BreakerPolicy, Outbox


async def run(args: argparse.Namespace, skip: set[str]) -> None:
    destinations = args.destinations.split(",")
    out = sys.stdout

    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    async with Outbox.open(args.db) as outbox:
        senders = []
        for destination in destinations:
            sender = TcpLineSender(args.port, timeout=args.ack_timeout)
            senders.append(sender)
            outbox.register_destination(
                destination,
                sender,
                max_messages=None,
                max_bytes=None,
                batch_size=args.batch_size,
                backoff=Backoff(initial=0.01, maximum=0.2),
                breaker=BreakerPolicy(failure_threshold=20, reset_timeout=0.2),
            )
        say("READY")

        async def enqueue_one(
            destination: str, key: str, priority: int, window: anyio.Semaphore
        ) -> None:
            try:
                await outbox.enqueue(destination, key.encode(), priority=priority)
            finally:
                window.release()
            say(f"E {key}")

        async def produce(destination: str) -> None:
            # Tasks are started in number order and enqueue() queues its row before its
            # first await, so the on-disk order per destination is the number order.
            window = anyio.Semaphore(args.window)
            async with anyio.create_task_group() as task_group:
                for n in range(args.count):
                    key = f"{destination}:{n}"
                    if key in skip:
                        continue
                    priority = 10 if args.alarm_every and n % args.alarm_every == 0 else 0
                    await window.acquire()
                    task_group.start_soon(enqueue_one, destination, key, priority, window)

        async with anyio.create_task_group() as task_group:
            for destination in destinations:
                task_group.start_soon(produce, destination)
        say("ENQUEUED")

        for destination in destinations:
            await outbox.wait_drained(destination)
        stats = {
            d: {k: v for k, v in asdict(outbox.stats(d)).items() if isinstance(v, int)}
            for d in destinations
        }
        for sender in senders:
            await sender.aclose()
    say("STATS " + json.dumps(stats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--destinations", default="a,b")
    parser.add_argument("--skip")
    parser.add_argument("--window", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--ack-timeout", type=float, default=60.0)
    parser.add_argument("--alarm-every", type=int, default=0)
    args = parser.parse_args()
    skip: set[str] = set()
    if args.skip:
        skip = set(json.loads(Path(args.skip).read_text()))
    anyio.run(run, args, skip)


if __name__ == "__main__":
    main()
