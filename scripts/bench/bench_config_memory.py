#!/usr/bin/env python
"""Benchmark what a large ``configuration.yaml`` costs in memory once it is loaded.

Plain script, prints figures::

    .venv/bin/python scripts/bench/bench_config_memory.py [--entities 10000] [--repeat 3]
        [--top 12] [--host | --host-only] [--host-top 15]

It writes a config dir whose ``configuration.yaml`` has one ``mqtt:`` entry with N
entities (a mix of sensors, binary sensors, switches and numbers, with state topics,
``json_path`` or ``value_template``, units and device classes), then measures, each in
a fresh child process so that one measurement cannot inflate the next:

**(a) the loaded configuration** as the host keeps it. ``gatehouse`` runs
``bootstrap.load_configuration`` and keeps only ``host.config = dict(result.config)``,
which is exactly what ``core/bootstrap.py`` holds on to. The named baselines are the
same file parsed by plain ``yaml.safe_load`` (pure-Python loader) and by
``yaml.load(..., CSafeLoader)``, keeping their result: the cost of the data itself,
without positions or validation. Figures, after ``gc.collect()``:

* ``rss``: growth of the resident set over the imports-done state (``VmRSS``), and
  ``peak``: growth of the high-water mark (``VmHWM``) during the load;
* ``retained``: bytes still allocated (``tracemalloc``, in a separate child, since
  tracing slows loading and costs memory of its own) once only the kept reference is
  left, with ``per entity``, and ``traced peak``: the most that was allocated at once
  during the load (a peak leaves the allocator's arenas fragmented, which is why
  ``rss`` stays well above ``retained``);
* ``nodes``: objects of the loader's position-tracking types (``NodeDict``,
  ``NodeList``, ``NodeStr``, ``SecretStr``, ``Location``) still alive anywhere in the
  process, found by a ``gc.get_objects()`` scan: anything but 0 after the load is what
  the host keeps for error reporting it will never do.

**(b) the whole host** (``--host``), run with that configuration against a real
Mosquitto (``gatehouse.core.testing.Mosquitto``, on loopback) by ``Host.run()``, as
``gatehouse run`` does (so with its ``gc.freeze()`` after start-up), until every entity
has a state, next to the same host with an ``mqtt:`` entry without entities: RSS growth
per entity as the process is (no collection of our own), the same node scan (frozen
objects included), how much of what start-up froze was garbage (found by one full
collection after ``gc.unfreeze()``) and the RSS after that collection.

Both parts also run ``gatehouse, located``: the same load with the fix switched off
(see :func:`keep_located`), i.e. the validated configuration kept as the located tree
and that tree left to the cyclic collector, as before (shown while the fix's two
functions exist). Part (b) needs a working mqtt integration: anything that goes wrong
there is reported as "skipped" with the reason and does not stop part (a).
``--host-top N`` traces the entity host with ``tracemalloc`` and prints the N source
lines that hold the most memory, to see what dominates the per-entity cost.

Each part is repeated ``--repeat`` times; figures are shown as ``min..max``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

#: Type names of the loader's located values, looked up by name so that the scan keeps
#: working if the module changes shape.
NODE_TYPES = ("NodeDict", "NodeList", "NodeStr", "SecretStr", "Location")

#: The kind that keeps validated output attached to the located tree (before the fix).
LOCATED = "gatehouse, located"

_UNITS = ("°C", "%", "W", "kWh", "V", "A", "hPa", "lx")
_SENSOR_CLASSES = ("temperature", "humidity", "power", "energy", "voltage", "current")
_BINARY_CLASSES = ("door", "window", "motion", "problem", "connectivity")


# --------------------------------------------------------------------------- config


def _reader(i: int) -> str:
    """Every other entity reads a JSON field, the others a template."""
    if i % 2:
        return f"    json_path: \"$.payload.values[{i % 4}].v\"\n"
    return "    value_template: \"{{ value_json.v | float * 2 }}\"\n"


def _entity(platform: str, i: int) -> str:
    text = (
        f"  - name: Bench {platform} {i}\n"
        f"    unique_id: bench_{platform}_{i}\n"
        f"    state_topic: bench/{platform}/{i // 100}/{i}/state\n"
    )
    if platform == "sensor":
        text += (
            f"    unit_of_measurement: \"{_UNITS[i % len(_UNITS)]}\"\n"
            f"    device_class: {_SENSOR_CLASSES[i % len(_SENSOR_CLASSES)]}\n"
            "    state_class: measurement\n"
        )
    elif platform == "binary_sensor":
        text += f"    device_class: {_BINARY_CLASSES[i % len(_BINARY_CLASSES)]}\n"
    elif platform == "switch":
        text += (
            f"    command_topic: bench/{platform}/{i // 100}/{i}/set\n"
            "    device_class: outlet\n"
        )
    else:  # number
        text += (
            f"    command_topic: bench/{platform}/{i // 100}/{i}/set\n"
            f"    unit_of_measurement: \"{_UNITS[i % len(_UNITS)]}\"\n"
            "    min: 0\n    max: 250\n    step: 0.5\n"
        )
    return text + _reader(i)


def platform_counts(entities: int) -> dict[str, int]:
    """40 % sensors, 20 % each binary sensors, switches and numbers."""
    sensors = entities * 2 // 5
    rest = entities - sensors
    binary = rest // 3
    switches = rest // 3
    return {
        "sensor": sensors,
        "binary_sensor": binary,
        "switch": switches,
        "number": rest - binary - switches,
    }


def write_config(config_dir: Path, entities: int, port: int = 1883) -> Path:
    """A config dir with one ``mqtt:`` entry carrying ``entities`` entities."""
    config_dir.mkdir(parents=True, exist_ok=True)
    parts = [
        "gatehouse:\n  name: Bench\n  control_socket: false\n",
        f"mqtt:\n  broker: 127.0.0.1\n  port: {port}\n  discovery: false\n",
    ]
    for platform, count in platform_counts(entities).items():
        if count:
            parts.append(f"  {platform}:\n")
            parts.append(textwrap.indent("".join(_entity(platform, i) for i in range(count)), "  "))
    path = config_dir / "configuration.yaml"
    path.write_text("".join(parts), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- measuring


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_hwm() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so ``peak`` is this load's."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        pass


def node_counts() -> dict[str, int]:
    """Live objects of the position-tracking types, by type name (gc scan)."""
    import gc

    counts = dict.fromkeys(NODE_TYPES, 0)
    for obj in gc.get_objects():
        name = type(obj).__name__
        if name in counts and type(obj).__module__.startswith("gatehouse.core.config"):
            counts[name] += 1
    return {name: count for name, count in counts.items() if count}


def non_plain(value: object) -> dict[str, int]:
    """Types other than dict/list/str/int/float/bool/None reachable in ``value``."""
    plain = {dict, list, str, int, float, bool, type(None)}
    found: dict[str, int] = {}
    seen: set[int] = set()
    stack = [value]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        kind = type(current)
        if kind not in plain:
            found[kind.__name__] = found.get(kind.__name__, 0) + 1
        if isinstance(current, dict):
            stack.extend(current.keys())
            stack.extend(current.values())
        elif isinstance(current, (list, tuple)):
            stack.extend(current)
    return found


def _loaders(config_dir: Path) -> dict[str, Callable[[], Any]]:
    """What each kind loads; each returns the one reference that stays."""
    import yaml

    path = config_dir / "configuration.yaml"

    def safe_load() -> Any:
        with open(path, encoding="utf-8") as stream:
            return yaml.safe_load(stream)

    def csafe_load() -> Any:
        with open(path, encoding="utf-8") as stream:
            return yaml.load(stream, Loader=yaml.CSafeLoader)

    def gatehouse() -> Any:
        from gatehouse.core.bootstrap import load_configuration
        from gatehouse.core.host import Host

        host = Host(config_dir)
        result = load_configuration(host.config_dir, host.plugins)
        if result.issues:
            raise SystemExit("config has issues:\n" + "\n".join(map(str, result.issues)))
        host.config = dict(result.config)  # what core/bootstrap.py keeps
        return host

    def located() -> Any:
        keep_located()
        return gatehouse()

    kinds = {"yaml.safe_load": safe_load, "yaml CSafeLoader": csafe_load, "gatehouse": gatehouse}
    if can_keep_located():
        kinds[LOCATED] = located
    return kinds


def can_keep_located() -> bool:
    from gatehouse.core.config import validate

    return hasattr(validate, "detach") and hasattr(validate, "_release")


def keep_located() -> None:
    """Switch the fix off: validated output stays located, and nothing collects the tree.

    ``detach`` copies the validated output into plain data; ``_release`` collects the
    located tree when a validator's reference cycle still holds it after the check.
    Without both, the check behaves as before the fix.
    """
    from gatehouse.core.config import validate

    validate.detach = lambda value: value  # type: ignore[attr-defined]
    validate._release = lambda tree: None


def _warm_imports(config_dir: Path) -> None:
    """Import everything a load touches first, so the figures are the data's only."""
    import yaml  # noqa: F401

    from gatehouse.core.bootstrap import load_configuration  # noqa: F401
    from gatehouse.core.host import Host

    host = Host(config_dir)
    host.plugins.load("mqtt")
    # One small load, so that lazily built caches (regexes, voluptuous compilations of
    # the schema...) exist before measuring; they are per process, not per entity.
    small = config_dir.parent / "warm"
    write_config(small, 4)
    from gatehouse.core.bootstrap import load_configuration as load

    load(small, host.plugins)


