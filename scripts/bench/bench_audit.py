#!/usr/bin/env python
"""Benchmark the audit log: durable append rate, and the cost it adds to a service call.

Plain script, prints figures::

    .venv/bin/python scripts/bench/bench_audit.py [--records 20000] [--calls 20000]
                                                  [--runs 3] [--dir /path]

* baseline "fsync per record": the ``LogWriter`` given one record per round (what a
  log without group commit would do);
* durable append: ``AuditLog.append`` from the loop, 1 producer flushing after every
  record, and bursts of 10/100/1000 records then ``flush()`` (group commit: one fsync
  per round, in the writer thread) — records/s once on disk;
* verify: ``verify_path`` over the largest of those logs, records/s;
* service calls: a trivial service called by a user (``Context(user_id=...)``, the
  calls the log records) and by the system (not recorded), on a host with an audit
  entry and on one without, in the same run: calls/s and the added cost per call in
  microseconds. "no wait": the calls never wait for the log (a flood faster than the
  writer fills the queue: the drops are printed); "flush()/500": every 500 calls wait
  until the log has them on disk (no drops; the writer's work is in the figure);
  "sealed": the same with every target a sensitive entity, so each audited call also
  encrypts its values with the tag cipher (AES-256-GCM, real keyring); without audit
  the same configuration costs nothing per call (nothing else encrypts a call).

Each figure is measured ``--runs`` times; the range (min..max) is printed. Files are
written under ``--dir`` (default: the system temp dir), so all figures share one disk.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import anyio.lowlevel
import anyio.to_thread

from gatehouse.core import Context, ServiceCall
from gatehouse.core.helpers import configure_encryption
from gatehouse.core.testing import add_entry, make_host
from gatehouse.integrations.audit.committer import AuditLog
from gatehouse.integrations.audit.keystore import load_or_create
from gatehouse.integrations.audit.verify import verify_path
from gatehouse.integrations.audit.writer import LogWriter, Pending, ensure_dir

ACTOR: dict[str, str | None] = {"user_id": "u-bench", "name": "bench", "ip": "127.0.0.1"}
SENSITIVE = {"sensitive": {"include": {"entity_globs": ["light.*"]}}}


def _writer(directory: Path) -> LogWriter:
    ensure_dir(directory)
    private, verifier = load_or_create(directory)
    writer = LogWriter(directory, private, verifier, max_file_size=16 << 20)
    writer.open()
    return writer


def fsync_per_record(directory: Path, records: int) -> float:
    writer = _writer(directory)
    started = time.perf_counter()
    for index in range(records):
        writer.write_batch([Pending("service.call", ACTOR, f"light.{index}", "ok", {})],
                           False)
    elapsed = time.perf_counter() - started
    writer.close()
    return records / elapsed


async def group_commit(directory: Path, records: int, burst: int) -> float:
    log = AuditLog(_writer(directory), queue_size=max(burst, 10_000),
                   checkpoint_records=1000, checkpoint_interval=300)
    async with anyio.create_task_group() as tg:
        tg.start_soon(log.run)
        started = time.perf_counter()
        done = 0
        while done < records:
            for index in range(burst):
                log.append("service.call", actor=ACTOR, target=f"light.{done + index}")
            done += burst
            await log.flush()
        elapsed = time.perf_counter() - started
        await log.close()
    assert log.dropped == 0
    return done / elapsed


def _make_config_dir(config_dir: Path) -> None:
    config_dir.mkdir(parents=True)
    (config_dir / "configuration.yaml").write_text("# empty\n", encoding="utf-8")


async def service_calls(config_dir: Path, calls: int, audited: bool) -> dict[str, float]:
    _make_config_dir(config_dir)
    host = make_host(config_dir)
    async with host.running():
        if audited:
            await add_entry(host, "audit")
        host.services.register("bench", "noop", _noop)
        log = host.config_entries.entries("audit")[0].runtime_data.log if audited else None
        figures: dict[str, float] = {}
        runs = (("user", Context(user_id="u-bench"), None),
                ("user_durable", Context(user_id="u-bench"), 500),
                ("system", None, None),
                ("user_sealed", Context(user_id="u-bench"), 500))
        for label, context, flush_every in runs:
            if label == "user_sealed":
                # Every target sensitive: the audited calls carry their values sealed.
                cipher = configure_encryption(host, SENSITIVE)
                assert cipher is not None
                await anyio.to_thread.run_sync(cipher.prepare)
            started = time.perf_counter()
            for index in range(calls):
                await host.services.call("bench", "noop", {"entity_id": f"light.{index % 50}"},
                                         context=context)
                if index % 500 == 499:
                    if flush_every and log is not None:
                        await log.flush()  # on disk before the next 500 calls
                    else:
                        await anyio.lowlevel.checkpoint()  # let the writer take its rounds
            figures[label] = calls / (time.perf_counter() - started)
            if log is not None:
                await log.flush()
                figures[f"{label}_dropped"] = log.dropped
                log.dropped = 0
    if audited:
        assert verify_path(config_dir / ".storage" / "audit").ok
    return figures


def _noop(call: ServiceCall) -> None:
    return None


def _cpu_times() -> list[int]:
    """The aggregate ``cpu`` line of /proc/stat (user nice system idle iowait irq
    softirq steal ...), for the steal and busy shares printed beside the figures."""
    with open("/proc/stat", encoding="ascii") as f:
        return [int(v) for v in f.readline().split()[1:]]


def _range(values: list[float], unit: str, digits: int = 0) -> str:
    return (f"{min(values):,.{digits}f}..{max(values):,.{digits}f} {unit} "
            f"(median {statistics.median(values):,.{digits}f})")


async def _runs(runs: int, make: Callable[[int], Awaitable[float]]) -> list[float]:
    return [await make(run) for run in range(runs)]


async def main_async(args: argparse.Namespace) -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-audit-", dir=args.dir))
    cpu_before = _cpu_times()
    load = os.getloadavg()
    print(f"files under {base}; {args.runs} runs each; load average {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} CPUs\n")
    per_record_n = min(args.records, 2000)
    baseline = [fsync_per_record(base / f"fsync{r}", per_record_n) for r in range(args.runs)]
    print(f"baseline, fsync per record ({per_record_n} records): "
          f"{_range(baseline, 'records/s')}")
    medians: dict[int, float] = {}
    for burst in (1, 10, 100, 1000):
        count = min(args.records, 2000) if burst == 1 else args.records
        rates = await _runs(args.runs, lambda r, b=burst, c=count: group_commit(
            base / f"group{b}_{r}", c, b))
        medians[burst] = statistics.median(rates)
        print(f"durable append, bursts of {burst:>4} then flush(): {_range(rates, 'records/s')}"
              f"  = {medians[burst] / statistics.median(baseline):.1f}x baseline")
    verify_rates = []
    for run in range(args.runs):
        started = time.perf_counter()
        report = verify_path(base / f"group1000_{run}")
        assert report.ok, report.problem
        verify_rates.append(report.records / (time.perf_counter() - started))
    print(f"gatehouse audit verify (in-process, {report.records} records): "
          f"{_range(verify_rates, 'records/s')}")
    print()
    results: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for run in range(args.runs):
        for audited in ((False, True) if run % 2 == 0 else (True, False)):
            results[audited].append(await service_calls(
                base / f"host{int(audited)}_{run}", args.calls, audited))
    names = {"user": "by a user, no wait",
             "user_durable": "by a user, flush()/500",
             "system": "by the system",
             "user_sealed": "sealed, flush()/500"}
    for label, name in names.items():
        plain = [r[label] for r in results[False]]
        audited_rates = [r[label] for r in results[True]]
        added = [1e6 / a - 1e6 / p for a, p in zip(audited_rates, plain, strict=True)]
        dropped = max(r[f"{label}_dropped"] for r in results[True])
        print(f"service calls {name:<23} without audit: {_range(plain, 'calls/s')}")
        print(f"service calls {name:<23} with audit:    {_range(audited_rates, 'calls/s')}"
              f"; added per call {_range(added, 'us', 1)}; dropped (max) {dropped:.0f}")
    spent = [b - a for a, b in zip(cpu_before, _cpu_times(), strict=False)]
    total = sum(spent) or 1
    idle = spent[3] + spent[4]
    steal = spent[7] if len(spent) > 7 else 0
    load = os.getloadavg()
    print(f"\nduring the run: CPU busy {100 * (total - idle) / total:.0f}% of all cores, "
          f"steal {100 * steal / total:.1f}%; load average now {load[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    anyio.run(main_async, args)


if __name__ == "__main__":
    main()
