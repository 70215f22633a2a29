"""JSON Schema conformance of the chosen validator, per draft, on the features we rely on.

Each row: (schema, instance, valid?). The same keyword can mean different things per
draft (``$ref`` siblings, ``items`` arrays, ``dependencies``), and later keywords
(``dependentSchemas``, ``unevaluatedProperties``, ``prefixItems``) must be plain unknown
keywords under draft 07. The bench runs this table for the other candidates too.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sgtools import D07, D2020, make_guard, rescan, write_schema

from gatehouse.integrations.schema_guard.engine import RuleConfig
from gatehouse.integrations.schema_guard.errors import SchemaLoadError
from gatehouse.integrations.schema_guard.jsonschemas import JsonSchema

REF_DEFS = {"$defs": {"p": {"type": "integer"}}, "properties": {"a": {"$ref": "#/$defs/p"}}}
REF_SIBLING = {"definitions": {"p": {"type": "integer"}},
               "properties": {"a": {"$ref": "#/definitions/p", "maximum": 0}}}
UNEVALUATED = {"allOf": [{"properties": {"a": {}}}], "unevaluatedProperties": False}
DEPENDENT = {"dependentSchemas": {"card": {"required": ["billing"]}}}
DEPENDENCIES = {"dependencies": {"card": ["billing"]}}
PREFIX = {"prefixItems": [{"type": "integer"}], "items": False}
TUPLE07 = {"items": [{"type": "integer"}], "additionalItems": False}
EMAIL = {"format": "email"}
DYNAMIC = {  # the spec's own $dynamicRef example, in one document
    "$id": "https://example.com/strict-tree",
    "$dynamicAnchor": "node",
    "$ref": "#/$defs/tree",
    "unevaluatedProperties": False,
    "$defs": {
        "tree": {
            "$id": "https://example.com/tree",
            "$dynamicAnchor": "node",
            "type": "object",
            "properties": {"data": True,
                           "children": {"type": "array", "items": {"$dynamicRef": "#node"}}},
        }
    },
}

CASES_2020: list[tuple[str, dict[str, Any], Any, bool]] = [
    ("$ref/$defs valid", REF_DEFS, {"a": 1}, True),
    ("$ref/$defs invalid", REF_DEFS, {"a": "x"}, False),
    ("$ref siblings apply", REF_SIBLING, {"a": 5}, False),
    ("unevaluatedProperties sees allOf", UNEVALUATED, {"a": 1}, True),
    ("unevaluatedProperties refuses the rest", UNEVALUATED, {"a": 1, "b": 2}, False),
    ("dependentSchemas applies", DEPENDENT, {"card": 1}, False),
    ("dependentSchemas satisfied", DEPENDENT, {"card": 1, "billing": 2}, True),
    ("prefixItems + items false", PREFIX, [1, 2], False),
    ("prefixItems ok", PREFIX, [1], True),
    ("format is an annotation", EMAIL, "not an address", True),
    ("$dynamicRef extends the tree", DYNAMIC, {"children": [{"daat": 1}]}, False),
    ("$dynamicRef tree ok", DYNAMIC, {"children": [{"data": 1, "children": []}]}, True),
]
CASES_07: list[tuple[str, dict[str, Any], Any, bool]] = [
    ("$ref/definitions", REF_SIBLING, {"a": "x"}, False),
    ("$ref siblings ignored", REF_SIBLING, {"a": 5}, True),
    ("dependencies", DEPENDENCIES, {"card": 1}, False),
    ("dependentSchemas is unknown", DEPENDENT, {"card": 1}, True),
    ("unevaluatedProperties is unknown", UNEVALUATED, {"a": 1, "b": 2}, True),
    ("tuple items + additionalItems", TUPLE07, [1, 2], False),
    ("tuple items ok", TUPLE07, [1], True),
    ("format is an annotation", EMAIL, "not an address", True),
]


def _compile(draft: str, schema: dict[str, Any], **kwargs: Any) -> JsonSchema:
    return JsonSchema("s", 1, "s.v1.json", {"$schema": draft, **schema}, **kwargs)


@pytest.mark.parametrize(("name", "schema", "instance", "valid"), CASES_2020,
                         ids=[c[0] for c in CASES_2020])
def test_draft_2020_12(name: str, schema: dict[str, Any], instance: Any, valid: bool) -> None:
    _, errors = _compile(D2020, schema).validate_value(instance)
    assert (not errors) is valid, errors


@pytest.mark.parametrize(("name", "schema", "instance", "valid"), CASES_07,
                         ids=[c[0] for c in CASES_07])
def test_draft_07(name: str, schema: dict[str, Any], instance: Any, valid: bool) -> None:
    _, errors = _compile(D07, schema).validate_value(instance)
    assert (not errors) is valid, errors


@pytest.mark.parametrize("draft", [D07, D2020])
def test_formats_are_asserted_when_the_rule_asks(draft: str) -> None:
    _, errors = _compile(draft, EMAIL, assert_formats=True).validate_value("not an address")
    assert errors and errors[0].keyword == "format"


def test_errors_carry_json_pointers() -> None:
    schema = _compile(D2020, {"properties": {"a/b": {"properties": {"c~d": {
        "type": "array", "items": {"type": "integer"}}}}}})
    _, errors = schema.validate_value({"a/b": {"c~d": [1, "x"]}})
    assert [(e.path, e.keyword) for e in errors] == [("/a~1b/c~0d/1", "type")]


def test_no_schema_keyword_means_2020_12() -> None:
    assert JsonSchema("s", 1, "f", DEPENDENT).draft == "2020-12"


@pytest.mark.parametrize(
    ("schema", "complaint"),
    [
        ({"$schema": "http://json-schema.org/draft-04/schema#"}, "unsupported $schema"),
        ({"type": "nope"}, "nope"),
        # a remote $ref would be a network fetch at load: refused, named
        ({"$ref": "https://example.com/other.json"}, "https://example.com/other.json"),
        # look-around needs a backtracking engine: refused at load, naming the pattern
        ({"pattern": "(?<=a)b"}, "(?<=a)b"),
        ({"pattern": "(a)\\1"}, 'is not a "regex"'),
    ],
)
def test_unusable_schemas_are_refused_at_load(schema: dict[str, Any], complaint: str) -> None:
    with pytest.raises(SchemaLoadError) as caught:
        JsonSchema("s", 1, "s.v1.json", schema)
    assert complaint in str(caught.value)
    assert caught.value.file == "s.v1.json"


def test_catastrophic_backtracking_pattern_is_linear() -> None:
    """``^(a+)+$`` takes exponential time in a backtracking engine (Python's ``re``:
    about 2**n steps for n a's followed by a mismatch); Rust's regex crate is linear."""
    schema = _compile(D2020, {"type": "string", "pattern": "^(a+)+$"})
    started = time.perf_counter()
    _, errors = schema.validate_value("a" * 100_000 + "!")
    assert errors and errors[0].keyword == "pattern"
    assert time.perf_counter() - started < 5  # a class guard, not a benchmark


def test_ref_between_files_of_the_schema_directory(tmp_path: Path) -> None:
    write_schema(tmp_path, "common", 1, {"$schema": D2020, "$id": "urn:plant:common",
                                         "$defs": {"temp": {"type": "number", "maximum": 150}}})
    write_schema(tmp_path, "telemetry", 1, {
        "$schema": D2020, "properties": {"temp": {"$ref": "urn:plant:common#/$defs/temp"}}})
    guard, catalog = make_guard(tmp_path, [RuleConfig("t", "t", schema="telemetry")])
    assert catalog.problems == {}
    assert guard.check("t", b'{"temp": 20}').accepted
    bad = guard.check("t", b'{"temp": 200}', store=False)
    assert not bad.accepted and bad.errors[0].path == "/temp"


def test_a_referencing_file_follows_the_file_it_refers_to(tmp_path: Path) -> None:
    common = {"$schema": D2020, "$id": "urn:plant:common",
              "$defs": {"temp": {"type": "number", "maximum": 150}}}
    write_schema(tmp_path, "common", 1, common)
    write_schema(tmp_path, "telemetry", 1, {
        "$schema": D2020, "properties": {"temp": {"$ref": "urn:plant:common#/$defs/temp"}}})
    guard, catalog = make_guard(tmp_path, [RuleConfig("t", "t", schema="telemetry")])
    assert guard.check("t", b'{"temp": 120}').accepted
    common["$defs"]["temp"]["maximum"] = 100  # type: ignore[index]
    write_schema(tmp_path, "common", 1, common)
    rescan(guard, catalog)
    assert not guard.check("t", b'{"temp": 120}', store=False).accepted
    # a schema without a cross-file $ref is not recompiled for it
    assert JsonSchema("s", 1, "f", REF_DEFS).refers_out is False
    # the referenced file breaks: the referencing one keeps its last good form
    write_schema(tmp_path, "common", 1, None, raw=b"{")
    rescan(guard, catalog)
    assert "common.v1.json" in catalog.problems
    assert guard.check("t", b'{"temp": 90}').accepted
    assert not guard.check("t", b'{"temp": 120}', store=False).accepted
