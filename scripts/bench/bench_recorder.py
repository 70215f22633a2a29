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
2. **A 24-hour history query**: one entity at 1 Hz (86,400 rows, times with a
   fraction of a second as ``time.time()`` gives them, attributes shared, one row in
   600 an attribute-only update) among 20 others, in a database on disk. Per
   documented shape of ``GET /api/history/period`` (default, ``minimal_response``,
   ``no_attributes``, ``significant_changes_only=0``, minimal + no attributes):
   in process, the path the view uses now (``queries.HistoryPages`` +
   ``resttext.rest_text``) against the named baseline, the previous commit's path
   (f3f7e44: ``states_during`` into a ``Found``, then its encoder, copied below),
   bodies compared byte for byte; beside them the bare SQLite SELECT of the same rows
   and the WebSocket's ``history/history_during_period`` per shape: now
   (``HistoryPages`` + ``wstext``, all in a worker thread) against the named baseline
   aeb7419 (``states_during`` + ``ws_history``, then the core's ``dumpb``, which ran
   on the loop: its share printed apart), bytes compared. Then over HTTP: a real host
   answers curl, per shape, with curl's own start-up and the loop's lateness beside
   it; and over a WebSocket: a client process sends the command, now and aeb7419's
   (a bench plugin command, ``_PreviousHistory``) in turns, and ``history/stream``
   until its stored part (an event) has arrived, with the host loop's longest
   lateness during each. CPU busy/steal and load are printed with each block
   (the box is shared).
3. **Bytes per million state changes**: 1,000,000 states of 1,000 sensors written in
   commit-sized batches through ``Database.write``; the file after a WAL checkpoint,
   divided by a million. Baseline: the same states with attributes stored per row (no
   de-duplication), estimated from the JSON bytes that would add.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from gatehouse.core import State, hookimpl  # noqa: E402
from gatehouse.core.http import WsCommand  # noqa: E402
from gatehouse.core.http.jsonutil import dumpb  # noqa: E402
from gatehouse.core.testing import make_host  # noqa: E402
from gatehouse.integrations.recorder import (  # noqa: E402
    history,
    queries,
    resttext,
    wscommands,
    wstext,
)
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
    """A day of ``sensor.day`` at 1 Hz beside 20 sensors at 1/min. Times carry a
    fraction of a second (a seeded jitter), as ``time.time()`` gives them in a real
    host: whole seconds would flatter the time formatting. One row in 600 is an
    attribute-only update (``last_changed`` earlier than ``last_updated``), which
    ``significant_changes_only=0`` includes and the default leaves out."""
    rng = random.Random(14)
    db = Database.open(path)
    start = 1_700_000_000.0
    batch: list[State] = []
    changed, state = start, ""
    for second in range(86_400):
        t = start + second + rng.random()
        attrs = _attrs(0)
        if second % 600 == 599:  # same state, new attributes
            attrs["note"] = f"checked {second}"
        else:
            changed, state = t, f"{20 + (second % 600) / 100:.2f}"
        batch.append(State("sensor.day", state, attrs, last_changed=changed, last_updated=t))
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


# The previous commit's REST encoder (f3f7e44, history.py), verbatim: the baseline of
# part 2 (it read every row into a ``Found`` first, then encoded it on the loop).
class _IsoCache:
    """``history.iso(ts)`` without a ``datetime`` per row, for times mostly in order: the text
    up to the minute is made by ``iso`` when the minute changes; the seconds and
    microseconds are formatted here, rounded as ``datetime.fromtimestamp`` rounds
    (the fraction times 1e6, half to even: Python's ``round``). The fraction is the
    same double as ``math.modf``'s: ``ts - minute_start`` and ``- second`` are exact
    (Sterbenz). Identical output to ``iso`` is proven in tests; anything unusual
    (negative, not finite, past year 9999) goes to ``iso``."""

    __slots__ = ("prefix", "start")

    def __init__(self) -> None:
        self.start = -1e300  # no minute yet
        self.prefix = ""

    def __call__(self, ts: float) -> str:
        offset = ts - self.start
        if 0.0 <= offset < 60.0:
            second = int(offset)
            micro = round((offset - second) * 1e6)
            if not micro:
                return f"{self.prefix}{second:02d}+00:00"
            if micro < 1_000_000:
                return f"{self.prefix}{second:02d}.{micro:06d}+00:00"
        return self._new_minute(ts)

    def _new_minute(self, ts: float) -> str:
        if not 0.0 <= ts < 253_402_300_799.0:  # also NaN
            return history.iso(ts)
        frac, whole_f = math.modf(ts)
        micro = round(frac * 1e6)
        whole = int(whole_f)
        if micro >= 1_000_000:
            micro -= 1_000_000
            whole += 1
        minute, second = divmod(whole, 60)
        self.start = minute * 60.0
        self.prefix = history.iso(self.start)[:17]
        if micro:
            return f"{self.prefix}{second:02d}.{micro:06d}+00:00"
        return f"{self.prefix}{second:02d}+00:00"


