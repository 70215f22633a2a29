"""Voluptuous schemas described as JSON for forms."""

from __future__ import annotations

import json

import voluptuous as vol

from gatehouse.core.schema_json import secret_fields, serialize_schema


def test_fields_types_defaults_ranges_and_secrets() -> None:
    schema = vol.Schema(
        {
            vol.Required("host"): str,
            vol.Optional("port", default=1883): vol.All(
                vol.Coerce(int), vol.Range(min=1, max=65535)
            ),
            vol.Optional("tls", default=False): bool,
            vol.Optional("protocol", default="3.1.1"): vol.In(["3.1.1", "5"]),
            vol.Optional("password", description={"secret": True}): str,
            vol.Optional("token"): str,
            vol.Optional("topics", default=list): [str],
            vol.Optional("ratio"): vol.Coerce(float),
        }
    )
    fields = {f["name"]: f for f in serialize_schema(schema)}
    assert fields["host"] == {"name": "host", "required": True, "type": "string"}
    assert fields["port"] == {"name": "port", "required": False, "default": 1883,
                              "type": "integer", "min": 1, "max": 65535}
    assert fields["tls"]["type"] == "boolean" and fields["tls"]["default"] is False
    assert fields["protocol"]["type"] == "select"
    assert fields["protocol"]["options"] == ["3.1.1", "5"]
    assert fields["password"]["secret"] is True and "default" not in fields["password"]
    assert fields["token"]["secret"] is True
    assert fields["topics"] == {"name": "topics", "required": False, "default": [],
                                "type": "list", "items": {"type": "string"}}
    assert fields["ratio"]["type"] == "float"
    json.dumps(serialize_schema(schema))  # JSON-able
    assert secret_fields(schema) == {"password", "token"}


def test_nested_schema_and_order_kept() -> None:
    schema = vol.Schema({vol.Required("b"): {vol.Optional("x", default=1): int}, "a": str})
    out = serialize_schema(schema)
    assert [f["name"] for f in out] == ["b", "a"]
    assert out[0]["type"] == "object"
    assert out[0]["fields"][0]["name"] == "x"
