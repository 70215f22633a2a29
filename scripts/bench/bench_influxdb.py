#!/usr/bin/env python
"""Benchmark the InfluxDB integration end to end against a real InfluxDB 1.x.

Plain script, prints figures::

    .venv/bin/python scripts/bench/bench_influxdb.py [--points 200000] [--seconds 10]

1. **Throughput**: N state changes (over 1,000 entities, set as fast as the loop
   allows) → points in InfluxDB, measured from the first state until InfluxDB has
   acknowledged (204) the last point; the row count is then checked with a query.
   Target: 50,000 points/s.
2. **CPU per point on our side**: the process's CPU time (all threads: SQLite's
   included) during run 1, per point; and the encoding alone (state → line, then the
   batch joined and gzipped as the writer does) against a bare baseline: the same
   points formatted with a naive f-string join (no escaping, no checks).
3. **Latency** at 1,000 points/s with the default ``flush_interval`` (1 s): the time
   from a state change until a query sees it (InfluxDB polled every 10 ms for the
   newest value). Target: p99 below flush_interval + 100 ms.

``influxd`` (Debian's ``influxdb`` package) runs on free loopback ports with its data in
a temporary directory, started with the tests' ``influxtools.InfluxServer``. Compare
ratios within one run: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import gzip
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integrations" / "influxdb"))

from influxtools import InfluxServer  # noqa: E402

from gatehouse.core import ConfigEntry, Host, State  # noqa: E402
from gatehouse.core.testing import add_entry, make_host  # noqa: E402
from gatehouse.integrations.influxdb.config import ENTRY_SCHEMA  # noqa: E402
from gatehouse.integrations.influxdb.lineprotocol import Counts  # noqa: E402
from gatehouse.integrations.influxdb.point import PointMaker  # noqa: E402

ENTITIES = 1000


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def add_influx(host: Host, server: InfluxServer, db: str, **extra: Any) -> ConfigEntry[Any]:
    server.create_database(db)
    data = {"name": db, "host": "127.0.0.1", "port": server.port, "database": db,
            "outbox": {"max_messages": 2_000_000}, **extra}
    entry = await add_entry(host, "influxdb", data, title=db, unique_id=db)
    assert entry.runtime_data is not None, entry.reason
    return entry


async def throughput(server: InfluxServer, config_dir: Path, points: int) -> dict[str, float]:
    host = make_host(config_dir)
    async with host.running():
        entry = await add_influx(host, server, "bench", batch_size=5000, flush_interval=0.05)
        sender = entry.runtime_data.sender
        ids = [f"sensor.bench_{i}" for i in range(ENTITIES)]
        attributes = {"unit_of_measurement": "W", "friendly_name": "Bench meter"}
        cpu0, started = cpu(), time.perf_counter()
        for n in range(points):
            host.states.set(ids[n % ENTITIES], str(n), attributes)
            if n % 1000 == 999:
                await anyio.lowlevel.checkpoint()  # let the outbox and the writer run
        produced = time.perf_counter() - started
        while sender.points_written < points:  # noqa: ASYNC110 - polling is the measurement
            await anyio.sleep(0.005)
        elapsed = time.perf_counter() - started
        used = cpu() - cpu0
        rows = await server.count("bench", "W")
        assert rows == points, f"{rows} rows for {points} points"
        return {"rate": points / elapsed, "produced": points / produced,
                "cpu_us": used / points * 1e6, "requests": sender.requests}


def encoding(points: int) -> dict[str, float]:
    maker = PointMaker(None, ENTRY_SCHEMA({}), Counts())
    base = time.time()
    attributes = {"unit_of_measurement": "W", "friendly_name": "Bench meter"}
    states = [State(f"sensor.bench_{n % ENTITIES}", str(n), attributes, last_updated=base + n)
              for n in range(points)]
    t0 = time.process_time()
    lines = [maker.line(s) for s in states]
    body = "\n".join(lines).encode()  # type: ignore[arg-type]
    gzip.compress(body, compresslevel=1, mtime=0)
    ours = time.process_time() - t0

    t0 = time.process_time()
    naive = []
    for s in states:
        d, _, o = s.entity_id.partition(".")
        unit = s.attributes["unit_of_measurement"]
        naive.append(f'{unit},domain={d},entity_id={o} value={float(s.state)},'
                     f'friendly_name_str="{s.attributes["friendly_name"]}" '
                     f"{round(s.last_updated * 1e6) * 1000}")
    "\n".join(naive).encode()
    baseline = time.process_time() - t0
    assert naive[7] == lines[7], (naive[7], lines[7])
    return {"ours_us": ours / points * 1e6, "naive_us": baseline / points * 1e6}


async def latency(server: InfluxServer, config_dir: Path, seconds: float) -> dict[str, float]:
    host = make_host(config_dir)
    async with host.running():
        entry = await add_influx(host, server, "latency")  # default flush_interval: 1 s
        flush = float(entry.runtime_data.sender.flush_interval)
        set_at: list[float] = []
        seen_at: dict[int, float] = {}
        total = int(seconds * 1000)
        done = anyio.Event()

        async def poll() -> None:
            newest = -1
            while newest < total - 1:
                rows = await server.rows("latency", 'SELECT max("value") FROM "lat"')
                now = time.perf_counter()
                if rows:
                    top = int(rows[0]["max"])
                    for n in range(newest + 1, top + 1):
                        seen_at[n] = now
                    newest = max(newest, top)
                await anyio.sleep(0.01)
            done.set()

        async with anyio.create_task_group() as group:
            group.start_soon(poll)
            started = time.perf_counter()
            for n in range(total):
                due = started + n / 1000
                wait = due - time.perf_counter()
                if wait > 0:
                    await anyio.sleep(wait)
                set_at.append(time.perf_counter())
                host.states.set("sensor.lat", str(n), {"unit_of_measurement": "lat"})
            with anyio.fail_after(30):
                await done.wait()
        delays = sorted(seen_at[n] - set_at[n] for n in range(total))
        return {"p50": delays[len(delays) // 2] * 1000,
                "p99": delays[int(len(delays) * 0.99)] * 1000,
                "max": delays[-1] * 1000, "flush_ms": flush * 1000}


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-influxdb-") as tmp:
        root = Path(tmp)
        server = InfluxServer(root / "influxd")
        server.start()
        try:
            print(f"influxdb benchmark: {args.points} points, influxd on :{server.port}")
            for run in range(1, args.runs + 1):
                config = root / f"config{run}"
                config.mkdir()
                (config / "configuration.yaml").write_text("# bench\n")
                server.query_sync('DROP DATABASE "bench"', method="POST")
                server.query_sync('DROP DATABASE "latency"', method="POST")
                t = await throughput(server, config, args.points)
                e = encoding(min(args.points, 100_000))
                (config / ".storage").mkdir(exist_ok=True)
                lat = await latency(server, config, args.seconds)
                print(
                    f"run {run}: end to end {t['rate']:,.0f} points/s "
                    f"(states set at {t['produced']:,.0f}/s, {t['requests']:.0f} requests); "
                    f"process CPU {t['cpu_us']:.1f} us/point\n"
                    f"        encoding + batching {e['ours_us']:.2f} us/point vs naive "
                    f"f-string {e['naive_us']:.2f} us/point "
                    f"({e['ours_us'] / e['naive_us']:.1f}x)\n"
                    f"        latency at 1,000 points/s (flush {lat['flush_ms']:.0f} ms): "
                    f"p50 {lat['p50']:.0f} ms, p99 {lat['p99']:.0f} ms, max {lat['max']:.0f} ms"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=1)
    anyio.run(main, parser.parse_args())