def _json_value(value: Any, cache: dict[Any, str]) -> str:
    text = cache.get(value)
    if text is None:
        text = encode_basestring_ascii(value) if type(value) is str else json.dumps(value)
        if len(cache) < 4096:
            cache[value] = text
    return text


def _previous_rest_json(found: queries.Found, *, minimal: bool, no_attributes: bool,
                      piece_rows: int = 1000) -> Iterator[str]:
    """``json.dumps(rest_history(...))`` in pieces, byte for byte the same text.

    WHY: a day at 1 Hz is 86,400 state dicts (attributes repeated in each, as HA's
    ``State.as_dict`` does); building and encoding them took ~300 ms. Here each
    attributes dict is encoded once and its text spliced into every row that shares
    it, the entity id and states are encoded once, and rows are formatted from a
    template. Pieces of ``piece_rows`` rows let the caller send while encoding."""
    attr_text: dict[Any, str] = {}
    states_text: dict[Any, str] = {}
    to_iso = _IsoCache()
    attributes = found.attributes
    yield "["
    for number, (entity_id, rows) in enumerate(found.states.items()):
        keep_attrs = entity_id.split(".", 1)[0] in queries.NEED_ATTRIBUTE_DOMAINS
        head = '{"entity_id": ' + encode_basestring_ascii(entity_id) + ', "state": '
        yield ", [" if number else "["
        texts: list[str] = []
        for index, (state, key, changed, updated) in enumerate(rows):
            state_text = states_text.get(state) if type(state) is str else None
            if state_text is None:
                state_text = _json_value(state, states_text)
            if minimal and index and not keep_attrs:
                texts.append(f'{{"state": {state_text}, '
                             f'"last_changed": "{to_iso(changed)}"}}')
            else:
                attrs: str | None = "{}" if no_attributes else attr_text.get(key)
                if attrs is None:
                    attrs = attr_text[key] = json.dumps(attributes.get(key, {}))
                updated_text = to_iso(updated)
                changed_text = updated_text if changed == updated else to_iso(changed)
                texts.append(f'{head}{state_text}, "attributes": {attrs}, "last_changed": '
                             f'"{changed_text}", "last_updated": "{updated_text}"}}')
            if len(texts) >= piece_rows:  # a piece; ", " first unless it starts the list
                yield (", " if index >= len(texts) else "") + ", ".join(texts)
                texts = []
        if texts:
            yield (", " if len(rows) > len(texts) else "") + ", ".join(texts)
        yield "]"
    yield "]"


def _flags(shape: dict[str, str]) -> dict[str, bool]:
    """The view's reading of a shape's query flags."""
    minimal = "minimal_response" in shape
    return {"significant_only": shape.get("significant_changes_only", "1") != "0" or minimal,
            "minimal": minimal, "no_attributes": "no_attributes" in shape}


def _previous(path: Path, start: float, end: float, flags: dict[str, bool]) -> bytes:
    """Baseline: the previous commit's REST path (``states_during`` reads every row into
    a ``Found``, then ``rest_history_json`` encodes it)."""
    found = queries.states_during(path, ["sensor.day"], start, end, cipher=None,
                                  significant_only=flags["significant_only"],
                                  no_attributes=flags["no_attributes"])
    return "".join(_previous_rest_json(found, minimal=flags["minimal"],
                                       no_attributes=flags["no_attributes"])).encode()


def _bare_select(path: Path, start: float, end: float) -> int:
    """Baseline: the bare SQLite SELECT of the same rows (no shaping, no encoding)."""
    conn = queries.connect_ro(path)
    try:
        return len(conn.execute(
            "SELECT s.state, s.attributes_id, s.last_changed_ts, s.last_updated_ts "
            "FROM states s JOIN states_meta m ON s.metadata_id = m.metadata_id "
            "WHERE m.entity_id = ? AND s.last_updated_ts >= ? AND s.last_updated_ts < ? "
            "ORDER BY s.last_updated_ts", ("sensor.day", start, end)).fetchall())
    finally:
        conn.close()


def _timed(fn: Any) -> tuple[float, Any]:
    began = time.perf_counter()
    result = fn()
    return (time.perf_counter() - began) * 1000, result