def child_config(config_dir: Path, kind: str, traced: bool, top: int) -> dict[str, Any]:
    """Part (a), in this (child) process: load one way, keep one reference, measure."""
    import gc

    _warm_imports(config_dir)
    load = _loaders(config_dir)[kind]
    gc.collect()
    if traced:
        import tracemalloc

        tracemalloc.start()
        kept = load()
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
        out: dict[str, Any] = {"retained": current, "traced_peak": peak}
        if top:
            snapshot = tracemalloc.take_snapshot()
            tracemalloc.stop()
            out["top"] = [
                (str(stat.traceback[0]), stat.size, stat.count)
                for stat in snapshot.statistics("lineno")[:top]
            ]
        else:
            tracemalloc.stop()
        del kept
        return out
    rss_before = _status_kib("VmRSS")
    _reset_hwm()
    kept = load()
    gc.collect()
    config = kept.config if kind.startswith("gatehouse") else kept
    return {
        "rss": (_status_kib("VmRSS") - rss_before) * 1024,
        "peak": (_status_kib("VmHWM") - rss_before) * 1024,
        "nodes": node_counts(),
        "non_plain": non_plain(config),
    }


def child_host(workdir: Path, entities: int, top: int, located: bool) -> dict[str, Any]:
    """Part (b): a running host with the mqtt entities against a real Mosquitto."""
    import gc

    import anyio

    from gatehouse.core.host import Host
    from gatehouse.core.testing import Mosquitto, make_host, wait_until

    if located:
        keep_located()

    broker = Mosquitto(workdir / "broker")
    broker.start()
    try:
        config_dir = workdir / "config"
        write_config(config_dir, entities, broker.port)
        if top:
            import tracemalloc

            tracemalloc.start()
        rss_before = _status_kib("VmRSS")
        out: dict[str, Any] = {}

        async def measure(host: Host) -> None:
            await wait_until(
                lambda: sum(".bench_" in e for e in host.states.entity_ids()) >= entities,
                timeout=900,
                message=f"{entities} entity states",
            )
            # Host.run() freezes what start-up left (gc.freeze) once it is running.
            await wait_until(gc.get_freeze_count, timeout=60, message="gc.freeze()")
            entries = host.config_entries.entries("mqtt")
            out["entry_states"] = [str(e.state) for e in entries]
            out["states"] = len(host.states.entity_ids())
            # As the process is: no collection of our own first.
            out["rss"] = (_status_kib("VmRSS") - rss_before) * 1024
            gc.disable()
            try:
                out["frozen"] = gc.get_freeze_count()
                gc.unfreeze()  # get_objects() does not list the permanent generation
                out["nodes"] = node_counts()
                out["frozen_garbage"] = gc.collect()
            finally:
                gc.enable()
            out["rss_collected"] = (_status_kib("VmRSS") - rss_before) * 1024
            out["non_plain"] = non_plain(host.config)
            if top:
                import tracemalloc

                snapshot = tracemalloc.take_snapshot()
                out["retained"] = tracemalloc.get_traced_memory()[0]
                out["top"] = [
                    (str(stat.traceback[0]), stat.size, stat.count)
                    for stat in snapshot.statistics("lineno")[:top]
                ]
            host.request_stop()

        async def run() -> None:
            host = make_host(config_dir, stop_timeout=30)
            async with anyio.create_task_group() as group:
                group.start_soon(measure, host)
                await host.run()  # as `gatehouse run` does, gc.freeze() included

        anyio.run(run)
        return out
    finally:
        broker.stop()


