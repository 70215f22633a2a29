"""Shared helpers of the schema_guard tests: schema files, guards, descriptor sets.

The guard is exercised with real files in a temporary schema directory, real
jsonschema-rs validators, real ``protoc`` output and a real SQLite quarantine on disk.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from gatehouse.integrations.schema_guard.catalog import Catalog
from gatehouse.integrations.schema_guard.engine import Guard, GuardSettings, RuleConfig

D2020 = "https://json-schema.org/draft/2020-12/schema"
D07 = "http://json-schema.org/draft-07/schema#"

#: A typical telemetry document's schema (what the bench measures too).
TELEMETRY: dict[str, Any] = {
    "$schema": D2020,
    "type": "object",
    "required": ["device", "ts", "temp"],
    "properties": {
        "device": {"type": "string", "pattern": "^[a-z0-9-]{1,32}$"},
        "ts": {"type": "integer", "minimum": 0},
        "temp": {"type": "number", "minimum": -50, "maximum": 150},
        "humidity": {"type": "number", "minimum": 0, "maximum": 100},
        "owner": {"type": "object", "properties": {"email": {"type": "string"}}},
        "readings": {"type": "array", "items": {"$ref": "#/$defs/reading"}},
    },
    "$defs": {
        "reading": {
            "type": "object",
            "required": ["k", "v"],
            "properties": {"k": {"type": "string"}, "v": {"type": "number"}},
        }
    },
}

GOOD = {"device": "d-1", "ts": 1700000000, "temp": 21.5, "humidity": 40,
        "readings": [{"k": "a", "v": 1}]}


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def write_schema(directory: Path, name: str, version: int, document: Any,
                 *, raw: bytes | None = None) -> Path:
    """Write ``<name>.v<version>.json`` and make its mtime differ from the last write
    (the catalog compares mtime and size; a rewrite within one clock tick must count)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.v{version}.json"
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_bytes(raw if raw is not None else json.dumps(document).encode())
    st = path.stat()
    if st.st_mtime_ns <= before:
        os.utime(path, ns=(st.st_atime_ns, before + 1_000_000))
    return path


def make_guard(
    directory: Path, rules: Sequence[RuleConfig], **settings: Any
) -> tuple[Guard, Catalog]:
    guard = Guard(GuardSettings(**settings), list(rules))
    catalog = Catalog(directory, guard.needs())
    catalog.scan()
    guard.bind(catalog)
    return guard, catalog


def rescan(guard: Guard, catalog: Catalog) -> bool:
    changed = catalog.scan()
    guard.bind(catalog)
    return changed


PROTO = """
syntax = "proto3";
package plant;
message Reading { string key = 1; double value = 2; }
message Telemetry {
  string device = 1;
  int64 ts = 2;
  double temp = 3;
  repeated Reading readings = 4;
}
"""


def protoc_descriptor_set(workdir: Path, target: Path, proto: str = PROTO) -> Path:
    """``protoc --descriptor_set_out=target --include_imports`` of ``proto`` (Debian's
    protobuf-compiler; the test set-up installs it)."""
    protoc = shutil.which("protoc")
    if protoc is None:
        pytest.fail("protoc is not installed (scripts/_setup.sh test installs protobuf-compiler)")
    src = workdir / "telemetry.proto"
    src.write_text(proto)
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [protoc, f"--proto_path={workdir}", f"--descriptor_set_out={target}",
         "--include_imports", str(src)],
        check=True, capture_output=True, timeout=60,
    )
    return target


class Rig:
    """A guard whose quarantine sink is a list (for tests of verdicts only)."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self.stored: list[tuple[Any, bytes]] = []
        guard.sink = lambda verdict, payload: self.stored.append((verdict, payload))

    def check(self, topic: str, payload: bytes, source: str | None = None) -> Any:
        return self.guard.check(topic, payload, source)


#: A reading as the proxy tests send it (and its schema, ``reading.v1.json``).
READING_SCHEMA: dict[str, Any] = {
    "$schema": D2020,
    "type": "object",
    "required": ["n", "temp"],
    "properties": {"n": {"type": "integer"},
                   "temp": {"type": "number", "minimum": -50, "maximum": 150}},
}


def proxy_yaml(ingress_port: int, egress_port: int | None, *, client_id: str = "sg-proxy-in",
               qos: int = 2) -> str:
    """configuration.yaml of a host whose schema_guard proxies ``plant/#`` of one broker
    to ``clean/...`` of another (``egress_port`` None: the same broker)."""
    egress = "" if egress_port is None else (
        f"    egress:\n      broker: 127.0.0.1\n      port: {egress_port}\n"
        "      client_id: sg-proxy-out\n")
    return (
        "gatehouse:\n  control_socket: false\n"
        "schema_guard:\n  name: Guard\n  reload_interval: 0.05\n  stats_interval: 0.05\n"
        "  rules:\n    - topic: plant/+/reading\n      name: reading\n      schema: reading\n"
        "  proxy:\n"
        f"    ingress:\n      broker: 127.0.0.1\n      port: {ingress_port}\n"
        f"      client_id: {client_id}\n      qos: {qos}\n      topics: ['plant/#']\n"
        f"{egress}"
        "    rewrite:\n      - {from: 'plant/', to: 'clean/'}\n"
    )