def _query_runs(path: Path, start: float, end: float, runs: int) -> dict[str, list[float]]:
    """In process, per shape: the previous path and the one the view uses now (bodies
    compared byte for byte), beside the bare SELECT and the WebSocket's shapes."""
    times: dict[str, list[float]] = {}
    for _ in range(runs):
        elapsed, count = _timed(lambda: _bare_select(path, start, end))
        assert count == 86_400, count
        times.setdefault("bare SELECT (baseline)", []).append(elapsed)
        for name, shape in SHAPES.items():
            flags = _flags(shape)
            elapsed, before = _timed(lambda f=flags: _previous(path, start, end, f))
            times.setdefault(f"{name}, previous", []).append(elapsed)
            elapsed, now = _timed(lambda f=flags: _now(path, start, end, f))
            times.setdefault(f"{name}, now", []).append(elapsed)
            assert now == before, name
            del before, now
        for name, flags in WS_SHAPES.items():
            elapsed, (before, encode_ms) = _timed(lambda f=flags: _ws_previous(
                path, start, end, f))
            times.setdefault(f"WS {name}, previous", []).append(elapsed)
            times.setdefault(f"WS {name}, its dumpb (loop)", []).append(encode_ms)
            elapsed, now = _timed(lambda f=flags: _ws_now(path, start, end, f))
            times.setdefault(f"WS {name}, now (thread)", []).append(elapsed)
            assert now == before, name
            del before, now
    return times


#: The WebSocket command's flags per shape (``history/history_during_period``).
WS_SHAPES: dict[str, dict[str, bool]] = {
    "default": {},
    "minimal_response": {"minimal_response": True},
    "no_attributes": {"no_attributes": True},
    "significant_changes_only=0": {"significant_changes_only": False},
    "minimal+no_attributes": {"minimal_response": True, "no_attributes": True},
}


def _ws_flags(shape: dict[str, bool]) -> tuple[bool, bool, bool]:
    """(minimal, no_attributes, significant_only) as the command derives them."""
    minimal = shape.get("minimal_response", False)
    return (minimal, shape.get("no_attributes", False),
            shape.get("significant_changes_only", True) or minimal)


def _ws_previous(path: Path, start: float, end: float, shape: dict[str, bool]
                 ) -> tuple[bytes, float]:
    """Baseline, the command before (aeb7419): ``states_during`` and
    ``history.ws_history`` (worker threads), then the core's ``dumpb`` of the dicts,
    which ran on the event loop: its ms are returned beside the bytes."""
    minimal, no_attributes, significant = _ws_flags(shape)
    found = queries.states_during(path, ["sensor.day"], start, end, cipher=None,
                                  significant_only=significant, no_attributes=no_attributes)
    shaped = history.ws_history(found, minimal=minimal, no_attributes=no_attributes)
    encode_ms, encoded = _timed(lambda: dumpb(shaped))
    return encoded, encode_ms


def _ws_now(path: Path, start: float, end: float, shape: dict[str, bool]) -> bytes:
    """The command now: ``HistoryPages`` + ``wstext.answer`` in a worker thread, its
    parts joined (by the core, with the frame, in a worker thread too)."""
    minimal, no_attributes, significant = _ws_flags(shape)
    pages = queries.HistoryPages(path, ["sensor.day"], start, end, cipher=None,
                                 significant_only=significant, no_attributes=no_attributes,
                                 minimal=minimal, encode=wstext.compact)
    return b"".join(wstext.answer(pages, minimal=minimal, no_attributes=no_attributes))


def _now(path: Path, start: float, end: float, flags: dict[str, bool]) -> bytes:
    """What the view does now, in process: ``HistoryPages`` read page by page,
    ``rest_text`` encodes each page (the view sends a page while reading the next)."""
    pages = queries.HistoryPages(path, ["sensor.day"], start, end, cipher=None,
                                 significant_only=flags["significant_only"],
                                 no_attributes=flags["no_attributes"],
                                 minimal=flags["minimal"])
    try:
        return b"".join(piece.encode() for piece in resttext.rest_text(
            pages, minimal=flags["minimal"], no_attributes=flags["no_attributes"]))
    finally:
        pages.close()


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


#: The documented shapes of ``GET /api/history/period``: the query flags of each.
SHAPES: dict[str, dict[str, str]] = {
    "default": {},
    "minimal_response": {"minimal_response": ""},
    "no_attributes": {"no_attributes": ""},
    "significant_changes_only=0": {"significant_changes_only": "0"},
    "minimal+no_attributes": {"minimal_response": "", "no_attributes": ""},
}


