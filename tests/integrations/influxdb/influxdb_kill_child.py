"""Child process for the InfluxDB kill -9 test: a real Gatehouse host exporting states.

Run as ``python influxdb_kill_child.py CONFIG_DIR --count N [--rate R] [--drain]``. The
config dir's ``configuration.yaml`` holds the ``influxdb:`` entry (written by the test).
Once the entry is loaded the child prints ``READY`` and sets ``sensor.seq`` to ``0..N-1``
at about ``R`` per second; after every 100 states it waits for the exporter's barrier
(every point queued so far is on disk in the outbox) and prints ``E <n>`` for each of
them: those are the points that must reach InfluxDB whatever happens next. Then
``ENQUEUED``.

With ``--drain`` it sets nothing and only lets the outbox deliver what an earlier
(killed) run left on disk. Either way it prints ``STATS <json>`` once the destination
is empty and stops the host. The test may SIGKILL it at any point.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import anyio

from gatehouse.core import ConfigEntryState, Host
from gatehouse.core.testing import make_host, wait_until


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def produce(host: Host, count: int, rate: float) -> None:
    (entry,) = host.config_entries.entries("influxdb")
    exporter = entry.runtime_data.exporter
    started = time.monotonic()
    for n in range(count):
        host.states.set("sensor.seq", str(n), {"unit_of_measurement": "seq"})
        if n % 100 == 99:
            await exporter.barrier()
            say("\n".join(f"E {k}" for k in range(n - 99, n + 1)))
            ahead = started + (n + 1) / rate - time.monotonic() if rate else 0
            if ahead > 0:
                await anyio.sleep(ahead)
    say("ENQUEUED")


async def main(args: argparse.Namespace) -> None:
    host = make_host(Path(args.config_dir), stop_timeout=10)
    async with anyio.create_task_group() as group:
        group.start_soon(host.run)
        await wait_until(
            lambda: host.is_running and any(
                e.state is ConfigEntryState.LOADED for e in host.config_entries.entries("influxdb")
            ),
            timeout=30,
        )
        # The entry (and so the outbox destination name) must be on disk before
        # anything is acknowledged, or a kill would orphan the queue.
        await host.config_entries.flush()
        (entry,) = host.config_entries.entries("influxdb")
        say("READY")
        if not args.drain:
            await produce(host, args.count, args.rate)
        link = entry.runtime_data.outbox
        with anyio.fail_after(120):
            await link.outbox.wait_drained(link.destination)
        stats = {k: v for k, v in asdict(link.stats()).items() if isinstance(v, int)}
        say("STATS " + json.dumps(stats))
        host.request_stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config_dir")
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--drain", action="store_true")
    anyio.run(main, parser.parse_args())
