"""Automation benchmark: 1,000 automations with state triggers on 1,000 entities, driven
by state changes at a target rate (10,000/s by default).

Run: .venv/bin/python scripts/bench/bench_automation.py [--automations 1000]
     [--rate 10000] [--seconds 3] [--traces 5] [--mode parallel]

One host, one run, two phases with the very same state changes (the same entities,
values and pacing):

1. baseline: the automations are loaded but turned off (no trigger attached): the cost
   of the state changes alone;
2. automations on: every change of ``sensor.bench_<i>`` triggers ``automation.bench_<i>``
   whose action calls a service that records when it ran.

Printed: the rate achieved, trigger-to-action latency (state set → the action's
service call) p50/p90/p99/max, CPU time of the process per state change in each phase
and the difference per evaluation (trigger matched, trace made, run started, service
called), with the load average and the CPU steal of the machine beside them (2 cores
shared: compare the ratios within one run, not absolute numbers across runs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from gatehouse.core import ServiceCall
from gatehouse.core.testing import make_host


def steal() -> tuple[int, int]:
    """(total, steal) jiffies of the machine, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as handle:
        parts = [int(x) for x in handle.readline().split()[1:]]
    return sum(parts), parts[7] if len(parts) > 7 else 0


def configuration(count: int, traces: int, mode: str) -> str:
    items = []
    for i in range(count):
        items.append(textwrap.dedent(f"""\
            - id: bench_{i}
              alias: bench {i}
              mode: {mode}
              max: 100
              trace: {{stored_traces: {traces}}}
              triggers:
                - trigger: state
                  entity_id: sensor.bench_{i}
                  not_to: unavailable
              actions:
                - action: bench.mark
                  data: {{i: {i}}}
            """))
    return "".join(items)


async def drive(host: Any, count: int, rate: float, seconds: float,
                sent: dict[int, float]) -> tuple[int, float]:
    """Set states at ``rate`` per second for ``seconds``, round-robin over the entities;
    returns (changes made, elapsed). ``sent[i]`` is when entity i last changed."""
    batch = max(int(rate / 200), 1)            # 200 ticks a second
    tick = batch / rate
    total = int(rate * seconds)
    states = host.states
    start = time.perf_counter()
    made = 0
    value = 0
    while made < total:
        for _ in range(batch):
            i = made % count
            if i == 0:
                value += 1
            sent[i] = time.perf_counter()
            states.set(f"sensor.bench_{i}", value)
            made += 1
        # pace: sleep until the next tick is due (yields to the runs in between)
        due = start + (made / batch) * tick
        await asyncio.sleep(max(due - time.perf_counter(), 0))
    return made, time.perf_counter() - start


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config_dir = Path(tmp)
        (config_dir / "configuration.yaml").write_text(
            "gatehouse:\n  control_socket: false\nautomation: !include automations.yaml\n")
        (config_dir / "automations.yaml").write_text(
            configuration(args.automations, args.traces, args.mode))
        host = make_host(config_dir, stop_timeout=30)
        async with host.running():
            latencies: list[float] = []
            sent: dict[int, float] = {}
            done = [0]
            target = [0]
            all_done = asyncio.Event()

            def mark(call: ServiceCall) -> None:
                started = sent.get(call.data["i"])
                if started is not None:  # not the set-up writes before phase 2
                    latencies.append(time.perf_counter() - started)
                    done[0] += 1
                    if target[0] and done[0] >= target[0]:
                        all_done.set()

            host.services.register("bench", "mark", mark)
            for i in range(args.automations):
                host.states.set(f"sensor.bench_{i}", 0)

            # phase 1: the same changes with every automation off
            await host.services.call("automation", "turn_off", {"entity_id": "all"})
            cpu0, wall0, (tot0, st0) = time.process_time(), time.perf_counter(), steal()
            made_off, elapsed_off = await drive(host, args.automations, args.rate,
                                                args.seconds, {})
            cpu_off = time.process_time() - cpu0
            tot1, st1 = steal()

            # phase 2: automations on
            await host.services.call("automation", "turn_on", {"entity_id": "all"})
            load = os.getloadavg()
            cpu0, (tot2, st2) = time.process_time(), steal()
            made_on, elapsed_on = await drive(host, args.automations, args.rate,
                                              args.seconds, sent)
            # let the last runs finish (bounded)
            target[0] = made_on
            if done[0] < made_on:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(all_done.wait(), 10)
            cpu_on = time.process_time() - cpu0
            tot3, st3 = steal()
            del wall0

            lat = sorted(latencies)

            def pct(p: float) -> float:
                return lat[min(int(len(lat) * p), len(lat) - 1)] * 1e3 if lat else float("nan")

            per_off = cpu_off / made_off * 1e6
            per_on = cpu_on / made_on * 1e6
            steal_off = 100 * (st1 - st0) / max(tot1 - tot0, 1)
            steal_on = 100 * (st3 - st2) / max(tot3 - tot2, 1)
            print(f"automations: {args.automations}, target {args.rate:,.0f} changes/s for "
                  f"{args.seconds} s, mode {args.mode}, stored_traces {args.traces}")
            print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; CPU steal "
                  f"{steal_off:.1f} % (baseline), {steal_on:.1f} % (automations)")
            print(f"baseline (automations off): {made_off / elapsed_off:,.0f} changes/s, "
                  f"CPU {per_off:.1f} µs per change")
            print(f"automations on:             {made_on / elapsed_on:,.0f} changes/s, "
                  f"{done[0]:,} actions run of {made_on:,} triggers, "
                  f"CPU {per_on:.1f} µs per change")
            print(f"CPU per evaluation (trigger → action, on minus off): "
                  f"{per_on - per_off:.1f} µs ({per_on / per_off:.1f} times the bare change)")
            print(f"trigger→action latency: p50 {pct(0.5):.2f} ms, p90 {pct(0.9):.2f} ms, "
                  f"p99 {pct(0.99):.2f} ms, max {lat[-1] * 1e3 if lat else float('nan'):.2f} ms"
                  f" (mean {statistics.fmean(lat) * 1e3 if lat else float('nan'):.2f} ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--automations", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--traces", type=int, default=5, help="stored_traces per automation")
    parser.add_argument("--mode", default="parallel")
    asyncio.run(main(parser.parse_args()))
