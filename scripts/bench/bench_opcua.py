"""OPC UA benchmark: data changes/s reaching entity states, and server-to-state latency.

Run: .venv/bin/python scripts/bench/bench_opcua.py [--items 1000] [--rate 10]
     [--publishing-interval 0.05] [--seconds 10]

The simulator (scripts/simulators/opcua_sim.py) runs in its own process, as a real
server would, and rewrites ``--items`` Double variables ``--rate`` times a second, each
with the write time as source timestamp. A Gatehouse host in this process subscribes
to all of them through the opcua integration (one sensor entity each) and measures, on
``state_changed``, how many changes arrive per second and how long after the server's
write each one reached the state machine. Both processes share the machine's clock.

Latency includes the publishing interval by design (the server batches changes per
interval); the sampling interval is 0 (report every write).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from gatehouse.core import EVENT_STATE_CHANGED, ConfigEntry, Event, Host
from gatehouse.core.helpers import Backoff
from gatehouse.integrations.opcua.config import ENTRY_SCHEMA
from gatehouse.integrations.opcua.entity import OpcuaEntity
from gatehouse.integrations.simulator.opcua_server import SIM_NAMESPACE, bench_var_name

ROOT = Path(__file__).resolve().parents[2]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000, help="monitored items")
    parser.add_argument("--rate", type=float, default=10.0, help="changes per item per second")
    parser.add_argument("--publishing-interval", type=float, default=0.05, help="seconds")
    parser.add_argument("--seconds", type=float, default=10.0, help="measurement window")
    parser.add_argument("--queue-size", type=int, default=1, help="per monitored item")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_simulator(port: int, items: int, rate: float) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts/simulators/opcua_sim.py"), "--port", str(port),
         "--extra-vars", str(items), "--rate", str(rate), "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the simulator did not start within 60 s")


class Recorder:
    """Counts state changes of the bench entities and their latency after the write."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.measuring = False
        self.latencies: list[float] = []
        self.values: list[float] = []

    def __call__(self, event: Event[Any]) -> None:
        if not self.measuring:
            return
        now = time.time()
        entity = self.host.entities.get(event.data["entity_id"])
        if not isinstance(entity, OpcuaEntity):
            return
        reading = entity.last_reading
        if reading is None or reading.source_timestamp is None:
            return
        self.latencies.append(now - reading.source_timestamp.timestamp())
        self.values.append(float(reading.value))


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


async def run(args: argparse.Namespace, port: int, config_dir: Path) -> None:
    (config_dir / "configuration.yaml").write_text("# bench\n", encoding="utf-8")
    host = Host(config_dir, stop_timeout=10)
    host.config_entries.retry_policy = Backoff(initial=0.5, maximum=2, jitter=0)
    host.plugins.add_package("opcua", "gatehouse.integrations.opcua")
    nodes = [
        {"node": f"nsu={SIM_NAMESPACE};s={bench_var_name(i)}", "platform": "sensor",
         "sampling_interval": 0, "queue_size": args.queue_size}
        for i in range(args.items)
    ]
    data = ENTRY_SCHEMA({"name": "Bench", "endpoint": f"opc.tcp://127.0.0.1:{port}/",
                         "publishing_interval": args.publishing_interval, "nodes": nodes})
    async with host.running():
        recorder = Recorder(host)
        host.bus.listen(EVENT_STATE_CHANGED, recorder)
        started = time.perf_counter()
        entry: ConfigEntry[Any] = ConfigEntry(domain="opcua", title="Bench", data=data,
                                              unique_id="bench")
        await host.config_entries.add(entry)
        print(f"entry {entry.state} with {len(host.entities)} entities "
              f"in {time.perf_counter() - started:.2f} s")
        await anyio.sleep(args.warmup)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        recorder.measuring = True
        await anyio.sleep(args.seconds)
        recorder.measuring = False
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        sessions = entry.runtime_data.sessions

    latencies = sorted(recorder.latencies)
    if not latencies:
        raise SystemExit("no data changes arrived")
    server_ticks = max(recorder.values) - min(recorder.values) + 1
    expected = server_ticks * args.items
    print(f"items {args.items} at {args.rate:g} Hz, publishing interval "
          f"{args.publishing_interval * 1000:.0f} ms, queue size {args.queue_size}, "
          f"{wall:.1f} s measured")
    print(f"server rewrote every item {server_ticks:.0f} times "
          f"({server_ticks / wall:.1f} Hz achieved by the simulator process)")
    print(f"data changes reaching states: {len(latencies)} = {len(latencies) / wall:,.0f}/s "
          f"({100 * len(latencies) / expected:.1f} % of the changes the server made)")
    print("latency server write -> state_changed: "
          f"p50 {1000 * statistics.median(latencies):.1f} ms, "
          f"p90 {1000 * percentile(latencies, 0.90):.1f} ms, "
          f"p99 {1000 * percentile(latencies, 0.99):.1f} ms, "
          f"max {1000 * latencies[-1]:.1f} ms")
    print(f"sessions opened: {sessions} (more than 1 means a reconnect, e.g. an overflow)")
    print(f"host process CPU: {100 * cpu / wall:.0f} % of one core ({os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}); {1e6 * cpu / len(latencies):.0f} us per "
          "data change (asyncua decoding, entity, state machine, bus)")


def main() -> None:
    args = parse_args()
    port = free_port()
    sim = start_simulator(port, args.items, args.rate)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            anyio.run(run, args, port, Path(tmp))
    finally:
        sim.terminate()
        sim.wait(10)


if __name__ == "__main__":
    main()
