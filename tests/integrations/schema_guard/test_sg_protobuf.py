"""Protocol Buffers rules: a descriptor set made by protoc, decoded to a dict."""

from __future__ import annotations

from pathlib import Path

import pytest
from sgtools import make_guard, protoc_descriptor_set

from gatehouse.integrations.schema_guard.catalog import Catalog
from gatehouse.integrations.schema_guard.engine import RuleConfig
from gatehouse.integrations.schema_guard.protobufs import DescriptorSet


@pytest.fixture
def schemas(tmp_path: Path) -> Path:
    directory = tmp_path / "schemas"
    protoc_descriptor_set(tmp_path, directory / "telemetry.v1.desc")
    return directory


def _encode(schemas: Path, **fields: object) -> bytes:
    files = DescriptorSet("telemetry", 1, "f", (schemas / "telemetry.v1.desc").read_bytes())
    cls = files.message("plant.Telemetry")._cls
    msg = cls()
    for key, value in fields.items():
        if key == "readings":
            for k, v in value:  # type: ignore[attr-defined]
                msg.readings.add(key=k, value=v)
        else:
            setattr(msg, key, value)
    data: bytes = msg.SerializeToString()
    return data


RULE = RuleConfig("pb", "pb/{source}", schema="telemetry", format="protobuf",
                  message="plant.Telemetry")


def test_a_message_decodes_to_a_dict(schemas: Path) -> None:
    guard, catalog = make_guard(schemas, [RULE])
    assert catalog.problems == {}
    payload = _encode(schemas, device="d1", ts=5, temp=21.5, readings=[("a", 1.0)])
    verdict = guard.check("pb/d1", payload)
    assert verdict.accepted
    assert verdict.value == {"device": "d1", "ts": "5", "temp": 21.5,
                             "readings": [{"key": "a", "value": 1.0}]}
    assert verdict.version == 1 and verdict.source == "d1"


@pytest.mark.parametrize("payload", [b"\xff\xff\xff\xff", b"\x0a\x05ab", b"\x08" + b"\xff" * 11])
def test_bytes_that_are_not_the_message_are_refused(schemas: Path, payload: bytes) -> None:
    guard, _ = make_guard(schemas, [RULE])
    verdict = guard.check("pb/d1", payload, store=False)
    assert not verdict.accepted
    assert verdict.errors[0].keyword == "protobuf"
    assert "plant.Telemetry" in verdict.errors[0].message


def test_a_missing_message_type_is_a_file_problem(schemas: Path) -> None:
    rule = RuleConfig("pb", "pb/#", schema="telemetry", format="protobuf",
                      message="plant.Nope")
    guard, catalog = make_guard(schemas, [rule])
    assert "no message type 'plant.Nope'" in catalog.problems["telemetry.v1.desc"]
    assert not guard.check("pb/x", b"", store=False).accepted


def test_a_broken_descriptor_set_is_named(tmp_path: Path) -> None:
    (tmp_path / "telemetry.v1.desc").write_bytes(b"\xff\xfe not a descriptor set")
    catalog = Catalog(tmp_path)
    catalog.scan()
    assert "not a descriptor set" in catalog.problems["telemetry.v1.desc"]
