"""The one json_path dialect, and the fast ``loads``."""

from __future__ import annotations

import json

import pytest
import voluptuous as vol

from gatehouse.core.helpers import JsonPath, PayloadError, json_path, loads

DOC = {"a": {"b": [{"c": 1}, {"c": 2}], "x.y": "dotted", "0": "zero"}, "list": [10, 20, 30]}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a.b[0].c", 1),
        ("$.a.b[1].c", 2),
        ("a.b.1.c", 2),  # a bare number indexes a list ...
        ("a.0", "zero"),  # ... and is a key where the data has an object
        ("a['x.y']", "dotted"),
        ('a["x.y"]', "dotted"),
        ("list[-1]", 30),
        ("list", [10, 20, 30]),
    ],
)
def test_paths_select_what_they_say(path: str, expected: object) -> None:
    assert JsonPath.compile(path).walk(DOC) == expected


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("a.missing", "no 'missing' in the payload"),
        ("list[7]", "no 7 in the payload"),
        ("a[0]", "expected a list at [0], got an object"),
        ("list.name", "expected an object at 'name', got a list"),
        ("a.b[0].c.d", "nothing at 'd': the payload has int there"),
    ],
)
def test_a_path_not_in_the_data_says_what_was_there(path: str, reason: str) -> None:
    with pytest.raises(PayloadError) as err:
        JsonPath.compile(path).walk(DOC)
    assert str(err.value) == reason


@pytest.mark.parametrize("path", ["", "$", "a..b", "a[", "a[x]", "a['unclosed]"])
def test_malformed_paths_are_refused_when_compiled(path: str) -> None:
    with pytest.raises(ValueError):
        JsonPath.compile(path)
    with pytest.raises(vol.Invalid):
        json_path(path)


def test_validator_keeps_the_text() -> None:
    assert json_path("$.a.b[0]") == "$.a.b[0]"


@pytest.mark.parametrize(
    "payload", [b'{"a": 1}', b"[1, 2]", b'"text"', b"3.5", b" {\"a\": 1} ", "{\"u\": \"\u00e9\"}"]
)
def test_loads_agrees_with_json(payload: bytes | str) -> None:
    assert loads(payload) == json.loads(payload)


@pytest.mark.parametrize("payload", [b"", b"{", b"\xff\xfe", b'{"a": 1} trailing'])
def test_loads_refuses_what_json_refuses(payload: bytes) -> None:
    with pytest.raises(ValueError):
        loads(payload)


# -- nesting depth (issue 9: 1,000-deep JSON raised RecursionError per message) ---------


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


@pytest.mark.parametrize("depth", [65, 900, 1000, 100_000])
def test_absurdly_nested_json_is_a_payload_error(depth: int) -> None:
    for payload in (nested(depth), nested(depth).encode(), " " + nested(depth) + " "):
        with pytest.raises(PayloadError, match="nested deeper than 64"):
            loads(payload)


def test_nesting_up_to_the_limit_loads() -> None:
    assert loads(nested(64)) == json.loads(nested(64))
    # Many brackets side by side are not depth.
    wide = "[" + ",".join(["[[1]]"] * 500) + "]"
    assert loads(wide) == json.loads(wide)
    mixed = '{"a": ' * 32 + "[" * 32 + "1" + "]" * 32 + "}" * 32
    assert loads(mixed) == json.loads(mixed)
    with pytest.raises(PayloadError):
        loads('{"a": ' * 33 + "[" * 32 + "1" + "]" * 32 + "}" * 33)  # 65 levels


def test_one_past_the_limit_in_objects_is_refused() -> None:
    deep = '{"a": ' * 65 + "1" + "}" * 65
    with pytest.raises(PayloadError, match="nested deeper than 64"):
        loads(deep)
