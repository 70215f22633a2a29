"""Cold start of ``gatehouse run``: seconds to a 200 from /api/health, and RSS.

    .venv/bin/python scripts/bench/bench_cold_start.py [--runs 5]

Two configurations, each written into a fresh config dir per run (ports moved to free
ones): ``appliance`` (what a box writes on first start: http, recorder, onboarding) and
``demo`` (what ``scripts/run`` writes: demo, simulator, modbus, opcua, pki, automation,
script). Baseline: the appliance targets are < 1 s and < 80 MB on an idle machine; the
demo figures are the comparison. Prints load average and CPU steal during the runs,
since on a shared machine both move the start time a lot.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GATEHOUSE = str(Path(sys.executable).parent / "gatehouse")
CONFIGS = {
    "appliance": ROOT / "core" / "default_config" / "appliance.yaml",
    "demo": ROOT / "core" / "default_config" / "configuration.yaml",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def steal() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return fields[7] if len(fields) > 7 else 0, sum(fields)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def one_run(kind: str, base: Path) -> tuple[float, float, float]:
    config = base / f"{kind}-{time.monotonic_ns()}"
    config.mkdir()
    port = free_port()
    text = CONFIGS[kind].read_text()
    text = text.replace("server_port: 8123", f"server_port: {port}\n  server_host: 127.0.0.1")
    for fixed in ("5020", "4840"):  # the demo's simulator ports
        text = re.sub(rf"\b{fixed}\b", str(free_port()), text)
    (config / "configuration.yaml").write_text(text)
    started = time.monotonic()
    proc = subprocess.Popen([GATEHOUSE, "run", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"{kind}: the host exited {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health",
                                            timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.005)
        ready = time.monotonic() - started
        at_ready = rss_mb(proc.pid)
        time.sleep(5)
        settled = rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        shutil.rmtree(config, ignore_errors=True)
    return ready, at_ready, settled


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    load0 = os.getloadavg()[0]
    steal0, total0 = steal()
    with tempfile.TemporaryDirectory() as tmp:
        for kind in CONFIGS:
            results = [one_run(kind, Path(tmp)) for _ in range(args.runs)]
            times = [r[0] for r in results]
            print(f"{kind:<10} health in median {statistics.median(times):.2f} s "
                  f"(min {min(times):.2f}, max {max(times):.2f}); RSS at ready median "
                  f"{statistics.median(r[1] for r in results):.1f} MB, 5 s later "
                  f"{statistics.median(r[2] for r in results):.1f} MB  [{args.runs} runs]")
    steal1, total1 = steal()
    print(f"load average {load0:.2f} -> {os.getloadavg()[0]:.2f}, CPU steal "
          f"{100 * (steal1 - steal0) / max(1, total1 - total0):.1f}%, {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
