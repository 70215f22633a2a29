#!/usr/bin/env python
"""Benchmark the recorder: write rate with the loop's added latency, a day's history
query, bytes on disk per million state changes.

Plain script, prints figures (ranges over ``--runs`` runs, with CPU busy/steal share
from /proc/stat beside each part, since the box is shared)::

    .venv/bin/python scripts/bench/bench_recorder.py [--rate 20000] [--seconds 5] [--runs 3]

1. **Write rate and loop latency.** A real host (``make_host``, the recorder from
   ``configuration.yaml``, commit_interval 1 s; its heap frozen after start as
   ``Host.run`` does) sets ``--rate`` states/s over 1,000
   sensors (unit, friendly name, state_class: measurement; new attributes dict each
   time, as entities build them), in 2 ms slices on the loop. A ticker task sleeps
   1 ms and records how late it wakes. Baseline: the same host and producer without
   the recorder. Figures: achieved rate, rows committed/s, the queue's peak, the time
   to commit the backlog after the producer stops (keeping up: under two commit
   intervals), and the ticker's p50/p99 lateness with and without; the *added* p99 is
   the difference.
2. **A 24-hour history query**: one entity at 1 Hz (86,400 rows, attributes shared)
   among 20 others, in a database on disk; ``queries.states_during`` (SQL and rows) and
   the REST JSON shaping (``history.rest_history``) and the WebSocket's compressed
   one, timed separately, each run on a fresh read connection. The REST answer as
   sent now (``history.rest_history_json``, attributes encoded once per id and
   spliced) against the baseline it replaced (``rest_history`` + ``json.dumps``,
   what ``web.json_response`` did); both bodies are compared byte for byte.
3. **Bytes per million state changes**: 1,000,000 states of 1,000 sensors written in
   commit-sized batches through ``Database.write``; the file after a WAL checkpoint,
   divided by a million. Baseline: the same states with attributes stored per row (no
   de-duplication), estimated from the JSON bytes that would add.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from gatehouse.core import State  # noqa: E402
from gatehouse.core.testing import make_host  # noqa: E402
from gatehouse.integrations.recorder import history, queries  # noqa: E402
from gatehouse.integrations.recorder.database import Database, dumps  # noqa: E402
from gatehouse.integrations.recorder.services import LOADED  # noqa: E402

ENTITIES = 1000
SLICE = 0.002


def _cpu_times() -> list[int]:
    with open("/proc/stat", encoding="ascii") as f:
        return [int(v) for v in f.readline().split()[1:]]


def _cpu_share(before: list[int]) -> str:
    spent = [b - a for a, b in zip(before, _cpu_times(), strict=False)]
    total = sum(spent) or 1
    idle = spent[3] + spent[4]
    steal = spent[7] if len(spent) > 7 else 0
    return (f"CPU busy {100 * (total - idle) / total:.0f}% of all cores, steal "
            f"{100 * steal / total:.1f}%, load {os.getloadavg()[0]:.2f}")


def _range(values: list[float], unit: str, digits: int = 1) -> str:
    return (f"{min(values):,.{digits}f}..{max(values):,.{digits}f} {unit} "
            f"(median {statistics.median(values):,.{digits}f})")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _attrs(index: int) -> dict[str, Any]:
    return {"unit_of_measurement": "W", "friendly_name": f"Power {index}",
            "state_class": "measurement", "device_class": "power"}


def _write_config(directory: Path, text: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "configuration.yaml").write_text(text, encoding="utf-8")


async def _loop_run(directory: Path, recorder: bool, rate: int, seconds: float
                    ) -> dict[str, float]:
    config = textwrap.dedent("""\
        gatehouse:
          control_socket: false
        """) + ("recorder:\n  commit_interval: 1\n  auto_purge: false\n" if recorder else "")
    _write_config(directory, config)
    host = make_host(directory)
    lags: list[float] = []
    out: dict[str, float] = {}
    pauses: list[float] = []
    began_gc = [0.0]

    def gc_timer(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began_gc[0] = time.perf_counter()
        else:
            pauses.append(time.perf_counter() - began_gc[0])

    async with host.running():
        # As ``Host.run`` does after start-up: what set-up made is frozen, out of the
        # collector's reach (a bench host would otherwise rescan every module).
        host.settle_gc()
        gc.callbacks.append(gc_timer)
        runtime = next(iter(LOADED.runtimes(host).values()), None) if recorder else None
        done = anyio.Event()
        peak = 0

        async def ticker() -> None:
            nonlocal peak
            while not done.is_set():
                began = time.perf_counter()
                await anyio.sleep(0.001)
                lags.append(time.perf_counter() - began - 0.001)
                if runtime is not None:
                    peak = max(peak, runtime.writer.pending)

        async def producer() -> None:
            per_slice = max(1, round(rate * SLICE))
            began = time.perf_counter()
            n = 0
            states = host.states
            while time.perf_counter() - began < seconds:
                for _ in range(per_slice):
                    index = n % ENTITIES
                    states.set(f"sensor.power_{index}", str(n % 977), _attrs(index))
                    n += 1
                target = began + (n / per_slice) * SLICE
                await anyio.sleep(max(0.0, target - time.perf_counter()))
            out["produced_per_s"] = n / (time.perf_counter() - began)
            done.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker)
            tg.start_soon(producer)
        if runtime is not None:
            written_before = runtime.writer.written
            stop = time.perf_counter()
            await runtime.flush()
            out["drain_s"] = time.perf_counter() - stop
            out["peak_queue"] = float(peak)
            out["written"] = float(runtime.writer.written)
            out["dropped"] = float(runtime.writer.dropped)
            del written_before
    gc.callbacks.remove(gc_timer)
    gc.unfreeze()
    out["gc_max_ms"] = max(pauses, default=0.0) * 1000
    out["p50_ms"] = _pct(lags, 0.50) * 1000
    out["p99_ms"] = _pct(lags, 0.99) * 1000
    out["max_ms"] = max(lags) * 1000
    return out


def _fill_day(path: Path) -> tuple[float, float]:
    db = Database.open(path)
    start = 1_700_000_000.0
    batch: list[State] = []
    for second in range(86_400):
        t = start + second
        batch.append(State("sensor.day", f"{20 + (second % 600) / 100:.2f}", _attrs(0),
                           last_changed=t, last_updated=t))
        if second % 60 == 0:
            for other in range(20):
                batch.append(State(f"sensor.other_{other}", str(second), _attrs(other),
                                   last_changed=t, last_updated=t))
        if len(batch) >= 20_000:
            db.write(batch, now=t)
            batch = []
    db.write(batch, now=start + 86_400)
    db.close()
    return start, start + 86_400


def _query_runs(path: Path, start: float, end: float, runs: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"query": [], "rest": [], "ws": [], "minimal": [],
                                     "encode": [], "fast": []}
    for _ in range(runs):
        began = time.perf_counter()
        found = queries.states_during(path, ["sensor.day"], start, end, cipher=None,
                                      significant_only=False, no_attributes=False)
        times["query"].append((time.perf_counter() - began) * 1000)
        assert len(found.states["sensor.day"]) >= 86_400, len(found.states["sensor.day"])
        began = time.perf_counter()
        shaped = history.rest_history(found, minimal=False, no_attributes=False)
        times["rest"].append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        before = json.dumps(shaped).encode()  # what aiohttp's json_response did with it
        times["encode"].append((time.perf_counter() - began) * 1000)
        del shaped
        began = time.perf_counter()
        body = "".join(history.rest_history_json(found, minimal=False,
                                                 no_attributes=False)).encode()
        times["fast"].append((time.perf_counter() - began) * 1000)
        assert body == before
        del body, before
        began = time.perf_counter()
        history.ws_history(found, minimal=False, no_attributes=False)
        times["ws"].append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        minimal = queries.states_during(path, ["sensor.day"], start, end, cipher=None,
                                        significant_only=True, no_attributes=True)
        history.ws_history(minimal, minimal=True, no_attributes=True)
        times["minimal"].append((time.perf_counter() - began) * 1000)
    return times


def _bytes_per_million(path: Path, count: int) -> tuple[float, float, float]:
    db = Database.open(path)
    batch: list[State] = []
    t = 1_700_000_000.0
    attr_bytes = 0
    began = time.perf_counter()
    for n in range(count):
        index = n % ENTITIES
        attrs = _attrs(index)
        if n < ENTITIES:
            attr_bytes = attr_bytes + len(dumps(attrs))
        batch.append(State(f"sensor.power_{index}", str(n % 977), attrs, last_changed=t,
                           last_updated=t))
        t += 0.001
        if len(batch) >= 20_000:
            db.write(batch, now=t)
            batch = []
    db.write(batch, now=t)
    elapsed = time.perf_counter() - began
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    size = path.stat().st_size
    per_row_attrs = attr_bytes / ENTITIES
    return size * 1_000_000 / count, per_row_attrs, count / elapsed


async def _part_loop(base: Path, args: argparse.Namespace) -> None:
    print(f"1. {args.rate:,} state changes/s for {args.seconds} s, ticker every 1 ms")
    cpu = _cpu_times()
    results: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for run in range(args.runs):
        for recorder in (False, True):
            results[recorder].append(await _loop_run(
                base / f"loop_{run}_{int(recorder)}", recorder, args.rate, args.seconds))
    without, with_ = results[False], results[True]
    print(f"   produced without:    {_range([r['produced_per_s'] for r in without], '/s', 0)}")
    print(f"   produced with:       {_range([r['produced_per_s'] for r in with_], '/s', 0)}")
    print(f"   committed:           {_range([r['written'] / args.seconds for r in with_], '/s', 0)}"
          f" (dropped {sum(r['dropped'] for r in with_):.0f})")
    print(f"   queue peak:          {_range([r['peak_queue'] for r in with_], 'rows', 0)}")
    print(f"   backlog committed in {_range([r['drain_s'] * 1000 for r in with_], 'ms', 0)}"
          " after the producer stopped (commit interval 1000 ms)")
    print(f"   ticker p50 without:  {_range([r['p50_ms'] for r in without], 'ms', 2)}")
    print(f"   ticker p50 with:     {_range([r['p50_ms'] for r in with_], 'ms', 2)}")
    print(f"   ticker p99 without:  {_range([r['p99_ms'] for r in without], 'ms', 2)}")
    print(f"   ticker p99 with:     {_range([r['p99_ms'] for r in with_], 'ms', 2)}")
    added = [w['p99_ms'] - wo['p99_ms'] for w, wo in zip(with_, without, strict=True)]
    print(f"   added p99:           {_range(added, 'ms', 2)}")
    print(f"   ticker max with:     {_range([r['max_ms'] for r in with_], 'ms', 1)}")
    print(f"   longest GC without:  {_range([r['gc_max_ms'] for r in without], 'ms', 1)}")
    print(f"   longest GC with:     {_range([r['gc_max_ms'] for r in with_], 'ms', 1)}")
    print(f"   ({_cpu_share(cpu)})\n")


async def _http_runs(base: Path, day: Path, start: float, end: float, runs: int
                     ) -> dict[str, list[float]]:
    """The REST answer end to end: a host (web server + recorder on ``day``) answers
    ``GET /api/history/period`` to curl (a process of its own); the time from
    starting curl to its exit (the last byte read), and the loop's longest lateness
    (a 1 ms ticker) during each request; beside them, curl on an empty answer (its
    own start-up) and the ticker's lateness with the host idle (the shared box's
    noise)."""
    from urllib.parse import quote

    from gatehouse.core.http.server import HTTP_SERVER

    directory = base / "http"
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(day, directory / day.name)
    _write_config(directory, textwrap.dedent(f"""\
        gatehouse:
          control_socket: false
        http:
          server_host: 127.0.0.1
          server_port: 0
        recorder:
          db_file: {day.name}
          auto_purge: false
        """))
    host = make_host(directory)
    out: dict[str, list[float]] = {"http": [], "late": [], "idle_late": [],
                                   "curl_empty": []}
    async with host.running():
        server = host.data.get(HTTP_SERVER)
        assert server is not None
        auth = server.runtime.auth
        user = await auth.create_user("bench", "bench password", role="admin")
        token = (await auth.create_token(user, "bench"))[1]
        url = (f"http://127.0.0.1:{server.port}/api/history/period/"
               f"{history.iso(start)}")
        params = {"filter_entity_id": "sensor.day", "end_time": history.iso(end)}
        query = "&".join(f"{k}={quote(v)}" for k, v in params.items())
        host.settle_gc()  # as Host.run does after start-up

        async def timed(what: str | None) -> tuple[float, float, str]:
            """(ms, the loop's longest lateness in ms, curl's output) of one request
            (``what``: a URL) or of 200 ms idle (None: the box's own noise)."""
            done = anyio.Event()
            late = [0.0]

            async def ticker() -> None:
                while not done.is_set():
                    began = time.perf_counter()
                    await anyio.sleep(0.001)
                    late[0] = max(late[0], time.perf_counter() - began - 0.001)

            output = ""
            async with anyio.create_task_group() as tg:
                tg.start_soon(ticker)
                began = time.perf_counter()
                if what is None:
                    await anyio.sleep(0.2)
                else:
                    output = (await anyio.run_process(
                        ["curl", "-sS", "-o", "/dev/null", "-w",
                         "%{http_code} %{size_download}", "-H",
                         f"Authorization: Bearer {token}", what])).stdout.decode()
                elapsed = (time.perf_counter() - began) * 1000
                done.set()
            return elapsed, late[0] * 1000, output

        empty = f"{url}?filter_entity_id=sensor.none&end_time={quote(history.iso(end))}"
        for _ in range(runs):
            _, idle_late, _ = await timed(None)
            out["idle_late"].append(idle_late)
            elapsed, _, output = await timed(empty)
            assert output.split()[0] == "200", output
            out["curl_empty"].append(elapsed)
            elapsed, late, output = await timed(f"{url}?{query}")
            code, size = output.split()
            assert code == "200" and int(size) > 20_000_000, output
            out["http"].append(elapsed)
            out["late"].append(late)
    return out


async def _part_query(base: Path, args: argparse.Namespace) -> None:
    print("2. 24-hour history of one entity at 1 Hz (86,400 rows)")
    cpu = _cpu_times()
    day = base / "day.db"
    if day.exists():
        day.unlink()
    start, end = _fill_day(day)
    times = _query_runs(day, start, end, args.runs * 3)
    print(f"   SQL + rows:          {_range(times['query'], 'ms')}")
    print(f"   + REST JSON shape:   {_range(times['rest'], 'ms')}")
    print(f"   + WS compressed:     {_range(times['ws'], 'ms')}")
    total = [q + w for q, w in zip(times["query"], times["ws"], strict=True)]
    print(f"   query + WS total:    {_range(total, 'ms')}")
    rest = [q + r + e for q, r, e in zip(times["query"], times["rest"], times["encode"],
                                         strict=True)]
    print(f"   REST total, before:  {_range(rest, 'ms')} (query, shape, json.dumps)")
    print(f"   REST encode, now:    {_range(times['fast'], 'ms')} (rest_history_json, "
          "same bytes)")
    fast = [q + f for q, f in zip(times["query"], times["fast"], strict=True)]
    print(f"   REST total, now:     {_range(fast, 'ms')} (query + rest_history_json; "
          f"{statistics.median(rest) / statistics.median(fast):.1f}x faster; the view "
          "encodes piece by piece while it sends)")
    print(f"   minimal, no attrs:   {_range(times['minimal'], 'ms')} (query + shape)")
    http = await _http_runs(base, day, start, end, args.runs * 3)
    print(f"   REST over HTTP:      {_range(http['http'], 'ms')} (curl started to curl done: "
          "request, query, encoding, 23 MB read)")
    print(f"   curl, empty answer:  {_range(http['curl_empty'], 'ms')} (curl's own start-up)")
    print(f"   loop late, max:      {_range(http['late'], 'ms')} (a 1 ms ticker's longest "
          "lateness during each request)")
    print(f"   idle loop late, max: {_range(http['idle_late'], 'ms')} (the same for 200 ms "
          "idle: the shared box's noise)")
    print(f"   ({_cpu_share(cpu)})\n")


def _part_size(base: Path, args: argparse.Namespace) -> None:
    print(f"3. bytes per million state changes ({args.million:,} written)")
    cpu = _cpu_times()
    sizes, rates = [], []
    per_row = 0.0
    for run in range(args.runs):
        path = base / f"size_{run}.db"
        if path.exists():
            path.unlink()
        size, per_row, rate = _bytes_per_million(path, args.million)
        sizes.append(size / 1e6)
        rates.append(rate)
        path.unlink()
    print(f"   file:                {_range(sizes, 'MB per million', 1)}")
    print(f"   attributes once:     saves ~{per_row * 1e6 / 1e6:,.0f} MB per million vs "
          f"storing the {per_row:.0f}-byte attributes JSON in every row (HA before 2022.4)")
    print(f"   Database.write:      {_range(rates, 'rows/s', 0)} (writer thread alone)")
    print(f"   ({_cpu_share(cpu)})")


async def main_async(args: argparse.Namespace) -> None:
    base = Path(args.dir or tempfile.mkdtemp(prefix="bench_recorder_"))
    print(f"recorder benchmark in {base} (Python {sys.version.split()[0]}, "
          f"SQLite {sqlite3.sqlite_version})\n")
    if not args.only_query:
        await _part_loop(base, args)
    await _part_query(base, args)
    if not args.only_query:
        print()
        _part_size(base, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--million", type=int, default=1_000_000)
    parser.add_argument("--only-query", action="store_true",
                        help="run part 2 (the 24-hour history query) only")
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    anyio.run(main_async, args)


if __name__ == "__main__":
    main()
