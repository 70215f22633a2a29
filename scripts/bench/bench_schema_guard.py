#!/usr/bin/env python
"""Benchmark schema_guard: validators compared, the guard's hot path, the quarantine.

Plain script, prints figures::

    .venv/bin/python scripts/bench/bench_schema_guard.py [--n 20000] [--dir /path]
        [--mode engine|hook|proxy|all]

``--mode proxy`` runs ``bench_schema_guard_proxy.py`` (two real Mosquitto listeners,
the proxy against a bare paho forwarder; see there). ``--mode hook`` measures the core
ingress hook that mqtt and nats call per governed message: with no guard installed
(what every install without schema_guard pays) against a bare function call, and with
schema_guard's guard installed.

* **validators** on a typical ~300-byte telemetry document (valid, and an invalid one
  with three errors): jsonschema-rs (chosen; ``RegexOptions``: Rust's linear-time regex
  crate), jsonschema (the Python reference implementation) and fastjsonschema (compiles
  to Python code; drafts 04-07 only, so it gets the draft-07 form of the schema). Each:
  validation alone on the decoded document (p50/p99 per call, µs) and, for the invalid
  document, collecting the errors. Baseline: ``json.loads`` of the same bytes.
* **conformance**: a small table of the features the issue names, per draft (``$ref``/
  ``$defs``, ``$dynamicRef``, ``unevaluatedProperties``, ``dependentSchemas``, format as
  annotation, draft-07 ``$ref`` siblings and ``dependencies``): rows each candidate gets
  right.
* **catastrophic pattern** ``^(a+)+$`` against ``"a" * n + "!"``: the Python reference
  (Python's backtracking ``re``) against jsonschema-rs.
* **the guard**: ``Guard.check`` end to end (rule lookup, size, strict decode with the
  duplicate-key hook, depth pre-scan, validation, metrics) for the valid and the
  invalid document; the strict decode's cost against ``json.loads``; the depth pre-scan
  of a 256 KiB hostile payload.
* **quarantine**: rejected messages through the group-commit writer into SQLite (WAL),
  against one transaction per message (synchronous=NORMAL and FULL); and the inline
  path with 10 % invalid messages and the writer behind it (does it keep up?).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

D2020 = "https://json-schema.org/draft/2020-12/schema"
D07 = "http://json-schema.org/draft-07/schema#"

SCHEMA_2020: dict[str, Any] = {
    "$schema": D2020,
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
        "location": {"type": "string", "maxLength": 64},
        "readings": {"type": "array", "maxItems": 16, "items": {"$ref": "#/$defs/reading"}},
    },
    "additionalProperties": False,
    "$defs": {
        "reading": {
            "type": "object",
            "required": ["k", "v"],
            "properties": {"k": {"type": "string"}, "v": {"type": "number"},
                           "u": {"type": "string"}},
            "additionalProperties": False,
        }
    },
}
SCHEMA_07 = json.loads(json.dumps(SCHEMA_2020).replace("$defs", "definitions"))
SCHEMA_07["$schema"] = D07

VALID = {
    "device": "pump-0042", "site": "north-plant", "ts": 1733312345, "temp": 21.73,
    "humidity": 48.2, "battery": 87, "status": "ok", "fw": "2.4.1", "seq": 1048576,
    "location": "hall-3/bay-12",
    "readings": [{"k": "pressure", "v": 2.31, "u": "bar"}, {"k": "flow", "v": 14.2, "u": "l/min"},
                 {"k": "rpm", "v": 1480, "u": "rpm"}],
}
INVALID = dict(VALID, device="PUMP 42!", temp="hot", extra=1)
VALID_BYTES = json.dumps(VALID, separators=(",", ":")).encode()
INVALID_BYTES = json.dumps(INVALID, separators=(",", ":")).encode()


def percentiles(fn: Callable[[], Any], n: int) -> tuple[float, float, float]:
    """(p50 µs, p99 µs, calls/s) of ``n`` timed calls after a warm-up."""
    for _ in range(min(2000, n)):
        fn()
    clock = time.perf_counter_ns
    samples = []
    started = clock()
    for _ in range(n):
        t0 = clock()
        fn()
        samples.append(clock() - t0)
    total = (clock() - started) / 1e9
    samples.sort()
    return samples[n // 2] / 1000, samples[int(n * 0.99)] / 1000, n / total


def row(label: str, figures: tuple[float, float, float], baseline: float | None = None,
        against: str = "json.loads") -> None:
    p50, p99, rate = figures
    ratio = f"  {p50 / baseline:5.1f}x {against}" if baseline else ""
    print(f"  {label:<52}p50 {p50:8.2f} µs  p99 {p99:8.2f} µs  {rate:>11,.0f}/s{ratio}",
          flush=True)


# -- candidates ------------------------------------------------------------------------


def candidates() -> dict[str, Any]:
    """name → (validate-valid callable, collect-errors callable) on decoded documents."""
    import fastjsonschema
    import jsonschema
    import jsonschema_rs

    rs = jsonschema_rs.Draft202012Validator(SCHEMA_2020,
                                            pattern_options=jsonschema_rs.RegexOptions())
    py = jsonschema.Draft202012Validator(SCHEMA_2020)
    fast = fastjsonschema.compile(SCHEMA_07)

    def fast_errors(doc: Any) -> list[Any]:
        try:
            fast(doc)
        except fastjsonschema.JsonSchemaException as err:
            return [err]  # stops at the first error: no full list to report
        return []

    return {
        "jsonschema-rs": (lambda: rs.is_valid(VALID), lambda: list(rs.iter_errors(INVALID))),
        "jsonschema (Python reference)": (lambda: py.is_valid(VALID),
                                          lambda: list(py.iter_errors(INVALID))),
        "fastjsonschema (draft-07 form)": (lambda: fast(VALID), lambda: fast_errors(INVALID)),
    }


CONFORMANCE: list[tuple[str, str, dict[str, Any], Any, bool]] = [
    ("2020 $ref/$defs", D2020, {"$defs": {"p": {"type": "integer"}},
                                "properties": {"a": {"$ref": "#/$defs/p"}}}, {"a": "x"}, False),
    ("2020 $ref sibling applies", D2020, {"$defs": {"p": {"type": "integer"}},
     "properties": {"a": {"$ref": "#/$defs/p", "maximum": 0}}}, {"a": 5}, False),
    ("2020 unevaluatedProperties", D2020, {"allOf": [{"properties": {"a": {}}}],
     "unevaluatedProperties": False}, {"a": 1, "b": 2}, False),
    ("2020 unevaluatedProperties sees allOf", D2020, {"allOf": [{"properties": {"a": {}}}],
     "unevaluatedProperties": False}, {"a": 1}, True),
    ("2020 dependentSchemas", D2020, {"dependentSchemas": {"c": {"required": ["b"]}}},
     {"c": 1}, False),
    ("2020 prefixItems/items", D2020, {"prefixItems": [{"type": "integer"}], "items": False},
     [1, 2], False),
    ("2020 $dynamicRef", D2020, {
        "$id": "https://example.com/strict-tree", "$dynamicAnchor": "node",
        "$ref": "#/$defs/tree", "unevaluatedProperties": False,
        "$defs": {"tree": {"$id": "https://example.com/tree", "$dynamicAnchor": "node",
                           "type": "object", "properties": {
                               "data": True, "children": {"type": "array",
                                                          "items": {"$dynamicRef": "#node"}}}}}},
     {"children": [{"daat": 1}]}, False),
    ("2020 format is an annotation", D2020, {"format": "email"}, "nope", True),
    ("07 $ref siblings ignored", D07, {"definitions": {"p": {"type": "integer"}},
     "properties": {"a": {"$ref": "#/definitions/p", "maximum": 0}}}, {"a": 5}, True),
    ("07 dependencies", D07, {"dependencies": {"c": ["b"]}}, {"c": 1}, False),
    ("07 dependentSchemas unknown", D07, {"dependentSchemas": {"c": {"required": ["b"]}}},
     {"c": 1}, True),
    ("07 tuple items", D07, {"items": [{"type": "integer"}], "additionalItems": False},
     [1, 2], False),
]


def conformance() -> dict[str, list[str]]:
    """Candidate → the rows it got wrong (or could not run)."""
    import fastjsonschema
    import jsonschema
    import jsonschema_rs

    def rs(schema: dict[str, Any], instance: Any) -> bool:
        return bool(jsonschema_rs.validator_for(
            schema, validate_formats=False,
            pattern_options=jsonschema_rs.RegexOptions()).is_valid(instance))

    def py(schema: dict[str, Any], instance: Any) -> bool:
        return bool(jsonschema.validators.validator_for(schema)(schema).is_valid(instance))

    def fast(schema: dict[str, Any], instance: Any) -> bool:
        try:
            fastjsonschema.compile(schema)(instance)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    wrong: dict[str, list[str]] = {}
    for name, check in (("jsonschema-rs", rs), ("jsonschema (Python reference)", py),
                        ("fastjsonschema", fast)):
        wrong[name] = []
        for label, draft, schema, instance, valid in CONFORMANCE:
            try:
                ok = check({"$schema": draft, **schema}, instance) is valid
                why = ""
            except Exception as err:  # noqa: BLE001 - a candidate that cannot run a row
                ok = False
                why = f" ({type(err).__name__})"
            if not ok:
                wrong[name].append(label + why)
    return wrong


def catastrophic() -> None:
    import jsonschema
    import jsonschema_rs

    schema = {"$schema": D2020, "type": "string", "pattern": "^(a+)+$"}
    py = jsonschema.Draft202012Validator(schema)
    rs = jsonschema_rs.Draft202012Validator(schema, pattern_options=jsonschema_rs.RegexOptions())
    for n in (16, 20, 22, 24):
        text = "a" * n + "!"
        t0 = time.perf_counter()
        py.is_valid(text)
        py_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rs.is_valid(text)
        rs_s = time.perf_counter() - t0
        print(f"  n={n:<8}Python re {py_s * 1000:10.1f} ms   jsonschema-rs {rs_s * 1e6:8.1f} µs",
              flush=True)
    text = "a" * 100_000 + "!"
    t0 = time.perf_counter()
    rs.is_valid(text)
    print(f"  n=100000  jsonschema-rs {(time.perf_counter() - t0) * 1e6:8.1f} µs "
          "(Python re: not tried, about 2**n steps)", flush=True)


# -- the guard -------------------------------------------------------------------------


def guard_figures(n: int, base: Path) -> None:
    from gatehouse.integrations.schema_guard.catalog import Catalog
    from gatehouse.integrations.schema_guard.decode import depth_exceeds, strict_json
    from gatehouse.integrations.schema_guard.engine import Guard, GuardSettings, RuleConfig

    schemas = base / "schemas"
    schemas.mkdir()
    (schemas / "telemetry.v1.json").write_text(json.dumps(SCHEMA_2020))
    rules = [RuleConfig(f"r{i}", f"site/+/device/+/m{i}") for i in range(20)]
    rules.append(RuleConfig("telemetry", "site/+/device/{source}/telemetry",
                            schema="telemetry"))
    guard = Guard(GuardSettings(), rules)
    catalog = Catalog(schemas, guard.needs())
    catalog.scan()
    guard.bind(catalog)
    guard.sink = lambda verdict, payload: None
    topic = "site/north/device/pump-0042/telemetry"
    assert guard.check(topic, VALID_BYTES).accepted
    assert not guard.check(topic, INVALID_BYTES).accepted
    loads = percentiles(lambda: json.loads(VALID_BYTES), n)
    row("json.loads (baseline)", loads)
    row("strict decode (duplicate keys, NaN refused)",
        percentiles(lambda: strict_json(VALID_BYTES, 32), n), loads[0])
    row("Guard.check valid (21 rules, source captured)",
        percentiles(lambda: guard.check(topic, VALID_BYTES), n), loads[0])
    row("Guard.check invalid (3 errors, to the sink)",
        percentiles(lambda: guard.check(topic, INVALID_BYTES), n), loads[0])
    # The biggest document the default limit lets through: ~60 KiB, 1,300 readings.
    big_schema = json.loads(json.dumps(SCHEMA_2020))
    del big_schema["properties"]["readings"]["maxItems"]
    (schemas / "bulk.v1.json").write_text(json.dumps(big_schema))
    bulk = Guard(GuardSettings(), [RuleConfig("bulk", "bulk/#", schema="bulk")])
    bulk_catalog = Catalog(schemas, bulk.needs())
    bulk_catalog.scan()
    bulk.bind(bulk_catalog)
    bulk.sink = lambda verdict, payload: None
    readings = [{"k": f"sensor-{i}", "v": i * 0.5, "u": "bar"} for i in range(1300)]
    big_valid = json.dumps(dict(VALID, readings=readings)).encode()
    big_invalid = json.dumps(dict(VALID, readings=[*readings[:-1], {"k": 1}])).encode()
    assert len(big_valid) <= 65_536 and bulk.check("bulk/x", big_valid).accepted
    row(f"Guard.check valid {len(big_valid) // 1024} KiB (limit-sized)",
        percentiles(lambda: bulk.check("bulk/x", big_valid), max(200, n // 50)))
    row(f"Guard.check invalid {len(big_invalid) // 1024} KiB (last reading wrong)",
        percentiles(lambda: bulk.check("bulk/x", big_invalid), max(200, n // 50)))
    hist = guard.metrics()["telemetry"]
    print(f"  guard's own histogram: p99 bucket <= {hist.quantile_us(0.99)} µs "
          f"over {hist.validated:,} checks", flush=True)
    for kib in (64, 256):
        size = kib * 1024
        hostile = [
            ("of '['", b"[" * size),
            ("of '[]' pairs", b"[]" * (size // 2)),
            ("unterminated escaped string", b'["' + b'x\\"' * (size // 3)),
            ("nested 31 deep, wide", (b"[" * 31 + b"1" + b"]" * 31 + b",") * (size // 64)),
            ("comb of depth-5 teeth (most runs)", b"[" + b"[[[[[]]]]]" * (size // 10) + b"]"),
            ("nested 31 deep, wide, with strings",
             (b"[" * 31 + b'"a[b"' + b"]" * 31 + b",") * (size // 68)),
        ]
        for label, payload in hostile:
            worst = 0.0
            for _ in range(5):
                t0 = time.perf_counter()
                depth_exceeds(payload, 32)
                worst = max(worst, time.perf_counter() - t0)
            print(f"  depth pre-scan (max_depth 32), {kib} KiB {label:<36}"
                  f"{worst * 1000:7.2f} ms (worst of 5)", flush=True)


# -- the quarantine --------------------------------------------------------------------


async def quarantine_figures(n: int, base: Path) -> None:
    from gatehouse.integrations.schema_guard.pii import PiiMask
    from gatehouse.integrations.schema_guard.store import QuarantineStore
    from gatehouse.integrations.schema_guard.verdict import Rejected
    from gatehouse.integrations.schema_guard.violation import Violation

    errors = (Violation("/temp", "type", '"hot" is not of type "number"'),
              Violation("/device", "pattern", "does not match"),
              Violation("", "additionalProperties", "'extra' was unexpected"))
    verdict = Rejected("site/north/device/pump-0042/telemetry", "telemetry", "telemetry", 1,
                       "pump-0042", "quarantine", errors, time.time())

    from gatehouse.integrations.schema_guard.writer import QuarantineWriter

    for label, mask in (("no PII paths", PiiMask(())),
                        ("PII paths masked (decode + mask)", PiiMask(["device", "site"]))):
        store = QuarantineStore(base / f"q-{len(mask.paths)}" / "quarantine.db")
        store.open()
        writer = QuarantineWriter(store, lambda rule, m=mask: m, max_pending=n + 1)
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer.run)
            t0 = time.perf_counter()
            for _ in range(n):
                writer.submit(verdict, INVALID_BYTES)
                if writer.pending >= 512:
                    await anyio.lowlevel.checkpoint()
            await writer.flush()
            elapsed = time.perf_counter() - t0
            writer.close()
        store.close()
        print(f"  group commit, {label:<40}{n / elapsed:>11,.0f} msgs/s "
              f"({store.totals.rounds} rounds, {n / store.totals.rounds:,.0f} per round)",
              flush=True)

    # The inline path with the real writer behind it: 10 % invalid, the loop yielding
    # every 100 messages (as a transport reading from a socket does).
    from gatehouse.integrations.schema_guard.catalog import Catalog
    from gatehouse.integrations.schema_guard.engine import Guard, GuardSettings, RuleConfig

    schemas = base / "mixed-schemas"
    schemas.mkdir()
    (schemas / "telemetry.v1.json").write_text(json.dumps(SCHEMA_2020))
    guard = Guard(GuardSettings(), [RuleConfig("telemetry", "site/+/device/{source}/t",
                                               schema="telemetry")])
    catalog = Catalog(schemas, guard.needs())
    catalog.scan()
    guard.bind(catalog)
    store = QuarantineStore(base / "mixed" / "quarantine.db")
    store.open()
    writer = QuarantineWriter(store, guard.mask_for)
    guard.sink = writer.submit
    total = n * 5
    most_pending = 0
    async with anyio.create_task_group() as tg:
        tg.start_soon(writer.run)
        t0 = time.perf_counter()
        for i in range(total):
            guard.check("site/n/device/p1/t", INVALID_BYTES if i % 10 == 0 else VALID_BYTES)
            if i % 100 == 99:
                most_pending = max(most_pending, writer.pending)
                await anyio.lowlevel.checkpoint()
        await writer.flush()
        elapsed = time.perf_counter() - t0
        writer.close()
    store.close()
    print(f"  inline, 10 % invalid, writer behind it: {total / elapsed:>11,.0f} msgs/s checked, "
          f"{store.totals.count:,} quarantined in {store.totals.rounds} rounds, "
          f"at most {most_pending} waiting, overflow {writer.overflow}", flush=True)

    for sync in ("NORMAL", "FULL"):
        path = base / f"raw-{sync}.db"
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={sync}")
        conn.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, topic TEXT, payload BLOB)")
        conn.execute("CREATE TABLE e (mid INTEGER, path TEXT, keyword TEXT, message TEXT)")
        count = min(n, 3000)
        t0 = time.perf_counter()
        for _ in range(count):
            conn.execute("BEGIN")
            cur = conn.execute("INSERT INTO m (topic, payload) VALUES (?, ?)",
                               (verdict.topic, INVALID_BYTES))
            conn.executemany("INSERT INTO e VALUES (?, ?, ?, ?)",
                             [(cur.lastrowid, v.path, v.keyword, v.message) for v in errors])
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - t0
        conn.close()
        print(f"  baseline: one transaction per message, synchronous={sync:<7}"
              f"{count / elapsed:>11,.0f} msgs/s", flush=True)


def hook_figures(n: int, base: Path) -> None:
    """The ingress hook's cost per message (module docstring)."""
    from gatehouse.core.helpers import IngressHook
    from gatehouse.integrations.schema_guard.api import _IngressAdapter
    from gatehouse.integrations.schema_guard.catalog import Catalog
    from gatehouse.integrations.schema_guard.engine import Guard, GuardSettings, RuleConfig

    def bare(topic: str, payload: bytes, *, transport: str) -> bool:
        return True

    hook = IngressHook()
    topic = "site/north/device/pump-0042/telemetry"
    n = max(n, 200_000)
    plain = percentiles(lambda: bare(topic, VALID_BYTES, transport="mqtt"), n)
    row("a bare function call (baseline)", plain)
    row("hook.check, no guard installed", percentiles(
        lambda: hook.check(topic, VALID_BYTES, transport="mqtt"), n), plain[0], "bare call")
    (base / "schemas").mkdir(parents=True, exist_ok=True)
    (base / "schemas" / "telemetry.v1.json").write_text(json.dumps(SCHEMA_2020))
    guard = Guard(GuardSettings(), [RuleConfig("telemetry", "site/+/device/{source}/telemetry",
                                               schema="telemetry")])
    catalog = Catalog(base / "schemas", guard.needs())
    catalog.scan()
    guard.bind(catalog)
    hook.install(_IngressAdapter(guard))
    row("hook.check, schema_guard installed (valid)", percentiles(
        lambda: hook.check(topic, VALID_BYTES, transport="mqtt"), n // 10), plain[0],
        "bare call")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="calls per figure")
    parser.add_argument("--dir", default=None, help="where the databases go")
    parser.add_argument("--mode", choices=["engine", "hook", "proxy", "all"],
                        default="engine")
    parser.add_argument("--runs", type=int, default=3, help="proxy mode: runs")
    args = parser.parse_args()
    if args.mode in ("hook", "all"):
        print("ingress hook (per governed message; percentiles include the timer):")
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            hook_figures(args.n, Path(tmp))
    if args.mode in ("proxy", "all"):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import bench_schema_guard_proxy

        bench_schema_guard_proxy.run(max(args.n, 20_000), args.runs, [2500.0, 5000.0, 10000.0],
                                     Path(args.dir) if args.dir else None)
    if args.mode not in ("engine", "all"):
        return
    from importlib.metadata import version

    print(f"schema_guard benchmark: python {sys.version.split()[0]}, cpus {os.cpu_count()}, "
          f"sqlite {sqlite3.sqlite_version}")
    print(f"  jsonschema-rs {version('jsonschema-rs')}, "
          f"jsonschema {version('jsonschema')}, fastjsonschema {version('fastjsonschema')}")
    print(f"  document: {len(VALID_BYTES)} bytes valid, {len(INVALID_BYTES)} bytes invalid\n")
    print("validators (validation alone, decoded document):")
    loads = percentiles(lambda: json.loads(VALID_BYTES), args.n)
    row("json.loads (baseline, not validation)", loads)
    for name, (valid, invalid) in candidates().items():
        row(f"{name}: valid", percentiles(valid, args.n), loads[0])
        row(f"{name}: invalid, errors collected", percentiles(invalid, args.n), loads[0])
    print("\nconformance table (rows wrong):")
    for name, wrong in conformance().items():
        print(f"  {name:<32}{len(CONFORMANCE) - len(wrong)}/{len(CONFORMANCE)} right"
              + (f"; wrong: {', '.join(wrong)}" if wrong else ""))
    print("\ncatastrophic pattern ^(a+)+$ on 'a'*n + '!':")
    catastrophic()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        print("\nthe guard (end to end per message):")
        guard_figures(args.n, Path(tmp))
        print("\nquarantine inserts:")
        anyio.run(quarantine_figures, args.n, Path(tmp))


if __name__ == "__main__":
    main()
