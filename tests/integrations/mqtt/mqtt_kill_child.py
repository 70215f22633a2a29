"""Child process for the MQTT kill -9 test: a real Gatehouse host publishing numbers.

Run as ``python mqtt_kill_child.py CONFIG_DIR --count N [--rate R] [--drain]``. The
config dir's ``configuration.yaml`` holds the ``mqtt:`` entry (written by the test).
The host runs with ``Host.run()``; once its mqtt entry is loaded the child prints
``READY`` and publishes ``0..N-1`` at QoS 1 to ``proof/seq`` through the public API
(``host.data[MQTT_API].publish``: the durable outbox), many publishes in flight, paced
at about ``R`` per second, and prints ``E <n>`` the moment publish ``n`` returned, i.e.
once the outbox acknowledged it. Then ``ENQUEUED``.

With ``--drain`` it publishes nothing and only lets the outbox deliver what an earlier
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

from gatehouse.core import Host
from gatehouse.core.testing import make_host, wait_until
from gatehouse.integrations.mqtt.api import MQTT_API

TOPIC = "proof/seq"


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def produce(host: Host, count: int, rate: float, window: int) -> None:
    api = host.data[MQTT_API]
    slots = anyio.Semaphore(window)

    async def one(n: int) -> None:
        try:
            await api.publish(TOPIC, str(n), qos=1)
        finally:
            slots.release()
        say(f"E {n}")

    started = time.monotonic()
    # Tasks start in number order and the outbox queues a row before its first await,
    # so the on-disk (and on-the-wire) order is the number order.
    async with anyio.create_task_group() as group:
        for n in range(count):
            await slots.acquire()
            group.start_soon(one, n)
            if rate and n % 100 == 99:
                ahead = started + (n + 1) / rate - time.monotonic()
                if ahead > 0:
                    await anyio.sleep(ahead)
    say("ENQUEUED")


async def main(args: argparse.Namespace) -> None:
    host = make_host(Path(args.config_dir), stop_timeout=10)
    async with anyio.create_task_group() as group:
        group.start_soon(host.run)
        await wait_until(
            lambda: host.is_running and MQTT_API in host.data
            and host.data[MQTT_API].is_connected(),
            timeout=30,
        )
        # The entry (and so the outbox destination name) must be on disk before
        # anything is acknowledged, or a kill would orphan the queue.
        await host.config_entries.flush()
        (entry,) = host.config_entries.entries("mqtt")
        say("READY")
        if not args.drain:
            await produce(host, args.count, args.rate, args.window)
        outbox = entry.runtime_data.outbox  # the entry's OutboxLink (destination mqtt.<id>)
        with anyio.fail_after(120):
            await outbox.outbox.wait_drained(outbox.destination)
        stats = {k: v for k, v in asdict(outbox.stats()).items() if isinstance(v, int)}
        say("STATS " + json.dumps(stats))
        host.request_stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config_dir")
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--window", type=int, default=500)
    parser.add_argument("--drain", action="store_true")
    anyio.run(main, parser.parse_args())