async def _http_runs(base: Path, day: Path, start: float, end: float, runs: int
                     ) -> dict[str, list[float]]:
    """The REST answer end to end, per shape: a host (web server + recorder on
    ``day``) answers ``GET /api/history/period`` to curl (a process of its own); the
    time from starting curl to its exit (the last byte read), and the loop's longest
    lateness (a 1 ms ticker) during each request; beside them, curl on an empty
    answer (its own start-up) and the ticker's lateness with the host idle (the
    shared box's noise). Shapes take turns within each run, so load drifts hit all."""
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
    out: dict[str, list[float]] = {"late": [], "idle_late": [], "curl_empty": []}
    async with host.running():
        server = host.data.get(HTTP_SERVER)
        assert server is not None
        auth = server.runtime.auth
        user = await auth.create_user("bench", "bench password", role="admin")
        token = (await auth.create_token(user, "bench"))[1]
        url = (f"http://127.0.0.1:{server.port}/api/history/period/"
               f"{history.iso(start)}")
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

        def query(shape: dict[str, str], entity_id: str = "sensor.day") -> str:
            params = {"filter_entity_id": entity_id, "end_time": history.iso(end), **shape}
            return url + "?" + "&".join(f"{k}={quote(v)}" for k, v in params.items())

        for _ in range(runs):
            _, idle_late, _ = await timed(None)
            out["idle_late"].append(idle_late)
            elapsed, _, output = await timed(query({}, "sensor.none"))
            assert output.split()[0] == "200", output
            out["curl_empty"].append(elapsed)
            for name, shape in SHAPES.items():
                elapsed, late, output = await timed(query(shape))
                code, size = output.split()
                assert code == "200" and int(size) > 2_000_000, output
                out.setdefault(name, []).append(elapsed)
                out.setdefault(f"{name} bytes", []).append(float(size))
                out["late"].append(late)
    return out


