"""Modbus polling benchmark: what read planning saves, measured in one run.

Run: .venv/bin/python scripts/bench/bench_modbus.py [--slaves 10] [--seconds 10]
     [--interval 1.0]

Set-up: the Modbus simulator (scripts/simulators/modbus_sim.py) runs as a separate
process, so the CPU figures below are the client's alone. Every slave has the
simulator's EXTRA block: 100 registers holding 40 values of mixed types (int16..float64,
strings). A Gatehouse host polls all slaves over one TCP connection at ``--interval``,
first with read planning (the default), then with ``coalesce: false`` (one request per
point), for ``--seconds`` each. Printed per phase:

* requests per cycle (all slaves; target with planning: <= 2 per slave, 20 for 10);
* cycle time: from the tick until the last slave of that tick has its answers, mean
  and max (all slaves share the line, so this is the time the line is busy);
* CPU of this process (``time.process_time``) as % of one core and ms per cycle;
* errors (must be 0) and the number of cycles seen.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from gatehouse.core import Host
from gatehouse.integrations.simulator.modbus_server import EXTRA_START, extra_points

ROOT = Path(__file__).resolve().parents[2]
SIMULATOR = ROOT / "scripts" / "simulators" / "modbus_sim.py"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slaves", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--interval", type=float, default=1.0, help="scan interval (s)")
    return parser.parse_args()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hub_yaml(name: str, port: int, slaves: int, interval: float, coalesce: bool) -> str:
    lines = [
        f"  - name: {name}",
        "    host: 127.0.0.1",
        f"    port: {port}",
        f"    scan_interval: {interval}",
        "    timeout: 2",
        f"    coalesce: {str(coalesce).lower()}",
        "    diagnostics: false",
        "    sensors:",
    ]
    for slave in range(1, slaves + 1):
        for point in extra_points(slave):
            lines += [
                f"      - name: s{slave} {point.name}",
                f"        slave: {slave}",
                f"        address: {EXTRA_START + point.address}",
                "        input_type: input",
                f"        data_type: {point.data_type}",
            ]
            if point.data_type == "string":
                lines.append(f"        count: {point.count}")
    return "\n".join(lines)


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    requests: dict[int, list[int]] = field(default_factory=dict)
    spans: list[tuple[float, float]] = field(default_factory=list)  # (start, end) per cycle
    cpu: float = 0.0
    wall: float = 0.0
    errors: int = 0
    points: int = 0

    def cycle_requests(self) -> float:
        """Requests of one full cycle of every slave (median per slave, summed)."""
        return float(sum(statistics.median(r) for r in self.requests.values() if r))

    def tick_durations(self, interval: float) -> list[float]:
        """Per tick: first slave's start to last slave's end (slave cycles cluster)."""
        result: list[float] = []
        first = last = None
        for start, end in sorted(self.spans):
            if first is None or start - first > interval / 2:
                if first is not None and last is not None:
                    result.append(last - first)
                first, last = start, end
            else:
                last = max(last or end, end)
        if first is not None and last is not None:
            result.append(last - first)
        return result

    def report(self, interval: float) -> str:
        durations = self.tick_durations(interval)
        cycles = len(durations)
        mean = statistics.mean(durations) * 1000 if durations else float("nan")
        worst = max(durations) * 1000 if durations else float("nan")
        cpu_pct = 100 * self.cpu / self.wall if self.wall else float("nan")
        per_cycle = 1000 * self.cpu / cycles if cycles else float("nan")
        return (
            f"{self.name:<28} requests/cycle {self.cycle_requests():>5.0f}   "
            f"cycle time mean {mean:7.1f} ms  max {worst:7.1f} ms   "
            f"CPU {cpu_pct:5.1f} % ({per_cycle:6.1f} ms/cycle)   "
            f"cycles {cycles:>3}  points {self.points}  errors {self.errors}"
        )


async def measure(host: Host, title: str, seconds: float, interval: float, label: str) -> Phase:
    """Set up the entry ``title``, poll for ``seconds``, record, unload it again."""
    entry = next(e for e in host.config_entries.entries() if e.title == title)
    assert await host.config_entries.setup(entry.entry_id), entry.reason
    coordinator = entry.runtime_data.coordinator
    phase = Phase(label, points=sum(len(p.spans) for p in coordinator.pollers.values()))

    def recorder(slave: int) -> Any:
        poller = coordinator.pollers[slave]

        def on_cycle() -> None:
            now = anyio.current_time()
            stats = poller.stats
            phase.requests.setdefault(slave, []).append(stats.last_cycle_requests)
            phase.spans.append((now - stats.last_cycle_duration, now))

        return on_cycle

    await anyio.sleep(2 * interval)  # first cycles connect and warm up: not measured
    unsubs = [coordinator.pollers[s].listen_cycles(recorder(s)) for s in coordinator.pollers]
    cpu0, wall0 = time.process_time(), time.monotonic()
    await anyio.sleep(seconds)
    phase.cpu, phase.wall = time.process_time() - cpu0, time.monotonic() - wall0
    for unsub in unsubs:
        unsub()
    phase.errors = sum(s.errors for s in coordinator.hub.stats.values())
    assert await host.config_entries.unload(entry.entry_id)
    return phase


async def run(args: argparse.Namespace) -> None:
    port = free_port()
    sim = await anyio.open_process(
        [sys.executable, str(SIMULATOR), "--port", str(port), "--slaves", str(args.slaves),
         "--quiet"],
        stdout=subprocess.DEVNULL,
    )
    try:
        with anyio.fail_after(20):
            while True:
                try:
                    stream = await anyio.connect_tcp("127.0.0.1", port)
                except OSError:
                    await anyio.sleep(0.1)
                    continue
                await stream.aclose()
                break
        with tempfile.TemporaryDirectory() as tmp:
            config_dir = Path(tmp)
            yaml = "gatehouse:\n  control_socket: false\nmodbus:\n" + "\n".join(
                [
                    hub_yaml("Planned", port, args.slaves, args.interval, True),
                    hub_yaml("Unplanned", port, args.slaves, args.interval, False),
                ]
            )
            (config_dir / "configuration.yaml").write_text(yaml + "\n", encoding="utf-8")
            host = Host(config_dir)
            if "modbus" not in host.plugins.available():
                host.plugins.add_package("modbus", "gatehouse.integrations.modbus")
            async with host.running():
                for entry in host.config_entries.entries():
                    await host.config_entries.unload(entry.entry_id)
                print(textwrap.dedent(f"""\
                    Modbus benchmark: {args.slaves} slaves x 100 registers (40 values of mixed
                    types each), scan interval {args.interval} s, one TCP connection to the
                    simulator (separate process), {args.seconds:.0f} s per phase.
                    """))
                planned = await measure(
                    host, "Planned", args.seconds, args.interval, "with planning"
                )
                print(planned.report(args.interval), flush=True)
                unplanned = await measure(
                    host, "Unplanned", args.seconds, args.interval, "one request per point"
                )
                print(unplanned.report(args.interval), flush=True)
                saved = unplanned.cycle_requests() / max(1, planned.cycle_requests())
                cpu_ratio = unplanned.cpu / planned.cpu if planned.cpu else float("nan")
                print(f"\nplanning sends {saved:.0f}x fewer requests and uses "
                      f"{cpu_ratio:.1f}x less CPU; target <= {2 * args.slaves} requests/cycle: "
                      f"{'met' if planned.cycle_requests() <= 2 * args.slaves else 'MISSED'}")
    finally:
        sim.terminate()
        with anyio.move_on_after(10):
            await sim.wait()
        await sim.aclose()


if __name__ == "__main__":
    anyio.run(run, parse_args())
