"""Core benchmark: events/s, state writes/s and service calls/s, with bare-Python baselines.

Run: .venv/bin/python scripts/bench/bench_core.py [--n 1000000]
The machine is noisy: compare the ratios printed within one run, not absolute numbers
across runs. Targets (2 cores): >= 1,000,000 events/s fired to one sync listener, and
>= 300,000 state writes/s with a listener on state_changed.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from typing import Any

from gatehouse.core import EVENT_STATE_CHANGED, EventBus, ServiceRegistry, StateMachine


def rate(n: int, fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def best_of(runs: int, n: int, fn: Callable[[], None]) -> float:
    return max(rate(n, fn) for _ in range(runs))


def bench_bus(n: int, runs: int) -> dict[str, float]:
    results: dict[str, float] = {}

    bus = EventBus()
    fire = bus.fire

    def no_listener() -> None:
        for _ in range(n):
            fire("bench")

    results["fire, no listener"] = best_of(runs, n, no_listener)

    bus = EventBus()
    count = [0]

    def listener(event: Any) -> None:
        count[0] += 1

    bus.listen("bench", listener)
    fire = bus.fire
    data = {"x": 1}

    def one_listener() -> None:
        for _ in range(n):
            fire("bench", data)

    results["fire, 1 sync listener"] = best_of(runs, n, one_listener)

    # Baseline: the same work in bare Python (a dict lookup, an object, a call).
    listeners = {"bench": [listener]}

    class Ev:
        __slots__ = ("data", "event_type", "time_fired")

        def __init__(self, event_type: str, data: Any, t: float) -> None:
            self.event_type, self.data, self.time_fired = event_type, data, t

    now = time.time

    def bare_one_listener() -> None:
        for _ in range(n):
            regs = listeners.get("bench")
            if regs:
                ev = Ev("bench", data, now())
                for cb in regs:
                    cb(ev)

    results["bare python, 1 listener"] = best_of(runs, n, bare_one_listener)

    bus = EventBus()
    for i in range(50):
        bus.listen("bench", listener, lambda d, i=i: d["x"] == i)
    fire = bus.fire
    m = max(1, n // 10)

    def filtered() -> None:
        for _ in range(m):
            fire("bench", data)

    results["fire, 50 filtered listeners"] = best_of(runs, m, filtered)
    return results


def bench_states(n: int, runs: int) -> dict[str, float]:
    results: dict[str, float] = {}
    bus = EventBus()
    changes = [0]

    def on_change(event: Any) -> None:
        changes[0] += 1

    bus.listen(EVENT_STATE_CHANGED, on_change)
    states = StateMachine(bus)
    ids = [f"sensor.s{i}" for i in range(1000)]
    for eid in ids:
        states.set(eid, "0")
    set_ = states.set

    def writes() -> None:
        for i in range(n):
            set_(ids[i % 1000], "1", {"value": i, "unit_of_measurement": "°C"})

    results["state writes, changing attributes, 1 listener"] = best_of(runs, n, writes)

    # Baseline: bare Python doing the same (compare, build an immutable record, notify).
    store: dict[str, tuple[str, dict[str, Any], float]] = {eid: ("0", {}, 0.0) for eid in ids}
    now = time.time

    def bare_writes() -> None:
        for i in range(n):
            eid = ids[i % 1000]
            old = store[eid]
            attrs = {"value": i, "unit_of_measurement": "°C"}
            if old[0] != "1" or old[1] != attrs:
                new = ("1", dict(attrs), now())
                store[eid] = new
                on_change((eid, old, new))

    results["bare python, same work"] = best_of(runs, n, bare_writes)
    return results


def bench_services(n: int) -> dict[str, float]:
    async def main() -> dict[str, float]:
        bus = EventBus()
        services = ServiceRegistry(bus)
        services.register("bench", "noop", lambda call: None)
        services.register("bench", "schema", lambda call: None, {"x": int})
        call = services.call
        out: dict[str, float] = {}
        start = time.perf_counter()
        for _ in range(n):
            await call("bench", "noop")
        out["service calls/s, no schema"] = n / (time.perf_counter() - start)
        start = time.perf_counter()
        for i in range(n):
            await call("bench", "schema", {"x": i})
        out["service calls/s, with schema"] = n / (time.perf_counter() - start)
        return out

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"core benchmark, n={args.n:,}, best of {args.runs}")
    rows = {**bench_bus(args.n, args.runs), **bench_states(args.n // 2, args.runs),
            **bench_services(args.n // 20)}
    for name, value in rows.items():
        print(f"  {name:<50} {value:>14,.0f} /s")
    bus_ratio = rows["fire, 1 sync listener"] / rows["bare python, 1 listener"]
    state_ratio = rows["state writes, changing attributes, 1 listener"] / rows[
        "bare python, same work"
    ]
    print(f"  bus vs bare python: {bus_ratio:.2f}; states vs bare python: {state_ratio:.2f}")


if __name__ == "__main__":
    main()