#: The WebSocket client, a process of its own (its decoding must not run on the host's
#: loop): for each command line read from stdin, the ms from sending it to the whole
#: answer frame received, and the frame's size.
_WS_CLIENT = """
import asyncio, json, sys, time
import aiohttp

async def main(url, token):
    async with aiohttp.ClientSession() as session, session.ws_connect(
            url, max_msg_size=0) as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        print("ready", flush=True)
        for number, line in enumerate(sys.stdin, 1):
            message = dict(json.loads(line), id=2 * number)
            began = time.perf_counter()
            await ws.send_json(message)
            frame = first = await ws.receive()
            if message["type"] == "history/stream":  # the stored part is an event
                frame = await ws.receive()
            elapsed = (time.perf_counter() - began) * 1000  # before decoding
            ok = json.loads(first.data)["success"] and (
                frame is first or json.loads(frame.data)["type"] == "event")
            if message["type"] == "history/stream":
                await ws.send_json({"id": 2 * number + 1, "type": "unsubscribe_events",
                                    "subscription": 2 * number})
                await ws.receive()
            print(json.dumps({"ms": elapsed, "bytes": len(frame.data), "ok": ok}), flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


class _PreviousHistory:
    """Baseline over the socket: ``history/history_during_period`` as it was at
    aeb7419 (rows and dicts in worker threads, the dicts returned, so the core encodes
    them on the loop), as a bench plugin command ``bench/previous_history``."""

    @hookimpl
    def gatehouse_ws_commands(self, host: Any) -> list[Any]:
        async def previous(permissions: Any, args: dict[str, Any]) -> Any:
            start, end = wscommands._times(args)
            runtime = next(iter(LOADED.runtimes(host).values()))
            minimal, no_attributes = args["minimal_response"], args["no_attributes"]
            found = await runtime.states_during(
                args["entity_ids"], start, end,
                significant_only=args["significant_changes_only"] or minimal,
                no_attributes=no_attributes)
            return await anyio.to_thread.run_sync(lambda: history.ws_history(
                found, minimal=minimal, no_attributes=no_attributes))

        return [WsCommand("bench/previous_history", previous, wscommands.HISTORY_SCHEMA)]


async def _ws_runs(base: Path, day: Path, start: float, end: float, runs: int
                   ) -> dict[str, list[float]]:
    """The WebSocket answer end to end, per shape, now and the baseline (aeb7419's
    command, ``_PreviousHistory``): a host (web server + recorder on ``day``) answers
    a client process; the client's ms from sending the command to the whole frame
    received, and the host loop's longest lateness (a 1 ms ticker) meanwhile. Now
    and previous alternate per shape, so load drifts hit both."""
    from anyio.streams.buffered import BufferedByteReceiveStream

    from gatehouse.core.http.server import HTTP_SERVER

    directory = base / "ws"
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
    host.plugins.register(_PreviousHistory(), "bench_previous_history")
    out: dict[str, list[float]] = {}
    async with host.running():
        server = host.data.get(HTTP_SERVER)
        assert server is not None
        auth = server.runtime.auth
        user = await auth.create_user("bench", "bench password", role="admin")
        token = (await auth.create_token(user, "bench"))[1]
        host.settle_gc()
        async with await anyio.open_process(
                [sys.executable, "-c", _WS_CLIENT,
                 f"ws://127.0.0.1:{server.port}/api/websocket", token]) as client:
            assert client.stdin is not None and client.stdout is not None
            lines = BufferedByteReceiveStream(client.stdout)
            assert await lines.receive_until(b"\n", 100) == b"ready"

            async def timed(command: dict[str, Any]) -> tuple[dict[str, Any], float]:
                done = anyio.Event()
                late = [0.0]

                async def ticker() -> None:
                    while not done.is_set():
                        began = time.perf_counter()
                        await anyio.sleep(0.001)
                        late[0] = max(late[0], time.perf_counter() - began - 0.001)

                async with anyio.create_task_group() as tg:
                    tg.start_soon(ticker)
                    assert client.stdin is not None
                    await client.stdin.send(json.dumps(command).encode() + b"\n")
                    answer = json.loads(await lines.receive_until(b"\n", 10_000))
                    done.set()
                assert answer["ok"], answer
                return answer, late[0] * 1000

            for _ in range(runs):
                for name, shape in WS_SHAPES.items():
                    for kind, command in (("previous", "bench/previous_history"),
                                          ("now", "history/history_during_period"),
                                          ("history/stream now", "history/stream")):
                        answer, late = await timed({
                            "type": command, "start_time": history.iso(start),
                            "end_time": history.iso(end), "entity_ids": ["sensor.day"],
                            **shape})
                        out.setdefault(f"{name}, {kind}", []).append(answer["ms"])
                        out.setdefault(f"{name}, {kind} late", []).append(late)
                        out.setdefault(f"{name} bytes", []).append(answer["bytes"])
            await client.stdin.aclose()
    return out


async def _part_query(base: Path, args: argparse.Namespace) -> None:
    print("2. 24-hour history of one entity at 1 Hz (86,400 rows)")
    cpu = _cpu_times()
    day = base / "day.db"
    if day.exists():
        day.unlink()
    start, end = _fill_day(day)
    print(f"   ({_cpu_share(cpu)} while filling)")
    cpu = _cpu_times()
    times = _query_runs(day, start, end, args.runs * 3)
    for name, values in times.items():
        print(f"   {name + ':':<42}{_range(values, 'ms')}")
    print(f"   ({_cpu_share(cpu)})")
    cpu = _cpu_times()
    http = await _http_runs(base, day, start, end, args.runs * 3)
    print("   over HTTP (curl started to curl done: request, query, encoding, body read):")
    for name in SHAPES:
        size = statistics.median(http[f"{name} bytes"]) / 1e6
        print(f"   {name + ':':<42}{_range(http[name], 'ms')} ({size:.1f} MB)")
    print(f"   {'curl, empty answer:':<42}{_range(http['curl_empty'], 'ms')} "
          "(curl's own start-up)")
    print(f"   {'loop late, max:':<42}{_range(http['late'], 'ms')} (a 1 ms ticker's "
          "longest lateness during each request)")
    print(f"   {'idle loop late, max:':<42}{_range(http['idle_late'], 'ms')} (the same for "
          "200 ms idle: the shared box's noise)")
    print(f"   ({_cpu_share(cpu)})")
    cpu = _cpu_times()
    ws = await _ws_runs(base, day, start, end, args.runs * 3)
    print("   over the WebSocket (a client process: command sent to whole answer frame "
          "received; beside it the host loop's longest lateness, 1 ms ticker):")
    for name in WS_SHAPES:
        size = statistics.median(ws[f"{name} bytes"]) / 1e6
        for kind in ("previous", "now", "history/stream now"):
            label = f"{name}, {kind}" + (" (aeb7419)" if kind == "previous" else "")
            print(f"   {label + ':':<42}{_range(ws[f'{name}, {kind}'], 'ms')}, loop late "
                  f"max {_range(ws[f'{name}, {kind} late'], 'ms')} ({size:.1f} MB)")
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
