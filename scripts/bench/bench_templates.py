#!/usr/bin/env python
"""Benchmark templates: cached renders per second, and what tracking adds to a state change.

Plain script, prints figures::

    .venv/bin/python scripts/bench/bench_templates.py [--renders 20000] [--changes 20000]
                                                      [--tracked 1000] [--runs 3]

* renders/s: ``render_template`` (Home Assistant's way: compiled once and cached,
  native result) of a plain ``states('x')``, a filter chain with ``is_state`` and
  ``iif``, and ``states.sensor | selectattr(...) | count`` over 100 sensors; baseline:
  the same sources through the engine's plain ``render`` (text, no result parsing, no
  collector), to show what the Home Assistant layer costs;
* state changes: ``host.states.set`` on 1,000 entities in turn, with no template
  tracked (baseline) and with ``--tracked`` tracked templates (each reading one of the
  entities, so every change re-renders exactly one template), in the same run: changes/s
  and the cost each tracked template adds to a change that concerns it (µs);
* untouched: the same changes with the tracked templates all reading *other*
  entities, i.e. what 1,000 tracked templates cost a change that concerns none of them
  (one dict lookup in the shared listener, not 1,000 listeners).

Each figure is measured ``--runs`` times; the range (min..max) is printed with the load
average, since the box is shared.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from gatehouse.core import Host
from gatehouse.core.helpers import (
    TemplateLimits,
    configure_templates,
    render_template,
    template_engine,
    track_template,
)
from gatehouse.core.testing import make_host

SOURCES = {
    "states('x')": "{{ states('sensor.s1') }}",
    "filters+is_state": "{{ iif(is_state('sensor.s2', 'on'), 'yes', 'no') }} "
                        "{{ states('sensor.s1') | float(0) * 2 | round(1) }}",
    "100 sensors": "{{ states.sensor | selectattr('state', 'eq', 'on') | list | count }}",
}


def best(values: list[float]) -> str:
    return f"{min(values):,.0f}..{max(values):,.0f}"


def rate(count: int, work: Callable[[], None]) -> float:
    started = time.perf_counter()
    for _ in range(count):
        work()
    return count / (time.perf_counter() - started)


def bench_renders(host: Host, count: int, runs: int) -> None:
    engine = template_engine(host)
    print(f"renders/s (cached), {count} renders, {runs} runs")
    for label, source in SOURCES.items():
        plain = [rate(count, lambda s=source: engine.render(s)) for _ in range(runs)]
        home = [rate(count, lambda s=source: render_template(host, s)) for _ in range(runs)]
        ratio = (sum(home) / len(home)) / (sum(plain) / len(plain))
        print(f"  {label:18s} engine.render {best(plain):>18s}   render_template "
              f"{best(home):>18s}   ratio {ratio:.2f}")


def changes(host: Host, count: int, entities: int) -> float:
    started = time.perf_counter()
    for index in range(count):
        host.states.set(f"sensor.e{index % entities}", str(index))
    return count / (time.perf_counter() - started)


def bench_tracking(host: Host, count: int, tracked: int, runs: int) -> None:
    entities = 1000
    for index in range(entities):
        host.states.set(f"sensor.e{index}", "0")
    calls = 0

    def action(old: Any, new: Any) -> None:
        nonlocal calls
        calls += 1

    print(f"state changes/s on {entities} entities, {count} changes, {runs} runs")
    base = [changes(host, count, entities) for _ in range(runs)]
    trackers = [
        track_template(host, f"{{{{ states('sensor.e{i % entities}') | int + 1 }}}}",
                       None, action)
        for i in range(tracked)
    ]
    with_tracked = [changes(host, count, entities) for _ in range(runs)]
    renders = sum(t.renders for t in trackers)
    for tracker in trackers:
        tracker()
    others = [
        track_template(host, f"{{{{ states('sensor.other{i}') }}}}", None, action)
        for i in range(tracked)
    ]
    untouched = [changes(host, count, entities) for _ in range(runs)]
    for tracker in others:
        tracker()
    base_us = 1e6 / max(base)
    print(f"  no template tracked          {best(base):>20s}  ({base_us:.1f} µs/change)")
    tracked_us = 1e6 / max(with_tracked)
    print(f"  {tracked} tracked, each change re-renders one "
          f"{best(with_tracked):>12s}  ({tracked_us:.1f} µs/change, "
          f"+{tracked_us - base_us:.1f} µs per re-render; {renders} renders, {calls} "
          "actions)")
    untouched_us = 1e6 / max(untouched)
    print(f"  {tracked} tracked, none concerned   {best(untouched):>14s}  "
          f"({untouched_us:.1f} µs/change, +{untouched_us - base_us:.2f} µs)")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        host = make_host(Path(tmp))
        async with host.running():
            # A shared box steals the CPU for tens of ms at times: measure renders, not
            # the 50 ms time limit.
            configure_templates(host, TemplateLimits(seconds=5.0))
            for index in range(100):
                host.states.set(f"sensor.s{index}", "on" if index % 3 else "off")
            print(f"load average before: {os.getloadavg()}")
            bench_renders(host, args.renders, args.runs)
            bench_tracking(host, args.changes, args.tracked, args.runs)
            print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=20_000)
    parser.add_argument("--changes", type=int, default=20_000)
    parser.add_argument("--tracked", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    anyio.run(main, parser.parse_args())
