#!/usr/bin/env python
"""Benchmark schema_guard's proxy mode through two real Mosquitto listeners.

Run by ``bench_schema_guard.py --mode proxy`` (or directly)::

    .venv/bin/python scripts/bench/bench_schema_guard_proxy.py [--n 50000] [--runs 3]
        [--rates 2500,5000,10000] [--switch-interval S] [--profile DIR]

Two mosquitto processes on loopback (ingress, egress; errors-only logging, no
persistence, unlimited queues so nothing is dropped by the broker). A publisher process
sends telemetry documents (~300 bytes, 10 % invalid; ``BENCH_INVALID_EVERY=n``: every
n-th, 0 none) at QoS 1 to ``plant/<k>/telemetry`` on the ingress broker, each stamped
with ``time.monotonic_ns()`` (system-wide on Linux, so comparable across processes); a
receiver process subscribed to the egress counts what arrives and computes publish →
receive latency. Between them, in turn:

* **bare paho forwarder** (baseline): a plain paho client in its own process,
  subscribed QoS 1 with paho's automatic acknowledgement, republishing everything at
  the same QoS (no validation, no quarantine, no ack discipline; Nagle off and no
  paho in-flight limit, as the proxy);
* **schema_guard proxy**: a real Gatehouse host with a schema_guard entry whose
  ``proxy:`` block does the same, validating every message (jsonschema-rs), quarantining
  the invalid ones (FULL-synced group commit) and acknowledging each inbound message
  only after the egress PUBACK or the commit.

Both run in the steady state of a real process: start-up objects frozen
(``gc.freeze()``, as ``Host.run()`` does); the proxy's collector pauses are counted
(``gc.callbacks``) and printed. Figures: **throughput** (the publisher as fast as its
1,000-message window allows; valid messages received on the egress per second, first
to last) and **latency** at each ``--rates`` pace (p50/p99/max of publish → receive),
each with the hypervisor CPU steal over the run (/proc/stat) and the load average: the
machine is shared, so quote ranges over runs and the ratio to the bare forwarder of the
same run. ``--profile DIR`` runs the proxy's threads under cProfile and prints where
the time went. Targets from the issue: ≥ 20,000 msg/s, p99 < 5 ms at 5,000 msg/s.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["device", "site", "ts", "temp", "readings"],
    "properties": {
        "device": {"type": "string", "pattern": "^[a-z0-9-]{1,32}$"},
        "site": {"type": "string", "maxLength": 32},
        "ts": {"type": "integer", "minimum": 0},
        "temp": {"type": "number", "minimum": -50, "maximum": 150},
        "humidity": {"type": "number", "minimum": 0, "maximum": 100},
        "battery": {"type": "integer", "minimum": 0, "maximum": 100},
        "status": {"enum": ["ok", "warn", "fault"]},
        "fw": {"type": "string"},
        "seq": {"type": "integer", "minimum": 0},
        "readings": {"type": "array", "maxItems": 16, "items": {"$ref": "#/$defs/r"}},
    },
    "$defs": {"r": {"type": "object", "required": ["k", "v"],
                    "properties": {"k": {"type": "string"}, "v": {"type": "number"}}}},
}


def document(seq: int, stamp: int, valid: bool) -> bytes:
    doc = {
        "device": "pump-0042" if valid else "PUMP 42!", "site": "north-plant", "ts": stamp,
        "temp": 21.73 if valid else 999, "humidity": 48.2, "battery": 87, "status": "ok",
        "fw": "2.4.1", "seq": seq,
        "readings": [{"k": "pressure", "v": 2.31}, {"k": "flow", "v": 14.2},
                     {"k": "rpm", "v": 1480}],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


# -------------------------------------------------------------------------- brokers


class Broker:
    def __init__(self, workdir: Path, port: int) -> None:
        self.port = port
        conf = workdir / f"mosquitto-{port}.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "log_dest stderr\nlog_type error\nlog_type warning\n"
            "max_queued_messages 0\nmax_inflight_messages 0\nset_tcp_nodelay true\n"
            + ("user root\n" if os.geteuid() == 0 else "")
        )
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen([binary, "-c", str(conf)],
                                        stderr=subprocess.DEVNULL)
        from gatehouse.core.testing.ports import wait_for_port
        wait_for_port("127.0.0.1", port, 10)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


# ------------------------------------------------------------------ child processes


def _nodelay(client: Any, userdata: Any, sock: Any) -> None:
    import socket
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _paho(client_id: str, **kwargs: Any) -> Any:
    """A paho client with Nagle off (as the proxy's own), so the baseline differs from
    the proxy only in what the proxy adds."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, **kwargs)
    client.on_socket_open = _nodelay
    return client


def _varlen(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: bytes) -> bytes:
    return len(text).to_bytes(2, "big") + text


def _raw_connect(port: int, client_id: str) -> Any:
    """A raw MQTT 3.1.1 connection (clean session): the load generator and the receiver
    are raw sockets so that they, not paho, are never what limits the figures."""
    import socket
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = _string(b"MQTT") + bytes([4, 0x02, 0, 60]) + _string(client_id.encode())
    sock.sendall(b"\x10" + _varlen(len(body)) + body)
    if sock.recv(4) != b"\x20\x02\x00\x00":
        raise SystemExit("CONNACK refused")
    return sock


def _invalid(n: int) -> bool:
    """Every tenth message is invalid (``BENCH_INVALID_EVERY``: every n-th, 0: none)."""
    every = int(os.environ.get("BENCH_INVALID_EVERY", "10"))
    return every > 0 and n % every == every - 1


def _invalid_share() -> str:
    every = int(os.environ.get("BENCH_INVALID_EVERY", "10"))
    return f"{100 / every:g} %" if every > 0 else "none"


def publisher(port: int, count: int, rate: float, started: Any) -> None:
    """QoS 1 PUBLISH packets, 10 % invalid, at most 1,000 unacknowledged; ``rate`` 0:
    as fast as that window allows, else paced message by message."""
    sock = _raw_connect(port, "bench-pub")
    acked = 0
    cond = threading.Condition()

    def read_acks() -> None:
        nonlocal acked
        got = 0
        while got < count * 4:
            data = sock.recv(65536)
            if not data:
                return
            got += len(data)
            with cond:
                acked = got // 4  # every PUBACK is 4 bytes
                cond.notify()

    reader = threading.Thread(target=read_acks, daemon=True)
    reader.start()
    topics = [_string(f"plant/{k}/telemetry".encode()) for k in range(64)]
    started.wait()
    t0 = time.monotonic()
    chunk: list[bytes] = []
    for n in range(count):
        pid = (n % 65535) + 1
        body = topics[n % 64] + pid.to_bytes(2, "big") + document(
            n, time.monotonic_ns(), not _invalid(n))
        chunk.append(b"\x32" + _varlen(len(body)) + body)
        if rate:
            sock.sendall(chunk[0])
            chunk.clear()
            ahead = t0 + (n + 1) / rate - time.monotonic()
            if ahead > 0.0002:
                time.sleep(ahead)
        elif len(chunk) == 50 or n == count - 1:
            with cond:
                while n + 1 - acked > 1000:
                    cond.wait(60)
            sock.sendall(b"".join(chunk))
            chunk.clear()
    with cond:
        cond.wait_for(lambda: acked >= count, timeout=120)
    sock.sendall(b"\xe0\x00")
    sock.close()


def receiver(port: int, expect: int, ready: Any, out: Any) -> None:
    """Subscribes ``#`` at QoS 0 (no acknowledgements to send) and parses PUBLISH
    packets itself; the latency of each is taken when its bytes were read."""
    sock = _raw_connect(port, "bench-recv")
    body = (1).to_bytes(2, "big") + _string(b"#") + b"\x00"
    sock.sendall(b"\x82" + _varlen(len(body)) + body)
    sock.settimeout(120)
    latencies: list[int] = []
    first = last = 0.0
    buf = b""
    subscribed = False
    while len(latencies) < expect:
        try:
            data = sock.recv(262144)
        except TimeoutError:
            break
        if not data:
            break
        now = time.monotonic_ns()
        buf += data
        pos = 0
        size = len(buf)
        while pos + 2 <= size:
            kind = buf[pos]
            length = 0
            mult = 1
            i = pos + 1
            while True:
                if i >= size:
                    length = -1
                    break
                byte = buf[i]
                length += (byte & 0x7F) * mult
                mult *= 128
                i += 1
                if not byte & 0x80:
                    break
            if length < 0 or i + length > size:
                break
            if kind >> 4 == 3:
                packet = buf[i:i + length]
                t = packet.index(b'"ts":') + 5
                latencies.append(now - int(packet[t:packet.index(b",", t)]))
                if len(latencies) == 1:
                    first = time.monotonic()
            elif kind == 0x90 and not subscribed:
                subscribed = True
                ready.set()
            pos = i + length
        buf = buf[pos:]
        if not subscribed and b"\x90\x03" in data:
            subscribed = True
            ready.set()
    last = time.monotonic()
    sock.close()
    finished = len(latencies) >= expect
    latencies.sort()
    n = len(latencies)
    out.put({
        "received": n, "complete": finished,
        "rate": n / (last - first) if finished and last > first else 0.0,
        "p50": latencies[n // 2] / 1e6 if n else 0.0,
        "p99": latencies[int(n * 0.99)] / 1e6 if n else 0.0,
        "max": latencies[-1] / 1e6 if n else 0.0,
    })


def _switch_interval() -> None:
    """``--switch-interval``: both forwarders run with the same GIL switch interval."""
    if os.environ.get("BENCH_SWITCH_INTERVAL"):
        sys.setswitchinterval(float(os.environ["BENCH_SWITCH_INTERVAL"]))


class GcWatch:
    """Counts the collector's pauses (``gc.callbacks``): how many, the longest, the
    total, per generation. A steady-state process has frozen its start-up objects
    (``gc.freeze()``, as ``Host.run()`` does), so a full collection only scans what was
    made since."""

    def __init__(self) -> None:
        import gc
        self.started = 0
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter_ns()
        else:
            self.pauses[info["generation"]].append((time.perf_counter_ns() - self.started) / 1e6)

    def reset(self) -> None:
        for pauses in self.pauses.values():
            pauses.clear()

    def summary(self) -> dict[str, Any]:
        every = [p for pauses in self.pauses.values() for p in pauses]
        return {"gc_count": len(every), "gc_full": len(self.pauses[2]),
                "gc_max_ms": max(every, default=0.0), "gc_total_ms": sum(every)}


def _profile_threads(directory: str) -> None:
    """``--profile``: every paho network thread (and the proxy's one) runs under its own
    cProfile, written to ``directory`` when the thread ends (cProfile sees one thread)."""
    import cProfile

    import paho.mqtt.client as paho

    original = paho.Client._thread_main

    def profiled(self: Any) -> None:
        profile = cProfile.Profile()
        try:
            profile.runcall(original, self)
        finally:
            name = self._client_id.decode()
            profile.dump_stats(str(Path(directory) / f"{name}.pstats"))

    paho.Client._thread_main = profiled  # type: ignore[method-assign]

    from gatehouse.integrations.schema_guard.netloop import NetworkLoop
    run = NetworkLoop._run

    def profiled_run(self: Any) -> None:
        profile = cProfile.Profile()
        try:
            profile.runcall(run, self)
        finally:
            profile.dump_stats(str(Path(directory) / "network.pstats"))

    NetworkLoop._run = profiled_run  # type: ignore[method-assign]


def bare_forwarder(in_port: int, out_port: int, ready: Any) -> None:
    """The baseline: subscribe, republish with the same QoS, nothing else."""
    import gc
    _switch_interval()
    egress = _paho("bench-bare-out")
    # No paho in-flight limit, as the proxy's egress (paho scans every outgoing message
    # per PUBACK when one is set); the ingress broker's queue is the only bound.
    egress.max_inflight_messages_set(0)
    egress.max_queued_messages_set(0)
    egress.connect("127.0.0.1", out_port)
    egress.loop_start()
    ingress = _paho("bench-bare-in")

    def on_message(c: Any, u: Any, msg: Any) -> None:
        egress.publish("clean/" + msg.topic[6:], msg.payload, msg.qos, msg.retain)

    ingress.on_message = on_message
    ingress.on_subscribe = lambda *a: ready.set()
    ingress.connect("127.0.0.1", in_port)
    ingress.subscribe("plant/#", 1)
    gc.collect()
    gc.freeze()  # the same steady state as the proxy's host
    ingress.loop_forever()


# --------------------------------------------------------------------------- proxy


def proxy_host(config_dir: str, in_port: int, out_port: int, ready: Any, stop: Any,
               out: Any) -> None:
    """A Gatehouse host with schema_guard's proxy, in its own process (like the bare
    forwarder: both get a process of their own)."""
    import anyio

    from gatehouse.core.testing import make_host, wait_until
    from gatehouse.integrations.schema_guard.services import LOADED

    _switch_interval()
    directory = Path(config_dir)
    (directory / "schemas").mkdir(parents=True, exist_ok=True)
    (directory / "schemas" / "telemetry.v1.json").write_text(json.dumps(SCHEMA))
    (directory / "configuration.yaml").write_text(
        "gatehouse:\n  control_socket: false\n"
        "schema_guard:\n  name: Bench\n  stats_interval: 1\n"
        "  rules:\n    - {topic: 'plant/+/telemetry', name: telemetry, schema: telemetry}\n"
        "  proxy:\n"
        f"    ingress: {{broker: 127.0.0.1, port: {in_port}, client_id: bench-guard-in,"
        " qos: 1, topics: ['plant/#'], session_expiry: 60}\n"
        f"    egress: {{broker: 127.0.0.1, port: {out_port}, client_id: bench-guard-out}}\n"
        "    rewrite: [{from: 'plant/', to: 'clean/'}]\n"
    )

    profile_dir = os.environ.get("BENCH_PROFILE")
    if profile_dir:
        _profile_threads(profile_dir)

    async def main() -> None:
        import gc
        async with make_host(directory).running() as host:
            (runtime,) = LOADED.runtimes(host).values()
            proxy = runtime.proxy
            await wait_until(lambda: proxy is not None and proxy.subscribed, timeout=20)
            # Steady state, as Host.run() leaves a real process after start-up.
            gc.collect()
            gc.freeze()
            watch = GcWatch()
            profile: Any = None
            if profile_dir:
                import cProfile
                profile = cProfile.Profile()
                profile.enable()
            ready.set()
            await anyio.to_thread.run_sync(stop.wait)
            if profile is not None:
                profile.disable()
                profile.dump_stats(str(Path(profile_dir) / "loop.pstats"))
            await runtime.writer.flush()
            out.put({**proxy.diagnostics(), "quarantine": runtime.store.totals.count,
                     **watch.summary()})

    anyio.run(main)


class CpuSteal:
    """Hypervisor CPU steal over a run, from /proc/stat: on a shared machine it moves
    the tail latencies, so every figure is printed with it."""

    def __init__(self) -> None:
        self.start = self._read()

    @staticmethod
    def _read() -> tuple[int, int]:
        try:
            first = Path("/proc/stat").read_text().split("\n")[0]
            fields = [int(f) for f in first.split()[1:]]
        except (OSError, ValueError):
            return 0, 0
        return (fields[7] if len(fields) > 7 else 0), sum(fields)

    def percent(self) -> float:
        steal, total = self._read()
        return 100.0 * (steal - self.start[0]) / max(1, total - self.start[1])


def one_run(kind: str, count: int, rate: float, workdir: Path, ports: list[int]) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    in_b = Broker(workdir, ports[0])
    try:
        out_b = Broker(workdir, ports[1])
    except BaseException:
        in_b.stop()
        raise
    results: Any = ctx.Queue()
    ready, started, stop = ctx.Event(), ctx.Event(), ctx.Event()
    extra: dict[str, Any] = {}
    try:
        if kind == "bare":
            middle = ctx.Process(target=bare_forwarder, args=(in_b.port, out_b.port, ready))
        else:
            config_dir = tempfile.mkdtemp(dir=workdir)
            middle = ctx.Process(target=proxy_host, args=(config_dir, in_b.port, out_b.port,
                                                          ready, stop, results))
        middle.start()
        if not ready.wait(60):
            raise SystemExit(f"{kind}: the forwarder did not come up")
        recv_ready = ctx.Event()
        expect = sum(1 for n in range(count) if not _invalid(n))
        recv = ctx.Process(target=receiver, args=(out_b.port, expect, recv_ready, results))
        recv.start()
        recv_ready.wait(20)
        pub = ctx.Process(target=publisher, args=(in_b.port, count, rate, started))
        pub.start()
        steal = CpuSteal()
        load = os.getloadavg()[0]
        started.set()
        pub.join(600)
        recv.join(600)
        got = results.get(timeout=10)
        got["steal"] = steal.percent()
        got["load"] = max(load, os.getloadavg()[0])
        if kind == "proxy":
            stop.set()
            extra = results.get(timeout=30)
            middle.join(30)
        else:
            middle.kill()
            middle.join(10)
        return {**got, **({"proxy": extra} if extra else {})}
    finally:
        in_b.stop()
        out_b.stop()


def _fmt(row: dict[str, Any]) -> str:
    return (f"p50 {row['p50']:6.2f}  p99 {row['p99']:6.2f}  max {row['max']:7.2f} ms"
            f"  steal {row['steal']:4.1f} %  load {row['load']:.1f}"
            f"{'' if row['complete'] else '  INCOMPLETE'}")


def _proxy_note(p: dict[str, Any] | None) -> str:
    if not p:
        return ""
    return (f"  [forwarded {p['forwarded']:,}, quarantined {p['quarantined']:,}, in quarantine "
            f"{p['quarantine']:,}, unacked {p['unacknowledged']}, gc {p['gc_count']} "
            f"(full {p['gc_full']}, max {p['gc_max_ms']:.2f} ms)]")


def run(n: int, runs: int, rates: list[float], workdir: Path | None = None,
        profile: Path | None = None) -> None:
    from gatehouse.core.testing import free_ports

    switch = os.environ.get("BENCH_SWITCH_INTERVAL") or sys.getswitchinterval()
    print(f"proxy mode: two mosquitto on loopback, {os.cpu_count()} cpus, GIL switch "
          f"interval {float(switch) * 1000:g} ms, {n:,} messages per throughput run "
          f"({_invalid_share()} invalid, QoS 1), {runs} runs; latency paced at "
          f"{', '.join(f'{r:,.0f}' for r in rates)} msg/s (4 s each); steal = hypervisor "
          "CPU steal over the run (/proc/stat)", flush=True)
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
        os.environ["BENCH_PROFILE"] = str(profile)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        thr: dict[str, list[dict[str, Any]]] = {"bare": [], "proxy": []}
        lat: dict[tuple[str, float], list[dict[str, Any]]] = {}
        for i in range(runs):
            for kind in ("bare", "proxy"):
                row = one_run(kind, n, 0.0, Path(tmp), free_ports(2))
                thr[kind].append(row)
                print(f"  run {i + 1} {kind:<5} throughput {row['rate']:>8,.0f} msg/s  "
                      f"steal {row['steal']:4.1f} %  load {row['load']:.1f}"
                      f"{'' if row['complete'] else '  INCOMPLETE'}"
                      f"{_proxy_note(row.get('proxy'))}", flush=True)
                if profile is not None and kind == "proxy":
                    _print_profile(profile)
                for rate in rates:
                    row = one_run(kind, int(rate * 4), rate, Path(tmp), free_ports(2))
                    lat.setdefault((kind, rate), []).append(row)
                    print(f"  run {i + 1} {kind:<5} at {rate:>6,.0f}/s  {_fmt(row)}"
                          f"{_proxy_note(row.get('proxy'))}", flush=True)
                    if profile is not None and kind == "proxy":
                        _print_profile(profile)
            bare, guard = thr["bare"][-1]["rate"], thr["proxy"][-1]["rate"]
            print(f"  run {i + 1} proxy / bare throughput: {guard / max(bare, 1):.2f}",
                  flush=True)
        print("summary (ranges over the runs):")
        for kind, label in (("bare", "bare paho forwarder"), ("proxy", "schema_guard proxy")):
            seen = [r["rate"] for r in thr[kind]]
            print(f"  {label:<20} throughput {min(seen):>8,.0f} to {max(seen):>8,.0f} msg/s")
            for rate in rates:
                rows = lat[(kind, rate)]

                def span(key: str, rows: list[dict[str, Any]] = rows) -> str:
                    return f"{min(r[key] for r in rows):.2f}-{max(r[key] for r in rows):.2f}"

                print(f"  {label:<20} at {rate:>6,.0f}/s: p50 {span('p50')}  p99 {span('p99')}"
                      f"  max {span('max')} ms  (steal {span('steal')} %)")
        ratios = [g["rate"] / max(b["rate"], 1)
                  for b, g in zip(thr["bare"], thr["proxy"], strict=True)]
        print(f"  proxy / bare throughput, same run: {min(ratios):.2f} to {max(ratios):.2f}")


def _print_profile(directory: Path) -> None:
    """The functions that took the most time in each profiled thread."""
    import pstats
    for path in sorted(directory.glob("*.pstats")):
        stats: Any = pstats.Stats(str(path))
        total = stats.total_tt or 1.0
        print(f"  --- profile {path.stem}: {total:.2f} s in functions; top 14 by own time")
        rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:14]
        for (file, line, func), (_, calls, tottime, _, _) in rows:
            print(f"    {tottime:7.3f} s {100 * tottime / total:5.1f} %  {calls:>8} calls  "
                  f"{Path(file).name}:{line} {func}")
        path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000, help="messages per throughput run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rates", default="2500,5000,10000",
                        help="latency runs' paces, msg/s, comma-separated")
    parser.add_argument("--profile", default=None,
                        help="directory: cProfile the proxy's threads (throughput runs)")
    parser.add_argument("--dir", default=None)
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="sys.setswitchinterval for both forwarders (default 5 ms)")
    args = parser.parse_args()
    if args.switch_interval:
        os.environ["BENCH_SWITCH_INTERVAL"] = str(args.switch_interval)
    run(args.n, args.runs, [float(r) for r in args.rates.split(",")],
        Path(args.dir) if args.dir else None, Path(args.profile) if args.profile else None)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