# --------------------------------------------------------------------------- parent


def _run_child(args: list[str], timeout: float) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _mib(n: float) -> str:
    return f"{n / 2**20:6.1f} MiB"


def _span(values: list[float], fmt: Callable[[float], str]) -> str:
    low, high = min(values), max(values)
    if low == high:
        return fmt(low).strip()
    return f"{fmt(low).strip()}..{fmt(high).strip()}"


def _print_top(title: str, top: list[list[Any]]) -> None:
    print(f"    {title}")
    for where, size, count in top:
        print(f"      {size / 2**20:7.2f} MiB {count:>9} blocks  {where}")


def part_config(work: Path, entities: int, repeat: int, top: int) -> None:
    config_dir = work / "config"
    write_config(config_dir, entities)
    size = (config_dir / "configuration.yaml").stat().st_size
    print(f"(a) configuration.yaml: {entities} mqtt entities, {size / 2**20:.1f} MiB of YAML")
    kinds = list(_loaders(config_dir))
    rss: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    traced: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    for _ in range(repeat):
        for kind in kinds:
            rss[kind].append(_run_child(["config", str(config_dir), kind], 900))
            traced[kind].append(_run_child(["config", str(config_dir), kind, "--traced"], 1800))
    header = (
        f"    {'kind':19} {'rss':>18} {'peak':>18} {'retained':>18} {'per entity':>16}"
        f" {'traced peak':>20}"
    )
    print(header)
    for kind in kinds:
        retained = [t["retained"] for t in traced[kind]]
        print(
            f"    {kind:19} {_span([r['rss'] for r in rss[kind]], _mib):>18}"
            f" {_span([r['peak'] for r in rss[kind]], _mib):>18}"
            f" {_span(retained, _mib):>18}"
            f" {_span([r / entities for r in retained], lambda v: f'{v:,.0f} B'):>16}"
            f" {_span([t['traced_peak'] for t in traced[kind]], _mib):>20}"
        )
    for kind in kinds:
        last = rss[kind][-1]
        print(f"    {kind}: node objects alive: {last['nodes'] or 0}; "
              f"non-plain values kept: {last['non_plain'] or 'none'}")
    base = min(t["retained"] for t in traced["yaml.safe_load"])
    for kind in kinds[2:]:
        ours = min(t["retained"] for t in traced[kind])
        print(f"    {kind} retains {ours / base:.2f}x what yaml.safe_load's result holds")
    if top:
        again = _run_child(["config", str(config_dir), "gatehouse", "--traced", "--top", str(top)],
                           1800)
        _print_top("gatehouse, largest retained allocations (file:line):", again["top"])


