"""Child process for the aws_iot kill -9 test: a real Gatehouse host streaming telemetry.

Run as ``python aws_kill_child.py CONFIG_DIR --entry ENTRY_JSON --count N [--rate R]``
or ``python aws_kill_child.py CONFIG_DIR --drain``.

First run: the host starts, adds the aws_iot entry described by ``ENTRY_JSON`` (a file
with the entry data; the entry is stored, so the next run of the host loads it again),
prints ``READY`` and sets ``sensor.seq`` to ``0..N-1`` (paced at about ``R`` per
second). The telemetry listener queues each state into the host outbox without waiting
(``enqueue_nowait``), so "acknowledged" needs a barrier: after each group of states the
child awaits a durable ``enqueue`` on a probe destination of the same outbox. Commits
are made in submission order (one group-commit queue), so when the probe is on disk so
is every telemetry row queued before it; only then does the child print ``E <n>`` for
each of those states. Then ``ENQUEUED``.

``--drain`` sets nothing and only lets the outbox deliver what a killed run left on
disk. Either way the child prints ``STATS <json>`` once the entry's destination is
empty and stops the host. The test may SIGKILL it at any point.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel

from gatehouse.core import ConfigEntry, ConfigEntryState, Host, HostState
from gatehouse.core.helpers import DeliveryOutcome, OutboxLink, OutboxMessage
from gatehouse.core.testing import add_entry, make_host, wait_until

DOMAIN = "aws_iot"
ENTITY = "sensor.seq"
ALARM = "binary_sensor.fire"
PROBE = "aws_kill_probe"
#: States between two barriers (one probe commit each).
GROUP = 25


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class HeldSender:
    """The probe destination's sender: never sends (the probe only marks commits)."""

    async def send(self, batch: Sequence[OutboxMessage]) -> Sequence[DeliveryOutcome]:
        return [DeliveryOutcome.ACKED] * len(batch)


def outbox_link(entry: ConfigEntry[Any]) -> OutboxLink:
    """The entry's ``OutboxLink``, wherever the runtime keeps it."""
    runtime = entry.runtime_data
    named = getattr(runtime, "outbox", None)
    if isinstance(named, OutboxLink):
        return named
    for value in getattr(runtime, "__dict__", {}).values():
        if isinstance(value, OutboxLink):
            return value
    raise LookupError(f"no OutboxLink on {type(runtime).__name__}")


async def stream(
    host: Host, link: OutboxLink, count: int, rate: float, acknowledged: Callable[[int], None],
    *, alarm: bool = False,
) -> None:
    """Set ``sensor.seq`` to ``0..count-1`` at about ``rate`` per second (0: at once),
    calling ``acknowledged(n)`` once state ``n``'s telemetry is on disk. With ``alarm``,
    then set ``binary_sensor.fire`` on (``acknowledged(-1)`` once on disk)."""
    outbox = link.outbox
    unregister = outbox.register_destination(PROBE, HeldSender())
    started = time.monotonic()
    try:
        done = 0
        for n in range(count):
            host.states.set(ENTITY, n)
            if n % GROUP == GROUP - 1 or n == count - 1:
                # A listener may queue at the end of the loop turn: let that turn end.
                await anyio.lowlevel.checkpoint()
                await outbox.enqueue(PROBE, str(n).encode())
                for m in range(done, n + 1):
                    acknowledged(m)
                done = n + 1
                if rate:
                    ahead = started + (n + 1) / rate - time.monotonic()
                    if ahead > 0:
                        await anyio.sleep(ahead)
        if alarm:
            host.states.set(ALARM, "on")
            await anyio.lowlevel.checkpoint()
            await outbox.enqueue(PROBE, b"alarm")
            acknowledged(-1)
    finally:
        unregister()


async def main(args: argparse.Namespace) -> None:
    host = make_host(Path(args.config_dir), stop_timeout=10)
    async with anyio.create_task_group() as group:
        group.start_soon(host.run)
        # The entry is added once the host runs, so its set-up is this script's own.
        await wait_until(lambda: host.state is HostState.RUNNING, timeout=30)
        if not args.drain:
            text = await anyio.Path(args.entry).read_text(encoding="utf-8")
            data = json.loads(text)
            await add_entry(host, DOMAIN, data, title="AWS IoT kill test")
        await wait_until(
            lambda: any(
                e.state is ConfigEntryState.LOADED for e in host.config_entries.entries(DOMAIN)
            ),
            timeout=30,
        )
        # The entry (and so its outbox destination's name) must be on disk before
        # anything is acknowledged, or a kill would orphan the queue.
        await host.config_entries.flush()
        (entry,) = host.config_entries.entries(DOMAIN)
        link = outbox_link(entry)
        say("READY")
        if not args.drain:
            await stream(
                host, link, args.count, args.rate,
                lambda n: say(f"E {n}" if n >= 0 else "ALARM"), alarm=args.alarm,
            )
            say("ENQUEUED")
        with anyio.fail_after(60):
            await link.outbox.wait_drained(link.destination)
        stats = {k: v for k, v in asdict(link.stats()).items() if isinstance(v, int)}
        say("STATS " + json.dumps(stats))
        host.request_stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config_dir")
    parser.add_argument("--entry", default="")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--drain", action="store_true")
    parser.add_argument("--alarm", action="store_true", help=f"then set {ALARM} on")
    anyio.run(main, parser.parse_args())
