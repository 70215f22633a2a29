"""The line protocol encoder, piece by piece (pure: no server, no host).

Every rule of the module docstring has a case here; what the real server reads back is
checked in test_influxdb_roundtrip.py.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from gatehouse.integrations.influxdb.lineprotocol import (
    MAX_STRING_BYTES,
    Counts,
    Escaper,
    encode,
    encode_point,
    escape_field_key,
    escape_measurement,
    escape_string,
    escape_tag,
    field_value,
    timestamp,
)


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("cpu", "cpu"),
        ("with space", "with\\ space"),
        ("a,b", "a\\,b"),
        ("a=b", "a=b"),  # equals is not escaped in a measurement
        ('say "hi"', 'say\\ "hi"'),  # quotes neither
        ("back\\slash", "back\\slash"),  # a lone backslash stays single
        ("a\\ b", "a\\\\\\ b"),  # backslash before an escaped char: see the docstring
        ('a\\"b', 'a\\\\\\"b'),
        ("°C", "°C"),
    ],
)
def test_measurement_escaping(name: str, written: str) -> None:
    assert escape_measurement(name) == written


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("plain", "plain"),
        ("a b", "a\\ b"),
        ("a,b", "a\\,b"),
        ("a=b", "a\\=b"),
        ('a"b', 'a"b'),
        ("a\\b", "a\\b"),
        ("a\\ b", "a\\\\ b"),
        ("温度", "温度"),
    ],
)
def test_tag_escaping(name: str, written: str) -> None:
    assert escape_tag(name) == written


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("value", "value"),
        ("a b,c=d", "a\\ b\\,c\\=d"),
        ('q"k', 'q"k'),
        ('q\\"k', 'q\\\\"k'),
        ("a\\b", "a\\b"),
    ],
)
def test_field_key_escaping(name: str, written: str) -> None:
    assert escape_field_key(name) == written


def test_field_key_backslash_before_separator_is_dropped_and_counted() -> None:
    counts = Counts()
    assert escape_field_key("a\\ b", counts) == "a\\ b"
    assert counts.by_reason["field_key_backslash"] == 1


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", '"plain"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("a,b=c d", '"a,b=c d"'),  # nothing else is escaped inside quotes
        ("two\nlines", '"two\nlines"'),  # kept: the value is quoted
        ("", '""'),
    ],
)
def test_string_field_escaping(value: str, written: str) -> None:
    assert escape_string(value) == written


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (1.5, "1.5"),
        (1e300, "1e+300"),
        (-0.0, "-0.0"),
        (5e-324, "5e-324"),
        (3, "3i"),
        (-(2**63), "-9223372036854775808i"),
        (2**63 - 1, "9223372036854775807i"),
        (True, "true"),
        (False, "false"),
        ("x", '"x"'),
    ],
)
def test_field_values(value: Any, written: str) -> None:
    assert field_value(value, Counts()) == written


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (math.nan, "non_finite_float"),
        (math.inf, "non_finite_float"),
        (-math.inf, "non_finite_float"),
        (2**63, "int_out_of_range"),
        (-(2**63) - 1, "int_out_of_range"),
        ("x" * (MAX_STRING_BYTES + 1), "string_too_long"),
        ("é" * (MAX_STRING_BYTES // 2 + 1), "string_too_long"),  # bytes, not characters
        (None, "unsupported_type"),
        ([1, 2], "unsupported_type"),
    ],
)
def test_unwritable_values_are_dropped_and_counted(value: Any, reason: str) -> None:
    counts = Counts()
    assert field_value(value, counts) is None
    assert counts.by_reason[reason] == 1
    assert counts.total == 1


def test_longest_string_is_taken() -> None:
    counts = Counts()
    assert field_value("x" * MAX_STRING_BYTES, counts) is not None
    assert counts.total == 0


def test_nan_field_dropped_others_kept() -> None:
    counts = Counts()
    line = encode_point("m", {}, {"a": math.nan, "b": 1.0}, 5, counts)
    assert line == "m b=1.0 5"
    assert counts.by_reason["non_finite_float"] == 1


def test_point_without_fields_is_dropped_and_counted() -> None:
    counts = Counts()
    assert encode_point("m", {"t": "x"}, {"a": math.inf}, 1, counts) is None
    assert counts.by_reason["no_fields"] == 1


def test_empty_tags_are_left_out() -> None:
    counts = Counts()
    assert encode_point("m", {"a": "", "": "x", "b": "y"}, {"f": 1}, 1, counts) == (
        "m,b=y f=1i 1"
    )
    assert counts.by_reason["empty_tag"] == 2


def test_tags_are_sorted_and_time_optional() -> None:
    assert encode_point("m", {"z": "1", "a": "2"}, {"f": True}) == "m,a=2,z=1 f=true"


def test_newlines_in_names_become_spaces_and_are_counted() -> None:
    counts = Counts()
    line = encode_point("a\nb", {"t\r": "v\nw"}, {"f\n": "x\ny"}, 1, counts)
    assert line == 'a\\ b,t\\ =v\\ w f\\ ="x\ny" 1'
    assert "\n" not in line.replace('"x\ny"', "")
    assert counts.by_reason["newline_in_name"] == 4


def test_trailing_backslash_removed_and_counted() -> None:
    counts = Counts()
    line = encode_point("m\\", {"t": "v\\\\"}, {"f\\": 1.0}, 1, counts)
    assert line == "m,t=v f=1.0 1"
    assert counts.by_reason["trailing_backslash"] == 3


def test_tag_made_only_of_backslashes_is_left_out() -> None:
    counts = Counts()
    assert encode_point("m", {"t": "\\"}, {"f": 1.0}, 1, counts) == "m f=1.0 1"
    assert counts.by_reason["empty_tag"] == 1


def test_escaper_memoises_names() -> None:
    counts = Counts()
    escaper = Escaper(counts)
    first = encode(escaper, "a b", [("k", "v v")], [("f", 1.0)], 1)
    second = encode(escaper, "a b", [("k", "v v")], [("f", 2.0)], 2)
    assert first == "a\\ b,k=v\\ v f=1.0 1"
    assert second == "a\\ b,k=v\\ v f=2.0 2"


@pytest.mark.parametrize(
    ("precision", "expected"),
    [("s", 1_700_000_000), ("ms", 1_700_000_000_500), ("us", 1_700_000_000_500_000),
     ("ns", 1_700_000_000_500_000_000)],
)
def test_timestamps_per_precision(precision: str, expected: int) -> None:
    assert timestamp(1_700_000_000.5, precision) == expected


def test_ns_timestamp_keeps_microseconds() -> None:
    assert timestamp(1_796_385_548.814278, "ns") == 1_796_385_548_814_278_000