def part_host(work: Path, entities: int, repeat: int, top: int) -> None:
    print(f"(b) host running with {entities} mqtt entities against Mosquitto")
    kinds = ["gatehouse", LOCATED] if can_keep_located() else ["gatehouse"]
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    bases = []
    try:
        for index in range(repeat):
            bases.append(_run_child(["host", str(work / f"h0-{index}"), "0"], 600))
            for kind in kinds:
                args = ["host", str(work / f"hn-{index}"), str(entities)]
                runs[kind].append(_run_child([*args, "--located"] if kind == LOCATED else args,
                                             1800))
    except Exception as err:  # noqa: BLE001 - part (b) depends on the mqtt integration
        print("    skipped: " + " ".join(str(err).split())[:600])
        return
    last = runs["gatehouse"][-1]
    print(f"    mqtt entry states: {last['entry_states']}, states: {last['states']}")
    base = min(b["rss"] for b in bases)
    print(f"    {'no entities':19} rss {_span([b['rss'] for b in bases], _mib)}")
    for kind in kinds:
        rss = [r["rss"] for r in runs[kind]]
        per_entity = _span([(r - base) / entities for r in rss], lambda v: f"{v:,.0f} B")
        print(f"    {kind:19} rss {_span(rss, _mib)}, {per_entity} per entity over no entities")
        last = runs[kind][-1]
        print(f"    {'':19} node objects alive: {last['nodes'] or 0}; garbage frozen at"
              f" start-up: {_span([r['frozen_garbage'] for r in runs[kind]], str)} objects"
              f" (of {last['frozen']}); rss once collected"
              f" {_span([r['rss_collected'] for r in runs[kind]], _mib)}")
    if top:
        traced = _run_child(["host", str(work / "ht"), str(entities), "--top", str(top)], 3600)
        print(f"    traced: {_mib(traced['retained'])} retained "
              f"({traced['retained'] / entities:,.0f} B per entity, tracing included)")
        _print_top("largest retained allocations in the running host (file:line):", traced["top"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--top", type=int, default=0, help="show the N largest allocations")
    parser.add_argument("--host", action="store_true", help="also run part (b)")
    parser.add_argument("--host-only", action="store_true", help="run part (b) only")
    parser.add_argument("--host-top", type=int, default=0)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--located", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, target, *rest = args.child
        if mode == "config":
            out = child_config(Path(target), rest[0], args.traced, args.top)
        else:
            out = child_host(Path(target), int(rest[0]), args.top, args.located)
        print(json.dumps(out))
        return
    with tempfile.TemporaryDirectory(prefix="gh-bench-config-") as tmp:
        work = Path(tmp)
        print(f"python {sys.version.split()[0]}, pid {os.getpid()}, repeat {args.repeat}")
        if not args.host_only:
            part_config(work, args.entities, args.repeat, args.top)
        if args.host or args.host_only or args.host_top:
            part_host(work, args.entities, args.repeat, args.host_top)


if __name__ == "__main__":
    main()
